//! Import of an Okta app sign-in policy (`ACCESS_POLICY` with its rules) into a Gatehouse
//! [`PolicyDocument`]. What cannot be translated is reported in [`Import::notes`], never silently
//! dropped; a rule whose requirement cannot be expressed becomes `access: deny` (failing closed).
//!
//! Okta's `constraints` array is an OR of constraint objects, each an AND of a `knowledge` and a
//! `possession` constraint. Section 4.1 has one possession block, so Gatehouse extends it with
//! `assurance.any_of` (alternatives, each with `possession`, `knowledge` and an optional
//! `reauthenticate`); see `docs/policy-language.md`.

use serde_json::Value;

use crate::PolicyError;
use crate::authenticator::{AuthenticatorKey as K, Method as M, UserVerification};
use crate::duration::PolicyDuration;
use crate::model::{
    Access, Assurance, AuthenticationPolicy, AuthenticatorRef, Chain, ChainMethod, Conditions, ConstraintSet,
    DeviceCondition, IncludeExclude, KnowledgeConstraints, NetworkZone, Platform, PolicyDocument,
    PossessionConstraints, Reauthenticate, Require, RiskLevel, Rule,
};

/// The result of an import: the document and what could not be carried over.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub document: PolicyDocument,
    /// One sentence per thing not translated (or translated with a caveat).
    pub notes: Vec<String>,
}

/// Parses Okta policy JSON: a policy object with `rules` (or `_embedded.rules`), `{"policy": …,
/// "rules": […]}`, or a bare array of rules.
pub fn import_okta(json: &str) -> Result<Import, PolicyError> {
    let value: Value = serde_json::from_str(json).map_err(|e| PolicyError::Okta(format!("not JSON: {e}")))?;
    let (policy, rules) = match &value {
        Value::Array(rules) => (None, rules.clone()),
        Value::Object(obj) => {
            let policy = obj.get("policy").unwrap_or(&value);
            let rules = obj
                .get("rules")
                .or_else(|| policy.get("rules"))
                .or_else(|| policy.get("_embedded").and_then(|e| e.get("rules")))
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| {
                    PolicyError::Okta("no `rules` array found (nor `_embedded.rules`)".to_owned())
                })?;
            (Some(policy), rules)
        }
        _ => {
            return Err(PolicyError::Okta(
                "expected a policy object or an array of rules".to_owned(),
            ));
        }
    };
    let mut notes = Vec::new();
    if let Some(t) = policy.and_then(|p| p.get("type")).and_then(Value::as_str)
        && t != "ACCESS_POLICY"
    {
        return Err(PolicyError::Okta(format!(
            "policy type `{t}` is not supported; only `ACCESS_POLICY` (app sign-in policy) is"
        )));
    }
    let name = policy
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("imported-okta-policy")
        .to_owned();

    let mut sorted: Vec<&Value> = rules.iter().collect();
    sorted.sort_by_key(|r| {
        let system = r.get("system").and_then(Value::as_bool).unwrap_or(false);
        let priority = r.get("priority").and_then(Value::as_i64).unwrap_or(i64::MAX - 1);
        (system, priority)
    });

    let mut zones: Vec<String> = Vec::new();
    let mut out_rules: Vec<Rule> = Vec::new();
    for (i, rule) in sorted.iter().enumerate() {
        let rule_name = rule
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("rule-{}", i + 1), str::to_owned);
        if rule.get("status").and_then(Value::as_str) == Some("INACTIVE") {
            notes.push(format!(
                "rule `{rule_name}` is INACTIVE in Okta and was not imported"
            ));
            continue;
        }
        let mut unique = rule_name.clone();
        let mut n = 2;
        while out_rules.iter().any(|r| r.name == unique) {
            unique = format!("{rule_name} ({n})");
            n += 1;
        }
        let mut cx = RuleCx {
            rule: unique.clone(),
            notes: &mut notes,
            zones: &mut zones,
        };
        let when = rule
            .get("conditions")
            .map(|c| cx.conditions(c))
            .filter(|c| !c.is_empty());
        let (access, require) = cx.actions(rule.get("actions"));
        out_rules.push(Rule {
            name: unique,
            when,
            access,
            require,
        });
    }
    if out_rules.last().is_none_or(|r| !r.is_catch_all()) {
        notes.push(
            "the imported rules do not end with a rule without conditions; a `catch-all` rule that denies was added"
                .to_owned(),
        );
        out_rules.push(Rule {
            name: "catch-all".to_owned(),
            when: None,
            access: Access::Deny,
            require: None,
        });
    }
    for z in &zones {
        notes.push(format!(
            "zone `{z}` is referenced by its Okta id; it was added without CIDRs: fill them in (and rename it if you like)"
        ));
    }
    notes.push(format!(
        "Okta links apps to policies outside the policy: add the client ids of the apps that use `{name}` to `apps`"
    ));
    Ok(Import {
        document: PolicyDocument {
            version: 1,
            network_zones: zones
                .into_iter()
                .map(|name| NetworkZone {
                    name,
                    cidrs: Vec::new(),
                    blocked_cidrs: Vec::new(),
                    location: None,
                })
                .collect(),
            global_session_policy: None,
            enrollment_policy: None,
            authentication_policies: vec![AuthenticationPolicy {
                name,
                apps: Vec::new(),
                rules: out_rules,
            }],
        },
        notes,
    })
}

