//! DESIGN section 3 as code: authenticator keys, their methods, the characteristics a verification
//! proves ([`prove`]), the factor types it counts for ([`Proof`], [`count_factors`]), and the
//! constraints a policy puts on a verification ([`MethodConstraints`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// An authenticator (`key` in DESIGN section 3). The order of the variants is the canonical order
/// of options and enrollments in decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticatorKey {
    Password,
    Email,
    Phone,
    Totp,
    Webauthn,
    Device,
    SmartCard,
    Idp,
}

/// A method of an authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Password,
    Otp,
    MagicLink,
    Sms,
    Voice,
    Webauthn,
    Push,
    Fastpass,
    Piv,
    Federated,
}

/// User verification levels, ordered `none` < `any` (PIN or biometric) < `biometric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    #[default]
    None,
    Any,
    Biometric,
}

/// A factor type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Knowledge,
    Possession,
    Inherence,
}

impl AuthenticatorKey {
    pub const ALL: [Self; 8] = [
        Self::Password,
        Self::Email,
        Self::Phone,
        Self::Totp,
        Self::Webauthn,
        Self::Device,
        Self::SmartCard,
        Self::Idp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Totp => "totp",
            Self::Webauthn => "webauthn",
            Self::Device => "device",
            Self::SmartCard => "smart_card",
            Self::Idp => "idp",
        }
    }

    /// The methods of this authenticator, in canonical order.
    pub fn methods(self) -> &'static [Method] {
        match self {
            Self::Password => &[Method::Password],
            Self::Email => &[Method::Otp, Method::MagicLink],
            Self::Phone => &[Method::Sms, Method::Voice],
            Self::Totp => &[Method::Otp],
            Self::Webauthn => &[Method::Webauthn],
            Self::Device => &[Method::Push, Method::Otp, Method::Fastpass],
            Self::SmartCard => &[Method::Piv],
            Self::Idp => &[Method::Federated],
        }
    }

    pub fn has_method(self, method: Method) -> bool {
        self.methods().contains(&method)
    }

    /// Checks that `method` belongs to this authenticator.
    pub fn check_method(self, method: Method) -> Result<(), PolicyError> {
        if self.has_method(method) {
            Ok(())
        } else {
            Err(PolicyError::MethodMismatch {
                authenticator: self.as_str().to_owned(),
                method: method.as_str().to_owned(),
                methods: list(self.methods().iter().map(|m| m.as_str())),
            })
        }
    }

    /// The authenticator's own factor type; `None` for `idp`, whose factor is configured.
    pub fn own_factor(self) -> Option<Factor> {
        match self {
            Self::Password => Some(Factor::Knowledge),
            Self::Idp => None,
            _ => Some(Factor::Possession),
        }
    }

    /// The characteristics the best verification of (`self`, `method`) could prove with the
    /// given enrollment facts; `None` when the method is not the authenticator's.
    pub fn prove(self, method: Method, facts: &VerificationFacts) -> Option<Proof> {
        prove(self, method, facts)
    }
}

impl Method {
    pub const ALL: [Self; 10] = [
        Self::Password,
        Self::Otp,
        Self::MagicLink,
        Self::Sms,
        Self::Voice,
        Self::Webauthn,
        Self::Push,
        Self::Fastpass,
        Self::Piv,
        Self::Federated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Otp => "otp",
            Self::MagicLink => "magic_link",
            Self::Sms => "sms",
            Self::Voice => "voice",
            Self::Webauthn => "webauthn",
            Self::Push => "push",
            Self::Fastpass => "fastpass",
            Self::Piv => "piv",
            Self::Federated => "federated",
        }
    }
}

impl UserVerification {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Any => "any",
            Self::Biometric => "biometric",
        }
    }
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Knowledge => "knowledge",
            Self::Possession => "possession",
            Self::Inherence => "inherence",
        }
    }
}

macro_rules! display_from_str {
    ($ty:ty, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = PolicyError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| PolicyError::Unknown {
                        what: $what,
                        input: s.to_owned(),
                        expected: list(Self::ALL.iter().map(|v| v.as_str())),
                    })
            }
        }
    };
}

impl UserVerification {
    pub const ALL: [Self; 3] = [Self::None, Self::Any, Self::Biometric];
}

