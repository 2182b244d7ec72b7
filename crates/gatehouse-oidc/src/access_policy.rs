//! Authorization-server access policies: which clients may use which grant types and scopes for
//! which users, and how long the tokens they get live.
//!
//! A rule is stored as JSON of exactly this shape (this module owns the type and its serde):
//!
//! ```json
//! {"name": "dashboard", "priority": 1, "clients": ["dashboard"], "grant_types": ["*"],
//!  "scopes": ["*"], "users": {"include": [], "exclude": []},
//!  "groups": {"include": ["everyone"], "exclude": []},
//!  "access_token_lifetime": "PT1H", "refresh_token_lifetime": "P1D"}
//! ```
//!
//! An optional `"access_token_format"` is `"jwt"` (the default: an RFC 9068 JWT signed ES256, which
//! a resource server can verify against the JWKS) or `"opaque"` (the claims sealed with AES-256-GCM,
//! readable only by Gatehouse: resource servers call introspection; it costs no signature).
//!
//! `"*"` means any; an empty `include` means no restriction. Rules are tried by ascending
//! `priority` (ties by name); the first rule whose every condition holds decides. When none does,
//! the request is denied with `access_denied` and `Policy evaluation failed for this request.`
//! ([`crate::ProtocolError::policy_failed`]). Users are matched by login (ASCII case-insensitive) or
//! id; every user is in the built-in group `everyone`. A request without a user (client
//! credentials) matches only rules that do not restrict users: empty `users.include` and a
//! `groups.include` that is empty or holds `everyone`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::GrantType;
use crate::{OidcError, ProtocolError, ScopeSet};

/// The built-in group every user belongs to.
pub const EVERYONE: &str = "everyone";
const ANY: &str = "*";

/// A positive ISO-8601 duration of weeks, days, hours, minutes and seconds (`PT1H`, `P1D`), kept
/// with its text so that it serializes back unchanged. Days are 24 hours; months and years, whose
/// length varies, are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifetime {
    text: String,
    duration: Duration,
}

