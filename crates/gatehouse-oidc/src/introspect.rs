//! Token introspection (RFC 7662) and revocation (RFC 7009): request parsing and the pure rules.
//!
//! Both endpoints authenticate the client first (`crate::token::parse_client_auth` and
//! `authenticate_client`), then parse the `token` and its optional `token_type_hint` here. The
//! caller looks the token up (a JWT access token through `gatehouse_crypto`, a refresh token by
//! its digest) and describes it as a [`KnownToken`].
//!
//! Introspection: an unknown, expired or revoked token is `{"active": false}`; a confidential
//! client (a resource server) may introspect any token of this issuer, a public client only its
//! own. Revocation: an unknown token is a success with nothing to do (RFC 7009 section 2.2); a
//! token of another client is refused; revoking a refresh token revokes its whole family; revoking
//! an access token puts its `jti` on the deny list until it expires.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::client::ClientKind;
use crate::token::AuthenticatedClient;
use crate::{ErrorCode, Params, ScopeSet, TokenError};

/// The optional hint (unknown hints are ignored, as both RFCs allow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    AccessToken,
    RefreshToken,
}

/// A revocation or introspection request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenQuery {
    pub token: String,
    pub hint: Option<TokenTypeHint>,
}

/// Parses `token` (required) and `token_type_hint`.
pub fn parse_token_query(params: &Params) -> Result<TokenQuery, TokenError> {
    let token = params
        .single("token")?
        .ok_or_else(|| TokenError::new(ErrorCode::InvalidRequest, "the `token` parameter is missing"))?;
    let hint = match params.single("token_type_hint")? {
        Some("access_token") => Some(TokenTypeHint::AccessToken),
        Some("refresh_token") => Some(TokenTypeHint::RefreshToken),
        _ => None,
    };
    Ok(TokenQuery {
        token: token.to_owned(),
        hint,
    })
}

/// The kind of a token the caller found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownTokenKind {
    /// A JWT access token, with its `jti`.
    Access { jti: String },
    /// A refresh token, with its family.
    Refresh { family_id: String },
}

/// A token the caller found, described for the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownToken {
    pub kind: KnownTokenKind,
    pub client_id: String,
    pub scope: ScopeSet,
    /// The user's id, or `None` for client credentials.
    pub subject: Option<String>,
    /// The user's login, for `username`.
    pub username: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// Revoked, rotated out, or on the deny list.
    pub revoked: bool,
    pub audience: Option<String>,
    pub session_id: Option<String>,
}

/// The RFC 7662 response for `token` (`None`: not found or not parseable) asked by `caller`.
pub fn introspection_response(
    token: Option<&KnownToken>,
    caller: &AuthenticatedClient<'_>,
    issuer: &str,
    now: Timestamp,
) -> Value {
    let Some(token) = token else {
        return json!({"active": false});
    };
    let visible =
        caller.registration.kind == ClientKind::Confidential || token.client_id == caller.client_id();
    if !visible || token.revoked || now >= token.expires_at {
        return json!({"active": false});
    }
    let mut body = Map::new();
    body.insert("active".into(), json!(true));
    body.insert("scope".into(), json!(token.scope.to_string()));
    body.insert("client_id".into(), json!(token.client_id));
    body.insert(
        "token_type".into(),
        json!(match token.kind {
            KnownTokenKind::Access { .. } => "Bearer",
            KnownTokenKind::Refresh { .. } => "refresh_token",
        }),
    );
    body.insert("exp".into(), json!(token.expires_at.as_second()));
    body.insert("iat".into(), json!(token.issued_at.as_second()));
    body.insert("iss".into(), json!(issuer));
    body.insert(
        "sub".into(),
        json!(token.subject.as_deref().unwrap_or(&token.client_id)),
    );
    if let Some(username) = &token.username {
        body.insert("username".into(), json!(username));
    }
    if let Some(aud) = &token.audience {
        body.insert("aud".into(), json!(aud));
    }
    if let KnownTokenKind::Access { jti } = &token.kind {
        body.insert("jti".into(), json!(jti));
    }
    if let Some(sid) = &token.session_id {
        body.insert("sid".into(), json!(sid));
    }
    Value::Object(body)
}

/// What a revocation request leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationDecision {
    /// Unknown, expired or already revoked: answer 200, change nothing.
    Nothing,
    /// Revoke every refresh token of this family (and answer 200).
    RevokeFamily { family_id: String },
    /// Deny this access token's `jti` until it expires (and answer 200).
    DenyAccessToken { jti: String, until: Timestamp },
    /// The token belongs to another client: answer this error.
    Refuse(TokenError),
}

