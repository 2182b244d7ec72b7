//! The device side of the protocol's signed objects: checking the server's challenge JWS,
//! signing the device's proofs (compact ES256 JWS made with a keystore key) and the canonical
//! answer message, and converting between the wire types (`gatehouse_api::device`) and the pure
//! rules (`gatehouse_core::device`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_api::device::{
    self as wire, CHALLENGE_AUDIENCE, ChallengeClaims, RegistrationClaims, RequestProofClaims, jws_type,
};
use gatehouse_core::device::{
    AnswerResult, ChallengeBinding, ChallengeId, ChallengeKind, Nonce, Origin, UserVerification,
};
use gatehouse_crypto::{Audience, CryptoError, Jwks, JwtExpectations, P256PublicKey, SigningAlgorithm};
use serde::Serialize;
use serde_json::json;

use crate::error::VerifyError;
use crate::home::EnrollmentRecord;
use crate::keystore::{Keystore, public_jwk};

/// How far past its `exp` the device still reads a challenge (clock skew); the server enforces
/// the real expiry.
pub const CHALLENGE_LEEWAY_SECONDS: u64 = 30;
/// The lifetime of the device's own proofs.
pub const PROOF_LIFETIME_SECONDS: u64 = 60;

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn uv_to_core(level: wire::UserVerificationLevel) -> UserVerification {
    match level {
        wire::UserVerificationLevel::None => UserVerification::None,
        wire::UserVerificationLevel::Any => UserVerification::Any,
        wire::UserVerificationLevel::Biometric => UserVerification::Biometric,
    }
}

pub fn uv_to_wire(level: UserVerification) -> wire::UserVerificationLevel {
    match level {
        UserVerification::None => wire::UserVerificationLevel::None,
        UserVerification::Any => wire::UserVerificationLevel::Any,
        UserVerification::Biometric => wire::UserVerificationLevel::Biometric,
    }
}

pub fn kind_to_core(kind: wire::ChallengeKind) -> ChallengeKind {
    match kind {
        wire::ChallengeKind::Fastpass => ChallengeKind::Fastpass,
        wire::ChallengeKind::Push => ChallengeKind::Push,
        wire::ChallengeKind::EnrollUserVerification => ChallengeKind::EnrollUserVerification,
    }
}

pub fn result_to_wire(result: AnswerResult) -> wire::AnswerResult {
    match result {
        AnswerResult::Approve => wire::AnswerResult::Approve,
        AnswerResult::Deny => wire::AnswerResult::Deny,
        AnswerResult::UserVerificationUnavailable => wire::AnswerResult::UserVerificationUnavailable,
        AnswerResult::UserVerificationFailed => wire::AnswerResult::UserVerificationFailed,
        AnswerResult::RegisterUserVerificationKey => wire::AnswerResult::RegisterUserVerificationKey,
    }
}

pub fn result_to_core(result: wire::AnswerResult) -> AnswerResult {
    match result {
        wire::AnswerResult::Approve => AnswerResult::Approve,
        wire::AnswerResult::Deny => AnswerResult::Deny,
        wire::AnswerResult::UserVerificationUnavailable => AnswerResult::UserVerificationUnavailable,
        wire::AnswerResult::UserVerificationFailed => AnswerResult::UserVerificationFailed,
        wire::AnswerResult::RegisterUserVerificationKey => AnswerResult::RegisterUserVerificationKey,
    }
}

/// Why a challenge JWS was not accepted by the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeProblem {
    /// No key of the server's JWKS has the challenge's `kid` (refetch the JWKS once).
    #[error("no key of the server's JWKS signed it ({0})")]
    UnknownKey(String),
    #[error("{0}")]
    Invalid(String),
}

/// A challenge whose server signature, issuer, audience, type and expiry checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChallenge {
    pub raw: String,
    pub claims: ChallengeClaims,
    pub binding: ChallengeBinding,
}

impl VerifiedChallenge {
    pub fn id(&self) -> &str {
        self.binding.id.as_str()
    }
}

fn invalid(e: impl ToString) -> ChallengeProblem {
    ChallengeProblem::Invalid(e.to_string())
}

