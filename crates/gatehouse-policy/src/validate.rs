//! `policy check`'s rules: every error and warning a document or one of its pieces can have, as
//! [`Diagnostic`]s with paths. Pieces are checked against their surroundings ([`Scope`]: the zone
//! names and the enrollment policy), so the admin API can check one `AuthenticationPolicy` or
//! `Rule` it receives as JSON; paths are then relative to that piece (`rules[1].require`).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::authenticator::{AuthenticatorKey, Factor, Method, MethodConstraints, list};
use crate::diagnostic::{Diagnostic, DiagnosticCode as Code, join_path};
use crate::model::{
    Access, Assurance, AuthenticationPolicy, AuthenticatorRef, Chain, Conditions, ConstraintSet,
    DeviceCondition, EnrollmentPolicy, GlobalSessionPolicy, IncludeExclude, KnowledgeConstraints,
    NetworkZone, PolicyDocument, PossessionConstraints, Require, Rule,
};

/// What a piece is checked against: the zones that exist and the enrollment policy in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub zones: BTreeSet<String>,
    pub enrollment: EnrollmentPolicy,
}

impl Scope {
    pub fn new<S: Into<String>>(
        zones: impl IntoIterator<Item = S>,
        enrollment: Option<&EnrollmentPolicy>,
    ) -> Self {
        Self {
            zones: zones.into_iter().map(Into::into).collect(),
            enrollment: enrollment.cloned().unwrap_or_default(),
        }
    }

    /// The scope a document gives its authentication policies.
    pub fn of_document(doc: &PolicyDocument) -> Self {
        Self::new(
            doc.network_zones.iter().map(|z| z.name.clone()),
            doc.enrollment_policy.as_ref(),
        )
    }
}

/// Every diagnostic of a whole document.
pub fn validate_document(doc: &PolicyDocument) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if doc.version != 1 {
        out.push(Diagnostic::error(
            Code::UnsupportedVersion,
            "version",
            format!("version `{}` is not supported; expected 1", doc.version),
        ));
    }
    let mut zone_names = HashSet::new();
    for (i, zone) in doc.network_zones.iter().enumerate() {
        let path = format!("network_zones[{i}]");
        if !zone_names.insert(zone.name.as_str()) {
            out.push(Diagnostic::error(
                Code::DuplicateName,
                join_path(&path, "name"),
                format!("zone `{}` is defined twice", zone.name),
            ));
        }
        out.extend(validate_network_zone(zone).into_iter().map(|d| d.under(&path)));
    }
    let scope = Scope::of_document(doc);
    if let Some(gsp) = &doc.global_session_policy {
        out.extend(
            validate_global_session_policy(gsp, &scope)
                .into_iter()
                .map(|d| d.under("global_session_policy")),
        );
    }
    if let Some(ep) = &doc.enrollment_policy {
        out.extend(
            validate_enrollment_policy(ep)
                .into_iter()
                .map(|d| d.under("enrollment_policy")),
        );
    }
    let mut policy_names = HashSet::new();
    let mut apps: HashMap<&str, &str> = HashMap::new();
    for (i, policy) in doc.authentication_policies.iter().enumerate() {
        let path = format!("authentication_policies[{i}]");
        if !policy_names.insert(policy.name.as_str()) {
            out.push(Diagnostic::error(
                Code::DuplicateName,
                join_path(&path, "name"),
                format!("authentication policy `{}` is defined twice", policy.name),
            ));
        }
        for (k, app) in policy.apps.iter().enumerate() {
            if let Some(other) = apps.insert(app.as_str(), policy.name.as_str()) {
                out.push(Diagnostic::error(
                    Code::DuplicateApp,
                    join_path(&path, &format!("apps[{k}]")),
                    format!(
                        "app `{app}` already uses policy `{other}`; an app has one authentication policy"
                    ),
                ));
            }
        }
        out.extend(
            validate_authentication_policy(policy, &scope)
                .into_iter()
                .map(|d| d.under(&path)),
        );
    }
    out
}