impl Factor {
    pub const ALL: [Self; 3] = [Self::Knowledge, Self::Possession, Self::Inherence];
}

display_from_str!(AuthenticatorKey, "authenticator");
display_from_str!(Method, "method");
display_from_str!(UserVerification, "user verification level");
display_from_str!(Factor, "factor type");

/// `a`, `b` and `c` in backticks, for messages.
pub(crate) fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| format!("`{s}`")).collect();
    items.join(", ")
}

/// The characteristics of DESIGN section 3's table that one verification proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Characteristics {
    pub device_bound: bool,
    pub hardware_protected: bool,
    pub phishing_resistant: bool,
    pub user_presence: bool,
    pub user_verification: UserVerification,
}

/// What the enrollment and the verification itself established, beyond authenticator and method:
/// the inputs of the table's "when" columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerificationFacts {
    /// The key is hardware protected: a WebAuthn credential whose attestation was verified as a
    /// hardware authenticator, or a device whose proof-of-possession key is hardware backed.
    pub hardware_protected: bool,
    /// The user verification achieved: WebAuthn's UV flag (`any`), or the level of the device's
    /// user-verification key that signed.
    pub user_verification: UserVerification,
    /// FastPass only: the user confirmed a prompt (user presence).
    pub user_confirmed: bool,
    /// `idp` only: the factor type the upstream provider is configured to count as. Without it, a
    /// federated verification counts as one factor only when nothing else does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_factor: Option<Factor>,
}

/// The factor types a verification counts for, per DESIGN section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FactorSet {
    pub knowledge: bool,
    pub possession: bool,
    pub inherence: bool,
}

impl FactorSet {
    pub fn of(factor: Factor) -> Self {
        let mut set = Self::default();
        set.insert(factor);
        set
    }

    pub fn insert(&mut self, factor: Factor) {
        match factor {
            Factor::Knowledge => self.knowledge = true,
            Factor::Possession => self.possession = true,
            Factor::Inherence => self.inherence = true,
        }
    }

    pub fn contains(&self, factor: Factor) -> bool {
        match factor {
            Factor::Knowledge => self.knowledge,
            Factor::Possession => self.possession,
            Factor::Inherence => self.inherence,
        }
    }

