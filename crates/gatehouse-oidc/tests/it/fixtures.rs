//! The demo organisation's clients and access policies (DESIGN section 12), as the rules see them.

use gatehouse_crypto::digest::sha256_hex;
use gatehouse_oidc::{AccessPolicies, ClientKind, ClientRegistration, GrantType, Issuer};

pub const ISSUER: &str = "http://localhost:8080";

pub fn issuer() -> Issuer {
    Issuer::parse(ISSUER).unwrap()
}

fn client(
    id: &str,
    kind: ClientKind,
    secret: Option<&str>,
    redirect: &str,
    grants: &[GrantType],
) -> ClientRegistration {
    ClientRegistration {
        client_id: id.into(),
        kind,
        redirect_uris: if redirect.is_empty() {
            vec![]
        } else {
            vec![redirect.into()]
        },
        post_logout_redirect_uris: if redirect.is_empty() {
            vec![]
        } else {
            vec![redirect.replace("/callback", "/signed-out")]
        },
        grant_types: grants.to_vec(),
        secret_sha256_hex: secret.map(|s| sha256_hex(s.as_bytes())),
    }
}

pub fn dashboard() -> ClientRegistration {
    client(
        "dashboard",
        ClientKind::Confidential,
        Some("demo-dashboard-secret"),
        "http://127.0.0.1:9000/callback",
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
    )
}

pub fn cli() -> ClientRegistration {
    client(
        "cli",
        ClientKind::Public,
        None,
        "http://127.0.0.1:9002/callback",
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
    )
}

pub fn reports() -> ClientRegistration {
    client(
        "reports-service",
        ClientKind::Confidential,
        Some("demo-reports-secret"),
        "",
        &[GrantType::ClientCredentials],
    )
}

pub fn blocked() -> ClientRegistration {
    client(
        "blocked-app",
        ClientKind::Confidential,
        Some("demo-blocked-secret"),
        "http://127.0.0.1:9003/callback",
        &[GrantType::AuthorizationCode],
    )
}

/// One rule per covered client, as the demo seeds them; `blocked-app` has none.
pub fn policies() -> AccessPolicies {
    let rules: Vec<String> = ["dashboard", "finance", "cli", "reports-service", "sso-gateway", "vault"]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                r#"{{"name": "{c}", "priority": {}, "clients": ["{c}"], "grant_types": ["*"], "scopes": ["*"],
                    "users": {{"include": [], "exclude": []}}, "groups": {{"include": ["everyone"], "exclude": []}},
                    "access_token_lifetime": "PT1H", "refresh_token_lifetime": "P1D"}}"#,
                i + 1
            )
        })
        .collect();
    AccessPolicies::from_json(&format!("[{}]", rules.join(","))).unwrap()
}
