//! Token and userinfo claims: the ID token (OIDC Core 2), the JWT access token (RFC 9068), the
//! userinfo response (OIDC Core 5.3) and the back-channel logout token (OIDC Back-Channel Logout
//! 2.4). The token builders return structs that borrow their input and serialise straight to the
//! token's JSON object for `gatehouse_crypto::KeySet` to sign or seal (no map is built and
//! dropped per token); nothing here signs, reads the clock or draws ids (`now`, `jti` and the
//! session id are parameters).
//!
//! Profile claims follow the scopes: `profile` gives `name`, `given_name`, `family_name`,
//! `preferred_username`, `locale`, `zoneinfo`, `updated_at`; `email` gives `email` and
//! `email_verified`; `groups` gives `groups`.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::assurance::{Acr, VerificationFacts, achieved_acr, amr};
use crate::protocol::BearerError;
use crate::{Issuer, ScopeSet, scope};

/// The `typ` header of access tokens (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The `typ` header of back-channel logout tokens.
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";
/// How long an ID token is valid.
pub const ID_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What Gatehouse knows about a user that claims can carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProfile {
    /// The stable user id (`sub`); never the login, which may change.
    pub subject: String,
    pub login: String,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub locale: Option<String>,
    pub zoneinfo: Option<String>,
    pub groups: Vec<String>,
    pub updated_at: Option<Timestamp>,
}

/// The scoped profile claims (without `sub`), borrowed from the profile.
#[derive(Debug, Clone, Serialize)]
struct ProfileClaims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zoneinfo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<&'a [String]>,
}

impl<'a> ProfileClaims<'a> {
    fn of(profile: &'a UserProfile, scopes: &ScopeSet) -> Self {
        let with_profile = scopes.contains(scope::PROFILE);
        let scoped = |value: Option<&'a String>| value.filter(|_| with_profile).map(String::as_str);
        let email = profile.email.as_deref().filter(|_| scopes.contains(scope::EMAIL));
        Self {
            name: scoped(profile.name.as_ref()),
            given_name: scoped(profile.given_name.as_ref()),
            family_name: scoped(profile.family_name.as_ref()),
            preferred_username: scoped(Some(&profile.login)),
            locale: scoped(profile.locale.as_ref()),
            zoneinfo: scoped(profile.zoneinfo.as_ref()),
            updated_at: profile
                .updated_at
                .filter(|_| with_profile)
                .map(Timestamp::as_second),
            email,
            email_verified: email.map(|_| profile.email_verified),
            groups: scopes
                .contains(scope::GROUPS)
                .then_some(profile.groups.as_slice()),
        }
    }
}

fn seconds_after(t: Timestamp, d: Duration) -> i64 {
    t.as_second()
        .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Everything an ID token says.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenInput<'a> {
    pub issuer: &'a Issuer,
    pub client_id: &'a str,
    pub profile: &'a UserProfile,
    pub scope: &'a ScopeSet,
    pub now: Timestamp,
    pub lifetime: Duration,
    /// When the user last authenticated actively (the newest record counted).
    pub auth_time: Timestamp,
    pub nonce: Option<&'a str>,
    /// The verification records the sign-in rests on (for `amr` and `acr`).
    pub records: &'a [VerificationFacts],
    /// The `acr` the request asked for (see [`crate::StepUp`]).
    pub requested_acr: Option<Acr>,
    /// The global session's public id (`sid`, for logout).
    pub session_id: Option<&'a str>,
}

/// The claims of an ID token, ready to sign; serialised straight from what they borrow.
#[derive(Debug, Clone, Serialize)]
pub struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    amr: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(flatten)]
    profile: ProfileClaims<'a>,
}

/// The ID token's claims: `iss`, `sub`, `aud`, `exp`, `iat`, `auth_time`, `nonce` (when the
/// request had one), `amr`, `acr`, `sid`, and the scoped profile claims.
pub fn id_token_claims<'a>(input: &IdTokenInput<'a>) -> IdTokenClaims<'a> {
    IdTokenClaims {
        iss: input.issuer.as_str(),
        sub: &input.profile.subject,
        aud: input.client_id,
        exp: seconds_after(input.now, input.lifetime),
        iat: input.now.as_second(),
        auth_time: input.auth_time.as_second(),
        nonce: input.nonce,
        amr: amr(input.records),
        acr: achieved_acr(input.records, input.requested_acr).map(Acr::as_str),
        sid: input.session_id,
        profile: ProfileClaims::of(input.profile, input.scope),
    }
}

/// The user side of an access token (absent for client credentials).
#[derive(Debug, Clone, Copy)]
pub struct AccessTokenUser<'a> {
    pub subject: &'a str,
    pub auth_time: Timestamp,
    pub records: &'a [VerificationFacts],
    pub requested_acr: Option<Acr>,
    pub session_id: Option<&'a str>,
}

