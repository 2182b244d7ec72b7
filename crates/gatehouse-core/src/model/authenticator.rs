//! The authenticators and methods of DESIGN section 3 and what a verification proves. The
//! vocabulary is the policy crate's — one definition for policies, enrollments and records —
//! re-exported here with parsers that report errors as [`CoreError`]s naming the field.

pub use gatehouse_policy::{AuthenticatorKey, Factor, Method, Proof, UserVerification, VerificationFacts};

use crate::CoreError;

/// Parses an authenticator key (`totp`, `webauthn`, …) given in `field`.
pub fn parse_authenticator(field: &'static str, input: &str) -> Result<AuthenticatorKey, CoreError> {
    input
        .parse()
        .map_err(|e: gatehouse_policy::PolicyError| CoreError::invalid(field, input, e.to_string()))
}

/// Parses a method (`otp`, `push`, …) given in `field`.
pub fn parse_method(field: &'static str, input: &str) -> Result<Method, CoreError> {
    input
        .parse()
        .map_err(|e: gatehouse_policy::PolicyError| CoreError::invalid(field, input, e.to_string()))
}

/// Parses a user verification level (`none`, `any`, `biometric`) given in `field`.
pub fn parse_user_verification(field: &'static str, input: &str) -> Result<UserVerification, CoreError> {
    input
        .parse()
        .map_err(|e: gatehouse_policy::PolicyError| CoreError::invalid(field, input, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_name_their_field() {
        assert_eq!(
            parse_authenticator("authenticator", "totp").unwrap(),
            AuthenticatorKey::Totp
        );
        assert_eq!(parse_method("method", "fastpass").unwrap(), Method::Fastpass);
        assert_eq!(
            parse_user_verification("uv", "biometric").unwrap(),
            UserVerification::Biometric
        );
        let err = parse_authenticator("authenticator", "sms").unwrap_err();
        assert_eq!(err.field(), Some("authenticator"));
        assert!(err.to_string().contains("`sms`"), "{err}");
    }
}