/// A zone on its own.
pub fn validate_network_zone(zone: &NetworkZone) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if zone.name.trim().is_empty() {
        out.push(Diagnostic::error(Code::EmptyList, "name", "a zone needs a name"));
    }
    if zone.cidrs.is_empty() {
        out.push(Diagnostic::warning(
            Code::EmptyZone,
            "cidrs",
            format!("zone `{}` has no CIDRs, so no address is in it", zone.name),
        ));
    }
    for (i, blocked) in zone.blocked_cidrs.iter().enumerate() {
        if zone
            .cidrs
            .iter()
            .all(|c| !c.covers(blocked) && !blocked.covers(c))
        {
            out.push(Diagnostic::warning(
                Code::EmptyZone,
                format!("blocked_cidrs[{i}]"),
                format!("blocked CIDR `{blocked}` does not overlap the zone's CIDRs, so it removes nothing"),
            ));
        }
    }
    out
}

/// The enrollment policy on its own.
pub fn validate_enrollment_policy(policy: &EnrollmentPolicy) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(allowed) = &policy.allowed {
        let mut seen = HashSet::new();
        for (i, key) in allowed.iter().enumerate() {
            if !seen.insert(*key) {
                out.push(Diagnostic::warning(
                    Code::DuplicateName,
                    format!("allowed[{i}]"),
                    format!("`{key}` is listed twice"),
                ));
            }
        }
    }
    out
}

/// The global session policy against its scope.
pub fn validate_global_session_policy(policy: &GlobalSessionPolicy, scope: &Scope) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, rule) in policy.rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        if !names.insert(rule.name.as_str()) {
            out.push(Diagnostic::error(
                Code::DuplicateName,
                join_path(&path, "name"),
                format!("rule `{}` is defined twice in this policy", rule.name),
            ));
        }
        if let Some(when) = &rule.when {
            out.extend(
                validate_conditions(when, scope)
                    .into_iter()
                    .map(|d| d.under(&join_path(&path, "when"))),
            );
        }
        if rule.max_idle > rule.max_lifetime {
            out.push(Diagnostic::warning(
                Code::NeverMatches,
                join_path(&path, "max_idle"),
                format!(
                    "max_idle {} is longer than max_lifetime {}, so the session always ends by its lifetime first",
                    rule.max_idle, rule.max_lifetime
                ),
            ));
        }
    }
    match policy.rules.last() {
        None => out.push(Diagnostic::error(
            Code::NoCatchAll,
            "rules",
            "the global session policy has no rules; it must end with a rule without `when`",
        )),
        Some(last) if last.when.as_ref().is_some_and(|w| !w.is_empty()) => out.push(Diagnostic::error(
            Code::NoCatchAll,
            format!("rules[{}]", policy.rules.len() - 1),
            format!(
                "the last rule `{}` has conditions; the policy must end with a catch-all rule without `when`",
                last.name
            ),
        )),
        Some(_) => {}
    }
    out
}

/// An authentication policy against its scope. Paths are relative to the policy.
pub fn validate_authentication_policy(policy: &AuthenticationPolicy, scope: &Scope) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if policy.name.trim().is_empty() {
        out.push(Diagnostic::error(
            Code::EmptyList,
            "name",
            "a policy needs a name",
        ));
    }
    if policy.apps.is_empty() {
        out.push(Diagnostic::warning(
            Code::NoApps,
            "apps",
            format!("no app uses policy `{}`", policy.name),
        ));
    }
    let mut names = HashSet::new();
    for (i, rule) in policy.rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        if !names.insert(rule.name.as_str()) {
            out.push(Diagnostic::error(
                Code::DuplicateName,
                join_path(&path, "name"),
                format!(
                    "rule `{}` is defined twice in policy `{}`",
                    rule.name, policy.name
                ),
            ));
        }
        out.extend(validate_rule(rule, scope).into_iter().map(|d| d.under(&path)));
    }
    match policy.rules.last() {
        None => out.push(Diagnostic::error(
            Code::NoCatchAll,
            "rules",
            format!(
                "policy `{}` has no rules; it must end with a catch-all rule without `when`",
                policy.name
            ),
        )),
        Some(last) if !last.is_catch_all() => out.push(Diagnostic::error(
            Code::NoCatchAll,
            format!("rules[{}]", policy.rules.len() - 1),
            format!(
                "policy `{}` has no final catch-all rule: the last rule `{}` has conditions, so some sign-ins would match no rule; end the policy with a rule without `when`",
                policy.name, last.name
            ),
        )),
        Some(_) => {}
    }
    out.extend(shadowing(&policy.rules));
    out
}

