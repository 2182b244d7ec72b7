//! The login's fixed rules: where the IdP sends the browser back, how long a login state lives,
//! and how much clock skew an ID token may show.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;
use url::Url;

use super::TenantSlug;

/// How long a login state (state, nonce, PKCE verifier) stays usable: DESIGN.md section 11.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// Clock skew tolerated between the gateway and an IdP on `exp` and `iat`.
pub const TOKEN_LEEWAY: Duration = Duration::from_secs(60);

/// How long a dashboard session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// The gateway's public base URL (`--public-url`), without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    text: String,
    url: Url,
}

impl PublicUrl {
    pub fn parse(input: &str) -> Result<Self, String> {
        let url = Url::parse(input.trim()).map_err(|e| format!("public URL `{input}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "public URL `{input}` must be http(s)://host[:port][/path]"
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("public URL `{input}` must not have a query or fragment"));
        }
        let text = url.as_str().trim_end_matches('/').to_owned();
        Ok(Self { text, url })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether cookies must be `Secure`.
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The origin (`scheme://host[:port]`) the gateway's own pages are served from.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// `host[:port]` as a browser sends it in `Host`.
    pub fn authority(&self) -> String {
        match (self.url.host_str(), self.url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => String::new(),
        }
    }

    /// The exact redirect URI the tenant's IdP must have registered:
    /// `{public_url}/okta-login/{tenant_slug}`.
    pub fn redirect_uri(&self, slug: &TenantSlug) -> String {
        format!("{}/okta-login/{}", self.text, slug.as_str())
    }

    /// An absolute URL for a path on the gateway.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.text, path)
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The oldest creation time a login state may have at `now` and still be accepted.
pub fn oldest_valid_state(now: OffsetDateTime) -> OffsetDateTime {
    now - STATE_TTL
}

/// The time an ID token's `exp` is compared with: `now` less the leeway, so a token that
/// expired less than [`TOKEN_LEEWAY`] ago by our clock still passes.
pub fn expiry_reference(now: OffsetDateTime) -> OffsetDateTime {
    now - TOKEN_LEEWAY
}

/// Checks an ID token's `iat`: refused when it lies further in the future than the leeway.
pub fn check_issued_at(iat_unix: i64, now: OffsetDateTime) -> Result<(), String> {
    let limit = (now + TOKEN_LEEWAY).unix_timestamp();
    if iat_unix > limit {
        Err(format!(
            "the ID token was issued {}s in the future by our clock (iat {iat_unix}, now {}); the \
             allowed skew is {}s",
            iat_unix - now.unix_timestamp(),
            now.unix_timestamp(),
            TOKEN_LEEWAY.as_secs()
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn redirect_uri_is_public_url_plus_tenant_path() {
        let public = PublicUrl::parse("http://127.0.0.1:8090/").unwrap();
        let slug = TenantSlug::parse("acme-corp").unwrap();
        assert_eq!(
            public.redirect_uri(&slug),
            "http://127.0.0.1:8090/okta-login/acme-corp"
        );
        assert_eq!(public.authority(), "127.0.0.1:8090");
        assert_eq!(public.origin(), "http://127.0.0.1:8090");
        let behind_proxy = PublicUrl::parse("https://sso.example.com/gw").unwrap();
        assert_eq!(
            behind_proxy.redirect_uri(&slug),
            "https://sso.example.com/gw/okta-login/acme-corp"
        );
        assert!(behind_proxy.is_https());
    }

    #[test]
    fn state_lives_ten_minutes() {
        assert_eq!(oldest_valid_state(t(1_000)), t(400));
    }

    #[test]
    fn iat_may_lead_by_the_leeway_only() {
        assert!(check_issued_at(1_060, t(1_000)).is_ok());
        assert!(check_issued_at(900, t(1_000)).is_ok());
        let err = check_issued_at(1_061, t(1_000)).unwrap_err();
        assert!(err.contains("61s in the future"), "{err}");
        assert_eq!(expiry_reference(t(1_000)), t(940));
    }
}
