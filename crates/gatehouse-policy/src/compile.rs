//! Compiled policies: what evaluation runs on. Compiling validates the policy (a compiled policy
//! has no errors, so it ends with a catch-all rule), resolves zone names to address ranges,
//! interns logins and group names so that matching a rule compares small integers, and turns
//! `require` into a [`Requirement`] with every window resolved.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::PolicyError;
use crate::authenticator::{AuthenticatorKey, MethodConstraints};
use crate::decision::Miss;
use crate::diagnostic::has_errors;
use crate::input::RequestContext;
use crate::model::{
    Access, AuthenticationPolicy, AuthenticatorRef, ChainMethod, Conditions, ConstraintSet, DeviceCondition,
    EnrollmentPolicy, GlobalSessionRule, KnowledgeConstraints, NetworkZone, PolicyDocument, Reauthenticate,
    RiskLevel, Rule,
};
use crate::net::ZoneRanges;
use crate::validate::{Scope, validate_authentication_policy, validate_document};

/// An authentication policy ready to evaluate, with the zones and enrollment policy it was
/// compiled against.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub(crate) name: Arc<str>,
    pub(crate) apps: Vec<String>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) zones: Vec<ZoneRanges>,
    pub(crate) users: HashMap<String, u32>,
    pub(crate) groups: HashMap<String, u32>,
    pub(crate) everyone: Option<u32>,
    pub(crate) enrollment: EnrollmentPolicy,
    pub(crate) source: AuthenticationPolicy,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) name: Arc<str>,
    pub(crate) source: Arc<Rule>,
    pub(crate) users: Option<IdList>,
    pub(crate) groups: Option<IdList>,
    pub(crate) network: Option<IdList>,
    pub(crate) device: Option<DeviceCondition>,
    /// Bit per risk level (low = 1, medium = 2, high = 4).
    pub(crate) risk: Option<u8>,
    pub(crate) access: Access,
    pub(crate) requirement: Option<Requirement>,
    /// `require.reauthenticate` (default `no_session`): the window of the step-up requirement.
    pub(crate) window: Reauthenticate,
}

/// Interned include/exclude lists, in the order of the source lists.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdList {
    pub(crate) include: Vec<u32>,
    pub(crate) exclude: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) enum Requirement {
    Assurance(AssuranceReq),
    Chains(Vec<ChainReq>),
}

#[derive(Debug, Clone)]
pub(crate) struct AssuranceReq {
    pub(crate) factors: u8,
    pub(crate) alternatives: Vec<Alternative>,
    pub(crate) exclude: Vec<AuthenticatorKey>,
}

#[derive(Debug, Clone)]
pub(crate) struct Alternative {
    pub(crate) possession: Option<Possession>,
    pub(crate) knowledge: Option<KnowledgeConstraints>,
    pub(crate) window: Reauthenticate,
}

#[derive(Debug, Clone)]
pub(crate) struct Possession {
    pub(crate) constraints: MethodConstraints,
    pub(crate) allow: Vec<AuthenticatorRef>,
    pub(crate) exclude: Vec<AuthenticatorRef>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChainReq {
    pub(crate) steps: Vec<Vec<ChainMethod>>,
    pub(crate) window: Reauthenticate,
}

pub(crate) fn risk_bit(level: RiskLevel) -> u8 {
    match level {
        RiskLevel::Low => 1,
        RiskLevel::Medium => 2,
        RiskLevel::High => 4,
    }
}

impl CompiledPolicy {
    /// Validates `policy` against the zones and the enrollment policy and compiles it. Every error
    /// (and warning) is in `PolicyError::Invalid` when it does not validate.
    pub fn compile(
        policy: &AuthenticationPolicy,
        zones: &[NetworkZone],
        enrollment: &EnrollmentPolicy,
    ) -> Result<Self, PolicyError> {
        let scope = Scope::new(zones.iter().map(|z| z.name.clone()), Some(enrollment));
        let diagnostics = validate_authentication_policy(policy, &scope);
        if has_errors(&diagnostics) {
            return Err(PolicyError::Invalid(diagnostics));
        }
        Ok(Self::build(policy, zones, enrollment))
    }

