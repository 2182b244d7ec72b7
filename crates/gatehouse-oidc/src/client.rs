//! What the OIDC rules need to know about a registered client (an application), and the
//! redirect-URI rules: registration-time syntax and request-time exact matching.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::OidcError;

/// Whether a client can keep a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Has a secret and authenticates at the token endpoint.
    Confidential,
    /// Cannot keep a secret (SPA, native app, CLI): authenticates with `none` and must use PKCE.
    Public,
}

/// The grant types Gatehouse implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [Self; 3] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

impl FromStr for GrantType {
    type Err = OidcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| OidcError::GrantType(s.to_owned()))
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Client authentication methods at the token, revocation and introspection endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    None,
}

impl AuthMethod {
    pub const ALL: [Self; 3] = [Self::ClientSecretBasic, Self::ClientSecretPost, Self::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

impl FromStr for AuthMethod {
    type Err = OidcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| OidcError::AuthMethod(s.to_owned()))
    }
}

/// A client as the OIDC rules see it. The caller builds it from its stored application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRegistration {
    pub client_id: String,
    pub kind: ClientKind,
    /// Registered redirect URIs, compared byte for byte.
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs, compared byte for byte.
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// Lower-case hex SHA-256 of the client secret (confidential clients only).
    pub secret_sha256_hex: Option<String>,
}

impl ClientRegistration {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether `presented` is one of the registered redirect URIs, byte for byte.
    pub fn has_redirect_uri(&self, presented: &str) -> bool {
        redirect_uri_matches(&self.redirect_uris, presented)
    }

    /// Whether `presented` is one of the registered post-logout redirect URIs, byte for byte.
    pub fn has_post_logout_redirect_uri(&self, presented: &str) -> bool {
        redirect_uri_matches(&self.post_logout_redirect_uris, presented)
    }
}

/// Exact redirect-URI matching: equal bytes, no normalisation (case, trailing slash, default port,
/// percent-encoding all count), no wildcards, no prefix matching.
pub fn redirect_uri_matches(registered: &[String], presented: &str) -> bool {
    registered.iter().any(|r| r.as_bytes() == presented.as_bytes())
}

/// Checks a redirect URI at registration: an absolute URI without a fragment or user info, and not
/// a scheme that runs code (`javascript:`, `data:`, `vbscript:`, `file:`). `http` is allowed on any
/// host (local development, the demo); private-use schemes (`com.example.app:/cb`) are allowed for
/// native apps. Returns the URI unchanged: it is stored and compared exactly as registered.
pub fn validate_redirect_uri(uri: &str) -> Result<&str, OidcError> {
    let bad = |reason| OidcError::RedirectUri {
        uri: uri.to_owned(),
        reason,
    };
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains whitespace"));
    }
    let url = url::Url::parse(uri).map_err(|_| bad("it is not an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(bad("it has a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it carries user info"));
    }
    match url.scheme() {
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about" => {
            Err(bad("its scheme is not allowed"))
        }
        "http" | "https" if url.host_str().is_none_or(str::is_empty) => Err(bad("it has no host")),
        _ => Ok(uri),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_byte_for_byte() {
        let registered = vec!["http://127.0.0.1:9000/callback".to_owned()];
        assert!(redirect_uri_matches(
            &registered,
            "http://127.0.0.1:9000/callback"
        ));
        for near_miss in [
            "http://127.0.0.1:9000/callback/",
            "http://127.0.0.1:9000/Callback",
            "HTTP://127.0.0.1:9000/callback",
            "http://127.0.0.1:9000/callback?x=1",
            "http://127.0.0.1:9000/callback#",
            "http://127.0.0.1:9000/%63allback",
            "http://localhost:9000/callback",
            "http://127.0.0.1:9000/callbac",
            "http://127.0.0.1:9000/callback.evil.com",
        ] {
            assert!(!redirect_uri_matches(&registered, near_miss), "{near_miss}");
        }
    }

    #[test]
    fn registration_syntax() {
        for ok in [
            "http://127.0.0.1:9000/callback",
            "https://app.example.com/cb?tenant=a",
            "com.example.app:/oauth2redirect",
            "http://localhost/cb",
        ] {
            assert_eq!(validate_redirect_uri(ok), Ok(ok));
        }
        for bad in [
            "/relative",
            "https://app.example.com/cb#frag",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://user:pw@app.example.com/cb",
            "https://app.example.com/c b",
            "",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(g.as_str().parse::<GrantType>().unwrap(), g);
        }
        for m in AuthMethod::ALL {
            assert_eq!(m.as_str().parse::<AuthMethod>().unwrap(), m);
        }
        assert!("password".parse::<GrantType>().is_err());
        assert!("private_key_jwt".parse::<AuthMethod>().is_err());
    }
}