/// One rule against its scope. Paths are relative to the rule.
pub fn validate_rule(rule: &Rule, scope: &Scope) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if rule.name.trim().is_empty() {
        out.push(Diagnostic::error(Code::EmptyList, "name", "a rule needs a name"));
    }
    if let Some(when) = &rule.when {
        out.extend(
            validate_conditions(when, scope)
                .into_iter()
                .map(|d| d.under("when")),
        );
    }
    match (rule.access, &rule.require) {
        (Access::Deny, Some(_)) => out.push(Diagnostic::warning(
            Code::IgnoredRequirement,
            "require",
            format!("rule `{}` denies access, so its `require` is never used", rule.name),
        )),
        (Access::Allow, None) => out.push(Diagnostic::error(
            Code::MissingRequirement,
            "access",
            format!(
                "rule `{}` allows access but says nothing about how; add `require` with `assurance` or `chains`",
                rule.name
            ),
        )),
        (Access::Allow, Some(require)) => {
            out.extend(validate_require(require, scope).into_iter().map(|d| d.under("require")));
        }
        (Access::Deny, None) => {}
    }
    out
}

fn validate_conditions(when: &Conditions, scope: &Scope) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(network) = &when.network {
        for (side, names) in [("include", &network.include), ("exclude", &network.exclude)] {
            for (i, zone) in names.iter().enumerate() {
                if !scope.zones.contains(zone) {
                    let known: Vec<&str> = scope.zones.iter().map(String::as_str).collect();
                    out.push(Diagnostic::error(
                        Code::UnknownZone,
                        format!("network.{side}[{i}]"),
                        if known.is_empty() {
                            format!("zone `{zone}` is not defined; no zones are defined")
                        } else {
                            format!("zone `{zone}` is not defined; the zones are {}", list(known))
                        },
                    ));
                }
            }
        }
    }
    for (kind, ie) in [
        ("users", &when.users),
        ("groups", &when.groups),
        ("network", &when.network),
    ] {
        if let Some(ie) = ie
            && let Some(both) = ie
                .include
                .iter()
                .find(|n| !ie.include.is_empty() && ie.exclude.contains(n))
        {
            out.push(Diagnostic::warning(
                Code::NeverMatches,
                kind,
                format!("`{both}` is both included and excluded"),
            ));
        }
    }
    if let Some(DeviceCondition {
        registered: Some(false),
        managed: Some(true),
        ..
    }) = &when.device
    {
        out.push(Diagnostic::warning(
            Code::NeverMatches,
            "device",
            "a device that is not registered is never known to be managed, so this condition never holds",
        ));
    }
    if when.risk.as_ref().is_some_and(Vec::is_empty) {
        out.push(Diagnostic::warning(
            Code::NeverMatches,
            "risk",
            "an empty risk list matches no sign-in",
        ));
    }
    out
}

fn validate_require(require: &Require, scope: &Scope) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match (&require.assurance, &require.chains) {
        (Some(_), Some(_)) => out.push(Diagnostic::error(
            Code::AssuranceAndChains,
            "",
            "a rule has either `assurance` or `chains`, never both",
        )),
        (None, None) => out.push(Diagnostic::error(
            Code::MissingRequirement,
            "",
            "`require` needs `assurance` or `chains`",
        )),
        _ => {}
    }
    if let Some(assurance) = &require.assurance {
        out.extend(
            validate_assurance(assurance, scope)
                .into_iter()
                .map(|d| d.under("assurance")),
        );
    }
    if let Some(chains) = &require.chains {
        out.extend(
            validate_chains(chains, scope)
                .into_iter()
                .map(|d| d.under("chains")),
        );
    }
    out
}