impl Lifetime {
    pub fn parse(text: &str) -> Result<Self, OidcError> {
        let bad = || OidcError::Duration(text.to_owned());
        // ISO 8601 only: jiff's `FromStr` would also take its friendly format (`1h`).
        let span = jiff::fmt::temporal::SpanParser::new()
            .parse_span(text)
            .map_err(|_| bad())?;
        if span.get_years() != 0 || span.get_months() != 0 {
            return Err(bad());
        }
        let signed = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .map_err(|_| bad())?;
        let duration = Duration::try_from(signed).map_err(|_| bad())?;
        if duration.is_zero() {
            return Err(bad());
        }
        Ok(Self {
            text: text.to_owned(),
            duration,
        })
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    pub fn seconds(&self) -> u64 {
        self.duration.as_secs()
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Lifetime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The form of the access tokens a rule grants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenFormat {
    /// An RFC 9068 JWT, signed ES256.
    #[default]
    Jwt,
    /// Sealed claims that only Gatehouse opens (userinfo, introspection, revocation).
    Opaque,
}

impl AccessTokenFormat {
    fn is_jwt(&self) -> bool {
        *self == Self::Jwt
    }
}

/// An include/exclude pair of names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeExclude {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// One access-policy rule, in its stored JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawRule")]
pub struct AccessRule {
    pub name: String,
    pub priority: u32,
    /// Client ids, or `"*"`.
    pub clients: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`, or `"*"`.
    pub grant_types: Vec<String>,
    /// Scope tokens, or `"*"`.
    pub scopes: Vec<String>,
    pub users: IncludeExclude,
    pub groups: IncludeExclude,
    pub access_token_lifetime: Lifetime,
    pub refresh_token_lifetime: Lifetime,
    #[serde(default, skip_serializing_if = "AccessTokenFormat::is_jwt")]
    pub access_token_format: AccessTokenFormat,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    priority: u32,
    clients: Vec<String>,
    grant_types: Vec<String>,
    scopes: Vec<String>,
    #[serde(default)]
    users: IncludeExclude,
    #[serde(default)]
    groups: IncludeExclude,
    access_token_lifetime: Lifetime,
    refresh_token_lifetime: Lifetime,
    #[serde(default)]
    access_token_format: AccessTokenFormat,
}

impl TryFrom<RawRule> for AccessRule {
    type Error = OidcError;

    fn try_from(raw: RawRule) -> Result<Self, Self::Error> {
        let fail = |reason: String| OidcError::AccessPolicy {
            rule: raw.name.clone(),
            reason,
        };
        if raw.name.trim().is_empty() {
            return Err(fail("the name must not be empty".into()));
        }
        for (field, list) in [
            ("clients", &raw.clients),
            ("grant_types", &raw.grant_types),
            ("scopes", &raw.scopes),
        ] {
            if list.is_empty() {
                return Err(fail(format!("`{field}` must list at least one value or \"*\"")));
            }
        }
        for grant in raw.grant_types.iter().filter(|g| *g != ANY) {
            grant.parse::<GrantType>().map_err(|e| fail(e.to_string()))?;
        }
        for scope in raw.scopes.iter().filter(|s| *s != ANY) {
            let parsed = ScopeSet::parse(scope).map_err(|e| fail(e.to_string()))?;
            if parsed.len() != 1 {
                return Err(fail(format!("scope `{scope}` must be a single scope token")));
            }
        }
        Ok(Self {
            name: raw.name,
            priority: raw.priority,
            clients: raw.clients,
            grant_types: raw.grant_types,
            scopes: raw.scopes,
            users: raw.users,
            groups: raw.groups,
            access_token_lifetime: raw.access_token_lifetime,
            refresh_token_lifetime: raw.refresh_token_lifetime,
            access_token_format: raw.access_token_format,
        })
    }
}

impl AccessRule {
    /// Parses one rule from its JSON text.
    pub fn from_json(json: &str) -> Result<Self, OidcError> {
        serde_json::from_str(json).map_err(|e| OidcError::AccessPolicyJson(e.to_string()))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.iter().any(|g| g == ANY || g == grant.as_str())
    }
}

/// The user a request acts for.
#[derive(Debug, Clone, Copy)]
pub struct AccessUser<'a> {
    pub id: &'a str,
    pub login: &'a str,
    pub groups: &'a [String],
}

/// A request to be checked against the access policies.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    pub client_id: &'a str,
    pub grant_type: GrantType,
    pub scopes: &'a ScopeSet,
    /// `None` for client credentials.
    pub user: Option<AccessUser<'a>>,
}

/// Why a rule did or did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOutcome {
    Matched,
    ClientNotListed,
    GrantTypeNotAllowed,
    ScopeNotAllowed(String),
    UserNotIncluded,
    UserExcluded,
    GroupNotIncluded,
    GroupExcluded,
    /// The rule restricts users or groups and the request has no user.
    NeedsUser,
}

/// One rule tried, for the decision's trace (and the system log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTrace {
    pub rule: String,
    pub outcome: RuleOutcome,
}

/// The tokens an allowing rule grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub rule: String,
    pub access_token_lifetime: Lifetime,
    pub refresh_token_lifetime: Lifetime,
    pub access_token_format: AccessTokenFormat,
    /// Whether the rule also allows the `refresh_token` grant (issue a refresh token only then, and
    /// only to clients registered for it).
    pub refresh_allowed: bool,
}

/// An access-policy decision with its trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessDecision {
    Allow {
        grant: AccessGrant,
        trace: Vec<RuleTrace>,
    },
    Deny {
        trace: Vec<RuleTrace>,
    },
}

impl AccessDecision {
    pub fn trace(&self) -> &[RuleTrace] {
        match self {
            Self::Allow { trace, .. } | Self::Deny { trace } => trace,
        }
    }

    /// The grant, or the protocol error to answer with (`access_denied`, [`crate::POLICY_FAILED`]).
    pub fn into_result(self) -> Result<AccessGrant, ProtocolError> {
        match self {
            Self::Allow { grant, .. } => Ok(grant),
            Self::Deny { .. } => Err(ProtocolError::policy_failed()),
        }
    }
}

/// The ordered rules of the authorization server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicies {
    rules: Vec<AccessRule>,
}

impl AccessPolicies {
    /// Orders the rules by priority, then name. Refuses two rules with one name.
    pub fn new(mut rules: Vec<AccessRule>) -> Result<Self, OidcError> {
        rules.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.name.cmp(&b.name)));
        if let Some(dup) = rules
            .iter()
            .enumerate()
            .find(|(i, r)| rules.iter().skip(i + 1).any(|o| o.name == r.name))
        {
            return Err(OidcError::AccessPolicy {
                rule: dup.1.name.clone(),
                reason: "two rules have this name".into(),
            });
        }
        Ok(Self { rules })
    }

    /// Parses a JSON array of rules.
    pub fn from_json(json: &str) -> Result<Self, OidcError> {
        let rules: Vec<AccessRule> =
            serde_json::from_str(json).map_err(|e| OidcError::AccessPolicyJson(e.to_string()))?;
        Self::new(rules)
    }

    pub fn rules(&self) -> &[AccessRule] {
        &self.rules
    }

    /// The first rule (by priority) that matches the request decides.
    pub fn evaluate(&self, request: &AccessRequest<'_>) -> AccessDecision {
        let mut trace = Vec::new();
        for rule in &self.rules {
            let outcome = rule_outcome(rule, request);
            let matched = outcome == RuleOutcome::Matched;
            trace.push(RuleTrace {
                rule: rule.name.clone(),
                outcome,
            });
            if matched {
                return AccessDecision::Allow {
                    grant: AccessGrant {
                        rule: rule.name.clone(),
                        access_token_lifetime: rule.access_token_lifetime.clone(),
                        refresh_token_lifetime: rule.refresh_token_lifetime.clone(),
                        access_token_format: rule.access_token_format,
                        refresh_allowed: rule.allows_grant(GrantType::RefreshToken),
                    },
                    trace,
                };
            }
        }
        AccessDecision::Deny { trace }
    }

    /// Whether some rule could allow this client, grant and scopes for some user: lets the
    /// authorize endpoint refuse a client no rule covers before anyone signs in.
    pub fn could_allow(&self, client_id: &str, grant_type: GrantType, scopes: &ScopeSet) -> bool {
        self.rules.iter().any(|rule| {
            client_listed(rule, client_id)
                && rule.allows_grant(grant_type)
                && first_unlisted_scope(rule, scopes).is_none()
        })
    }
}

fn client_listed(rule: &AccessRule, client_id: &str) -> bool {
    rule.clients.iter().any(|c| c == ANY || c == client_id)
}

fn first_unlisted_scope<'s>(rule: &AccessRule, scopes: &'s ScopeSet) -> Option<&'s str> {
    if rule.scopes.iter().any(|s| s == ANY) {
        return None;
    }
    scopes.iter().find(|s| !rule.scopes.iter().any(|r| r == s))
}

fn rule_outcome(rule: &AccessRule, request: &AccessRequest<'_>) -> RuleOutcome {
    if !client_listed(rule, request.client_id) {
        return RuleOutcome::ClientNotListed;
    }
    if !rule.allows_grant(request.grant_type) {
        return RuleOutcome::GrantTypeNotAllowed;
    }
    if let Some(scope) = first_unlisted_scope(rule, request.scopes) {
        return RuleOutcome::ScopeNotAllowed(scope.to_owned());
    }
    let Some(user) = request.user else {
        let unrestricted = rule.users.include.is_empty()
            && (rule.groups.include.is_empty() || rule.groups.include.iter().any(|g| g == EVERYONE));
        return if unrestricted {
            RuleOutcome::Matched
        } else {
            RuleOutcome::NeedsUser
        };
    };
    let is_user = |name: &String| name == user.id || name.eq_ignore_ascii_case(user.login);
    if !rule.users.include.is_empty() && !rule.users.include.iter().any(is_user) {
        return RuleOutcome::UserNotIncluded;
    }
    if rule.users.exclude.iter().any(is_user) {
        return RuleOutcome::UserExcluded;
    }
    let in_group = |group: &String| group == EVERYONE || user.groups.iter().any(|g| g == group);
    if !rule.groups.include.is_empty() && !rule.groups.include.iter().any(in_group) {
        return RuleOutcome::GroupNotIncluded;
    }
    if rule.groups.exclude.iter().any(in_group) {
        return RuleOutcome::GroupExcluded;
    }
    RuleOutcome::Matched
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DASHBOARD: &str = r#"{"name": "dashboard", "priority": 1, "clients": ["dashboard"], "grant_types": ["*"], "scopes": ["*"], "users": {"include": [], "exclude": []}, "groups": {"include": ["everyone"], "exclude": []}, "access_token_lifetime": "PT1H", "refresh_token_lifetime": "P1D"}"#;

    fn rule(value: serde_json::Value) -> AccessRule {
        serde_json::from_value(value).unwrap()
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_documented_shape_round_trips() {
        let r = AccessRule::from_json(DASHBOARD).unwrap();
        assert_eq!(r.access_token_lifetime.seconds(), 3600);
        assert_eq!(r.refresh_token_lifetime.seconds(), 86_400);
        let original: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
        assert_eq!(r.to_json(), original);
    }

    #[test]
    fn the_access_token_format_is_jwt_unless_a_rule_says_opaque() {
        let jwt = AccessRule::from_json(DASHBOARD).unwrap();
        assert_eq!(jwt.access_token_format, AccessTokenFormat::Jwt);
        let mut value: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
        value["access_token_format"] = json!("opaque");
        let opaque = rule(value.clone());
        assert_eq!(opaque.access_token_format, AccessTokenFormat::Opaque);
        assert_eq!(
            opaque.to_json(),
            value,
            "an opaque rule keeps its format when written back"
        );
        let grant = AccessPolicies::new(vec![opaque])
            .unwrap()
            .evaluate(&AccessRequest {
                client_id: "dashboard",
                grant_type: GrantType::AuthorizationCode,
                scopes: &ScopeSet::parse("openid").unwrap(),
                user: Some(AccessUser {
                    id: "u1",
                    login: "alice",
                    groups: &[],
                }),
            })
            .into_result()
            .unwrap();
        assert_eq!(grant.access_token_format, AccessTokenFormat::Opaque);
        value["access_token_format"] = json!("jwe");
        assert!(AccessRule::from_json(&value.to_string()).is_err());
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        let mut base: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
        let cases = [
            ("access_token_lifetime", json!("P1M")),
            ("access_token_lifetime", json!("PT0S")),
            ("refresh_token_lifetime", json!("one day")),
            ("grant_types", json!(["password"])),
            ("scopes", json!(["two scopes"])),
            ("clients", json!([])),
            ("priority", json!(-1)),
        ];
        for (field, value) in cases {
            let mut v = base.clone();
            v[field] = value.clone();
            assert!(
                AccessRule::from_json(&v.to_string()).is_err(),
                "{field} = {value}"
            );
        }
        base["extra"] = json!(1);
        assert!(AccessRule::from_json(&base.to_string()).is_err());
        let err =
            AccessRule::from_json(&DASHBOARD.replace("[\"*\"], \"scopes\"", "[\"implicit\"], \"scopes\""))
                .unwrap_err();
        assert!(err.to_string().contains("dashboard"), "{err}");
        assert!(
            AccessRule::from_json(&DASHBOARD.replace(r#", "users": {"include": [], "exclude": []}"#, ""))
                .is_ok()
        );
    }

    #[test]
    fn first_matching_rule_by_priority_decides_and_no_match_is_the_exact_denial() {
        let policies = AccessPolicies::new(vec![
            rule(json!({"name": "finance-employees", "priority": 2, "clients": ["finance"], "grant_types": ["authorization_code"],
                        "scopes": ["openid", "profile"], "groups": {"include": ["employees"], "exclude": ["contractors"]},
                        "access_token_lifetime": "PT5M", "refresh_token_lifetime": "PT1H"})),
            rule(json!({"name": "catch-dashboard", "priority": 1, "clients": ["dashboard", "finance"], "grant_types": ["*"],
                        "scopes": ["*"], "users": {"include": ["alice"]},
                        "access_token_lifetime": "PT1H", "refresh_token_lifetime": "P1D"})),
        ])
        .unwrap();
        let scopes = ScopeSet::parse("openid profile").unwrap();
        let employees = groups(&["employees"]);
        let alice = AccessUser {
            id: "u1",
            login: "Alice",
            groups: &employees,
        };
        let carol = AccessUser {
            id: "u3",
            login: "carol",
            groups: &employees,
        };
        let req = |client, grant, user| AccessRequest {
            client_id: client,
            grant_type: grant,
            scopes: &scopes,
            user: Some(user),
        };
        let AccessDecision::Allow { grant, trace } =
            policies.evaluate(&req("finance", GrantType::AuthorizationCode, alice))
        else {
            panic!("allow")
        };
        assert_eq!(grant.rule, "catch-dashboard", "priority 1 is tried first");
        assert_eq!(trace.len(), 1);
        let AccessDecision::Allow { grant, trace } =
            policies.evaluate(&req("finance", GrantType::AuthorizationCode, carol))
        else {
            panic!("allow")
        };
        assert_eq!(grant.rule, "finance-employees");
        assert!(!grant.refresh_allowed);
        assert_eq!(trace[0].outcome, RuleOutcome::UserNotIncluded);
        let denied = policies.evaluate(&req("finance", GrantType::RefreshToken, carol));
        assert_eq!(denied.trace()[1].outcome, RuleOutcome::GrantTypeNotAllowed);
        let err = denied.into_result().unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::AccessDenied);
        assert_eq!(err.description, "Policy evaluation failed for this request.");
        let wide = ScopeSet::parse("openid admin").unwrap();
        let d = policies.evaluate(&AccessRequest {
            scopes: &wide,
            ..req("finance", GrantType::AuthorizationCode, carol)
        });
        assert_eq!(d.trace()[1].outcome, RuleOutcome::ScopeNotAllowed("admin".into()));
        let contractor_groups = groups(&["employees", "contractors"]);
        let bob = AccessUser {
            id: "u2",
            login: "bob",
            groups: &contractor_groups,
        };
        assert_eq!(
            policies
                .evaluate(&req("finance", GrantType::AuthorizationCode, bob))
                .trace()[1]
                .outcome,
            RuleOutcome::GroupExcluded
        );
        assert!(matches!(
            policies.evaluate(&req("blocked-app", GrantType::AuthorizationCode, alice)),
            AccessDecision::Deny { .. }
        ));
    }

    #[test]
    fn client_credentials_match_only_unrestricted_rules_and_everyone_is_everyone() {
        let policies = AccessPolicies::new(vec![
            rule(json!({"name": "alice-only", "priority": 1, "clients": ["*"], "grant_types": ["*"], "scopes": ["*"],
                        "users": {"include": ["alice"]}, "access_token_lifetime": "PT1H", "refresh_token_lifetime": "P1D"})),
            rule(json!({"name": "reports", "priority": 2, "clients": ["reports-service"], "grant_types": ["client_credentials"],
                        "scopes": ["*"], "groups": {"include": ["everyone"]}, "access_token_lifetime": "PT10M", "refresh_token_lifetime": "P1D"})),
        ])
        .unwrap();
        let scopes = ScopeSet::parse("reports.read").unwrap();
        let d = policies.evaluate(&AccessRequest {
            client_id: "reports-service",
            grant_type: GrantType::ClientCredentials,
            scopes: &scopes,
            user: None,
        });
        assert_eq!(d.trace()[0].outcome, RuleOutcome::NeedsUser);
        let grant = d.into_result().unwrap();
        assert_eq!(grant.access_token_lifetime.seconds(), 600);
        // `everyone` matches a user whose group list does not spell it out.
        let none: Vec<String> = vec![];
        let dave = AccessUser {
            id: "u4",
            login: "dave",
            groups: &none,
        };
        let d = policies.evaluate(&AccessRequest {
            client_id: "reports-service",
            grant_type: GrantType::ClientCredentials,
            scopes: &scopes,
            user: Some(dave),
        });
        assert!(matches!(d, AccessDecision::Allow { .. }));
        assert!(policies.could_allow("reports-service", GrantType::ClientCredentials, &scopes));
        assert!(policies.could_allow("anything", GrantType::AuthorizationCode, &scopes));
        let only_reports = AccessPolicies::new(policies.rules()[1..].to_vec()).unwrap();
        assert!(!only_reports.could_allow("blocked-app", GrantType::AuthorizationCode, &scopes));
    }

    #[test]
    fn duplicate_names_and_durations() {
        let r = AccessRule::from_json(DASHBOARD).unwrap();
        assert!(AccessPolicies::new(vec![r.clone(), r]).is_err());
        assert!(AccessPolicies::from_json(&format!("[{DASHBOARD}]")).is_ok());
        assert_eq!(Lifetime::parse("PT4H").unwrap().seconds(), 14_400);
        assert_eq!(Lifetime::parse("P1DT30M").unwrap().seconds(), 88_200);
        assert_eq!(Lifetime::parse("P1W").unwrap().seconds(), 604_800);
        for bad in ["P1Y", "P2M", "-PT1H", "PT0S", "1h", ""] {
            assert!(Lifetime::parse(bad).is_err(), "{bad}");
        }
    }
}