    pub fn len(&self) -> u8 {
        u8::from(self.knowledge) + u8::from(self.possession) + u8::from(self.inherence)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one verification proves: its characteristics and the factor types it counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Proof {
    pub characteristics: Characteristics,
    /// The verification's own factor, plus inherence when user verification was `biometric`.
    pub factors: FactorSet,
    /// User verification was `any`: the verification counts for one more type, knowledge or
    /// inherence, whichever the other records leave missing (once across all records: two PIN
    /// unlocks may be the same PIN).
    pub any_user_verification: bool,
    /// A federated verification whose factor type is not configured: it counts as one factor only
    /// when nothing else counts.
    pub federated: bool,
}

impl Proof {
    /// Whether the verification's own factor is possession.
    pub fn is_possession(&self) -> bool {
        self.factors.possession
    }

    /// Whether the verification's own factor is knowledge.
    pub fn is_knowledge(&self) -> bool {
        self.factors.knowledge
    }

    /// How many factor types this verification counts for on its own.
    pub fn factor_count(&self) -> u8 {
        count_factors([self])
    }
}

/// DESIGN section 3's table: what a verification of `key` with `method` proves, given the facts.
/// `None` when `method` is not one of `key`'s methods.
pub fn prove(key: AuthenticatorKey, method: Method, facts: &VerificationFacts) -> Option<Proof> {
    use AuthenticatorKey as K;
    if !key.has_method(method) {
        return None;
    }
    let plain = Characteristics {
        user_presence: true,
        ..Characteristics::default()
    };
    let characteristics = match (key, method) {
        (K::Password | K::Email | K::Phone | K::Idp, _) => plain,
        (K::Totp, _) | (K::Device, Method::Otp) => Characteristics {
            device_bound: true,
            ..plain
        },
        (K::Webauthn, _) => Characteristics {
            device_bound: true,
            hardware_protected: facts.hardware_protected,
            phishing_resistant: true,
            user_presence: true,
            // WebAuthn reports that the user was verified, not how.
            user_verification: facts.user_verification.min(UserVerification::Any),
        },
        (K::Device, Method::Fastpass) => Characteristics {
            device_bound: true,
            hardware_protected: facts.hardware_protected,
            phishing_resistant: true,
            user_presence: facts.user_confirmed || facts.user_verification > UserVerification::None,
            user_verification: facts.user_verification,
        },
        (K::Device, _) => Characteristics {
            device_bound: true,
            hardware_protected: facts.hardware_protected,
            phishing_resistant: false,
            user_presence: true,
            user_verification: facts.user_verification,
        },
        (K::SmartCard, _) => Characteristics {
            device_bound: true,
            hardware_protected: true,
            phishing_resistant: true,
            user_presence: true,
            user_verification: UserVerification::Any,
        },
    };
    let mut factors = FactorSet::default();
    let mut federated = false;
    match key
        .own_factor()
        .or(if key == K::Idp { facts.idp_factor } else { None })
    {
        Some(f) => factors.insert(f),
        None => federated = true,
    }
    if characteristics.user_verification == UserVerification::Biometric {
        factors.insert(Factor::Inherence);
    }
    Some(Proof {
        characteristics,
        factors,
        any_user_verification: characteristics.user_verification == UserVerification::Any,
        federated,
    })
}

/// How many distinct factor types the verifications cover together (DESIGN section 3): each its
/// own factor, inherence for `biometric`, and for `any` one more type — knowledge or inherence,
/// whichever is missing — counted once across all of them. A federated verification without a
/// configured factor counts as one only when nothing else counts. This is the same rule as
/// `gatehouse_oidc::assurance::factor_count`, so `amr`'s `mfa` and policies agree.
pub fn count_factors<'a>(proofs: impl IntoIterator<Item = &'a Proof>) -> u8 {
    let mut set = FactorSet::default();
    let mut any = false;
    let mut federated = false;
    for p in proofs {
        set.knowledge |= p.factors.knowledge;
        set.possession |= p.factors.possession;
        set.inherence |= p.factors.inherence;
        any |= p.any_user_verification;
        federated |= p.federated;
    }
    if any && !(set.knowledge && set.inherence) {
        if set.knowledge {
            set.inherence = true;
        } else {
            set.knowledge = true;
        }
    }
    match set.len() {
        0 if federated => 1,
        n => n,
    }
}

/// The constraint keys of `assurance.possession` and of a chain method entry: each `true` is
/// required, `user_verification` is a minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MethodConstraints {
    #[serde(skip_serializing_if = "is_false")]
    pub phishing_resistant: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub hardware_protected: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub device_bound: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub user_presence: bool,
    #[serde(skip_serializing_if = "is_none_uv")]
    pub user_verification: UserVerification,
    /// A push must show a number on the sign-in page that the person types on the device
    /// (number matching). Not a characteristic a record proves: it says how a `device` push is
    /// challenged, and is kept only on `device`/`push` options ([`Self::for_method`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub number_matching: bool,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_none_uv(uv: &UserVerification) -> bool {
    *uv == UserVerification::None
}

/// One constraint key, for messages and traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    PhishingResistant,
    HardwareProtected,
    DeviceBound,
    UserPresence,
    UserVerification,
}

