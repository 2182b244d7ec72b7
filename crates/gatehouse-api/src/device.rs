//! Wire types of the device protocol spoken between Gatehouse Verify and the server, shared by
//! both sides (`docs/verify-protocol.md` is the full protocol; these types are its JSON).
//!
//! Three kinds of signed objects travel with them:
//! - the server's **challenge JWS** (`typ` [`jws_type::CHALLENGE`], ES256 by a key of the
//!   server's JWKS, claims [`ChallengeClaims`]), delivered through the sign-in page to the
//!   loopback daemon (FastPass) or over the push channel;
//! - the device's **proofs**, compact ES256 JWS by the device's proof-of-possession key: the
//!   registration proof ([`RegistrationClaims`]) and the per-request proof
//!   ([`RequestProofClaims`], sent as `Authorization: Device <jws>`);
//! - the device's **answer signatures**: raw P-256 ECDSA signatures (64-byte `r‖s`, base64url)
//!   over the canonical answer message of `gatehouse_core::device::DeviceAnswer::signed_message`
//!   ([`ChallengeAnswer`]).
//!
//! Names and enum values are the contract; conversions to the pure types of
//! `gatehouse_core::device` are written by each side.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The OAuth client id Gatehouse Verify signs in with to enroll (a built-in public client).
pub const VERIFY_CLIENT_ID: &str = "gatehouse-verify";
/// The client's only redirect URI (RFC 8252 loopback form; Verify never listens on it, it reads
/// the `redirect` of the successful flow).
pub const VERIFY_REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The scope an access token needs to register a device.
pub const DEVICE_ENROLL_SCOPE: &str = "device.enroll";
/// The `aud` of every challenge JWS.
pub const CHALLENGE_AUDIENCE: &str = "gatehouse-verify";
/// The loopback port the daemon listens on by default and the flow lists in `ports`.
pub const DEFAULT_LOOPBACK_PORT: u16 = 8769;
/// The `Authorization` scheme of device-authenticated requests: `Authorization: Device <jws>`.
pub const DEVICE_AUTH_SCHEME: &str = "Device";

/// The JWS `typ` header values of the protocol.
pub mod jws_type {
    /// A challenge signed by the server.
    pub const CHALLENGE: &str = "gatehouse-device-challenge+jwt";
    /// The device's registration proof.
    pub const REGISTRATION: &str = "gatehouse-device-registration+jwt";
    /// The device's per-request proof.
    pub const REQUEST: &str = "gatehouse-device-request+jwt";
}

/// The server paths of the device API (all relative to the issuer).
pub mod paths {
    /// `POST`: register a device (bearer access token with scope `device.enroll`).
    pub const ENROLLMENTS: &str = "/api/v1/verify/enrollments";
    /// `GET`: the enrollment's state; `DELETE`: unenroll (device proof).
    pub const ENROLLMENT: &str = "/api/v1/verify/enrollment";
    /// `GET ?wait=SECONDS`: long-poll for the next push (device proof).
    pub const PUSHES: &str = "/api/v1/verify/pushes";

    /// `POST`: answer a challenge (the answer's signatures authenticate it).
    pub fn answer(challenge_id: &str) -> String {
        format!("/api/v1/verify/challenges/{challenge_id}/answer")
    }
}

/// A user-verification level: `none` < `any` (PIN or biometric) < `biometric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserVerificationLevel {
    None,
    Any,
    Biometric,
}

/// Where a device key lives: a file (`software`) or a PKCS#11 token / secure element
/// (`hardware`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStorage {
    Software,
    Hardware,
}

/// The device's operating system family, as policies name it (`device.platform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Linux,
    Macos,
    Windows,
    Ios,
    Android,
    Chromeos,
    Other,
}

/// What the device reports about itself at enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceFacts {
    pub platform: Platform,
    /// E.g. `Debian GNU/Linux 12 (bookworm); kernel 6.1.0`.
    pub os_version: String,
    /// Hardware model (DMI product name on Linux), or `unknown`.
    pub model: String,
    /// The host name, shown to the user and the administrator.
    pub display_name: String,
    /// A TPM, secure enclave or hardware token is present.
    pub secure_hardware_present: bool,
    /// The device is managed (a management attestation is present, see `management_attestation`).
    pub managed: bool,
    /// The management attestation as configured on the device (opaque; see the protocol
    /// document), absent when the device is not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_attestation: Option<String>,
    /// The device can verify the user biometrically.
    pub biometric_capable: bool,
    /// A random id of this Verify installation, stable across enrollments on the device (not an
    /// authenticator: the server uses it only to link a new enrollment to an existing device
    /// record of the same user).
    pub installation_id: String,
    /// The Gatehouse Verify version.
    pub verify_version: String,
}

