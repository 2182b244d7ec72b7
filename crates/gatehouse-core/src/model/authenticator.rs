//! The authenticators and methods of DESIGN section 3, and the characteristics a verification
//! (or an enrollment) can prove. Policies are evaluated against these characteristics only.

use serde::{Deserialize, Serialize};

use super::app::string_enum;
use crate::CoreError;

string_enum!(
    /// An authenticator, by its `key`.
    Authenticator, "authenticator" {
        Password => "password",
        Email => "email",
        Phone => "phone",
        Totp => "totp",
        Webauthn => "webauthn",
        Device => "device",
        SmartCard => "smart_card",
        Idp => "idp",
    }
);

string_enum!(
    /// A way of verifying with an authenticator.
    Method, "method" {
        Password => "password",
        Otp => "otp",
        MagicLink => "magic_link",
        Sms => "sms",
        Voice => "voice",
        Webauthn => "webauthn",
        Push => "push",
        Fastpass => "fastpass",
        Piv => "piv",
        Federated => "federated",
    }
);

string_enum!(
    /// A factor type.
    Factor, "factor" {
        Knowledge => "knowledge",
        Possession => "possession",
        Inherence => "inherence",
    }
);

/// How the user was verified locally, ordered `none` < `any` < `biometric`: the device rules'
/// type, shared so a verification record and a device answer speak the same level.
pub use crate::device::UserVerification;

impl Authenticator {
    /// The methods of this authenticator (DESIGN section 3).
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

    /// Checks that `method` belongs to this authenticator.
    pub fn check_method(self, method: Method) -> Result<(), CoreError> {
        if self.methods().contains(&method) {
            Ok(())
        } else {
            Err(CoreError::invalid(
                "method",
                method.as_str(),
                format!("it is not a method of the `{self}` authenticator"),
            ))
        }
    }
}

/// What a verification proves, or what an enrollment can prove at best (DESIGN section 3).
/// Stored as JSON with these field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Characteristics {
    #[serde(with = "factor_text")]
    pub factor: Factor,
    pub device_bound: bool,
    pub hardware_protected: bool,
    pub phishing_resistant: bool,
    pub user_presence: bool,
    #[serde(with = "uv_text")]
    pub user_verification: UserVerification,
}

impl Characteristics {
    /// The baseline of section 3's table for an authenticator, before anything particular to an
    /// enrollment is known (hardware protection of a WebAuthn credential or a device key, the user
    /// verification it reported): the weakest value where the table says "when …".
    pub fn baseline(authenticator: Authenticator) -> Self {
        let possession = |device_bound, phishing_resistant| Self {
            factor: Factor::Possession,
            device_bound,
            hardware_protected: false,
            phishing_resistant,
            user_presence: true,
            user_verification: UserVerification::None,
        };
        match authenticator {
            Authenticator::Password => Self {
                factor: Factor::Knowledge,
                ..possession(false, false)
            },
            Authenticator::Email | Authenticator::Phone | Authenticator::Idp => possession(false, false),
            Authenticator::Totp | Authenticator::Device => possession(true, false),
            Authenticator::Webauthn => possession(true, true),
            Authenticator::SmartCard => Self {
                hardware_protected: true,
                user_verification: UserVerification::Any,
                ..possession(true, true)
            },
        }
    }
}

macro_rules! text_module {
    ($module:ident, $ty:ty) => {
        mod $module {
            use serde::{Deserialize, Deserializer, Serializer};

            pub fn serialize<S: Serializer>(value: &$ty, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(value.as_str())
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<$ty, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$ty>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
text_module!(factor_text, super::Factor);
text_module!(uv_text, super::UserVerification);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_follow_the_table() {
        assert_eq!(
            Authenticator::Device.methods(),
            &[Method::Push, Method::Otp, Method::Fastpass]
        );
        assert!(Authenticator::Totp.check_method(Method::Otp).is_ok());
        let err = Authenticator::Password.check_method(Method::Sms).unwrap_err();
        assert_eq!(
            err.to_string(),
            "method `sms` is not valid: it is not a method of the `password` authenticator"
        );
    }

    #[test]
    fn user_verification_is_ordered() {
        use UserVerification as Uv;
        assert!(Uv::Biometric.satisfies(Uv::Any));
        assert!(Uv::Any.satisfies(Uv::Any));
        assert!(!Uv::Any.satisfies(Uv::Biometric));
        assert!(Uv::None.satisfies(Uv::None));
    }

    #[test]
    fn baselines_match_section_three() {
        let password = Characteristics::baseline(Authenticator::Password);
        assert_eq!(password.factor, Factor::Knowledge);
        assert!(!password.device_bound);
        let webauthn = Characteristics::baseline(Authenticator::Webauthn);
        assert!(webauthn.phishing_resistant && webauthn.device_bound && !webauthn.hardware_protected);
        let totp = Characteristics::baseline(Authenticator::Totp);
        assert!(totp.device_bound && !totp.phishing_resistant);
        let json = serde_json::to_value(totp).unwrap();
        assert_eq!(json["factor"], "possession");
        assert_eq!(json["user_verification"], "none");
        assert_eq!(serde_json::from_value::<Characteristics>(json).unwrap(), totp);
    }
}