/// Everything a JWT access token says.
#[derive(Debug, Clone, Copy)]
pub struct AccessTokenInput<'a> {
    pub issuer: &'a Issuer,
    /// The resource the token is for (`aud`); the issuer itself for the userinfo endpoint.
    pub audience: &'a str,
    pub client_id: &'a str,
    pub scope: &'a ScopeSet,
    pub now: Timestamp,
    pub lifetime: Duration,
    /// A unique id (random, from the caller) for revocation lists and introspection.
    pub jti: &'a str,
    pub user: Option<AccessTokenUser<'a>>,
}

/// The claims of an access token, ready to sign or seal; serialised straight from what they
/// borrow.
#[derive(Debug, Clone, Serialize)]
pub struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    jti: &'a str,
    client_id: &'a str,
    #[serde(serialize_with = "as_text")]
    scope: &'a ScopeSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    amr: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
}

fn as_text<S: serde::Serializer>(scope: &&ScopeSet, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(scope)
}

/// RFC 9068 claims: `iss`, `sub` (the user, or the client for client credentials), `aud`, `exp`,
/// `iat`, `jti`, `client_id`, `scope`, and for users `auth_time`, `amr`, `acr`, `sid`. Sign with
/// the `typ` [`ACCESS_TOKEN_TYPE`].
pub fn access_token_claims<'a>(input: &AccessTokenInput<'a>) -> AccessTokenClaims<'a> {
    let user = input.user.as_ref();
    AccessTokenClaims {
        iss: input.issuer.as_str(),
        sub: user.map_or(input.client_id, |u| u.subject),
        aud: input.audience,
        exp: seconds_after(input.now, input.lifetime),
        iat: input.now.as_second(),
        jti: input.jti,
        client_id: input.client_id,
        scope: input.scope,
        auth_time: user.map(|u| u.auth_time.as_second()),
        amr: user.map(|u| amr(u.records)).unwrap_or_default(),
        acr: user
            .and_then(|u| achieved_acr(u.records, u.requested_acr))
            .map(Acr::as_str),
        sid: user.and_then(|u| u.session_id),
    }
}

/// What userinfo may tell, read from a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserinfoGrant {
    pub subject: String,
    pub scope: ScopeSet,
}

/// Checks a verified access token's claims for the userinfo endpoint: it must carry `sub` and a
/// `scope` with `openid` (client-credentials tokens never do). Returns whose profile to load and
/// which scopes apply; errors are RFC 6750 challenges.
pub fn userinfo_grant(access_token_claims: &Map<String, Value>) -> Result<UserinfoGrant, BearerError> {
    let subject = access_token_claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| BearerError::invalid_token("the access token has no subject"))?;
    let scope = access_token_claims
        .get("scope")
        .and_then(Value::as_str)
        .and_then(|s| ScopeSet::parse(s).ok())
        .unwrap_or_default();
    if !scope.contains(scope::OPENID) {
        return Err(BearerError::insufficient_scope(
            "userinfo needs an access token with the `openid` scope",
        ));
    }
    Ok(UserinfoGrant {
        subject: subject.to_owned(),
        scope,
    })
}

/// The userinfo response, ready to serialise: `sub` and the scoped profile claims.
#[derive(Debug, Clone, Serialize)]
pub struct UserinfoClaims<'a> {
    sub: &'a str,
    #[serde(flatten)]
    profile: ProfileClaims<'a>,
}

/// The userinfo response: `sub` and the scoped profile claims.
pub fn userinfo_claims<'a>(profile: &'a UserProfile, scope: &ScopeSet) -> UserinfoClaims<'a> {
    UserinfoClaims {
        sub: &profile.subject,
        profile: ProfileClaims::of(profile, scope),
    }
}

