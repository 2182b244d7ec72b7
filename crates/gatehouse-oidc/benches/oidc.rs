//! Cost of the pure OIDC rules on the hot paths: validating an authorization request, and the
//! whole CPU side of a client-credentials grant (parse the form and Basic header, check the secret
//! digest, evaluate the access policies, build the access-token claims, sign them with ES256) —
//! everything the token endpoint does except HTTP and the database.

#![expect(clippy::unwrap_used, reason = "a benchmark stops loudly when its setup fails")]
#![expect(
    clippy::disallowed_methods,
    reason = "the benchmark plays the caller, who generates the signing key"
)]

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_crypto::digest::sha256_hex;
use gatehouse_crypto::{KeySet, KeyStatus, SigningAlgorithm, SigningKey};
use gatehouse_oidc::claims::{ACCESS_TOKEN_TYPE, AccessTokenInput, access_token_claims};
use gatehouse_oidc::{
    AccessPolicies, AccessRequest, ClientKind, ClientRegistration, Grant, GrantType, Issuer, Params,
    ScopeSet, parse_token_request, validate_authorize,
};
use jiff::Timestamp;

const POLICIES: &str = r#"[
  {"name": "dashboard", "priority": 1, "clients": ["dashboard"], "grant_types": ["*"], "scopes": ["*"],
   "users": {"include": [], "exclude": []}, "groups": {"include": ["everyone"], "exclude": []},
   "access_token_lifetime": "PT1H", "refresh_token_lifetime": "P1D"},
  {"name": "finance", "priority": 2, "clients": ["finance"], "grant_types": ["*"], "scopes": ["*"],
   "users": {"include": [], "exclude": []}, "groups": {"include": ["everyone"], "exclude": []},
   "access_token_lifetime": "PT1H", "refresh_token_lifetime": "P1D"},
  {"name": "reports", "priority": 3, "clients": ["reports-service"], "grant_types": ["client_credentials"],
   "scopes": ["*"], "users": {"include": [], "exclude": []}, "groups": {"include": ["everyone"], "exclude": []},
   "access_token_lifetime": "PT1H", "refresh_token_lifetime": "P1D"}
]"#;

fn bench(c: &mut Criterion) {
    let issuer = Issuer::parse("http://localhost:8080").unwrap();
    let dashboard = ClientRegistration {
        client_id: "dashboard".into(),
        kind: ClientKind::Confidential,
        redirect_uris: vec!["http://127.0.0.1:9000/callback".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        secret_sha256_hex: Some(sha256_hex(b"demo-dashboard-secret")),
    };
    let query = "response_type=code&client_id=dashboard&redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fcallback\
                 &scope=openid%20profile%20email&state=af0ifjsldkj&nonce=n-0S6_WzA2Mj\
                 &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    c.bench_function("authorize_validate", |b| {
        b.iter(|| {
            let params = Params::parse(black_box(query));
            validate_authorize(&params, Some(&dashboard), &issuer)
        })
    });

    let reports = ClientRegistration {
        client_id: "reports-service".into(),
        kind: ClientKind::Confidential,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::ClientCredentials],
        secret_sha256_hex: Some(sha256_hex(b"demo-reports-secret")),
    };
    let policies = AccessPolicies::from_json(POLICIES).unwrap();
    let keys = KeySet::new(vec![(
        SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
        KeyStatus::Active,
    )])
    .unwrap();
    let authorization = format!("Basic {}", STANDARD.encode("reports-service:demo-reports-secret"));
    let body = "grant_type=client_credentials&scope=reports.read%20reports.write";
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    c.bench_function("client_credentials_grant_cpu", |b| {
        b.iter(|| {
            let params = Params::parse(black_box(body));
            let request = parse_token_request(&params, Some(&authorization)).unwrap();
            let client = request.authenticate(Some(&reports)).unwrap();
            let Grant::ClientCredentials { scope } = &request.grant else {
                unreachable!()
            };
            let grant = policies
                .evaluate(&AccessRequest {
                    client_id: client.client_id(),
                    grant_type: GrantType::ClientCredentials,
                    scopes: scope,
                    user: None,
                })
                .into_result()
                .unwrap();
            let claims = access_token_claims(&AccessTokenInput {
                issuer: &issuer,
                audience: issuer.as_str(),
                client_id: client.client_id(),
                scope,
                now,
                lifetime: grant.access_token_lifetime.duration(),
                jti: "at_01J0000000000000000000000",
                user: None,
            });
            keys.sign_typed(SigningAlgorithm::Es256, ACCESS_TOKEN_TYPE, &claims)
                .unwrap()
        })
    });
    let scope = ScopeSet::parse("reports.read reports.write").unwrap();
    c.bench_function("access_policy_evaluate", |b| {
        b.iter(|| {
            policies.evaluate(black_box(&AccessRequest {
                client_id: "reports-service",
                grant_type: GrantType::ClientCredentials,
                scopes: &scope,
                user: None,
            }))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