/// The document as YAML, headed by the notes as comments.
pub fn to_yaml(import: &Import) -> Result<String, PolicyError> {
    let body = yaml_serde::to_string(&import.document).map_err(|e| PolicyError::Okta(e.to_string()))?;
    let mut out =
        String::from("# Imported from an Okta ACCESS_POLICY by `gatehouse policy import --from okta`.\n");
    for n in &import.notes {
        out.push_str(&format!("# NOTE: {n}\n"));
    }
    out.push_str(&body);
    Ok(out)
}

struct RuleCx<'a> {
    rule: String,
    notes: &'a mut Vec<String>,
    zones: &'a mut Vec<String>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn required(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("REQUIRED"))
}

/// An Okta authenticator key as Gatehouse's.
fn key_of(okta: &str) -> Option<K> {
    Some(match okta {
        "okta_password" => K::Password,
        "okta_email" => K::Email,
        "phone_number" => K::Phone,
        "google_otp" => K::Totp,
        "okta_verify" => K::Device,
        "webauthn" => K::Webauthn,
        "smart_card_idp" => K::SmartCard,
        "external_idp" => K::Idp,
        _ => return None,
    })
}

/// An Okta method type, within an authenticator when one is known.
fn method_of(key: Option<K>, okta: &str) -> Vec<(K, Option<M>)> {
    let m = okta.to_ascii_uppercase();
    let all: Vec<(K, Option<M>)> = match m.as_str() {
        "PASSWORD" => vec![(K::Password, Some(M::Password))],
        "SMS" => vec![(K::Phone, Some(M::Sms))],
        "VOICE" => vec![(K::Phone, Some(M::Voice))],
        "EMAIL" => vec![(K::Email, None)],
        "PUSH" => vec![(K::Device, Some(M::Push))],
        "SIGNED_NONCE" => vec![(K::Device, Some(M::Fastpass))],
        "OTP" | "TOTP" => vec![(K::Totp, Some(M::Otp)), (K::Device, Some(M::Otp))],
        "WEBAUTHN" => vec![(K::Webauthn, Some(M::Webauthn))],
        "IDP" => vec![(K::Idp, Some(M::Federated))],
        "CERT" => vec![(K::SmartCard, Some(M::Piv))],
        _ => Vec::new(),
    };
    match key {
        Some(k) => all.into_iter().filter(|(a, _)| *a == k).collect(),
        None => all,
    }
}

/// An Okta authenticator type (`types[]`).
fn type_of(okta: &str) -> Vec<K> {
    match okta.to_ascii_uppercase().as_str() {
        "SECURITY_KEY" => vec![K::Webauthn],
        "PHONE" => vec![K::Phone],
        "EMAIL" => vec![K::Email],
        "PASSWORD" => vec![K::Password],
        "APP" => vec![K::Totp, K::Device],
        "FEDERATED" => vec![K::Idp],
        _ => Vec::new(),
    }
}

