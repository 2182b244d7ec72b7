//! What the verification records prove, in OIDC's words: `amr` values (RFC 8176), the achieved
//! `acr`, and the step-up requirement an `acr_values` request adds to the app's policy.
//!
//! Each verification record comes in as [`VerificationFacts`]: authenticator, method, user
//! verification level (with the modality when the authenticator reported it) and whether the key
//! is hardware protected. Factor types follow DESIGN section 3: a record counts for its own factor,
//! plus inherence when user verification was `biometric`, plus one more type (knowledge or
//! inherence, whichever is missing) when it was `any`. The mapping tables are in `docs/oidc.md`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::OidcError;

/// The authenticator (`key`) of a verification record (DESIGN section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authenticator {
    Password,
    Email,
    Phone,
    Totp,
    Webauthn,
    Device,
    SmartCard,
    Idp,
}

impl FromStr for Authenticator {
    type Err = OidcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| OidcError::Authenticator(s.to_owned()))
    }
}

/// The method of a verification record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl FromStr for Method {
    type Err = OidcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| OidcError::Method(s.to_owned()))
    }
}

/// User verification levels, ordered `none` < `any` < `biometric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    #[default]
    None,
    Any,
    Biometric,
}

/// How the user was verified locally, when the authenticator says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    Pin,
    Fingerprint,
    Face,
}

/// One verification record, as the OIDC claims need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationFacts {
    pub authenticator: Authenticator,
    pub method: Method,
    #[serde(default)]
    pub user_verification: UserVerification,
    #[serde(default)]
    pub modality: Option<Modality>,
    /// Whether the key is hardware protected (read for `webauthn` and `device` only; `smart_card`
    /// always is, every other authenticator never is).
    #[serde(default)]
    pub hardware_protected: bool,
}

/// A record's own factor type (inherence only ever comes from user verification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Factor {
    Knowledge,
    Possession,
}

impl VerificationFacts {
    pub fn new(authenticator: Authenticator, method: Method) -> Self {
        Self {
            authenticator,
            method,
            user_verification: UserVerification::None,
            modality: None,
            hardware_protected: false,
        }
    }

    pub fn with_user_verification(mut self, uv: UserVerification) -> Self {
        self.user_verification = uv;
        self
    }

    pub fn with_modality(mut self, modality: Modality) -> Self {
        self.modality = Some(modality);
        self
    }

    pub fn hardware(mut self) -> Self {
        self.hardware_protected = true;
        self
    }

    fn own_factor(&self) -> Option<Factor> {
        match self.authenticator {
            Authenticator::Password => Some(Factor::Knowledge),
            Authenticator::Idp => None,
            _ => Some(Factor::Possession),
        }
    }

    /// Phishing resistant: WebAuthn, FastPass and PIV (the signature is bound to the origin or the
    /// TLS channel).
    pub fn is_phishing_resistant(&self) -> bool {
        matches!(
            (self.authenticator, self.method),
            (Authenticator::Webauthn, _)
                | (Authenticator::Device, Method::Fastpass)
                | (Authenticator::SmartCard, _)
        )
    }

    /// Hardware protected, per DESIGN section 3's table.
    pub fn is_hardware_protected(&self) -> bool {
        match (self.authenticator, self.method) {
            (Authenticator::SmartCard, _) => true,
            (Authenticator::Device, Method::Otp) => false,
            (Authenticator::Webauthn | Authenticator::Device, _) => self.hardware_protected,
            _ => false,
        }
    }

    /// Whether the record is a possession factor.
    pub fn is_possession(&self) -> bool {
        self.own_factor() == Some(Factor::Possession)
    }

    /// This record's RFC 8176 `amr` values, in a fixed order.
    pub fn amr(&self) -> Vec<&'static str> {
        let mut amr = Vec::with_capacity(3);
        let key = if self.is_hardware_protected() {
            "hwk"
        } else {
            "swk"
        };
        match (self.authenticator, self.method) {
            (Authenticator::Password, _) => amr.push("pwd"),
            (Authenticator::Phone, Method::Voice) => amr.push("tel"),
            (Authenticator::Phone, _) => amr.push("sms"),
            (Authenticator::Email | Authenticator::Totp, _) | (Authenticator::Device, Method::Otp) => {
                amr.push("otp")
            }
            (Authenticator::SmartCard, _) => amr.extend(["sc", "hwk"]),
            (Authenticator::Webauthn | Authenticator::Device, _) => amr.push(key),
            (Authenticator::Idp, _) => {}
        }
        if self.user_verification > UserVerification::None {
            amr.push("user");
        }
        match self.modality {
            Some(Modality::Pin) => amr.push("pin"),
            Some(Modality::Fingerprint) => amr.push("fpt"),
            Some(Modality::Face) => amr.push("face"),
            None => {}
        }
        amr
    }
}

