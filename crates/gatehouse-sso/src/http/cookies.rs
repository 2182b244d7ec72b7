//! The gateway's two cookies, both HttpOnly and SameSite=Lax (the IdP's redirect back is a
//! top-level navigation, which Lax lets through), `Secure` when the public URL is https.
//!
//! - [`BINDING`]: a random value tying a login state to the browser that started it; only its
//!   SHA-256 is stored with the state. Lives as long as a login state.
//! - [`SESSION`]: the dashboard session token; only its SHA-256 is stored.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use time::Duration;

use crate::domain::{PublicUrl, STATE_TTL};

pub const BINDING: &str = "gh_sso_binding";
pub const SESSION: &str = "gh_sso_session";

fn build(name: &'static str, value: String, max_age: Duration, public: &PublicUrl) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(public.is_https())
        .path("/")
        .max_age(max_age)
        .build()
}

/// The browser-binding cookie, lasting as long as a login state.
pub fn binding(value: String, public: &PublicUrl) -> Cookie<'static> {
    let ttl = i64::try_from(STATE_TTL.as_secs()).unwrap_or(600);
    build(BINDING, value, Duration::seconds(ttl), public)
}

/// The dashboard session cookie.
pub fn session(value: String, ttl_secs: i64, public: &PublicUrl) -> Cookie<'static> {
    build(SESSION, value, Duration::seconds(ttl_secs), public)
}

/// A cookie that removes `name`.
pub fn removal(name: &'static str, public: &PublicUrl) -> Cookie<'static> {
    build(name, String::new(), Duration::ZERO, public)
}

/// A cookie's value if present and shaped like one of our tokens (43 URL-safe characters).
pub fn token(jar: &CookieJar, name: &str) -> Option<String> {
    jar.get(name).map(|c| c.value().to_owned()).filter(|v| {
        v.len() == 43
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}
