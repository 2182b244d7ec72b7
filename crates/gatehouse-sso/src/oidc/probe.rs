//! The connection test an administrator runs after registering a tenant:
//!
//! 1. **discovery**: the issuer's discovery document and JWKS load, the issuer matches, and an
//!    asymmetric ID-token algorithm is offered;
//! 2. **client_credentials**: the token endpoint accepts the client id and secret — probed with
//!    a made-up authorization code, so `invalid_grant` means "credentials fine, code unknown" and
//!    `invalid_client` means the credentials are wrong;
//! 3. **redirect_uri**: the authorization endpoint accepts an authorization request with the
//!    tenant's redirect URI — an IdP that does not know the URI shows its own error page (4xx)
//!    instead of redirecting, which is the mismatch a login would hit.

use serde_json::{Value, json};

use super::{Oidc, Provider};
use crate::SsoError;
use crate::domain::Issuer;

/// One check of the connection test.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub message: String,
    pub expected: Option<String>,
    pub received: Option<String>,
    pub who_must_act: Option<&'static str>,
}

impl Check {
    pub fn json(&self) -> Value {
        json!({
            "name": self.name,
            "ok": self.ok,
            "message": self.message,
            "expected": self.expected,
            "received": self.received,
            "who_must_act": self.who_must_act,
        })
    }

    fn pass(name: &'static str, message: String) -> Self {
        Self {
            name,
            ok: true,
            message,
            expected: None,
            received: None,
            who_must_act: None,
        }
    }

    fn fail(
        name: &'static str,
        message: String,
        expected: String,
        received: String,
        who: &'static str,
    ) -> Self {
        Self {
            name,
            ok: false,
            message,
            expected: Some(expected),
            received: Some(received),
            who_must_act: Some(who),
        }
    }
}

/// Runs the three checks; later checks are skipped when discovery fails.
pub async fn test_connection(
    oidc: &Oidc,
    issuer: &Issuer,
    client_id: &str,
    client_secret: &str,
    redirect_uri: &str,
) -> Vec<Check> {
    let provider = match oidc.discover(issuer).await {
        Ok(p) => p,
        Err(e) => {
            let (expected, received, who) = match &e {
                SsoError::Upstream { advice, .. } => (
                    advice
                        .details
                        .first()
                        .map(|d| d.expected.clone())
                        .unwrap_or_default(),
                    advice
                        .details
                        .first()
                        .map(|d| d.received.clone())
                        .unwrap_or_default(),
                    advice.actor.code(),
                ),
                _ => (String::new(), String::new(), "operator"),
            };
            let skipped = |name| Check {
                name,
                ok: false,
                message: "skipped: discovery failed".into(),
                expected: None,
                received: None,
                who_must_act: None,
            };
            return vec![
                Check::fail("discovery", e.to_string(), expected, received, who),
                skipped("client_credentials"),
                skipped("redirect_uri"),
            ];
        }
    };
    let discovery = Check::pass(
        "discovery",
        format!(
            "issuer `{}` discovered; ID-token algorithms {}; {} signing key(s) published",
            provider.issuer,
            provider.algorithm_names().join(", "),
            provider.metadata.jwks().keys().len()
        ),
    );
    let credentials = probe_credentials(oidc, &provider, client_id, client_secret, redirect_uri).await;
    let redirect = probe_redirect(oidc, &provider, client_id, redirect_uri).await;
    vec![discovery, credentials, redirect]
}