/// How many distinct factor types (knowledge, possession, inherence) the records cover together.
/// A `federated` record counts as one factor when nothing else covers one; `any` user verification
/// adds one knowledge-or-inherence type at most once across all records (two PIN unlocks may be
/// the same PIN).
pub fn factor_count(records: &[VerificationFacts]) -> u8 {
    let mut knowledge = false;
    let mut possession = false;
    let mut inherence = false;
    let mut uv_any = false;
    let mut federated = false;
    for r in records {
        match r.own_factor() {
            Some(Factor::Knowledge) => knowledge = true,
            Some(Factor::Possession) => possession = true,
            None => federated = true,
        }
        match r.user_verification {
            UserVerification::Biometric => inherence = true,
            UserVerification::Any => uv_any = true,
            UserVerification::None => {}
        }
    }
    if uv_any && !(knowledge && inherence) {
        if knowledge {
            inherence = true;
        } else {
            knowledge = true;
        }
    }
    let count = u8::from(knowledge) + u8::from(possession) + u8::from(inherence);
    if count == 0 && federated { 1 } else { count }
}

/// The `amr` claim for a set of records: each record's values in record order, duplicates removed,
/// and `mfa` last when the records cover two or more factor types.
pub fn amr(records: &[VerificationFacts]) -> Vec<&'static str> {
    let mut values: Vec<&'static str> = Vec::new();
    for value in records.iter().flat_map(VerificationFacts::amr) {
        if !values.contains(&value) {
            values.push(value);
        }
    }
    if factor_count(records) >= 2 {
        values.push("mfa");
    }
    values
}

/// The `acr` values Gatehouse supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Acr {
    /// `urn:gatehouse:loa:1fa:any`: any one factor.
    #[serde(rename = "urn:gatehouse:loa:1fa:any")]
    OneFactor,
    /// `urn:gatehouse:loa:2fa:any`: two factor types.
    #[serde(rename = "urn:gatehouse:loa:2fa:any")]
    TwoFactor,
    /// `phr`: a phishing-resistant possession factor (OpenID EAP ACR Values 1.0).
    #[serde(rename = "phr")]
    PhishingResistant,
    /// `phrh`: a phishing-resistant, hardware-protected possession factor.
    #[serde(rename = "phrh")]
    PhishingResistantHardware,
}

impl Acr {
    pub const ALL: [Self; 4] = [
        Self::OneFactor,
        Self::TwoFactor,
        Self::PhishingResistant,
        Self::PhishingResistantHardware,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneFactor => "urn:gatehouse:loa:1fa:any",
            Self::TwoFactor => "urn:gatehouse:loa:2fa:any",
            Self::PhishingResistant => "phr",
            Self::PhishingResistantHardware => "phrh",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }

    /// What this class demands of the records.
    pub fn requirement(self) -> AssuranceRequirement {
        let (min_factors, phishing_resistant, hardware_protected) = match self {
            Self::OneFactor => (1, false, false),
            Self::TwoFactor => (2, false, false),
            Self::PhishingResistant => (1, true, false),
            Self::PhishingResistantHardware => (1, true, true),
        };
        AssuranceRequirement {
            min_factors,
            phishing_resistant,
            hardware_protected,
        }
    }
}

impl fmt::Display for Acr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An assurance demand in the policy engine's terms: a number of factor types, and optionally a
/// possession factor that is phishing resistant (and hardware protected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssuranceRequirement {
    pub min_factors: u8,
    pub phishing_resistant: bool,
    pub hardware_protected: bool,
}

impl AssuranceRequirement {
    /// Whether the records meet this requirement.
    pub fn is_met_by(&self, records: &[VerificationFacts]) -> bool {
        let factors_ok = factor_count(records) >= self.min_factors;
        let possession_ok = !self.phishing_resistant
            || records.iter().any(|r| {
                r.is_possession()
                    && r.is_phishing_resistant()
                    && (!self.hardware_protected || r.is_hardware_protected())
            });
        factors_ok && possession_ok
    }

    /// The stricter of two requirements, field by field (how a request's step-up adds to the app's
    /// policy: it can only tighten).
    pub fn and(self, other: Self) -> Self {
        Self {
            min_factors: self.min_factors.max(other.min_factors),
            phishing_resistant: self.phishing_resistant || other.phishing_resistant,
            hardware_protected: self.hardware_protected || other.hardware_protected,
        }
    }
}

