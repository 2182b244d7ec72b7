//! Cost of the token primitives on the OIDC hot path: signing an ID token (ES256, and RS256 for
//! comparison), verifying one, and jsonwebtoken's own `encode` (which re-parses the PKCS#8 key on
//! every call) as the baseline our cached key pair avoids.

#![expect(clippy::unwrap_used, reason = "a benchmark stops loudly when its setup fails")]

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_crypto::{
    Audience, JwtExpectations, KeySet, KeyStatus, SigningAlgorithm, SigningKey, Totp, TotpParams, TotpSecret,
};
use serde_json::json;
use std::hint::black_box;

fn id_token_claims() -> serde_json::Value {
    json!({
        "iss": "http://localhost:8080", "sub": "00u1f2e3d4c5b6a7", "aud": "dashboard",
        "exp": 1_800_000_300u64, "iat": 1_800_000_000u64, "auth_time": 1_799_999_990u64,
        "nonce": "n-0S6_WzA2Mj", "amr": ["pwd", "otp", "mfa"], "acr": "urn:gatehouse:loa:2fa:any",
        "sid": "ses_01HZX0K8Q7", "name": "Alice Example", "preferred_username": "alice",
        "email": "alice@example.com", "email_verified": true
    })
}

fn bench(c: &mut Criterion) {
    let set = KeySet::new(vec![
        (
            SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
            KeyStatus::Active,
        ),
        (
            SigningKey::generate(SigningAlgorithm::Rs256).unwrap(),
            KeyStatus::Active,
        ),
    ])
    .unwrap();
    let claims = id_token_claims();
    c.bench_function("es256_sign_id_token", |b| {
        b.iter(|| set.sign(SigningAlgorithm::Es256, black_box(&claims)).unwrap())
    });
    c.bench_function("rs256_sign_id_token", |b| {
        b.iter(|| set.sign(SigningAlgorithm::Rs256, black_box(&claims)).unwrap())
    });

    let es = set.active(SigningAlgorithm::Es256).unwrap();
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(es.pkcs8_der());
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(es.kid().to_owned());
    c.bench_function("es256_sign_id_token_jsonwebtoken_encode", |b| {
        b.iter(|| jsonwebtoken::encode(&header, black_box(&claims), &encoding).unwrap())
    });

    let token = set.sign(SigningAlgorithm::Es256, &claims).unwrap();
    let aud = ["dashboard"];
    let expect = JwtExpectations::new("http://localhost:8080", Audience::OneOf(&aud), 1_800_000_010);
    c.bench_function("es256_verify_id_token", |b| {
        b.iter(|| set.verify(black_box(&token), &expect).unwrap())
    });

    let totp = Totp::new(&TotpSecret::generate(), TotpParams::default()).unwrap();
    let code = totp.generate(1_800_000_000);
    c.bench_function("totp_verify", |b| {
        b.iter(|| totp.verify(black_box(&code), 1_800_000_000, None))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