impl Constraint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PhishingResistant => "phishing_resistant",
            Self::HardwareProtected => "hardware_protected",
            Self::DeviceBound => "device_bound",
            Self::UserPresence => "user_presence",
            Self::UserVerification => "user_verification",
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl MethodConstraints {
    /// No constraint at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The constraints `c` fails, in the order of the keys.
    pub fn failures(&self, c: &Characteristics) -> Vec<Constraint> {
        let mut failed = Vec::new();
        if self.phishing_resistant && !c.phishing_resistant {
            failed.push(Constraint::PhishingResistant);
        }
        if self.hardware_protected && !c.hardware_protected {
            failed.push(Constraint::HardwareProtected);
        }
        if self.device_bound && !c.device_bound {
            failed.push(Constraint::DeviceBound);
        }
        if self.user_presence && !c.user_presence {
            failed.push(Constraint::UserPresence);
        }
        if c.user_verification < self.user_verification {
            failed.push(Constraint::UserVerification);
        }
        failed
    }

    /// The first constraint `c` fails, if any.
    pub fn first_failure(&self, c: &Characteristics) -> Option<Constraint> {
        if self.phishing_resistant && !c.phishing_resistant {
            Some(Constraint::PhishingResistant)
        } else if self.hardware_protected && !c.hardware_protected {
            Some(Constraint::HardwareProtected)
        } else if self.device_bound && !c.device_bound {
            Some(Constraint::DeviceBound)
        } else if self.user_presence && !c.user_presence {
            Some(Constraint::UserPresence)
        } else if c.user_verification < self.user_verification {
            Some(Constraint::UserVerification)
        } else {
            None
        }
    }

    pub fn is_met_by(&self, c: &Characteristics) -> bool {
        self.first_failure(c).is_none()
    }

    /// Both sets of constraints at once (the stricter value of each key).
    pub fn and(self, other: Self) -> Self {
        Self {
            phishing_resistant: self.phishing_resistant || other.phishing_resistant,
            hardware_protected: self.hardware_protected || other.hardware_protected,
            device_bound: self.device_bound || other.device_bound,
            user_presence: self.user_presence || other.user_presence,
            user_verification: self.user_verification.max(other.user_verification),
            number_matching: self.number_matching || other.number_matching,
        }
    }

    /// These constraints as an option of (`key`, `method`) shows them: `number_matching` only
    /// on a `device` push.
    #[must_use]
    pub fn for_method(mut self, key: AuthenticatorKey, method: Method) -> Self {
        self.number_matching &= key == AuthenticatorKey::Device && method == Method::Push;
        self
    }

    /// The best characteristics any method of any authenticator can prove under these
    /// constraints, used by validation: whether some `(key, method)` can meet them at all.
    pub fn provable_by(&self, key: AuthenticatorKey, method: Method) -> bool {
        let best = VerificationFacts {
            hardware_protected: true,
            user_verification: UserVerification::Biometric,
            user_confirmed: true,
            idp_factor: None,
        };
        prove(key, method, &best).is_some_and(|p| self.is_met_by(&p.characteristics))
    }

    /// A sentence naming what these constraints demand, e.g. "biometric verification on a
    /// hardware-protected device that is phishing-resistant".
    pub fn describe(&self) -> String {
        let mut text = match self.user_verification {
            UserVerification::Biometric => "biometric verification".to_owned(),
            UserVerification::Any => "user verification (a PIN or biometrics)".to_owned(),
            UserVerification::None => "a possession factor".to_owned(),
        };
        if self.hardware_protected {
            text.push_str(" on a hardware-protected device");
        } else if self.device_bound {
            text.push_str(" bound to a device");
        }
        let mut qualities = Vec::new();
        if self.phishing_resistant {
            qualities.push("phishing-resistant");
        }
        if self.user_presence && self.user_verification == UserVerification::None {
            qualities.push("confirmed by the user");
        }
        if !qualities.is_empty() {
            text.push_str(" that is ");
            text.push_str(&qualities.join(" and "));
        }
        text
    }

    /// A message for a verification that did not meet these constraints.
    pub fn explain_failure(&self, failed: Constraint) -> String {
        match failed {
            Constraint::PhishingResistant => "this step requires a phishing-resistant method".to_owned(),
            Constraint::HardwareProtected => "this step requires a hardware-protected key".to_owned(),
            Constraint::DeviceBound => "this step requires a method bound to a device".to_owned(),
            Constraint::UserPresence => "this step requires the user to confirm the prompt".to_owned(),
            Constraint::UserVerification => match self.user_verification {
                UserVerification::Biometric => {
                    "this step requires biometric verification, and the verification did not use biometrics"
                        .to_owned()
                }
                _ => "this step requires user verification (a PIN or biometrics), and the verification did not verify the user"
                    .to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthenticatorKey as K;

    fn facts(hw: bool, uv: UserVerification, confirmed: bool) -> VerificationFacts {
        VerificationFacts {
            hardware_protected: hw,
            user_verification: uv,
            user_confirmed: confirmed,
            idp_factor: None,
        }
    }

    #[test]
    fn table_rows() {
        let none = VerificationFacts::default();
        let pwd = prove(K::Password, Method::Password, &none).unwrap();
        assert!(pwd.factors.knowledge && !pwd.is_possession());
        assert_eq!(pwd.characteristics.user_verification, UserVerification::None);

        let totp = prove(K::Totp, Method::Otp, &none).unwrap();
        assert!(totp.characteristics.device_bound && !totp.characteristics.phishing_resistant);
        assert_eq!(
            totp.factor_count(),
            1,
            "a TOTP code never satisfies two factors alone"
        );

        // WebAuthn cannot prove biometric: UV is capped at `any`.
        let passkey = prove(
            K::Webauthn,
            Method::Webauthn,
            &facts(true, UserVerification::Biometric, false),
        )
        .unwrap();
        assert_eq!(passkey.characteristics.user_verification, UserVerification::Any);
        assert!(passkey.characteristics.phishing_resistant && passkey.characteristics.hardware_protected);
        assert_eq!(
            passkey.factor_count(),
            2,
            "a passkey with UV is passwordless two-factor"
        );

        let push = prove(
            K::Device,
            Method::Push,
            &facts(true, UserVerification::Biometric, false),
        )
        .unwrap();
        assert!(push.factors.inherence && push.factors.possession);
        assert!(!push.characteristics.phishing_resistant);

        let otp = prove(
            K::Device,
            Method::Otp,
            &facts(true, UserVerification::Biometric, true),
        )
        .unwrap();
        assert!(
            !otp.characteristics.hardware_protected,
            "device otp is never hardware protected"
        );
        assert_eq!(otp.characteristics.user_verification, UserVerification::None);

        let silent = prove(
            K::Device,
            Method::Fastpass,
            &facts(true, UserVerification::None, false),
        )
        .unwrap();
        assert!(silent.characteristics.phishing_resistant && !silent.characteristics.user_presence);
        let confirmed = prove(
            K::Device,
            Method::Fastpass,
            &facts(true, UserVerification::None, true),
        )
        .unwrap();
        assert!(confirmed.characteristics.user_presence);

        let piv = prove(K::SmartCard, Method::Piv, &none).unwrap();
        assert_eq!(piv.characteristics.user_verification, UserVerification::Any);
        assert!(piv.characteristics.hardware_protected);

        assert!(prove(K::Totp, Method::Sms, &none).is_none());
    }

    #[test]
    fn factor_counting_follows_section_3() {
        let none = VerificationFacts::default();
        let pwd = prove(K::Password, Method::Password, &none).unwrap();
        let sms = prove(K::Phone, Method::Sms, &none).unwrap();
        let bio = prove(
            K::Device,
            Method::Push,
            &facts(false, UserVerification::Biometric, false),
        )
        .unwrap();
        let any = prove(
            K::Webauthn,
            Method::Webauthn,
            &facts(false, UserVerification::Any, false),
        )
        .unwrap();
        assert_eq!(count_factors([&pwd, &sms]), 2);
        assert_eq!(count_factors([&sms, &sms]), 1);
        assert_eq!(count_factors([&pwd, &bio]), 3);
        assert_eq!(count_factors([&pwd, &any]), 3);
        assert_eq!(count_factors([&any, &any]), 2);
        let fed = prove(K::Idp, Method::Federated, &none).unwrap();
        assert_eq!(count_factors([&fed]), 1);
        assert_eq!(count_factors([&fed, &pwd]), 1);
        let fed_poss = prove(
            K::Idp,
            Method::Federated,
            &VerificationFacts {
                idp_factor: Some(Factor::Possession),
                ..none
            },
        )
        .unwrap();
        assert_eq!(count_factors([&fed_poss, &pwd]), 2);
    }

    #[test]
    fn constraints_name_what_failed() {
        let c = MethodConstraints {
            user_verification: UserVerification::Biometric,
            hardware_protected: true,
            ..MethodConstraints::default()
        };
        assert!(!c.provable_by(K::Totp, Method::Otp));
        assert!(c.provable_by(K::Device, Method::Push));
        assert!(!c.provable_by(K::Webauthn, Method::Webauthn));
        assert_eq!(
            c.describe(),
            "biometric verification on a hardware-protected device"
        );
        let webauthn = prove(
            K::Webauthn,
            Method::Webauthn,
            &facts(true, UserVerification::Any, false),
        )
        .unwrap();
        assert_eq!(
            c.first_failure(&webauthn.characteristics),
            Some(Constraint::UserVerification)
        );
    }
}