/// The `acr` to put in the ID token: the requested class when the records meet it, otherwise the
/// strongest class they meet (`phrh`, `phr`, `2fa`, `1fa`, in that order), or none without records.
pub fn achieved_acr(records: &[VerificationFacts], requested: Option<Acr>) -> Option<Acr> {
    if let Some(acr) = requested.filter(|a| a.requirement().is_met_by(records)) {
        return Some(acr);
    }
    [
        Acr::PhishingResistantHardware,
        Acr::PhishingResistant,
        Acr::TwoFactor,
        Acr::OneFactor,
    ]
    .into_iter()
    .find(|a| a.requirement().is_met_by(records))
}

/// What an authorization request adds to the app's authentication policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StepUp {
    /// The `acr_values` entry chosen (the first one Gatehouse supports, in the client's order of
    /// preference); unsupported values are ignored, as OIDC Core allows for voluntary claims.
    pub acr: Option<Acr>,
    /// The `max_age` in seconds: verification records older than this do not count.
    pub max_age: Option<u64>,
    /// `prompt=login` (or `max_age=0`): only records made in this sign-in count.
    pub force_reauthentication: bool,
}

impl StepUp {
    /// The assurance the request demands on top of the app's rule, if any.
    pub fn requirement(&self) -> Option<AssuranceRequirement> {
        self.acr.map(Acr::requirement)
    }

    /// The longest age a verification record may have to count for this request, if limited.
    pub fn max_record_age(&self) -> Option<Duration> {
        self.max_age.map(Duration::from_secs)
    }

    /// Whether an authentication made at `auth_time` is too old for `max_age` at `now`.
    pub fn is_too_old(&self, auth_time: Timestamp, now: Timestamp) -> bool {
        match self.max_age {
            None => false,
            Some(0) => true,
            Some(max) => {
                now.as_second().saturating_sub(auth_time.as_second()) > i64::try_from(max).unwrap_or(i64::MAX)
            }
        }
    }
}

