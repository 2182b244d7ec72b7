//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `/oauth2/logout`.
//!
//! Two steps, like authorize: [`LogoutRequest::parse`] reads the parameters; the caller verifies
//! the `id_token_hint` with `gatehouse_crypto` (issuer = us, any audience, **expired tokens
//! accepted**) and describes it as an [`IdTokenHint`], asks [`LogoutRequest::client_id`] which
//! client to load, then [`decide_logout`] returns the plan. A `post_logout_redirect_uri` must match
//! one of the client's registered post-logout URIs byte for byte, or the user sees an error page;
//! it is never redirected to otherwise.

use crate::authorize::append_query;
use crate::client::ClientRegistration;
use crate::{ErrorCode, Params, ProtocolError};

/// The logout request's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
    pub logout_hint: Option<String>,
}

/// The verified claims of an `id_token_hint` that logout uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    pub subject: String,
    pub audiences: Vec<String>,
    pub session_id: Option<String>,
}

impl IdTokenHint {
    /// Reads `sub`, `aud` (string or array) and `sid` from verified claims.
    pub fn from_claims(claims: &serde_json::Map<String, serde_json::Value>) -> Option<Self> {
        let subject = claims.get("sub")?.as_str()?.to_owned();
        let audiences = match claims.get("aud")? {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(list) => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => return None,
        };
        let session_id = claims.get("sid").and_then(|s| s.as_str()).map(str::to_owned);
        Some(Self {
            subject,
            audiences,
            session_id,
        })
    }
}

impl LogoutRequest {
    /// Reads the parameters (query or form); a repeated parameter is an error page.
    pub fn parse(params: &Params) -> Result<Self, ProtocolError> {
        let get = |name: &str| params.single(name).map(|v| v.map(str::to_owned));
        Ok(Self {
            id_token_hint: get("id_token_hint")?,
            post_logout_redirect_uri: get("post_logout_redirect_uri")?,
            state: get("state")?,
            client_id: get("client_id")?,
            logout_hint: get("logout_hint")?,
        })
    }

    /// The client to load: `client_id` if sent, else the hint's single audience.
    pub fn client_id<'a>(&'a self, hint: Option<&'a IdTokenHint>) -> Option<&'a str> {
        self.client_id
            .as_deref()
            .or_else(|| match hint.map(|h| h.audiences.as_slice()) {
                Some([only]) => Some(only.as_str()),
                _ => None,
            })
    }
}

/// What to do for a logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutDecision {
    /// Show this error to the user; do not redirect (bad hint, unregistered URI, client mismatch).
    ErrorPage(ProtocolError),
    /// Log out: ask the user to confirm first when `confirm` (no hint, or a hint for another user
    /// than the session's), end the current session (if any) when confirmed, then redirect to
    /// `redirect` (with `state`) or show the signed-out page.
    LogOut { confirm: bool, redirect: Option<String> },
}

/// Decides a logout. `hint` is the verified `id_token_hint` (the caller shows an error page when it
/// does not verify), `client` the client named by [`LogoutRequest::client_id`], and
/// `session_subject` the user of the current global session, if any.
pub fn decide_logout(
    request: &LogoutRequest,
    hint: Option<&IdTokenHint>,
    client: Option<&ClientRegistration>,
    session_subject: Option<&str>,
) -> LogoutDecision {
    if let (Some(hint), Some(client_id)) = (hint, request.client_id.as_deref())
        && !hint.audiences.iter().any(|a| a == client_id)
    {
        return LogoutDecision::ErrorPage(ProtocolError::invalid_request(
            "the id_token_hint was not issued to the client named by client_id",
        ));
    }
    let redirect = match request.post_logout_redirect_uri.as_deref() {
        None => None,
        Some(uri) => {
            let Some(client) = client else {
                return LogoutDecision::ErrorPage(ProtocolError::invalid_request(
                    "post_logout_redirect_uri needs an id_token_hint or a client_id naming a registered client",
                ));
            };
            if !client.has_post_logout_redirect_uri(uri) {
                return LogoutDecision::ErrorPage(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "post_logout_redirect_uri `{uri}` is not registered for client `{}`",
                        client.client_id
                    ),
                ));
            }
            Some(match request.state.as_deref() {
                Some(state) => append_query(uri, &[("state", state)]),
                None => uri.to_owned(),
            })
        }
    };
    let confirm = match (session_subject, hint) {
        (None, _) => false,
        (Some(subject), Some(hint)) => hint.subject != subject,
        (Some(_), None) => true,
    };
    LogoutDecision::LogOut { confirm, redirect }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientKind, GrantType};
    use serde_json::json;

    fn client() -> ClientRegistration {
        ClientRegistration {
            client_id: "dashboard".into(),
            kind: ClientKind::Confidential,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9000/bye".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            secret_sha256_hex: None,
        }
    }

    fn hint() -> IdTokenHint {
        IdTokenHint::from_claims(
            json!({"sub": "00u-alice", "aud": "dashboard", "sid": "s1"})
                .as_object()
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_hinted_logout_redirects_with_state_without_confirmation() {
        let req = LogoutRequest::parse(&Params::parse(
            "id_token_hint=x&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fbye&state=s%201",
        ))
        .unwrap();
        let h = hint();
        assert_eq!(req.client_id(Some(&h)), Some("dashboard"));
        assert_eq!(
            decide_logout(&req, Some(&h), Some(&client()), Some("00u-alice")),
            LogoutDecision::LogOut {
                confirm: false,
                redirect: Some("http://127.0.0.1:9000/bye?state=s+1".into())
            }
        );
        // Another user's hint: ask first.
        assert!(matches!(
            decide_logout(&req, Some(&h), Some(&client()), Some("00u-bob")),
            LogoutDecision::LogOut { confirm: true, .. }
        ));
    }

    #[test]
    fn unregistered_or_unattributed_uris_are_an_error_page() {
        let bad = LogoutRequest {
            post_logout_redirect_uri: Some("http://127.0.0.1:9000/bye/".into()),
            client_id: Some("dashboard".into()),
            ..LogoutRequest::default()
        };
        assert!(matches!(
            decide_logout(&bad, None, Some(&client()), None),
            LogoutDecision::ErrorPage(_)
        ));
        let orphan = LogoutRequest {
            post_logout_redirect_uri: Some("http://127.0.0.1:9000/bye".into()),
            ..LogoutRequest::default()
        };
        assert_eq!(orphan.client_id(None), None);
        assert!(matches!(
            decide_logout(&orphan, None, None, None),
            LogoutDecision::ErrorPage(_)
        ));
        let mismatch = LogoutRequest {
            client_id: Some("finance".into()),
            ..LogoutRequest::default()
        };
        assert!(matches!(
            decide_logout(&mismatch, Some(&hint()), Some(&client()), None),
            LogoutDecision::ErrorPage(_)
        ));
    }

    #[test]
    fn a_bare_logout_asks_for_confirmation_only_with_a_session() {
        let bare = LogoutRequest::default();
        assert_eq!(
            decide_logout(&bare, None, None, Some("00u-alice")),
            LogoutDecision::LogOut {
                confirm: true,
                redirect: None
            }
        );
        assert_eq!(
            decide_logout(&bare, None, None, None),
            LogoutDecision::LogOut {
                confirm: false,
                redirect: None
            }
        );
        assert!(LogoutRequest::parse(&Params::parse("state=a&state=b")).is_err());
        let multi =
            IdTokenHint::from_claims(json!({"sub": "u", "aud": ["a", "b"]}).as_object().unwrap()).unwrap();
        assert_eq!(bare.client_id(Some(&multi)), None);
    }
}