/// Verifies a challenge JWS against the server's JWKS: ES256 only, `typ`
/// `gatehouse-device-challenge+jwt`, `iss` = `issuer`, `aud` = `gatehouse-verify`, not expired
/// (with [`CHALLENGE_LEEWAY_SECONDS`]), and claims that form a valid canonical binding.
pub fn verify_challenge(
    jws: &str,
    jwks: &Jwks,
    issuer: &str,
    now: u64,
) -> Result<VerifiedChallenge, ChallengeProblem> {
    let audience = [CHALLENGE_AUDIENCE];
    let expect = JwtExpectations::new(issuer, Audience::OneOf(&audience), now)
        .with_algorithms(&[SigningAlgorithm::Es256])
        .with_type(jws_type::CHALLENGE)
        .with_leeway(CHALLENGE_LEEWAY_SECONDS);
    let verified = jwks.verify(jws, &expect).map_err(|e| match e {
        CryptoError::UnknownTokenKey(kid) => ChallengeProblem::UnknownKey(kid),
        other => invalid(other),
    })?;
    let claims: ChallengeClaims = verified.claims_as().map_err(invalid)?;
    let binding = binding_of(&claims).map_err(invalid)?;
    Ok(VerifiedChallenge {
        raw: jws.to_owned(),
        claims,
        binding,
    })
}

/// The canonical binding a challenge's claims describe.
pub fn binding_of(claims: &ChallengeClaims) -> Result<ChallengeBinding, gatehouse_core::CoreError> {
    Ok(ChallengeBinding {
        id: ChallengeId::parse(&claims.jti)?,
        kind: kind_to_core(claims.kind),
        nonce: Nonce::parse(&claims.nonce)?,
        origin: Origin::parse(&claims.origin)?,
        expires_at: claims.exp,
        user_verification: uv_to_core(claims.user_verification),
        user_presence: claims.user_presence,
        number_challenge: claims.number_challenge,
    })
}

/// Signs a compact ES256 JWS with a keystore key.
pub fn sign_jws(
    keystore: &dyn Keystore,
    key_ref: &str,
    header: &serde_json::Value,
    claims: &impl Serialize,
) -> Result<String, VerifyError> {
    let header = serde_json::to_vec(header).map_err(|e| VerifyError::KeyGeneration(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| VerifyError::KeyGeneration(e.to_string()))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = keystore.sign(key_ref, token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// The registration proof: `typ` `gatehouse-device-registration+jwt`, `kid` and `jwk` of the
/// proof-of-possession key in the header.
pub fn registration_proof(
    keystore: &dyn Keystore,
    key_ref: &str,
    public: &P256PublicKey,
    claims: &RegistrationClaims,
) -> Result<String, VerifyError> {
    let header = json!({
        "alg": "ES256",
        "typ": jws_type::REGISTRATION,
        "kid": public.thumbprint(),
        "jwk": public_jwk(public),
    });
    sign_jws(keystore, key_ref, &header, claims)
}

/// base64url(SHA-256(ASCII access token)), the registration proof's `ath`.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(gatehouse_crypto::digest::sha256(access_token.as_bytes()))
}

/// A per-request proof for `method` on `path` (sent as `Authorization: Device <jws>`).
pub fn request_proof(
    keystore: &dyn Keystore,
    record: &EnrollmentRecord,
    method: &str,
    path: &str,
    now: u64,
) -> Result<String, VerifyError> {
    let header = json!({
        "alg": "ES256",
        "typ": jws_type::REQUEST,
        "kid": record.proof_of_possession.kid,
    });
    let claims = RequestProofClaims {
        iss: record.enrollment_id.clone(),
        aud: record.issuer.clone(),
        iat: now,
        exp: now + PROOF_LIFETIME_SECONDS,
        jti: gatehouse_crypto::random::token::<16>(),
        htm: method.to_ascii_uppercase(),
        htu: format!("{}{path}", record.issuer.trim_end_matches('/')),
    };
    sign_jws(keystore, &record.proof_of_possession.key_ref, &header, &claims)
}