/// Parses `acr_values`: space-separated, in preference order; returns the first supported value.
pub fn choose_acr(acr_values: &str) -> Option<Acr> {
    acr_values.split(' ').find_map(Acr::parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Authenticator as A;
    use Method as M;

    fn pwd() -> VerificationFacts {
        VerificationFacts::new(A::Password, M::Password)
    }
    fn totp() -> VerificationFacts {
        VerificationFacts::new(A::Totp, M::Otp)
    }
    fn passkey(uv: UserVerification) -> VerificationFacts {
        VerificationFacts::new(A::Webauthn, M::Webauthn).with_user_verification(uv)
    }

    #[test]
    fn amr_per_authenticator() {
        let cases: Vec<(VerificationFacts, Vec<&str>)> = vec![
            (pwd(), vec!["pwd"]),
            (VerificationFacts::new(A::Email, M::Otp), vec!["otp"]),
            (VerificationFacts::new(A::Email, M::MagicLink), vec!["otp"]),
            (VerificationFacts::new(A::Phone, M::Sms), vec!["sms"]),
            (VerificationFacts::new(A::Phone, M::Voice), vec!["tel"]),
            (totp(), vec!["otp"]),
            (passkey(UserVerification::None), vec!["swk"]),
            (passkey(UserVerification::Any).hardware(), vec!["hwk", "user"]),
            (
                passkey(UserVerification::Any)
                    .with_modality(Modality::Pin)
                    .hardware(),
                vec!["hwk", "user", "pin"],
            ),
            (VerificationFacts::new(A::Device, M::Push).hardware(), vec!["hwk"]),
            (
                VerificationFacts::new(A::Device, M::Fastpass)
                    .with_user_verification(UserVerification::Biometric)
                    .with_modality(Modality::Fingerprint)
                    .hardware(),
                vec!["hwk", "user", "fpt"],
            ),
            (
                VerificationFacts::new(A::Device, M::Fastpass)
                    .with_user_verification(UserVerification::Biometric)
                    .with_modality(Modality::Face),
                vec!["swk", "user", "face"],
            ),
            (VerificationFacts::new(A::Device, M::Otp).hardware(), vec!["otp"]),
            (VerificationFacts::new(A::SmartCard, M::Piv), vec!["sc", "hwk"]),
            (VerificationFacts::new(A::Idp, M::Federated), vec![]),
        ];
        for (facts, expected) in cases {
            assert_eq!(facts.amr(), expected, "{facts:?}");
        }
    }

    #[test]
    fn mfa_follows_design_section_3() {
        assert_eq!(amr(&[pwd()]), vec!["pwd"]);
        assert_eq!(amr(&[pwd(), totp()]), vec!["pwd", "otp", "mfa"]);
        // A passkey with user verification is two factors alone (passwordless).
        assert_eq!(amr(&[passkey(UserVerification::Any)]), vec!["swk", "user", "mfa"]);
        // A TOTP code never is, nor two possession factors.
        assert_eq!(amr(&[totp()]), vec!["otp"]);
        assert_eq!(
            amr(&[totp(), VerificationFacts::new(A::Phone, M::Sms)]),
            vec!["otp", "sms"]
        );
        // Duplicates collapse.
        assert_eq!(amr(&[pwd(), pwd()]), vec!["pwd"]);
        assert_eq!(factor_count(&[pwd(), passkey(UserVerification::Biometric)]), 3);
        assert_eq!(
            factor_count(&[passkey(UserVerification::Any), passkey(UserVerification::Any)]),
            2
        );
        assert_eq!(factor_count(&[VerificationFacts::new(A::Idp, M::Federated)]), 1);
        assert_eq!(factor_count(&[]), 0);
    }

    #[test]
    fn acr_requirements_and_achievement() {
        let hw_passkey = passkey(UserVerification::None).hardware();
        assert_eq!(achieved_acr(&[], None), None);
        assert_eq!(achieved_acr(&[pwd()], None), Some(Acr::OneFactor));
        assert_eq!(achieved_acr(&[pwd(), totp()], None), Some(Acr::TwoFactor));
        assert_eq!(
            achieved_acr(&[passkey(UserVerification::None)], None),
            Some(Acr::PhishingResistant)
        );
        assert_eq!(
            achieved_acr(&[hw_passkey], None),
            Some(Acr::PhishingResistantHardware)
        );
        // The requested class is reported when met, even if a stronger one is too.
        assert_eq!(
            achieved_acr(&[pwd(), hw_passkey], Some(Acr::TwoFactor)),
            Some(Acr::TwoFactor)
        );
        // Unmet request: the strongest class actually met.
        assert_eq!(achieved_acr(&[pwd()], Some(Acr::TwoFactor)), Some(Acr::OneFactor));
        // Device OTP is never phishing resistant; FastPass is.
        let otp = VerificationFacts::new(A::Device, M::Otp).hardware();
        assert!(!Acr::PhishingResistant.requirement().is_met_by(&[otp]));
        let fastpass = VerificationFacts::new(A::Device, M::Fastpass).hardware();
        assert!(
            Acr::PhishingResistantHardware
                .requirement()
                .is_met_by(&[fastpass])
        );
        // The step-up only tightens.
        let app = AssuranceRequirement {
            min_factors: 2,
            phishing_resistant: false,
            hardware_protected: false,
        };
        let both = app.and(Acr::PhishingResistant.requirement());
        assert_eq!((both.min_factors, both.phishing_resistant), (2, true));
        assert_eq!(app.and(Acr::OneFactor.requirement()), app);
    }

    #[test]
    fn acr_values_and_max_age() {
        assert_eq!(
            choose_acr("urn:other phr urn:gatehouse:loa:2fa:any"),
            Some(Acr::PhishingResistant)
        );
        assert_eq!(choose_acr("urn:other"), None);
        assert_eq!(
            serde_json::to_value(Acr::TwoFactor).unwrap(),
            "urn:gatehouse:loa:2fa:any"
        );
        let t0 = Timestamp::from_second(1_000).unwrap();
        let step = StepUp {
            max_age: Some(300),
            ..StepUp::default()
        };
        assert!(!step.is_too_old(t0, Timestamp::from_second(1_300).unwrap()));
        assert!(step.is_too_old(t0, Timestamp::from_second(1_301).unwrap()));
        let zero = StepUp {
            max_age: Some(0),
            ..StepUp::default()
        };
        assert!(zero.is_too_old(t0, t0));
        assert!(!StepUp::default().is_too_old(t0, Timestamp::from_second(99_999).unwrap()));
        assert_eq!(step.max_record_age(), Some(Duration::from_secs(300)));
        assert_eq!("smart_card".parse::<Authenticator>().unwrap(), A::SmartCard);
        assert_eq!("magic_link".parse::<Method>().unwrap(), M::MagicLink);
        assert!("carrier_pigeon".parse::<Method>().is_err());
    }
}
