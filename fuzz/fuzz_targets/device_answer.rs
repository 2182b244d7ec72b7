//! A Gatehouse Verify answer as the answer endpoint receives it: the JSON body, its ids, origin
//! and new-key thumbprint parsed into the core's types, the signed message rebuilt, and every
//! signature (raw or DER) and new-key JWK checked. Never a panic, whatever the body.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_api::device::{AnswerResult as WireResult, ChallengeAnswer, UserVerificationLevel};
use gatehouse_core::device::{
    AnswerResult, ChallengeBinding, ChallengeId, ChallengeKind, DeviceAnswer, EnrollmentId, KeyThumbprint,
    NewUserVerificationKey, Nonce, Origin, UserVerification,
};
use gatehouse_crypto::{P256PublicKey, verify_p256_signature};
use libfuzzer_sys::fuzz_target;

fn level(wire: UserVerificationLevel) -> UserVerification {
    match wire {
        UserVerificationLevel::None => UserVerification::None,
        UserVerificationLevel::Any => UserVerification::Any,
        UserVerificationLevel::Biometric => UserVerification::Biometric,
    }
}

fn result(wire: WireResult) -> AnswerResult {
    match wire {
        WireResult::Approve => AnswerResult::Approve,
        WireResult::Deny => AnswerResult::Deny,
        WireResult::UserVerificationUnavailable => AnswerResult::UserVerificationUnavailable,
        WireResult::UserVerificationFailed => AnswerResult::UserVerificationFailed,
        WireResult::RegisterUserVerificationKey => AnswerResult::RegisterUserVerificationKey,
    }
}

fn answer(dto: &ChallengeAnswer) -> Option<DeviceAnswer> {
    Some(DeviceAnswer {
        challenge_id: ChallengeId::parse(&dto.challenge_id).ok()?,
        enrollment_id: EnrollmentId::parse(&dto.enrollment_id).ok()?,
        result: result(dto.result),
        origin: Origin::parse(&dto.origin).ok()?,
        user_verification: level(dto.user_verification),
        user_presence: dto.user_presence,
        number: dto.number,
        biometric_capable: dto.biometric_capable,
        new_key: match &dto.new_key {
            Some(k) => Some(NewUserVerificationKey {
                thumbprint: KeyThumbprint::parse(&k.kid).ok()?,
                level: level(k.user_verification),
            }),
            None => None,
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(dto) = serde_json::from_slice::<ChallengeAnswer>(data) else {
        return;
    };
    let _ = Origin::of_url(&dto.origin);
    let Some(core) = answer(&dto) else {
        return;
    };
    let (Ok(nonce), Ok(origin)) = (
        Nonce::parse("bm9uY2Utbm9uY2Utbm9uY2U"),
        Origin::parse("https://id.example.com"),
    ) else {
        return;
    };
    let binding = ChallengeBinding {
        id: core.challenge_id.clone(),
        kind: ChallengeKind::Push,
        nonce,
        origin,
        expires_at: 1_800_000_120,
        user_verification: UserVerification::Biometric,
        user_presence: true,
        number_challenge: true,
    };
    let message = core.signed_message(&binding);
    let Ok(key) = P256PublicKey::from_sec1(&[4; 65]).or_else(|_| {
        P256PublicKey::from_jwk_json(
            r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
        )
    }) else {
        return;
    };
    let signatures = [
        Some(&dto.signatures.proof_of_possession),
        dto.signatures.user_verification.as_ref(),
        dto.signatures.new_key.as_ref(),
    ];
    for signature in signatures.into_iter().flatten() {
        if let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) {
            let _ = verify_p256_signature(&key, message.as_bytes(), &bytes);
        }
    }
    if let Some(new_key) = &dto.new_key
        && let Ok(jwk) = serde_json::to_value(&new_key.jwk)
        && let Ok(public) = P256PublicKey::from_jwk(&jwk)
    {
        let _ = public.thumbprint() == new_key.kid;
    }
});
