//! The records of DESIGN section 2 and the rules that belong to one record.
//!
//! Every field that has a syntax is a newtype built only through `parse` (a [`Login`], a
//! [`ClientId`], an id), so code that receives one never checks it again. Times are
//! [`jiff::Timestamp`]s given by the caller; ids are UUIDs drawn by the caller (the store's
//! `new_id`), so this module stays pure.
//!
//! - `id`: the id newtypes ([`UserId`], [`GroupId`], …).
//! - `text`: shared text rules (lengths, control characters) behind the newtypes.
//! - `user`: [`User`], [`Login`], [`Email`], [`UserStatus`] and its lifecycle.
//! - `group`: [`Group`], [`GroupName`], the built-in `everyone` group.
//! - `app`: [`Application`] (an OIDC client) and its registration rules.
//! - `zone`: [`NetworkZone`].
//! - `authenticator`: the authenticators and methods of DESIGN section 3 and what a verification
//!   proves (the policy crate's vocabulary, re-exported).
//! - `enrollment`: [`Enrollment`], a user's enrolled authenticator.
//! - `device`: [`Device`], a registered device (the record; its lifecycle rules live elsewhere).
//! - `policy`: stored policies and rules ([`Policy`], [`PolicyRule`], [`AccessRuleRecord`]).
//! - `session`: [`Session`] and its [`VerificationRecord`]s.
//! - `flow`: [`Flow`], a sign-in in progress as opaque state with a version.
//! - `log`: [`LogEvent`], an entry of the append-only system log.

mod app;
mod authenticator;
mod device;
mod enrollment;
mod flow;
mod group;
mod id;
mod log;
mod policy;
mod session;
mod text;
mod user;
mod zone;

pub use app::{
    AppName, Application, Assignments, ClientId, ClientKind, GrantType, RegistrationShape, TokenAuthMethod,
    check_registration,
};
pub use authenticator::{
    AuthenticatorKey, Factor, Method, Proof, UserVerification, VerificationFacts, parse_authenticator,
    parse_method, parse_user_verification,
};
pub use device::{Device, DeviceStatus, KeyStorage};
pub use enrollment::{Enrollment, EnrollmentStatus, PasswordData, TotpData, method_data, sealing_context};
pub use flow::Flow;
pub use group::{EVERYONE, EVERYONE_ID, Group, GroupName};
pub use id::{
    AccessRuleId, AppId, DeviceId, EnrollmentId, EventId, FlowId, GroupId, Id, PolicyId, RecordId, RuleId,
    SessionId, UserId, ZoneId,
};
pub use log::{Actor, EventType, KnownType, LogEvent, Outcome, types as event_types};
pub use policy::{AccessRuleRecord, Policy, PolicyKind, PolicyName, PolicyRule};
pub use session::{EndReason, Session, VerificationRecord};
pub use user::{DisplayName, Email, LifecycleAction, Login, Profile, User, UserStatus};
pub use zone::{NetworkZone, ZoneName};
