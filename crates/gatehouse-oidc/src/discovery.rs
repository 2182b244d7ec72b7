//! The discovery document served at `/.well-known/openid-configuration` (OIDC Discovery 1.0,
//! RFC 8414).

use serde_json::{Value, json};

use crate::assurance::Acr;
use crate::client::{AuthMethod, GrantType};
use crate::issuer::{
    AUTHORIZE_PATH, INTROSPECT_PATH, JWKS_PATH, LOGOUT_PATH, REVOKE_PATH, TOKEN_PATH, USERINFO_PATH,
};
use crate::{Issuer, scope};

/// The claims Gatehouse can put in ID tokens and userinfo.
pub const CLAIMS_SUPPORTED: [&str; 22] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "acr",
    "sid",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "locale",
    "zoneinfo",
    "updated_at",
    "email",
    "email_verified",
    "groups",
    "jti",
    "client_id",
];

/// What the deployment offers beyond the fixed feature set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// Whether the server sends back-channel logout tokens to clients that registered a URI.
    pub backchannel_logout: bool,
}

/// The discovery document for `issuer`.
pub fn discovery_document(issuer: &Issuer, options: DiscoveryOptions) -> Value {
    let auth_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let acr: Vec<&str> = Acr::ALL.iter().map(|a| a.as_str()).collect();
    json!({
        "issuer": issuer.as_str(),
        "authorization_endpoint": issuer.endpoint(AUTHORIZE_PATH),
        "token_endpoint": issuer.endpoint(TOKEN_PATH),
        "userinfo_endpoint": issuer.endpoint(USERINFO_PATH),
        "jwks_uri": issuer.endpoint(JWKS_PATH),
        "revocation_endpoint": issuer.endpoint(REVOKE_PATH),
        "introspection_endpoint": issuer.endpoint(INTROSPECT_PATH),
        "end_session_endpoint": issuer.endpoint(LOGOUT_PATH),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "userinfo_signing_alg_values_supported": [],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": [scope::OPENID, scope::PROFILE, scope::EMAIL, scope::GROUPS, scope::OFFLINE_ACCESS],
        "claims_supported": CLAIMS_SUPPORTED,
        "acr_values_supported": acr,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": options.backchannel_logout,
        "backchannel_logout_session_supported": options.backchannel_logout,
        "frontchannel_logout_supported": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_features() {
        let doc = discovery_document(
            &Issuer::parse("http://localhost:8080").unwrap(),
            DiscoveryOptions::default(),
        );
        assert_eq!(doc["issuer"], "http://localhost:8080");
        for (field, path) in [
            ("authorization_endpoint", "/oauth2/authorize"),
            ("token_endpoint", "/oauth2/token"),
            ("userinfo_endpoint", "/oauth2/userinfo"),
            ("jwks_uri", "/oauth2/jwks"),
            ("revocation_endpoint", "/oauth2/revoke"),
            ("introspection_endpoint", "/oauth2/introspect"),
            ("end_session_endpoint", "/oauth2/logout"),
        ] {
            assert_eq!(doc[field], format!("http://localhost:8080{path}"), "{field}");
        }
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["ES256", "RS256"])
        );
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post", "none"])
        );
        assert_eq!(
            doc["acr_values_supported"],
            json!([
                "urn:gatehouse:loa:1fa:any",
                "urn:gatehouse:loa:2fa:any",
                "phr",
                "phrh"
            ])
        );
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(doc["backchannel_logout_supported"], false);
        let with = discovery_document(
            &Issuer::parse("http://localhost:8080").unwrap(),
            DiscoveryOptions {
                backchannel_logout: true,
            },
        );
        assert_eq!(with["backchannel_logout_supported"], true);
    }
}
