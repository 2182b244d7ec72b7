//! Tenant registration fields, each a type built only through `parse`.
//!
//! `parse` returns the message to show for a bad value; the HTTP edge adds the field name.

use std::fmt;
use std::net::IpAddr;

use url::Url;

/// A tenant slug: `^[a-z0-9][a-z0-9-]{1,62}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut chars = input.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if first_ok && rest_ok && (2..=63).contains(&input.len()) {
            Ok(Self(input.to_owned()))
        } else {
            Err(format!(
                "slug `{}` must match ^[a-z0-9][a-z0-9-]{{1,62}}$ (2 to 63 lowercase letters, digits or \
                 `-`, not starting with `-`)",
                shorten(input)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tenant's OpenID Connect issuer: an `https` URL (or `http` on a loopback host, for local
/// providers), given as a URL or as a bare IdP domain such as `dev-12345678.okta.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    pub fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        if input.is_empty() {
            return Err(
                "issuer is required: a URL such as `https://dev-12345678.okta.com` or a bare \
                        IdP domain"
                    .into(),
            );
        }
        let text = if input.contains("://") {
            input.to_owned()
        } else {
            format!("https://{input}")
        };
        let url = Url::parse(&text).map_err(|e| format!("issuer `{}` is not a URL: {e}", shorten(input)))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(format!(
                    "issuer `{}` must use https (plain http is accepted only for loopback hosts)",
                    shorten(input)
                ));
            }
            other => return Err(format!("issuer scheme `{other}` is not supported: use https")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("issuer `{}` has no host", shorten(input)));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "issuer `{}` must not have a query or fragment",
                shorten(input)
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("issuer `{}` must not carry credentials", shorten(input)));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` names the same issuer up to one trailing slash (`https://x` and
    /// `https://x/`), the only difference tolerated between the registered and discovered issuer.
    pub fn same_up_to_trailing_slash(&self, other: &str) -> bool {
        self.0.trim_end_matches('/') == other.trim_end_matches('/')
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A browser origin allowed to call the gateway for a tenant (`scheme://host[:port]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AllowedOrigin(String);

impl AllowedOrigin {
    pub fn parse(input: &str) -> Result<Self, String> {
        let trimmed = input.trim();
        let url =
            Url::parse(trimmed).map_err(|e| format!("origin `{}` is not a URL: {e}", shorten(input)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "origin `{}` must start with http:// or https://",
                shorten(input)
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("origin `{}` has no host", shorten(input)));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "origin `{}` must be scheme://host[:port] with no path, query or fragment",
                shorten(input)
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("origin `{}` must not carry credentials", shorten(input)));
        }
        Ok(Self(url.origin().ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AllowedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tenant's display name: 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyName(String);

impl CompanyName {
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim();
        if name.is_empty() {
            return Err("company_name must not be empty".into());
        }
        if name.chars().count() > 200 {
            return Err("company_name must be at most 200 characters".into());
        }
        if name.chars().any(char::is_control) {
            return Err("company_name must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The client id the tenant's IdP issued to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.is_empty() || input.len() > 255 {
            return Err("client_id must be 1 to 255 characters".into());
        }
        if input.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("client_id must not contain spaces or control characters".into());
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The client secret the tenant's IdP issued; never displayed, sealed at rest.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.is_empty() || input.len() > 1024 {
            return Err("client_secret must be 1 to 1024 characters".into());
        }
        if input.chars().any(char::is_control) {
            return Err("client_secret must not contain control characters".into());
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(…)")
    }
}

/// At most 60 characters of user input, for error messages.
fn shorten(input: &str) -> String {
    let mut out: String = input.chars().take(60).collect();
    if input.chars().count() > 60 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_pattern() {
        for ok in ["acme-corp", "a1", "0-9", &"a".repeat(63)] {
            assert!(TenantSlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "-acme",
            "Acme",
            "acme_corp",
            "acme corp",
            &"a".repeat(64),
            "ächt",
        ] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bare_domains_become_https_issuers() {
        assert_eq!(
            Issuer::parse("dev-12345678.okta.com").unwrap().as_str(),
            "https://dev-12345678.okta.com"
        );
        assert_eq!(
            Issuer::parse(" https://idp.example/oauth2/default ")
                .unwrap()
                .as_str(),
            "https://idp.example/oauth2/default"
        );
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(Issuer::parse("http://127.0.0.1:4000").is_ok());
        assert!(Issuer::parse("http://localhost:8080").is_ok());
        assert!(Issuer::parse("http://[::1]:8080").is_ok());
        assert!(Issuer::parse("http://idp.example").unwrap_err().contains("https"));
        assert!(Issuer::parse("ftp://idp.example").is_err());
        assert!(Issuer::parse("https://idp.example/?x=1").is_err());
        assert!(Issuer::parse("https://u:p@idp.example").is_err());
        assert!(Issuer::parse("").is_err());
    }

    #[test]
    fn trailing_slash_is_the_only_tolerated_issuer_difference() {
        let iss = Issuer::parse("https://idp.example").unwrap();
        assert!(iss.same_up_to_trailing_slash("https://idp.example/"));
        assert!(!iss.same_up_to_trailing_slash("https://idp.example/oauth2"));
    }

    #[test]
    fn origins_are_normalised_and_bare() {
        assert_eq!(
            AllowedOrigin::parse("https://App.Example.com/").unwrap().as_str(),
            "https://app.example.com"
        );
        assert_eq!(
            AllowedOrigin::parse("http://127.0.0.1:3000").unwrap().as_str(),
            "http://127.0.0.1:3000"
        );
        assert_eq!(
            AllowedOrigin::parse("https://app.example.com:443")
                .unwrap()
                .as_str(),
            "https://app.example.com"
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/path",
            "javascript:alert(1)",
            "null",
        ] {
            assert!(AllowedOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_fields_have_limits() {
        assert!(CompanyName::parse("  ").is_err());
        assert_eq!(CompanyName::parse(" Acme ").unwrap().as_str(), "Acme");
        assert!(ClientId::parse("has space").is_err());
        assert!(ClientSecret::parse("").is_err());
        assert_eq!(
            format!("{:?}", ClientSecret::parse("s3cret").unwrap()),
            "ClientSecret(…)"
        );
    }
}