fn validate_assurance(a: &Assurance, scope: &Scope) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !(1..=2).contains(&a.factors) {
        out.push(Diagnostic::error(
            Code::FactorsOutOfRange,
            "factors",
            format!(
                "`factors` is {}; it must be 1 or 2 (distinct factor types: knowledge, possession, inherence)",
                a.factors
            ),
        ));
    }
    let sets: Vec<(String, ConstraintSet)> = match &a.any_of {
        Some(any_of) => {
            if a.possession.is_some() || a.knowledge.is_some() {
                out.push(Diagnostic::error(
                    Code::ConflictingConstraints,
                    "any_of",
                    "`any_of` replaces `possession` and `knowledge`; put them inside its alternatives",
                ));
            }
            if any_of.is_empty() {
                out.push(Diagnostic::error(
                    Code::EmptyList,
                    "any_of",
                    "`any_of` needs at least one alternative",
                ));
            }
            any_of
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("any_of[{i}]"), s.clone()))
                .collect()
        }
        None => vec![(
            String::new(),
            ConstraintSet {
                possession: a.possession.clone(),
                knowledge: a.knowledge.clone(),
                reauthenticate: None,
            },
        )],
    };
    for (path, set) in &sets {
        if let Some(p) = &set.possession {
            out.extend(
                validate_possession(p, &a.exclude, scope)
                    .into_iter()
                    .map(|d| d.under(&join_path(path, "possession"))),
            );
        }
        if let Some(k) = &set.knowledge {
            out.extend(
                validate_knowledge(k, &a.exclude)
                    .into_iter()
                    .map(|d| d.under(&join_path(path, "knowledge"))),
            );
        }
    }
    if sets
        .iter()
        .all(|(_, s)| s.possession.is_none() && s.knowledge.is_none())
        && AuthenticatorKey::ALL.iter().all(|k| a.exclude.contains(k))
    {
        out.push(Diagnostic::error(
            Code::UnprovableConstraint,
            "exclude",
            "every authenticator is excluded, so nothing can count",
        ));
    }
    out
}

fn validate_refs(refs: &[AuthenticatorRef], field: &str, factor: Factor) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let path = format!("{field}[{i}]");
        if let Some(m) = r.method
            && let Err(e) = r.authenticator.check_method(m)
        {
            out.push(Diagnostic::error(Code::MethodMismatch, &path, e.to_string()));
        }
        let own = r.authenticator.own_factor();
        if own.is_some_and(|f| f != factor) {
            out.push(Diagnostic::error(
                Code::WrongFactorType,
                &path,
                format!("`{}` is not a {} factor", r.authenticator, factor.as_str()),
            ));
        }
    }
    out
}

fn validate_possession(
    p: &PossessionConstraints,
    exclude: &[AuthenticatorKey],
    scope: &Scope,
) -> Vec<Diagnostic> {
    let mut out = validate_refs(&p.authenticators, "authenticators", Factor::Possession);
    out.extend(validate_refs(&p.exclude, "exclude", Factor::Possession));
    let constraints = p.constraints();
    let provers = possession_provers(p, exclude, &constraints);
    if provers.is_empty() {
        out.push(Diagnostic::error(
            Code::UnprovableConstraint,
            "",
            format!(
                "no listed authenticator can prove {}{}",
                constraints.describe(),
                unprovable_hint(&constraints)
            ),
        ));
    } else if provers.iter().all(|(k, _)| !scope.enrollment.allows(*k)) {
        out.push(Diagnostic::warning(
            Code::UnsatisfiableOption,
            "",
            format!(
                "only {} can prove {}, and the enrollment policy allows enrolling none of them",
                list(dedup_keys(&provers).iter().map(|k| k.as_str())),
                constraints.describe()
            ),
        ));
    }
    out
}

fn dedup_keys(pairs: &[(AuthenticatorKey, Method)]) -> Vec<AuthenticatorKey> {
    let mut keys: Vec<AuthenticatorKey> = pairs.iter().map(|(k, _)| *k).collect();
    keys.dedup();
    keys
}

/// The (authenticator, method) pairs that may be the possession factor under `p` and can prove
/// its constraints.
pub(crate) fn possession_provers(
    p: &PossessionConstraints,
    exclude: &[AuthenticatorKey],
    constraints: &MethodConstraints,
) -> Vec<(AuthenticatorKey, Method)> {
    let mut out = Vec::new();
    for key in AuthenticatorKey::ALL {
        if key.own_factor() == Some(Factor::Knowledge) || exclude.contains(&key) {
            continue;
        }
        for &method in key.methods() {
            let allowed =
                p.authenticators.is_empty() || p.authenticators.iter().any(|r| r.matches(key, method));
            let excluded = p.exclude.iter().any(|r| r.matches(key, method));
            if allowed && !excluded && constraints.provable_by(key, method) {
                out.push((key, method));
            }
        }
    }
    out
}

/// Why nothing proves `c`: nothing at all can, or only excluded or unlisted authenticators.
fn unprovable_hint(c: &MethodConstraints) -> String {
    let all = possession_provers(&PossessionConstraints::default(), &[], c);
    if all.is_empty() {
        " (no authenticator can prove all of these at once)".to_owned()
    } else {
        let keys = dedup_keys(&all);
        format!(
            " (only {} can, and they are excluded or not listed)",
            list(keys.iter().map(|k| k.as_str()))
        )
    }
}

