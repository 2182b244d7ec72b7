//! The gateway's pure core: validated values and decisions, with no I/O, clock or randomness.
//!
//! - [`tenant`]: tenant slug, issuer (URL or bare IdP domain), allowed origins and the other
//!   registration fields, each built only through `parse`.
//! - [`login`]: the public URL, the redirect URI a tenant's IdP must have registered, the
//!   login-state lifetime and the ID-token clock leeway.
//! - [`provisioning`]: roles on first and later logins, the next provisioning step from what is
//!   already done, and the retry schedule.
//! - [`advice`]: what to tell the user when something fails: which side must act, and expected
//!   versus received values.

pub mod advice;
pub mod login;
pub mod provisioning;
pub mod tenant;

pub use advice::{Actor, Advice, Detail};
pub use login::{PublicUrl, STATE_TTL, TOKEN_LEEWAY};
pub use tenant::{AllowedOrigin, ClientId, ClientSecret, CompanyName, Issuer, TenantSlug};