async fn probe_credentials(
    oidc: &Oidc,
    provider: &Provider,
    client_id: &str,
    client_secret: &str,
    redirect_uri: &str,
) -> Check {
    const NAME: &str = "client_credentials";
    let Some(endpoint) = provider.token_endpoint() else {
        return Check::fail(
            NAME,
            "the identity provider publishes no token endpoint".into(),
            "a token_endpoint in the discovery document".into(),
            "none".into(),
            "idp_admin",
        );
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "gatehouse-sso-connection-test"),
        ("redirect_uri", redirect_uri),
    ];
    let post_only = provider
        .metadata
        .token_endpoint_auth_methods_supported()
        .is_some_and(|m| {
            !m.contains(&openidconnect::core::CoreClientAuthMethod::ClientSecretBasic)
                && m.contains(&openidconnect::core::CoreClientAuthMethod::ClientSecretPost)
        });
    let mut request = oidc
        .transport()
        .client()
        .post(&endpoint)
        .header("accept", "application/json");
    if post_only {
        let mut all = form.to_vec();
        all.push(("client_id", client_id));
        all.push(("client_secret", client_secret));
        request = request.form(&all);
    } else {
        // RFC 6749 section 2.3.1: both parts form-encoded before Basic.
        let id: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
        let secret: String = url::form_urlencoded::byte_serialize(client_secret.as_bytes()).collect();
        request = request.basic_auth(id, Some(secret)).form(&form);
    }
    let (status, _, body) = match oidc.transport().send(request).await {
        Ok(answer) => answer,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("the token endpoint `{endpoint}` could not be reached: {e}"),
                "an answer from the token endpoint".into(),
                e.to_string(),
                "idp_admin",
            );
        }
    };
    let error = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    match error.as_str() {
        "invalid_grant" => Check::pass(
            NAME,
            format!(
                "the token endpoint accepted the credentials of client `{client_id}` (and refused the test code, as it should)"
            ),
        ),
        "invalid_client" => Check::fail(
            NAME,
            format!("the identity provider refused the client id or secret of client `{client_id}`"),
            format!("client `{client_id}` authenticated with the stored secret"),
            format!("HTTP {status} error=invalid_client"),
            "operator",
        ),
        "unauthorized_client" | "unsupported_grant_type" => Check::fail(
            NAME,
            format!("client `{client_id}` may not use the authorization-code grant at the identity provider"),
            "the authorization_code grant enabled for the client".into(),
            format!("HTTP {status} error={error}"),
            "idp_admin",
        ),
        _ => Check::fail(
            NAME,
            "the token endpoint's answer does not tell whether the credentials are accepted".into(),
            "error=invalid_grant for a made-up code".into(),
            format!(
                "HTTP {status} {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
            "idp_admin",
        ),
    }
}

async fn probe_redirect(oidc: &Oidc, provider: &Provider, client_id: &str, redirect_uri: &str) -> Check {
    const NAME: &str = "redirect_uri";
    let endpoint = provider.authorization_endpoint();
    let mut url = match url::Url::parse(&endpoint) {
        Ok(u) => u,
        Err(e) => {
            return Check::fail(
                NAME,
                "the authorization endpoint is not a URL".into(),
                "a URL".into(),
                e.to_string(),
                "idp_admin",
            );
        }
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid")
        .append_pair("state", "gatehouse-sso-connection-test")
        .append_pair("nonce", "gatehouse-sso-connection-test")
        .append_pair("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        .append_pair("code_challenge_method", "S256");
    let request = oidc
        .transport()
        .client()
        .get(url.as_str())
        .header("accept", "text/html");
    let (status, headers, body) = match oidc.transport().send(request).await {
        Ok(answer) => answer,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("the authorization endpoint `{endpoint}` could not be reached: {e}"),
                "an answer from the authorization endpoint".into(),
                e.to_string(),
                "idp_admin",
            );
        }
    };
    let location = headers
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if status.is_redirection() {
        if location.starts_with(redirect_uri) && location.contains("error=") {
            let error = url::Url::parse(&location)
                .ok()
                .and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "error")
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_default();
            return Check::fail(
                NAME,
                format!(
                    "the identity provider accepted the redirect URI but refused the request with `{error}`"
                ),
                "a sign-in page".into(),
                format!("redirect with error={error}"),
                "idp_admin",
            );
        }
        return Check::pass(
            NAME,
            format!(
                "the identity provider accepted the redirect URI `{redirect_uri}` for client `{client_id}`"
            ),
        );
    }
    if status.is_success() {
        // Some IdPs render the login page directly.
        return Check::pass(
            NAME,
            format!("the authorization endpoint answered a sign-in page for redirect URI `{redirect_uri}`"),
        );
    }
    let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
    Check::fail(
        NAME,
        format!(
            "the identity provider refused the authorization request (HTTP {status}); most often the redirect URI \
             `{redirect_uri}` is not registered for client `{client_id}` — register it exactly"
        ),
        format!("`{redirect_uri}` registered for client `{client_id}`"),
        format!("HTTP {status}: {}", strip_tags(&text)),
        "idp_admin",
    )
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