/// A back-channel logout token's claims (sign with `typ` [`LOGOUT_TOKEN_TYPE`]): `iss`, `aud`,
/// `iat`, `exp` (two minutes), `jti`, `events`, `sub` and `sid`. Never a `nonce`.
pub fn logout_token_claims(
    issuer: &Issuer,
    client_id: &str,
    subject: &str,
    session_id: Option<&str>,
    now: Timestamp,
    jti: &str,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer.as_str()));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("iat".into(), json!(now.as_second()));
    claims.insert("exp".into(), json!(now.as_second().saturating_add(120)));
    claims.insert("jti".into(), json!(jti));
    claims.insert("events".into(), json!({ BACKCHANNEL_EVENT: {} }));
    claims.insert("sub".into(), json!(subject));
    if let Some(sid) = session_id {
        claims.insert("sid".into(), json!(sid));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assurance::{Authenticator, Method};

    fn alice() -> UserProfile {
        UserProfile {
            subject: "00u-alice".into(),
            login: "alice".into(),
            name: Some("Alice Example".into()),
            given_name: Some("Alice".into()),
            family_name: None,
            email: Some("alice@example.com".into()),
            email_verified: true,
            locale: None,
            zoneinfo: None,
            groups: vec!["employees".into(), "everyone".into()],
            updated_at: Some(Timestamp::from_second(1_700_000_000).unwrap()),
        }
    }

    fn map(claims: impl Serialize) -> Map<String, Value> {
        match serde_json::to_value(claims).unwrap() {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn issuer() -> Issuer {
        Issuer::parse("http://localhost:8080").unwrap()
    }

    #[test]
    fn id_token_carries_the_sign_in_and_scoped_profile() {
        let records = [
            VerificationFacts::new(Authenticator::Password, Method::Password),
            VerificationFacts::new(Authenticator::Totp, Method::Otp),
        ];
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let scope = ScopeSet::parse("openid profile").unwrap();
        let profile = alice();
        let issuer = issuer();
        let claims = id_token_claims(&IdTokenInput {
            issuer: &issuer,
            client_id: "finance",
            profile: &profile,
            scope: &scope,
            now,
            lifetime: ID_TOKEN_LIFETIME,
            auth_time: Timestamp::from_second(1_799_999_990).unwrap(),
            nonce: Some("n-1"),
            records: &records,
            requested_acr: None,
            session_id: Some("sid-1"),
        });
        assert_eq!(
            serde_json::to_value(claims).unwrap(),
            json!({
                "iss": "http://localhost:8080", "sub": "00u-alice", "aud": "finance",
                "exp": 1_800_003_600i64, "iat": 1_800_000_000i64, "auth_time": 1_799_999_990i64, "nonce": "n-1",
                "amr": ["pwd", "otp", "mfa"], "acr": "urn:gatehouse:loa:2fa:any", "sid": "sid-1",
                "name": "Alice Example", "given_name": "Alice", "preferred_username": "alice", "updated_at": 1_700_000_000i64
            })
        );
    }

    #[test]
    fn access_tokens_for_users_and_for_clients() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let scope = ScopeSet::parse("reports.read").unwrap();
        let issuer = issuer();
        let machine = map(access_token_claims(&AccessTokenInput {
            issuer: &issuer,
            audience: "http://localhost:8080",
            client_id: "reports-service",
            scope: &scope,
            now,
            lifetime: Duration::from_secs(600),
            jti: "at-1",
            user: None,
        }));
        assert_eq!(
            Value::Object(machine.clone()),
            json!({"iss": "http://localhost:8080", "sub": "reports-service", "aud": "http://localhost:8080",
                   "exp": 1_800_000_600i64, "iat": 1_800_000_000i64, "jti": "at-1", "client_id": "reports-service",
                   "scope": "reports.read"})
        );
        assert_eq!(userinfo_grant(&machine).unwrap_err().status(), 403);
        let records = [VerificationFacts::new(Authenticator::Password, Method::Password)];
        let user_scope = ScopeSet::parse("openid email").unwrap();
        let human = map(access_token_claims(&AccessTokenInput {
            client_id: "dashboard",
            scope: &user_scope,
            jti: "at-2",
            user: Some(AccessTokenUser {
                subject: "00u-alice",
                auth_time: now,
                records: &records,
                requested_acr: None,
                session_id: Some("sid-1"),
            }),
            ..AccessTokenInput {
                issuer: &issuer,
                audience: "http://localhost:8080",
                client_id: "",
                scope: &scope,
                now,
                lifetime: Duration::from_secs(3600),
                jti: "",
                user: None,
            }
        }));
        assert_eq!(human["sub"], "00u-alice");
        assert_eq!(human["amr"], json!(["pwd"]));
        assert_eq!(human["acr"], "urn:gatehouse:loa:1fa:any");
        let grant = userinfo_grant(&human).unwrap();
        assert_eq!(grant.subject, "00u-alice");
        assert_eq!(
            serde_json::to_value(userinfo_claims(&alice(), &grant.scope)).unwrap(),
            json!({"sub": "00u-alice", "email": "alice@example.com", "email_verified": true})
        );
    }

    #[test]
    fn userinfo_scopes_select_claims() {
        let all = ScopeSet::parse("openid profile email groups").unwrap();
        let alice = alice();
        let claims = map(userinfo_claims(&alice, &all));
        assert_eq!(claims["groups"], json!(["employees", "everyone"]));
        assert_eq!(claims["preferred_username"], "alice");
        let bare = map(userinfo_claims(&alice, &ScopeSet::parse("openid").unwrap()));
        assert_eq!(Value::Object(bare), json!({"sub": "00u-alice"}));
    }

    #[test]
    fn logout_token_has_the_event_and_no_nonce() {
        let claims = logout_token_claims(
            &issuer(),
            "dashboard",
            "00u-alice",
            Some("sid-1"),
            Timestamp::from_second(10).unwrap(),
            "j",
        );
        assert_eq!(
            claims["events"],
            json!({"http://schemas.openid.net/event/backchannel-logout": {}})
        );
        assert!(!claims.contains_key("nonce"));
        assert_eq!(claims["sid"], "sid-1");
    }
}