/// Decides a revocation of `token` (`None`: not found) by `caller`.
pub fn revocation_decision(
    token: Option<&KnownToken>,
    caller: &AuthenticatedClient<'_>,
    now: Timestamp,
) -> RevocationDecision {
    let Some(token) = token else {
        return RevocationDecision::Nothing;
    };
    if token.client_id != caller.client_id() {
        return RevocationDecision::Refuse(TokenError::new(
            ErrorCode::UnauthorizedClient,
            "the token was not issued to this client",
        ));
    }
    if token.revoked || now >= token.expires_at {
        return RevocationDecision::Nothing;
    }
    match &token.kind {
        KnownTokenKind::Refresh { family_id } => RevocationDecision::RevokeFamily {
            family_id: family_id.clone(),
        },
        KnownTokenKind::Access { jti } => RevocationDecision::DenyAccessToken {
            jti: jti.clone(),
            until: token.expires_at,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientRegistration, GrantType};
    use crate::token::AuthenticatedClient;

    fn registration(id: &str, kind: ClientKind) -> ClientRegistration {
        ClientRegistration {
            client_id: id.into(),
            kind,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            secret_sha256_hex: None,
        }
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn refresh() -> KnownToken {
        KnownToken {
            kind: KnownTokenKind::Refresh {
                family_id: "fam".into(),
            },
            client_id: "dashboard".into(),
            scope: ScopeSet::parse("openid profile").unwrap(),
            subject: Some("00u-alice".into()),
            username: Some("alice".into()),
            issued_at: t(100),
            expires_at: t(1000),
            revoked: false,
            audience: None,
            session_id: Some("sid".into()),
        }
    }

    #[test]
    fn queries_parse() {
        let q = parse_token_query(&Params::parse("token=abc&token_type_hint=refresh_token")).unwrap();
        assert_eq!(q.hint, Some(TokenTypeHint::RefreshToken));
        assert_eq!(
            parse_token_query(&Params::parse("token=abc&token_type_hint=magic"))
                .unwrap()
                .hint,
            None
        );
        assert_eq!(
            parse_token_query(&Params::parse("x=1")).unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn introspection_rules() {
        let dashboard = registration("dashboard", ClientKind::Confidential);
        let resource = registration("api", ClientKind::Confidential);
        let cli = registration("cli", ClientKind::Public);
        let auth = |r| AuthenticatedClient {
            registration: r,
            method: crate::AuthMethod::ClientSecretBasic,
        };
        let active = introspection_response(
            Some(&refresh()),
            &auth(&dashboard),
            "http://localhost:8080",
            t(500),
        );
        assert_eq!(
            active,
            json!({"active": true, "scope": "openid profile", "client_id": "dashboard", "token_type": "refresh_token",
                   "exp": 1000, "iat": 100, "iss": "http://localhost:8080", "sub": "00u-alice", "username": "alice", "sid": "sid"})
        );
        assert_eq!(
            introspection_response(Some(&refresh()), &auth(&resource), "i", t(500))["active"],
            true
        );
        assert_eq!(
            introspection_response(Some(&refresh()), &auth(&cli), "i", t(500)),
            json!({"active": false})
        );
        assert_eq!(
            introspection_response(Some(&refresh()), &auth(&dashboard), "i", t(1000)),
            json!({"active": false})
        );
        let mut revoked = refresh();
        revoked.revoked = true;
        assert_eq!(
            introspection_response(Some(&revoked), &auth(&dashboard), "i", t(500)),
            json!({"active": false})
        );
        assert_eq!(
            introspection_response(None, &auth(&dashboard), "i", t(500)),
            json!({"active": false})
        );
    }

    #[test]
    fn revocation_rules() {
        let dashboard = registration("dashboard", ClientKind::Confidential);
        let finance = registration("finance", ClientKind::Confidential);
        let auth = |r| AuthenticatedClient {
            registration: r,
            method: crate::AuthMethod::ClientSecretPost,
        };
        assert_eq!(
            revocation_decision(None, &auth(&dashboard), t(1)),
            RevocationDecision::Nothing
        );
        assert_eq!(
            revocation_decision(Some(&refresh()), &auth(&dashboard), t(500)),
            RevocationDecision::RevokeFamily {
                family_id: "fam".into()
            }
        );
        assert!(matches!(
            revocation_decision(Some(&refresh()), &auth(&finance), t(500)),
            RevocationDecision::Refuse(_)
        ));
        let access = KnownToken {
            kind: KnownTokenKind::Access { jti: "j1".into() },
            ..refresh()
        };
        assert_eq!(
            revocation_decision(Some(&access), &auth(&dashboard), t(500)),
            RevocationDecision::DenyAccessToken {
                jti: "j1".into(),
                until: t(1000)
            }
        );
        assert_eq!(
            revocation_decision(Some(&access), &auth(&dashboard), t(1000)),
            RevocationDecision::Nothing
        );
    }
}
