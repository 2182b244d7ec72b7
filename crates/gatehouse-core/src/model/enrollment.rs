//! Authenticator enrollments: what a user has set up (a password, a TOTP app, a passkey, a
//! device), with its method data and the best it can prove.
//!
//! Method data is JSON whose shape depends on the authenticator; secrets in it are sealed by the
//! caller with the keyring (associated data [`sealing_context`]), never stored in the clear. The
//! shapes defined so far are [`PasswordData`] and [`TotpData`]; other authenticators add theirs.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::app::string_enum;
use super::authenticator::{AuthenticatorKey, Method, UserVerification};
use super::id::{DeviceId, EnrollmentId, UserId};
use crate::CoreError;

string_enum!(
    /// Whether an enrollment can be used.
    EnrollmentStatus, "status" {
        Active => "active",
        Inactive => "inactive",
    }
);

/// A user's enrolled authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    pub id: EnrollmentId,
    pub user_id: UserId,
    pub authenticator: AuthenticatorKey,
    /// The methods this enrollment offers (a subset of the authenticator's).
    pub methods: Vec<Method>,
    pub status: EnrollmentStatus,
    /// A label the user or the enrolling ceremony chose ("YubiKey 5", "alice's phone").
    pub name: Option<String>,
    /// Authenticator-specific method data (secret sealed, public key, phone number, email).
    pub data: serde_json::Value,
    /// The key is hardware protected (an attested WebAuthn credential, a PKCS#11 device key).
    pub hardware_protected: bool,
    /// The best user verification it achieves (WebAuthn `any` when the credential verifies users;
    /// a device's user-verification key level).
    pub user_verification: UserVerification,
    /// The device this enrollment lives on (device authenticator), if any.
    pub device_id: Option<DeviceId>,
    /// A monotonic counter for replay refusal: the last accepted TOTP step, a WebAuthn signature
    /// counter. Advanced only through the store's compare-and-set.
    pub counter: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl Enrollment {
    /// Checks that every method belongs to the authenticator and none is listed twice.
    pub fn check_methods(authenticator: AuthenticatorKey, methods: &[Method]) -> Result<(), CoreError> {
        if methods.is_empty() {
            return Err(CoreError::invalid(
                "methods",
                "[]",
                "an enrollment offers at least one method",
            ));
        }
        for (i, method) in methods.iter().enumerate() {
            if !authenticator.has_method(*method) {
                return Err(CoreError::invalid(
                    "methods",
                    method.as_str(),
                    format!("it is not a method of the `{authenticator}` authenticator"),
                ));
            }
            if methods.iter().skip(i + 1).any(|m| m == method) {
                return Err(CoreError::invalid(
                    "methods",
                    method.as_str(),
                    "it is listed twice",
                ));
            }
        }
        Ok(())
    }

    pub fn is_active(&self) -> bool {
        self.status == EnrollmentStatus::Active
    }
}

/// Method data of a `password` enrollment: the argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordData {
    pub hash: String,
}

/// Method data of a `totp` enrollment: the secret sealed with the keyring (associated data
/// [`sealing_context`]) and the code parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpData {
    pub secret_sealed: String,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: String,
    pub digits: u8,
    /// Seconds per step.
    pub period: u32,
}

/// The associated data a secret of enrollment `id` is sealed with (`enrollments:<id>`), so a
/// sealed secret moved to another row does not open.
pub fn sealing_context(id: EnrollmentId) -> String {
    format!("enrollments:{id}")
}

/// Reads typed method data from an enrollment's JSON.
pub fn method_data<T: serde::de::DeserializeOwned>(data: &serde_json::Value) -> Result<T, CoreError> {
    serde_json::from_value(data.clone()).map_err(|e| CoreError::invalid("data", "…", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_must_belong_and_be_distinct() {
        assert!(
            Enrollment::check_methods(AuthenticatorKey::Device, &[Method::Push, Method::Fastpass]).is_ok()
        );
        let err = Enrollment::check_methods(AuthenticatorKey::Totp, &[Method::Push]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "methods `push` is not valid: it is not a method of the `totp` authenticator"
        );
        assert!(Enrollment::check_methods(AuthenticatorKey::Totp, &[Method::Otp, Method::Otp]).is_err());
        assert!(Enrollment::check_methods(AuthenticatorKey::Totp, &[]).is_err());
    }

    #[test]
    fn method_data_round_trips() {
        let totp = TotpData {
            secret_sealed: "v1.k1.n.c".into(),
            algorithm: "SHA1".into(),
            digits: 6,
            period: 30,
        };
        let json = serde_json::to_value(&totp).unwrap();
        assert_eq!(method_data::<TotpData>(&json).unwrap(), totp);
        assert!(method_data::<PasswordData>(&json).is_err());
        let id = EnrollmentId::from_uuid(uuid::Uuid::from_u128(5));
        assert_eq!(
            sealing_context(id),
            "enrollments:00000000-0000-0000-0000-000000000005"
        );
    }
}
