//! A WebAuthn assertion as the flow's `challenge-authenticator` (and a passkey sign-in) receives
//! it: the JSON `PublicKeyCredential` parsed, its `userHandle` read as a user id, and the assertion
//! checked with `webauthn-rs-core` against a stored ES256 credential and a ceremony state, exactly
//! as `flow::webauthn::finish_assertion` does — client data, origin, challenge, authenticator
//! data, flags, counter and signature. Never a panic, whatever the body.
//!
//! The ceremony's challenge is fixed (the seeds carry it in their `clientDataJSON`), so the fuzzer
//! gets past the challenge check into the authenticator data and signature.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use url::Url;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AttestationFormat, AuthenticationState, COSEAlgorithm, COSEEC2Key, COSEKey, COSEKeyType, Credential,
    ECDSACurve, ParsedAttestation, ParsedAttestationData, PublicKeyCredential, RegisteredExtensions,
    UserVerificationPolicy,
};

/// base64url of the 32 bytes `gatehouse-fuzz-challenge-0000000`.
const CHALLENGE: &str = "Z2F0ZWhvdXNlLWZ1enotY2hhbGxlbmdlLTAwMDAwMDA";
/// The credential id the seeds name: base64url of `gatehouse-fuzz-credential`.
const CREDENTIAL_ID: &[u8] = b"gatehouse-fuzz-credential";

struct Fixture {
    rp: WebauthnCore,
    credential: Credential,
    state: AuthenticationState,
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .filter_map(|i| text.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let origin = Url::parse("http://localhost:8080").expect("a valid origin");
        let rp = WebauthnCore::new_unsafe_experts_only(
            "Gatehouse",
            "localhost",
            vec![origin],
            Duration::from_secs(300),
            Some(false),
            Some(false),
        );
        // The P-256 base point: a valid public key nobody signs with here.
        let credential = Credential {
            cred_id: CREDENTIAL_ID.to_vec().into(),
            cred: COSEKey {
                type_: COSEAlgorithm::ES256,
                key: COSEKeyType::EC_EC2(COSEEC2Key {
                    curve: ECDSACurve::SECP256R1,
                    x: hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296").into(),
                    y: hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5").into(),
                }),
            },
            counter: 7,
            transports: None,
            user_verified: true,
            backup_eligible: false,
            backup_state: false,
            registration_policy: UserVerificationPolicy::Preferred,
            extensions: RegisteredExtensions::default(),
            attestation: ParsedAttestation {
                data: ParsedAttestationData::None,
                metadata: webauthn_rs_core::proto::AttestationMetadata::None,
            },
            attestation_format: AttestationFormat::None,
        };
        let builder = rp
            .new_challenge_authenticate_builder(vec![credential.clone()], Some(UserVerificationPolicy::Preferred))
            .expect("a builder");
        let (_, state) = rp.generate_challenge_authenticate(builder).expect("a ceremony");
        // Fix the random challenge, through the state's stored form (as the flow stores it).
        let mut stored = serde_json::to_value(&state).expect("a state serializes");
        stored["challenge"] = serde_json::Value::String(CHALLENGE.to_owned());
        let state = serde_json::from_value(stored).expect("a state with the fixed challenge");
        Fixture { rp, credential, state }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let Ok(assertion) = serde_json::from_slice::<PublicKeyCredential>(data) else {
        return;
    };
    if let Some(handle) = assertion.response.user_handle.as_deref() {
        let _ = uuid::Uuid::from_slice(handle);
    }
    let _ = fixture
        .rp
        .authenticate_single_credential(&assertion, &fixture.state, &fixture.credential);
});