impl RuleCx<'_> {
    fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.notes.push(format!("rule `{}`: {text}", self.rule));
    }

    fn conditions(&mut self, c: &Value) -> Conditions {
        let mut out = Conditions::default();
        let Some(obj) = c.as_object() else { return out };
        for (key, value) in obj {
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "people" => {
                    let users = value.get("users");
                    let ie = IncludeExclude {
                        include: strings(users.and_then(|u| u.get("include"))),
                        exclude: strings(users.and_then(|u| u.get("exclude"))),
                    };
                    if !ie.is_empty() {
                        self.note("user conditions name Okta user ids; replace them with logins");
                        out.users = Some(ie);
                    }
                    let groups = value.get("groups");
                    let map = |g: String| if g == "EVERYONE" { "everyone".to_owned() } else { g };
                    let ie = IncludeExclude {
                        include: strings(groups.and_then(|u| u.get("include")))
                            .into_iter()
                            .map(map)
                            .collect(),
                        exclude: strings(groups.and_then(|u| u.get("exclude")))
                            .into_iter()
                            .map(map)
                            .collect(),
                    };
                    if !ie.is_empty() {
                        if ie.include.iter().chain(&ie.exclude).any(|g| g != "everyone") {
                            self.note("group conditions name Okta group ids; replace them with group names");
                        }
                        out.groups = Some(ie);
                    }
                }
                "network" => match value
                    .get("connection")
                    .and_then(Value::as_str)
                    .unwrap_or("ANYWHERE")
                {
                    "ANYWHERE" => {}
                    "ZONE" => {
                        let mut ie = IncludeExclude {
                            include: strings(value.get("include")),
                            exclude: strings(value.get("exclude")),
                        };
                        if ie.include.iter().any(|z| z == "ALL_ZONES") {
                            self.note("`ALL_ZONES` (in any defined zone) has no equivalent; the include list was dropped, so the rule matches anywhere not excluded");
                            ie.include.clear();
                        }
                        for z in ie.include.iter().chain(&ie.exclude) {
                            if !self.zones.contains(z) {
                                self.zones.push(z.clone());
                            }
                        }
                        if !ie.is_empty() {
                            out.network = Some(ie);
                        }
                    }
                    other => self.note(format!(
                        "network connection `{other}` is not supported and was dropped"
                    )),
                },
                "device" => {
                    let mut d = DeviceCondition {
                        registered: value.get("registered").and_then(Value::as_bool),
                        managed: value.get("managed").and_then(Value::as_bool),
                        ..DeviceCondition::default()
                    };
                    if value
                        .get("assurance")
                        .is_some_and(|a| !strings(a.get("include")).is_empty())
                    {
                        self.note("device assurance policies are not supported; that condition was dropped");
                    }
                    if d.managed == Some(true) && d.registered.is_none() {
                        d.registered = Some(true);
                    }
                    if !d.is_empty() {
                        out.device = Some(d);
                    }
                }
                "platform" => {
                    let mut platforms: Vec<Platform> = Vec::new();
                    for p in value
                        .get("include")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let kind = p.get("type").and_then(Value::as_str).unwrap_or("ANY");
                        let os = p
                            .get("os")
                            .and_then(|o| o.get("type"))
                            .and_then(Value::as_str)
                            .unwrap_or("ANY");
                        let list: Vec<Platform> = match (kind, os) {
                            (_, "IOS") => vec![Platform::Ios],
                            (_, "ANDROID") => vec![Platform::Android],
                            (_, "WINDOWS") => vec![Platform::Windows],
                            (_, "OSX" | "MACOS") => vec![Platform::Macos],
                            (_, "CHROMEOS") => vec![Platform::Chromeos],
                            (_, "OTHER") => vec![Platform::Other, Platform::Linux],
                            ("MOBILE", _) => vec![Platform::Ios, Platform::Android],
                            ("DESKTOP", _) => vec![
                                Platform::Macos,
                                Platform::Windows,
                                Platform::Linux,
                                Platform::Chromeos,
                            ],
                            _ => Vec::new(),
                        };
                        if list.is_empty() {
                            platforms.clear();
                            break;
                        }
                        for p in list {
                            if !platforms.contains(&p) {
                                platforms.push(p);
                            }
                        }
                    }
                    if value
                        .get("exclude")
                        .and_then(Value::as_array)
                        .is_some_and(|a| !a.is_empty())
                    {
                        self.note("platform exclusions are not supported and were dropped");
                    }
                    if !platforms.is_empty() {
                        self.note(
                            "platforms are known only when the device proved itself (a registered device)",
                        );
                        out.device.get_or_insert_with(DeviceCondition::default).platform = Some(platforms);
                    }
                }
                "riskScore" | "risk" => {
                    let level = value.get("level").and_then(Value::as_str).unwrap_or("ANY");
                    let risk = match level {
                        "LOW" => Some(RiskLevel::Low),
                        "MEDIUM" => Some(RiskLevel::Medium),
                        "HIGH" => Some(RiskLevel::High),
                        _ => None,
                    };
                    if let Some(r) = risk {
                        out.risk = Some(vec![r]);
                    }
                }
                "userType" => {
                    if !strings(value.get("include")).is_empty() || !strings(value.get("exclude")).is_empty()
                    {
                        self.note("user types are not supported; that condition was dropped, so the rule matches more users");
                    }
                }
                "elCondition" => {
                    let expr = value.get("condition").and_then(Value::as_str).unwrap_or_default();
                    self.note(format!(
                        "the expression condition `{expr}` cannot be translated and was dropped, so the rule matches more sign-ins; review it"
                    ));
                }
                other => self.note(format!("condition `{other}` is not supported and was dropped")),
            }
        }
        out
    }

    fn actions(&mut self, actions: Option<&Value>) -> (Access, Option<Require>) {
        let sign_on = actions.and_then(|a| a.get("appSignOn"));
        let access = match sign_on.and_then(|s| s.get("access")).and_then(Value::as_str) {
            Some("DENY") => return (Access::Deny, None),
            Some("ALLOW") => Access::Allow,
            other => {
                self.note(format!(
                    "access `{}` is not ALLOW or DENY; the rule denies",
                    other.unwrap_or("missing")
                ));
                return (Access::Deny, None);
            }
        };
        if sign_on.and_then(|s| s.get("keepMeSignedIn")).is_some() {
            self.note("`keepMeSignedIn` belongs to the global session policy in Gatehouse and was dropped");
        }
        let Some(vm) = sign_on.and_then(|s| s.get("verificationMethod")) else {
            self.note("no verificationMethod: one factor of any kind is required");
            return (
                access,
                Some(Require {
                    assurance: Some(Assurance::default()),
                    ..Require::default()
                }),
            );
        };
        if vm.get("inactivityPeriod").is_some() {
            self.note("`inactivityPeriod` is not supported (the global session policy's `max_idle` is the closest) and was dropped");
        }
        let reauth = self.reauthenticate(vm.get("reauthenticateIn"));
        match vm.get("type").and_then(Value::as_str).unwrap_or("ASSURANCE") {
            "ASSURANCE" => match self.assurance(vm) {
                Some(assurance) => (
                    access,
                    Some(Require {
                        assurance: Some(assurance),
                        chains: None,
                        reauthenticate: reauth,
                    }),
                ),
                None => (Access::Deny, None),
            },
            "AUTH_METHOD_CHAIN" => {
                let chains = self.chains(vm.get("chains"));
                if chains.is_empty() {
                    self.note("no chain could be translated; the rule denies");
                    return (Access::Deny, None);
                }
                (
                    access,
                    Some(Require {
                        assurance: None,
                        chains: Some(chains),
                        reauthenticate: reauth,
                    }),
                )
            }
            other => {
                self.note(format!(
                    "verification method `{other}` is not supported; the rule denies"
                ));
                (Access::Deny, None)
            }
        }
    }

    fn reauthenticate(&mut self, v: Option<&Value>) -> Option<Reauthenticate> {
        let text = v?.as_str()?;
        if text == "PT0S" {
            return Some(Reauthenticate::EverySignIn);
        }
        match PolicyDuration::parse(text) {
            // Okta's console writes "once per session" as PT43800H (five years).
            Ok(d) if d.as_duration().as_secs() >= 43_800 * 3_600 => Some(Reauthenticate::NoSession),
            Ok(d) => Some(Reauthenticate::Within(d)),
            Err(e) => {
                self.note(format!("reauthenticateIn `{text}`: {e}; `no_session` was used"));
                Some(Reauthenticate::NoSession)
            }
        }
    }

    fn assurance(&mut self, vm: &Value) -> Option<Assurance> {
        let factors = match vm.get("factorMode").and_then(Value::as_str).unwrap_or("1FA") {
            "2FA" => 2,
            "1FA" => 1,
            other => {
                self.note(format!("factorMode `{other}` is not supported; the rule denies"));
                return None;
            }
        };
        let mut sets = Vec::new();
        for c in vm
            .get("constraints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let possession = c.get("possession").map(|p| self.possession(p));
            let knowledge = c.get("knowledge").map(|k| self.knowledge(k));
            let reauthenticate = [c.get("possession"), c.get("knowledge")]
                .into_iter()
                .flatten()
                .find_map(|x| x.get("reauthenticateIn"))
                .and_then(|r| self.reauthenticate(Some(r)));
            sets.push(ConstraintSet {
                possession,
                knowledge,
                reauthenticate,
            });
        }
        let mut a = Assurance {
            factors,
            ..Assurance::default()
        };
        match sets.len() {
            0 => {}
            1 if sets.first().is_some_and(|s| s.reauthenticate.is_none()) => {
                if let Some(s) = sets.pop() {
                    a.possession = s.possession;
                    a.knowledge = s.knowledge;
                }
            }
            _ => a.any_of = Some(sets),
        }
        Some(a)
    }

    fn refs(&mut self, c: &Value, list: &str, field: &str) -> Vec<AuthenticatorRef> {
        let mut out: Vec<AuthenticatorRef> = Vec::new();
        for m in c.get(list).and_then(Value::as_array).into_iter().flatten() {
            let okta_key = m.get("key").and_then(Value::as_str).unwrap_or_default();
            let Some(key) = key_of(okta_key) else {
                self.note(format!(
                    "authenticator `{okta_key}` in `{field}` has no Gatehouse equivalent and was dropped"
                ));
                continue;
            };
            let method = m
                .get("method")
                .and_then(Value::as_str)
                .and_then(|t| method_of(Some(key), t).first().and_then(|(_, m)| *m));
            let r = AuthenticatorRef {
                authenticator: key,
                method,
            };
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// `types` and `methods` narrow each other: `types [PHONE]` + `methods [SMS]` is phone SMS.
    fn typed_refs(&mut self, c: &Value, field: &str) -> Vec<AuthenticatorRef> {
        let types: Vec<K> = strings(c.get("types")).iter().flat_map(|t| {
            let keys = type_of(t);
            if keys.is_empty() {
                self.notes.push(format!("rule `{}`: authenticator type `{t}` in `{field}` has no Gatehouse equivalent and was dropped", self.rule));
            }
            keys
        }).collect();
        let methods: Vec<(K, Option<M>)> = strings(c.get("methods"))
            .iter()
            .flat_map(|m| {
                let list = method_of(None, m);
                if list.is_empty() {
                    self.notes.push(format!(
                        "rule `{}`: method `{m}` in `{field}` has no Gatehouse equivalent and was dropped",
                        self.rule
                    ));
                }
                list
            })
            .collect();
        let pairs: Vec<AuthenticatorRef> = if methods.is_empty() {
            types
                .iter()
                .map(|&k| AuthenticatorRef {
                    authenticator: k,
                    method: None,
                })
                .collect()
        } else {
            methods
                .into_iter()
                .filter(|(k, _)| types.is_empty() || types.contains(k))
                .map(|(k, m)| AuthenticatorRef {
                    authenticator: k,
                    method: m,
                })
                .collect()
        };
        let mut out = pairs;
        out.extend(self.refs(c, "authenticationMethods", field));
        out.dedup();
        out
    }

    fn possession(&mut self, p: &Value) -> PossessionConstraints {
        let uv = if required(p.get("userVerification")) {
            if strings(p.get("userVerificationMethods"))
                .iter()
                .any(|m| m == "BIOMETRICS")
            {
                UserVerification::Biometric
            } else {
                UserVerification::Any
            }
        } else {
            UserVerification::None
        };
        let mut allow = self.typed_refs(p, "possession");
        let before = allow.len();
        allow.retain(|r| r.authenticator.own_factor() != Some(crate::authenticator::Factor::Knowledge));
        if allow.len() != before {
            self.note("a knowledge authenticator listed under possession was dropped");
        }
        PossessionConstraints {
            phishing_resistant: required(p.get("phishingResistant")),
            hardware_protected: required(p.get("hardwareProtection")),
            device_bound: required(p.get("deviceBound")),
            // Okta's default for userPresence is REQUIRED.
            user_presence: p
                .get("userPresence")
                .and_then(Value::as_str)
                .is_none_or(|s| !s.eq_ignore_ascii_case("OPTIONAL")),
            user_verification: uv,
            // Okta sets number challenges on the Okta Verify authenticator, not in the policy.
            number_matching: false,
            authenticators: allow,
            exclude: self.refs(p, "excludedAuthenticationMethods", "possession"),
        }
    }

    fn knowledge(&mut self, k: &Value) -> KnowledgeConstraints {
        let mut allow = self.typed_refs(k, "knowledge");
        allow.retain(|r| matches!(r.authenticator, K::Password | K::Idp));
        KnowledgeConstraints {
            authenticators: allow,
            exclude: self.refs(k, "excludedAuthenticationMethods", "knowledge"),
        }
    }

    fn chains(&mut self, v: Option<&Value>) -> Vec<Chain> {
        let mut out = Vec::new();
        for (ci, chain) in v.and_then(Value::as_array).into_iter().flatten().enumerate() {
            let reauthenticate = self.reauthenticate(chain.get("reauthenticateIn"));
            let mut steps = Vec::new();
            let mut node = Some(chain);
            let mut ok = true;
            while let Some(n) = node {
                let mut step = Vec::new();
                for m in n
                    .get("authenticationMethods")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let okta_key = m.get("key").and_then(Value::as_str).unwrap_or_default();
                    let Some(key) = key_of(okta_key) else {
                        self.note(format!("chain {}: authenticator `{okta_key}` has no Gatehouse equivalent and was dropped", ci + 1));
                        continue;
                    };
                    let method = m
                        .get("method")
                        .and_then(Value::as_str)
                        .and_then(|t| method_of(Some(key), t).first().and_then(|(_, m)| *m));
                    let mut entry = ChainMethod::new(key, method);
                    entry.phishing_resistant = required(m.get("phishingResistant"));
                    entry.hardware_protected = required(m.get("hardwareProtection"));
                    if required(m.get("userVerification")) {
                        entry.user_verification = if strings(m.get("userVerificationMethods"))
                            .iter()
                            .any(|x| x == "BIOMETRICS")
                        {
                            UserVerification::Biometric
                        } else {
                            UserVerification::Any
                        };
                    }
                    step.push(entry);
                }
                if step.is_empty() {
                    ok = false;
                    break;
                }
                steps.push(step);
                let next = n.get("next").and_then(Value::as_array);
                if next.is_some_and(|a| a.len() > 1) {
                    self.note(format!(
                        "chain {}: only the first `next` entry is followed (Okta allows one)",
                        ci + 1
                    ));
                }
                node = next.and_then(|a| a.first());
            }
            if ok && !steps.is_empty() {
                out.push(Chain {
                    steps,
                    reauthenticate,
                });
            } else {
                self.note(format!(
                    "chain {} has a step with nothing translatable and was dropped",
                    ci + 1
                ));
            }
        }
        out
    }
}
