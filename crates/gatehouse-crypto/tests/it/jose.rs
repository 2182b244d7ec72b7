//! JWTs signed here verify with the JavaScript `jose` library, and JWS/JWTs signed by `jose`
//! verify here.

use std::process::Command;

use gatehouse_crypto::{
    Audience, CryptoError, Jwks, JwtExpectations, KeySet, KeyStatus, P256PublicKey, SigningAlgorithm,
    SigningKey, verify_es256_jws,
};
use serde_json::{Value, json};

use crate::external::{available, e2e_dir, run_json};

const ISS: &str = "http://localhost:8080";
const NOW: u64 = 1_800_000_000;

/// Verifies each case with `jose.jwtVerify` against the JWKS; prints `[{ok, payload|code}]`,
/// then each key's RFC 7638 thumbprint, then a jose-signed ES256 JWT and JWS with its public JWK.
const SCRIPT: &str = r#"
import * as jose from 'jose';
const jwksDoc = JSON.parse(process.env.JWKS);
const jwks = jose.createLocalJWKSet(jwksDoc);
const cases = JSON.parse(process.env.CASES);
const results = [];
for (const c of cases) {
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(c.token, jwks, {
      issuer: c.issuer, audience: c.audience, currentDate: new Date(c.now * 1000),
      algorithms: ['ES256', 'RS256'], typ: c.typ ?? undefined,
    });
    results.push({ ok: true, payload, header: protectedHeader });
  } catch (e) {
    results.push({ ok: false, code: e.code ?? String(e) });
  }
}
const thumbprints = [];
for (const k of jwksDoc.keys) thumbprints.push(await jose.calculateJwkThumbprint(k, 'sha256'));
const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const publicJwk = await jose.exportJWK(publicKey);
publicJwk.kid = 'device-1';
const jwt = await new jose.SignJWT({ sub: 'client-a', jti: 'j1' })
  .setProtectedHeader({ alg: 'ES256', kid: 'device-1', typ: 'JWT' })
  .setIssuer('client-a').setAudience('http://localhost:8080/oauth2/token')
  .setIssuedAt(Number(process.env.NOW)).setExpirationTime(Number(process.env.NOW) + 60)
  .sign(privateKey);
const jws = await new jose.CompactSign(new TextEncoder().encode('{"challenge":"c1"}'))
  .setProtectedHeader({ alg: 'ES256', typ: 'gatehouse-fastpass+jwt' })
  .sign(privateKey);
console.log(JSON.stringify({ results, thumbprints, publicJwk, jwt, jws }));
"#;

fn run_jose(jwks: &Value, cases: &Value) -> Value {
    run_json(
        Command::new("node")
            .current_dir(e2e_dir())
            .args(["--input-type=module", "-e", SCRIPT])
            .env("JWKS", jwks.to_string())
            .env("CASES", cases.to_string())
            .env("NOW", NOW.to_string()),
    )
}

fn jose_available() -> bool {
    if !available("node") {
        return false;
    }
    let present = e2e_dir().join("node_modules/jose/package.json").exists();
    if !present {
        println!("SKIPPED: e2e/node_modules has no `jose`; run `npm ci` in e2e/ (./test.sh setup)");
    }
    present
}

fn claims(aud: &str) -> Value {
    json!({"iss": ISS, "sub": "00u-alice", "aud": aud, "iat": NOW, "exp": NOW + 300, "nonce": "n-1"})
}

#[test]
fn tokens_signed_here_verify_with_jose_and_jose_tokens_verify_here() {
    if !jose_available() {
        return;
    }
    let retired = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
    let retired_token = retired.sign_jwt(&claims("dashboard")).unwrap();
    let set = KeySet::new(vec![(retired, KeyStatus::Active)])
        .unwrap()
        .rotate(SigningKey::generate(SigningAlgorithm::Es256).unwrap())
        .unwrap()
        .rotate(SigningKey::generate(SigningAlgorithm::Rs256).unwrap())
        .unwrap();
    let es256 = set.sign(SigningAlgorithm::Es256, &claims("dashboard")).unwrap();
    let rs256 = set.sign(SigningAlgorithm::Rs256, &claims("dashboard")).unwrap();
    let access = set
        .sign_typed(
            SigningAlgorithm::Es256,
            "at+jwt",
            &claims("http://localhost:8080"),
        )
        .unwrap();
    let mut tampered = es256.clone();
    tampered.replace_range(tampered.len() - 6.., "AAAAAA");
    let case = |token: &str, aud: &str, typ: Option<&str>| json!({"token": token, "issuer": ISS, "audience": aud, "now": NOW + 10, "typ": typ});
    let cases = json!([
        case(&es256, "dashboard", None),
        case(&rs256, "dashboard", None),
        case(&retired_token, "dashboard", None),
        case(&access, "http://localhost:8080", Some("at+jwt")),
        case(&tampered, "dashboard", None),
        case(&es256, "finance", None),
    ]);
    let jwks = set.jwks().to_json();
    let out = run_jose(&jwks, &cases);
    let results = out["results"].as_array().unwrap();
    for (i, r) in results.iter().take(4).enumerate() {
        assert_eq!(r["ok"], true, "case {i}: {r}");
        assert_eq!(r["payload"]["sub"], "00u-alice");
    }
    assert_eq!(results[0]["header"]["alg"], "ES256");
    assert_eq!(results[1]["header"]["alg"], "RS256");
    assert_eq!(results[3]["header"]["typ"], "at+jwt");
    assert_eq!(
        results[4]["code"], "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
        "{}",
        results[4]
    );
    assert_eq!(
        results[5]["code"], "ERR_JWT_CLAIM_VALIDATION_FAILED",
        "{}",
        results[5]
    );

    // jose computes the same RFC 7638 thumbprints we use as key ids.
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    let thumbprints: Vec<&str> = out["thumbprints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(kids, thumbprints);

    // A JWT signed by jose (think: a client assertion) verifies against its JWKS here.
    let client_jwks = Jwks::from_json(&json!({"keys": [out["publicJwk"].clone()]}).to_string()).unwrap();
    let aud = ["http://localhost:8080/oauth2/token"];
    let verified = client_jwks
        .verify(
            out["jwt"].as_str().unwrap(),
            &JwtExpectations::new("client-a", Audience::OneOf(&aud), NOW + 5),
        )
        .unwrap();
    assert_eq!(verified.str_claim("jti"), Some("j1"));
    assert_eq!(
        client_jwks
            .verify(
                out["jwt"].as_str().unwrap(),
                &JwtExpectations::new("client-a", Audience::OneOf(&aud), NOW + 61)
            )
            .unwrap_err(),
        CryptoError::TokenExpired
    );

    // An ES256 JWS made by jose verifies as a proof of possession against its public JWK.
    let device = P256PublicKey::from_jwk(&out["publicJwk"]).unwrap();
    let jws = verify_es256_jws(
        out["jws"].as_str().unwrap(),
        &device,
        Some("gatehouse-fastpass+jwt"),
    )
    .unwrap();
    assert_eq!(jws.payload_json().unwrap()["challenge"], "c1");
}
