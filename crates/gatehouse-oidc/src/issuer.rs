//! The issuer identifier and the provider's endpoint paths.

use crate::OidcError;

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
pub const JWKS_PATH: &str = "/oauth2/jwks";
pub const REVOKE_PATH: &str = "/oauth2/revoke";
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";
pub const LOGOUT_PATH: &str = "/oauth2/logout";

/// The issuer: an absolute `http` or `https` URL with a host, no query and no fragment, kept
/// without a trailing slash so that `iss` and the endpoint URLs are built the same way everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Issuer(String);

impl Issuer {
    pub fn parse(text: &str) -> Result<Self, OidcError> {
        let bad = || OidcError::Issuer(text.to_owned());
        let url = url::Url::parse(text).map_err(|_| bad())?;
        let ok = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|h| !h.is_empty())
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        if !ok {
            return Err(bad());
        }
        Ok(Self(text.trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the issuer is served over https (cookies get `Secure` then).
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// `issuer + path`, for the paths above.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_parse_and_build_endpoints() {
        let i = Issuer::parse("http://localhost:8080/").unwrap();
        assert_eq!(i.as_str(), "http://localhost:8080");
        assert_eq!(i.endpoint(TOKEN_PATH), "http://localhost:8080/oauth2/token");
        assert!(!i.is_https());
        let tenant = Issuer::parse("https://id.example.com/tenants/acme").unwrap();
        assert_eq!(
            tenant.endpoint(JWKS_PATH),
            "https://id.example.com/tenants/acme/oauth2/jwks"
        );
        for bad in [
            "localhost:8080",
            "ftp://x",
            "https://x/?a=1",
            "https://x/#f",
            "https://u:p@x",
            "",
        ] {
            assert!(Issuer::parse(bad).is_err(), "{bad}");
        }
    }
}