fn validate_knowledge(k: &KnowledgeConstraints, exclude: &[AuthenticatorKey]) -> Vec<Diagnostic> {
    let mut out = validate_refs(&k.authenticators, "authenticators", Factor::Knowledge);
    out.extend(validate_refs(&k.exclude, "exclude", Factor::Knowledge));
    let any_left = [AuthenticatorKey::Password, AuthenticatorKey::Idp]
        .into_iter()
        .any(|key| {
            !exclude.contains(&key)
                && key.methods().iter().any(|&m| {
                    (k.authenticators.is_empty() || k.authenticators.iter().any(|r| r.matches(key, m)))
                        && !k.exclude.iter().any(|r| r.matches(key, m))
                })
        });
    if !any_left {
        out.push(Diagnostic::error(
            Code::UnprovableConstraint,
            "",
            "no listed authenticator can be the knowledge factor",
        ));
    }
    out
}

fn validate_chains(chains: &[Chain], scope: &Scope) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if chains.is_empty() {
        out.push(Diagnostic::error(
            Code::EmptyList,
            "",
            "`chains` needs at least one chain",
        ));
    }
    for (c, chain) in chains.iter().enumerate() {
        let cpath = format!("[{c}]");
        if chains
            .get(..c)
            .is_some_and(|before| before.iter().any(|b| b.steps == chain.steps))
        {
            out.push(Diagnostic::warning(
                Code::UnsatisfiableOption,
                cpath.clone(),
                "this chain has the same steps as an earlier one, so it adds nothing",
            ));
        }
        if chain.steps.is_empty() {
            out.push(Diagnostic::error(
                Code::EmptyList,
                join_path(&cpath, "steps"),
                "a chain needs at least one step",
            ));
        }
        for (s, step) in chain.steps.iter().enumerate() {
            let spath = join_path(&cpath, &format!("steps[{s}]"));
            if step.is_empty() {
                out.push(Diagnostic::error(
                    Code::EmptyList,
                    &spath,
                    "a step needs at least one method",
                ));
            }
            for (e, entry) in step.iter().enumerate() {
                let epath = format!("{spath}[{e}]");
                if let Some(m) = entry.method
                    && let Err(err) = entry.authenticator.check_method(m)
                {
                    out.push(Diagnostic::error(
                        Code::MethodMismatch,
                        join_path(&epath, "method"),
                        err.to_string(),
                    ));
                    continue;
                }
                if entry.number_matching
                    && (entry.authenticator != AuthenticatorKey::Device
                        || entry.method.is_some_and(|m| m != Method::Push))
                {
                    out.push(Diagnostic::error(
                        Code::MethodMismatch,
                        join_path(&epath, "number_matching"),
                        "`number_matching` applies only to `device` `push`",
                    ));
                }
                let constraints = entry.constraints();
                let methods: Vec<Method> = match entry.method {
                    Some(m) => vec![m],
                    None => entry.authenticator.methods().to_vec(),
                };
                let failing = constraints_nobody_meets(&constraints, entry.authenticator, &methods);
                if !failing.is_empty() {
                    let who = match entry.method {
                        Some(m) => format!("`{}` `{}`", entry.authenticator, m),
                        None => format!("`{}`", entry.authenticator),
                    };
                    out.push(Diagnostic::error(
                        Code::UnprovableConstraint,
                        &epath,
                        format!(
                            "{who} cannot prove {}: {}",
                            constraints.describe(),
                            failing.join(", ")
                        ),
                    ));
                } else if !scope.enrollment.allows(entry.authenticator) {
                    out.push(Diagnostic::warning(
                        Code::UnsatisfiableOption,
                        &epath,
                        format!(
                            "the enrollment policy does not allow enrolling `{}`, so this option can only be satisfied by users who already have it",
                            entry.authenticator
                        ),
                    ));
                }
                if step
                    .get(..e)
                    .is_some_and(|before| before.iter().any(|b| b == entry))
                {
                    out.push(Diagnostic::warning(
                        Code::UnsatisfiableOption,
                        &epath,
                        "this option repeats an earlier one in the same step",
                    ));
                }
            }
        }
    }
    out
}

