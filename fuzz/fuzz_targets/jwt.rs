//! Tokens presented to Gatehouse: JWTs checked against the provider's own key set (ID token
//! hints, access tokens at userinfo) and compact ES256 JWS from devices. Any string must be
//! refused or accepted, never panic.
#![no_main]

use std::sync::OnceLock;

use gatehouse_crypto::signing::{Audience, JwtExpectations, KeySet, KeyStatus, SigningAlgorithm, SigningKey};
use gatehouse_crypto::{P256PublicKey, verify_es256_jws};
use libfuzzer_sys::fuzz_target;

fn keys() -> Option<&'static (KeySet, P256PublicKey)> {
    static KEYS: OnceLock<Option<(KeySet, P256PublicKey)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let es = SigningKey::generate(SigningAlgorithm::Es256).ok()?;
        let rs = SigningKey::generate(SigningAlgorithm::Rs256).ok()?;
        let device = P256PublicKey::from_jwk(&es.public_jwk()).ok()?;
        let set = KeySet::new(vec![(es, KeyStatus::Active), (rs, KeyStatus::Active)]).ok()?;
        Some((set, device))
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Some((set, device)) = keys() else {
        return;
    };
    let strict = JwtExpectations::new("https://id.example.com", Audience::OneOf(&["app"]), 1_800_000_000);
    if let Ok(verified) = set.verify(token, &strict) {
        let _ = verified.claims_as::<serde_json::Value>();
    }
    let lenient = JwtExpectations::new("https://id.example.com", Audience::Any, 1_800_000_000)
        .with_type("at+jwt")
        .allow_expired();
    let _ = set.verify(token, &lenient);
    if let Ok(jws) = verify_es256_jws(token, device, Some("gatehouse-device-request+jwt")) {
        let _ = jws.payload_json();
    }
    let _ = P256PublicKey::from_jwk_json(token);
});