/// A P-256 public key as a JWK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublicJwk {
    /// Always `EC`.
    pub kty: String,
    /// Always `P-256`.
    pub crv: String,
    /// base64url, 32 bytes.
    pub x: String,
    /// base64url, 32 bytes.
    pub y: String,
}

/// A device public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceKey {
    /// The key's RFC 7638 SHA-256 thumbprint (base64url); the server recomputes and compares it.
    pub kid: String,
    pub jwk: PublicJwk,
    pub storage: KeyStorage,
}

/// A user-verification key: a device key usable only after a local check of `user_verification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserVerificationKey {
    pub kid: String,
    pub jwk: PublicJwk,
    pub storage: KeyStorage,
    /// `any` or `biometric` (never `none`).
    pub user_verification: UserVerificationLevel,
}

/// The payload of the registration proof (`typ` `gatehouse-device-registration+jwt`, ES256 by
/// the proof-of-possession key, `kid` = its thumbprint, header `jwk` = its public JWK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegistrationClaims {
    /// The server's issuer.
    pub aud: String,
    pub iat: u64,
    /// At most `iat + 120`.
    pub exp: u64,
    /// Random, at least 128 bits, single use.
    pub jti: String,
    /// base64url(SHA-256(ASCII access token)): binds the proof to the bearer token it came with.
    pub ath: String,
    pub device: DeviceFacts,
    pub proof_of_possession_key: DeviceKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification_key: Option<UserVerificationKey>,
}

/// `POST /api/v1/verify/enrollments` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentRequest {
    /// The registration proof (compact JWS, payload [`RegistrationClaims`]).
    pub registration: String,
    /// When the registration has a user-verification key: that key's signature (raw P-256,
    /// base64url `r‖s`) over the ASCII bytes of `registration`, proving the device holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification_signature: Option<String>,
}

/// The TOTP seed of the enrollment's `otp` method, given once at enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TotpSeed {
    /// Base32 (RFC 4648, no padding), at least 160 bits.
    pub secret: String,
    /// `SHA1`.
    pub algorithm: String,
    pub digits: u8,
    /// Seconds per step.
    pub period: u32,
}

/// The user an enrollment belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceUser {
    pub id: String,
    pub login: String,
}

/// A device's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Active,
    Suspended,
    Deactivated,
}

/// An enrollment's status (`inactive` after deactivation: enroll again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    Active,
    Inactive,
}

/// `201` answer of `POST /api/v1/verify/enrollments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentResponse {
    pub enrollment_id: String,
    pub device_id: String,
    pub issuer: String,
    pub user: DeviceUser,
    pub status: EnrollmentStatus,
    pub device_status: DeviceStatus,
    /// The level of the registered user-verification key, `none` without one.
    pub user_verification: UserVerificationLevel,
    pub totp: TotpSeed,
}

/// `200` answer of `GET /api/v1/verify/enrollment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentState {
    pub enrollment_id: String,
    pub device_id: String,
    pub user: DeviceUser,
    pub status: EnrollmentStatus,
    pub device_status: DeviceStatus,
    pub user_verification: UserVerificationLevel,
}

/// The payload of a per-request proof (`typ` `gatehouse-device-request+jwt`, ES256 by the
/// proof-of-possession key, `kid` = its thumbprint), sent as `Authorization: Device <jws>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestProofClaims {
    /// The enrollment id.
    pub iss: String,
    /// The server's issuer.
    pub aud: String,
    pub iat: u64,
    /// At most `iat + 120`.
    pub exp: u64,
    /// Random, at least 128 bits, single use.
    pub jti: String,
    /// The HTTP method, upper case.
    pub htm: String,
    /// `issuer + path` of the request, without query.
    pub htu: String,
}

/// What a challenge asks of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeKind {
    Fastpass,
    Push,
    EnrollUserVerification,
}

/// The application a challenge is for (shown with a push).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChallengeApp {
    pub client_id: String,
    pub name: String,
}