/// The constraint keys (as `key value` text) that no method in `methods` can prove; empty when
/// one method proves them all.
fn constraints_nobody_meets(c: &MethodConstraints, key: AuthenticatorKey, methods: &[Method]) -> Vec<String> {
    if methods.iter().any(|&m| c.provable_by(key, m)) {
        return Vec::new();
    }
    let best = crate::authenticator::VerificationFacts {
        hardware_protected: true,
        user_verification: crate::authenticator::UserVerification::Biometric,
        user_confirmed: true,
        idp_factor: None,
    };
    let mut failing: Vec<String> = Vec::new();
    for &m in methods {
        if let Some(p) = crate::authenticator::prove(key, m, &best) {
            for f in c.failures(&p.characteristics) {
                let text = match f {
                    crate::authenticator::Constraint::UserVerification => {
                        format!("user_verification `{}`", c.user_verification)
                    }
                    other => format!("{other}"),
                };
                if !failing.contains(&text) {
                    failing.push(text);
                }
            }
        }
    }
    failing
}

/// Warnings for rules an earlier rule shadows.
fn shadowing(rules: &[Rule]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (j, later) in rules.iter().enumerate() {
        let Some(earlier) = rules
            .get(..j)
            .and_then(|before| before.iter().find(|r| covers(r, later)))
        else {
            continue;
        };
        out.push(Diagnostic::warning(
            Code::ShadowedRule,
            format!("rules[{j}]"),
            format!(
                "rule `{}` can never match: rule `{}` before it matches every sign-in it would",
                later.name, earlier.name
            ),
        ));
    }
    out
}

/// Whether rule `a` matches every request rule `b` matches (sound, not complete: when unsure,
/// no).
fn covers(a: &Rule, b: &Rule) -> bool {
    let empty = Conditions::default();
    let ca = a.when.as_ref().unwrap_or(&empty);
    let cb = b.when.as_ref().unwrap_or(&empty);
    covers_names(ca.users.as_ref(), cb.users.as_ref(), None, true)
        && covers_names(ca.groups.as_ref(), cb.groups.as_ref(), Some("everyone"), false)
        && covers_names(ca.network.as_ref(), cb.network.as_ref(), None, false)
        && covers_device(ca.device.as_ref(), cb.device.as_ref())
        && match (&ca.risk, &cb.risk) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(ra), Some(rb)) => rb.iter().all(|r| ra.contains(r)),
        }
}

/// Include/exclude cover: everything `b` admits, `a` admits. With `universal` (the group
/// `everyone`), an include list naming it admits everyone. `exclusive`: a request has exactly one
/// of these names (a login), not several (groups, overlapping zones).
fn covers_names(
    a: Option<&IncludeExclude>,
    b: Option<&IncludeExclude>,
    universal: Option<&str>,
    exclusive: bool,
) -> bool {
    let empty = IncludeExclude::default();
    let a = a.unwrap_or(&empty);
    let b = b.unwrap_or(&empty);
    let is_universal = |ie: &IncludeExclude| {
        ie.include.is_empty() || universal.is_some_and(|u| ie.include.iter().any(|n| n == u))
    };
    // What b admits must be within a's include.
    let include_ok = is_universal(a)
        || (!is_universal(b)
            && b.include
                .iter()
                .filter(|n| !b.exclude.contains(n))
                .all(|n| a.include.contains(n)));
    // Nothing b admits may be excluded by a: a's exclusions must be b's exclusions too (or
    // outside b's finite include list, for users and zones whose membership is exclusive).
    let exclude_ok = a
        .exclude
        .iter()
        .all(|n| b.exclude.contains(n) || (exclusive && !is_universal(b) && !b.include.contains(n)));
    include_ok && exclude_ok
}

fn covers_device(a: Option<&DeviceCondition>, b: Option<&DeviceCondition>) -> bool {
    let empty = DeviceCondition::default();
    let a = a.unwrap_or(&empty);
    let b = b.unwrap_or(&empty);
    let flag = |x: Option<bool>, y: Option<bool>| x.is_none() || x == y;
    flag(a.registered, b.registered)
        && flag(a.managed, b.managed)
        && flag(a.secure_hardware, b.secure_hardware)
        && match (&a.platform, &b.platform) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(pa), Some(pb)) => pb.iter().all(|p| pa.contains(p)),
        }
}