    fn build(policy: &AuthenticationPolicy, zones: &[NetworkZone], enrollment: &EnrollmentPolicy) -> Self {
        let zone_index: HashMap<&str, u32> = zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.name.as_str(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let mut users: HashMap<String, u32> = HashMap::new();
        let mut groups: HashMap<String, u32> = HashMap::new();
        let intern = |table: &mut HashMap<String, u32>, name: String| -> u32 {
            let next = u32::try_from(table.len()).unwrap_or(u32::MAX);
            *table.entry(name).or_insert(next)
        };
        let mut rules = Vec::with_capacity(policy.rules.len());
        for rule in &policy.rules {
            let when = rule.when.clone().unwrap_or_default();
            let users_list = when.users.as_ref().filter(|u| !u.is_empty()).map(|u| IdList {
                include: u
                    .include
                    .iter()
                    .map(|n| intern(&mut users, n.to_lowercase()))
                    .collect(),
                exclude: u
                    .exclude
                    .iter()
                    .map(|n| intern(&mut users, n.to_lowercase()))
                    .collect(),
            });
            let groups_list = when.groups.as_ref().filter(|g| !g.is_empty()).map(|g| IdList {
                include: g.include.iter().map(|n| intern(&mut groups, n.clone())).collect(),
                exclude: g.exclude.iter().map(|n| intern(&mut groups, n.clone())).collect(),
            });
            let zone_id = |n: &String| zone_index.get(n.as_str()).copied().unwrap_or(u32::MAX);
            let network = when.network.as_ref().filter(|n| !n.is_empty()).map(|n| IdList {
                include: n.include.iter().map(zone_id).collect(),
                exclude: n.exclude.iter().map(zone_id).collect(),
            });
            rules.push(CompiledRule {
                name: Arc::from(rule.name.as_str()),
                source: Arc::new(rule.clone()),
                users: users_list,
                groups: groups_list,
                network,
                device: when.device.clone().filter(|d| !d.is_empty()),
                risk: when
                    .risk
                    .as_ref()
                    .map(|levels| levels.iter().fold(0, |m, l| m | risk_bit(*l))),
                access: rule.access,
                requirement: rule.require.as_ref().and_then(compile_requirement),
                window: rule
                    .require
                    .as_ref()
                    .and_then(|r| r.reauthenticate)
                    .unwrap_or(Reauthenticate::NoSession),
            });
        }
        let everyone = groups.get("everyone").copied();
        Self {
            name: Arc::from(policy.name.as_str()),
            apps: policy.apps.clone(),
            rules,
            zones: zones
                .iter()
                .map(|z| ZoneRanges::new(&z.cidrs, &z.blocked_cidrs))
                .collect(),
            users,
            groups,
            everyone,
            enrollment: enrollment.clone(),
            source: policy.clone(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn apps(&self) -> &[String] {
        &self.apps
    }

    /// The policy as written.
    pub fn source(&self) -> &AuthenticationPolicy {
        &self.source
    }

    pub fn enrollment_policy(&self) -> &EnrollmentPolicy {
        &self.enrollment
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Whether any rule matches on the risk level: when none does, the level cannot change a
    /// decision, and a caller may leave it unscored.
    pub fn reads_risk(&self) -> bool {
        self.rules.iter().any(|r| r.risk.is_some())
    }
}

fn compile_requirement(require: &crate::model::Require) -> Option<Requirement> {
    let default_window = require.reauthenticate.unwrap_or(Reauthenticate::NoSession);
    if let Some(a) = &require.assurance {
        let sets: Vec<ConstraintSet> = match &a.any_of {
            Some(any_of) => any_of.clone(),
            None => vec![ConstraintSet {
                possession: a.possession.clone(),
                knowledge: a.knowledge.clone(),
                reauthenticate: None,
            }],
        };
        let alternatives = sets
            .into_iter()
            .map(|s| Alternative {
                possession: s.possession.map(|p| Possession {
                    constraints: p.constraints(),
                    allow: p.authenticators.clone(),
                    exclude: p.exclude.clone(),
                }),
                knowledge: s.knowledge,
                window: s.reauthenticate.unwrap_or(default_window),
            })
            .collect();
        return Some(Requirement::Assurance(AssuranceReq {
            factors: u8::try_from(a.factors).unwrap_or(2).clamp(1, 2),
            alternatives,
            exclude: a.exclude.clone(),
        }));
    }
    require.chains.as_ref().map(|chains| {
        Requirement::Chains(
            chains
                .iter()
                .map(|c| ChainReq {
                    steps: c.steps.clone(),
                    window: c.reauthenticate.unwrap_or(default_window),
                })
                .collect(),
        )
    })
}

/// The request facts a rule is matched against, prepared once per evaluation.
pub(crate) struct Prepared {
    pub(crate) user: Option<u32>,
    /// Interned groups of the user (sorted), `everyone` included.
    pub(crate) groups: Vec<u32>,
    /// Zone membership of the client address, by zone index.
    pub(crate) zones: Vec<bool>,
}

impl CompiledPolicy {
    pub(crate) fn prepare(&self, ctx: &RequestContext) -> Prepared {
        let user = if self.users.is_empty() {
            None
        } else {
            self.users.get(&ctx.user.login.to_lowercase()).copied()
        };
        let mut groups: Vec<u32> = ctx
            .user
            .groups
            .iter()
            .filter_map(|g| self.groups.get(g).copied())
            .collect();
        groups.extend(self.everyone);
        groups.sort_unstable();
        let ip = ctx.ip.to_canonical();
        let zones = self.zones.iter().map(|z| z.contains(ip)).collect();
        Prepared { user, groups, zones }
    }
}

impl CompiledRule {
    /// `None` when every condition holds, else the first that does not.
    pub(crate) fn check(&self, p: &Prepared, ctx: &RequestContext) -> Option<Miss> {
        if let Some(users) = &self.users {
            if !users.include.is_empty() && !p.user.is_some_and(|u| users.include.contains(&u)) {
                return Some(Miss::UserNotIncluded);
            }
            if p.user.is_some_and(|u| users.exclude.contains(&u)) {
                return Some(Miss::UserExcluded);
            }
        }
        if let Some(groups) = &self.groups {
            if !groups.include.is_empty() && !groups.include.iter().any(|g| p.groups.binary_search(g).is_ok())
            {
                return Some(Miss::GroupNotIncluded);
            }
            if let Some(i) = groups
                .exclude
                .iter()
                .position(|g| p.groups.binary_search(g).is_ok())
            {
                return Some(Miss::GroupExcluded(i));
            }
        }
        if let Some(network) = &self.network {
            let in_zone = |z: &u32| p.zones.get(*z as usize).copied().unwrap_or(false);
            if !network.include.is_empty() && !network.include.iter().any(in_zone) {
                return Some(Miss::NetworkNotIncluded);
            }
            if let Some(i) = network.exclude.iter().position(in_zone) {
                return Some(Miss::NetworkExcluded(i));
            }
        }
        if let Some(device) = &self.device
            && let Some(miss) = device_miss(device, ctx)
        {
            return Some(miss);
        }
        if let Some(mask) = self.risk
            && mask & risk_bit(ctx.risk) == 0
        {
            return Some(Miss::Risk(ctx.risk));
        }
        None
    }
}

fn device_miss(cond: &DeviceCondition, ctx: &RequestContext) -> Option<Miss> {
    let facts = ctx.device.clone().unwrap_or_default();
    let unknown = ctx.device.is_none();
    let wants_known = cond.registered == Some(true)
        || cond.managed == Some(true)
        || cond.secure_hardware == Some(true)
        || cond.platform.is_some();
    if unknown && wants_known {
        return Some(Miss::DeviceUnknown);
    }
    if let Some(want) = cond.registered
        && facts.registered != want
    {
        return Some(Miss::Registered(want));
    }
    if let Some(want) = cond.managed
        && facts.managed != want
    {
        return Some(Miss::Managed(want));
    }
    if let Some(want) = cond.secure_hardware
        && facts.secure_hardware != want
    {
        return Some(Miss::SecureHardware(want));
    }
    if let Some(platforms) = &cond.platform
        && !facts.platform.is_some_and(|p| platforms.contains(&p))
    {
        return Some(Miss::Platform(facts.platform));
    }
    None
}

/// Whether `when` holds for the context, against the named zones (uncompiled; for the global
/// session policy, which is matched once per sign-in).
pub fn conditions_hold(when: &Conditions, zones: &[NetworkZone], ctx: &RequestContext) -> bool {
    let ip: IpAddr = ctx.ip.to_canonical();
    let login = ctx.user.login.to_lowercase();
    let in_groups = |g: &String| g == "everyone" || ctx.user.groups.contains(g);
    let in_zone = |name: &String| {
        zones
            .iter()
            .find(|z| &z.name == name)
            .is_some_and(|z| ZoneRanges::new(&z.cidrs, &z.blocked_cidrs).contains(ip))
    };
    let ie = |list: &Option<crate::model::IncludeExclude>, test: &dyn Fn(&String) -> bool| {
        list.as_ref().is_none_or(|l| {
            (l.include.is_empty() || l.include.iter().any(test)) && !l.exclude.iter().any(test)
        })
    };
    ie(&when.users, &|u: &String| u.to_lowercase() == login)
        && ie(&when.groups, &in_groups)
        && ie(&when.network, &in_zone)
        && when.device.as_ref().is_none_or(|d| device_miss(d, ctx).is_none())
        && when.risk.as_ref().is_none_or(|r| r.contains(&ctx.risk))
}

/// A whole document compiled: every authentication policy, and the global session policy.
#[derive(Debug, Clone)]
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
    by_app: HashMap<String, usize>,
    document: PolicyDocument,
}

impl PolicySet {
    /// Validates and compiles a document; `PolicyError::Invalid` with every diagnostic otherwise.
    pub fn compile(document: &PolicyDocument) -> Result<Self, PolicyError> {
        let diagnostics = validate_document(document);
        if has_errors(&diagnostics) {
            return Err(PolicyError::Invalid(diagnostics));
        }
        let enrollment = document.enrollment();
        let policies: Vec<CompiledPolicy> = document
            .authentication_policies
            .iter()
            .map(|p| CompiledPolicy::build(p, &document.network_zones, &enrollment))
            .collect();
        let mut by_app = HashMap::new();
        for (i, p) in policies.iter().enumerate() {
            for app in &p.apps {
                by_app.insert(app.clone(), i);
            }
        }
        Ok(Self {
            policies,
            by_app,
            document: document.clone(),
        })
    }

    pub fn policies(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    /// The compiled policy for an app (client id).
    pub fn policy_for_app(&self, client_id: &str) -> Option<&CompiledPolicy> {
        self.by_app.get(client_id).and_then(|&i| self.policies.get(i))
    }

    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    /// The global session rule for a sign-in: the first whose conditions hold, or the defaults
    /// (identifier-first, `P1D`, `PT2H`, keep-signed-in allowed, enumeration prevention on).
    pub fn global_session_rule(&self, ctx: &RequestContext) -> GlobalSessionRule {
        self.document
            .global_session_policy
            .as_ref()
            .and_then(|gsp| {
                gsp.rules.iter().find(|r| {
                    r.when
                        .as_ref()
                        .is_none_or(|w| conditions_hold(w, &self.document.network_zones, ctx))
                })
            })
            .cloned()
            .unwrap_or_default()
    }
}