/// The payload of a challenge JWS (`typ` `gatehouse-device-challenge+jwt`, signed by the server
/// with a key of its JWKS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChallengeClaims {
    /// The server's issuer.
    pub iss: String,
    /// Always `gatehouse-verify`.
    pub aud: String,
    pub iat: u64,
    /// `iat + 120`; the challenge's expiry.
    pub exp: u64,
    /// The challenge id.
    pub jti: String,
    /// Random, at least 128 bits (22+ base64url characters).
    pub nonce: String,
    pub kind: ChallengeKind,
    /// The origin of the sign-in page (the issuer's origin).
    pub origin: String,
    /// The level the answer must reach; for `enroll_user_verification`, the level of the key to
    /// create.
    pub user_verification: UserVerificationLevel,
    /// The user must confirm a prompt on the device.
    pub user_presence: bool,
    /// The user must give the number shown on the sign-in page (push).
    pub number_challenge: bool,
    /// The user id, when the flow knows the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The enrollment the challenge is for (push and `enroll_user_verification` always; FastPass
    /// when the user has exactly one device enrollment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<ChallengeApp>,
    /// The IP address the sign-in comes from (shown with a push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// The `challenge` object of a FastPass or `enroll-user-verification` remediation in the flow
/// state: `{"request": <challenge JWS>, "ports": [8769]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoopbackChallenge {
    pub request: String,
    pub ports: Vec<u16>,
}

/// A challenge JWS on its way to the device: the body the page POSTs to the daemon's
/// `/challenge`, and the `200` answer of the push long-poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChallengeRequest {
    pub request: String,
}

/// The daemon's `GET /probe` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProbeReply {
    /// Always `ready`.
    pub status: String,
}

/// What the device answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerResult {
    Approve,
    Deny,
    UserVerificationUnavailable,
    UserVerificationFailed,
    RegisterUserVerificationKey,
}

/// The daemon's `200` answer to `POST /challenge`: the answer it sent to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoopbackReply {
    /// Always `answered`.
    pub status: String,
    pub result: AnswerResult,
}

/// The signatures of an answer: raw P-256 ECDSA over SHA-256, 64-byte `r‖s`, base64url, each
/// over the same canonical answer message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnswerSignatures {
    /// By the enrollment's proof-of-possession key (always).
    pub proof_of_possession: String,
    /// By the enrollment's user-verification key, after a local check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
    /// By the new key of a `register_user_verification_key` answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key: Option<String>,
}

/// `POST /api/v1/verify/challenges/{challenge_id}/answer` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChallengeAnswer {
    pub challenge_id: String,
    pub enrollment_id: String,
    pub result: AnswerResult,
    /// The origin the daemon received the challenge from.
    pub origin: String,
    /// `none` unless the user-verification key signed; then that key's level.
    pub user_verification: UserVerificationLevel,
    pub user_presence: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    pub biometric_capable: bool,
    /// The new key of a `register_user_verification_key` answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key: Option<UserVerificationKey>,
    pub signatures: AnswerSignatures,
}

/// `200` answer of the answer endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnswerReceipt {
    /// Always `accepted`.
    pub status: String,
    pub result: AnswerResult,
}

/// Every error of the device API and of the daemon: `{"error": code, "message": text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceApiError {
    pub error: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_use_their_wire_names() {
        let json = serde_json::to_string(&(
            UserVerificationLevel::Biometric,
            KeyStorage::Hardware,
            Platform::Macos,
            ChallengeKind::EnrollUserVerification,
            AnswerResult::UserVerificationUnavailable,
            DeviceStatus::Deactivated,
            EnrollmentStatus::Inactive,
        ))
        .unwrap();
        assert_eq!(
            json,
            r#"["biometric","hardware","macos","enroll_user_verification","user_verification_unavailable","deactivated","inactive"]"#
        );
    }

    #[test]
    fn optional_claims_are_left_out_and_tolerated_when_absent() {
        let claims: ChallengeClaims = serde_json::from_str(
            r#"{"iss":"http://localhost:8080","aud":"gatehouse-verify","iat":1,"exp":121,"jti":"c1",
                "nonce":"n","kind":"fastpass","origin":"http://localhost:8080",
                "user_verification":"none","user_presence":false,"number_challenge":false}"#,
        )
        .unwrap();
        assert_eq!(claims.sub, None);
        let back = serde_json::to_value(&claims).unwrap();
        assert!(back.get("sub").is_none() && back.get("app").is_none());
        assert_eq!(paths::answer("c1"), "/api/v1/verify/challenges/c1/answer");
    }
}
