//! Property tests: random policies (valid by construction) and random sign-in states, and the
//! invariants of issue 2, each in one sentence.

use gatehouse_policy::{
    Access, Assurance, AuthenticationPolicy, AuthenticatorKey as K, AuthenticatorRef, Chain, ChainMethod,
    CompiledPolicy, Conditions, Decision, DeviceFacts, EnrollKind, Enrollment, EnrollmentPolicy,
    EnrollmentStatus, EvaluationInput, IncludeExclude, Method, MethodConstraints, Outcome,
    PossessionConstraints, Reauthenticate, RequestContext, Require, RiskLevel, Rule, UserContext,
    UserVerification as Uv, VerificationFacts, VerificationRecord, evaluate,
};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

const NOW: i64 = 1_800_000_000;

fn now() -> Timestamp {
    Timestamp::from_second(NOW).unwrap()
}

fn key(i: u8) -> K {
    K::ALL[usize::from(i) % K::ALL.len()]
}

fn method_of(k: K, i: u8) -> Method {
    let methods = k.methods();
    methods[usize::from(i) % methods.len()]
}

fn uv(i: u8) -> Uv {
    Uv::ALL[usize::from(i) % 3]
}

fn constraints(bits: u8, level: u8) -> MethodConstraints {
    MethodConstraints {
        phishing_resistant: bits & 1 != 0,
        hardware_protected: bits & 2 != 0,
        device_bound: bits & 4 != 0,
        user_presence: bits & 8 != 0,
        user_verification: uv(level),
        number_matching: false,
    }
}

fn window(i: u8) -> Reauthenticate {
    match i % 4 {
        0 => Reauthenticate::EverySignIn,
        1 => Reauthenticate::NoSession,
        2 => Reauthenticate::Within("PT1H".parse().unwrap()),
        _ => Reauthenticate::Within("PT8H".parse().unwrap()),
    }
}

/// (group, risk mask, access allow?, kind, factors, bits, level, exclude mask, window, chain entries)
type RuleSpec = (
    Option<u8>,
    u8,
    bool,
    bool,
    u8,
    u8,
    u8,
    u8,
    u8,
    Vec<Vec<Vec<(u8, Option<u8>, u8, u8)>>>,
);

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    let entry = (0u8..8, proptest::option::of(0u8..3), 0u8..16, 0u8..3);
    let chains = prop::collection::vec(
        prop::collection::vec(prop::collection::vec(entry, 1..3), 1..3),
        1..3,
    );
    (
        proptest::option::of(0u8..3),
        0u8..8,
        any::<bool>(),
        any::<bool>(),
        1u8..=2,
        0u8..32,
        0u8..3,
        0u8..=255,
        0u8..4,
        chains,
    )
}

fn build_rule(name: String, spec: RuleSpec, catch_all: bool) -> Rule {
    let (group, risk, allow, assurance, factors, bits, level, exclude, win, chains) = spec;
    let mut when = Conditions::default();
    if !catch_all {
        if let Some(g) = group {
            when.groups = Some(IncludeExclude {
                include: vec![format!("g{g}")],
                exclude: Vec::new(),
            });
        }
        if risk != 0 {
            let levels: Vec<RiskLevel> = [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High]
                .into_iter()
                .enumerate()
                .filter(|(i, _)| risk & (1 << i) != 0)
                .map(|(_, l)| l)
                .collect();
            when.risk = Some(levels);
        }
    }
    let require = if !allow {
        None
    } else if assurance {
        let exclude: Vec<K> = K::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| exclude & (1 << i) != 0)
            .map(|(_, k)| k)
            .collect();
        let mut c = constraints(bits & 15, level);
        let provable = |c: &MethodConstraints| {
            K::ALL
                .into_iter()
                .filter(|k| !exclude.contains(k) && *k != K::Password)
                .any(|k| k.methods().iter().any(|&m| c.provable_by(k, m)))
        };
        if !provable(&c) {
            c = MethodConstraints::default();
        }
        let exclude = if provable(&c) { exclude } else { Vec::new() };
        Some(Require {
            assurance: Some(Assurance {
                factors: u32::from(factors),
                possession: (bits & 16 != 0).then(|| PossessionConstraints {
                    phishing_resistant: c.phishing_resistant,
                    hardware_protected: c.hardware_protected,
                    device_bound: c.device_bound,
                    user_presence: c.user_presence,
                    user_verification: c.user_verification,
                    number_matching: false,
                    authenticators: Vec::<AuthenticatorRef>::new(),
                    exclude: Vec::new(),
                }),
                exclude,
                ..Assurance::default()
            }),
            chains: None,
            reauthenticate: Some(window(win)),
        })
    } else {
        let chains = chains
            .into_iter()
            .enumerate()
            .map(|(ci, steps)| Chain {
                steps: steps
                    .into_iter()
                    .map(|entries| {
                        entries
                            .into_iter()
                            .map(|(k, m, b, l)| {
                                let k = key(k);
                                let method = m.map(|m| method_of(k, m));
                                let c = constraints(b, l);
                                let ok = match method {
                                    Some(m) => c.provable_by(k, m),
                                    None => k.methods().iter().any(|&m| c.provable_by(k, m)),
                                };
                                ChainMethod::new(k, method).with_constraints(if ok {
                                    c
                                } else {
                                    MethodConstraints::default()
                                })
                            })
                            .collect()
                    })
                    .collect(),
                reauthenticate: Some(window(win.wrapping_add(u8::try_from(ci).unwrap()))),
            })
            .collect();
        Some(Require {
            assurance: None,
            chains: Some(chains),
            reauthenticate: None,
        })
    };
    Rule {
        name,
        when: (!when.is_empty()).then_some(when),
        access: if allow { Access::Allow } else { Access::Deny },
        require,
    }
}

fn policy_strategy() -> impl Strategy<Value = CompiledPolicy> {
    (
        prop::collection::vec(rule_spec(), 1..5),
        proptest::option::of(0u8..=255),
    )
        .prop_map(|(specs, allowed)| {
            let n = specs.len();
            let rules = specs
                .into_iter()
                .enumerate()
                .map(|(i, s)| build_rule(format!("r{i}"), s, i + 1 == n))
                .collect();
            let enrollment = EnrollmentPolicy {
                allowed: allowed.map(|mask| {
                    K::ALL
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .map(|(_, k)| k)
                        .collect()
                }),
            };
            let policy = AuthenticationPolicy {
                name: "p".to_owned(),
                apps: vec!["app".to_owned()],
                rules,
            };
            CompiledPolicy::compile(&policy, &[], &enrollment)
                .unwrap_or_else(|e| panic!("generated an invalid policy: {e}\n{policy:#?}"))
        })
}

#[derive(Debug, Clone)]
struct State {
    context: RequestContext,
    enrollments: Vec<Enrollment>,
    records: Vec<VerificationRecord>,
}

fn record(
    k: u8,
    m: u8,
    minutes: i64,
    in_flow: bool,
    hw: bool,
    level: u8,
    confirmed: bool,
) -> VerificationRecord {
    let k = key(k);
    VerificationRecord::new(
        k,
        method_of(k, m),
        &VerificationFacts {
            hardware_protected: hw,
            user_verification: uv(level),
            user_confirmed: confirmed,
            idp_factor: None,
        },
        now() - SignedDuration::from_mins(minutes),
        in_flow,
    )
    .unwrap()
}

fn state_strategy() -> impl Strategy<Value = State> {
    let enrollment = (
        0u8..8,
        0u8..8,
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        prop::bool::weighted(0.85),
    );
    let rec = (
        0u8..8,
        0u8..3,
        0i64..600,
        any::<bool>(),
        any::<bool>(),
        0u8..3,
        any::<bool>(),
    );
    (
        0u8..8,
        0u8..3,
        proptest::option::of((any::<bool>(), any::<bool>())),
        prop::collection::vec(enrollment, 0..6),
        prop::collection::vec(rec, 0..5),
    )
        .prop_map(|(groups, risk, device, enrollments, records)| State {
            context: RequestContext {
                user: UserContext {
                    login: "u".to_owned(),
                    groups: (0..3)
                        .filter(|g| groups & (1 << g) != 0)
                        .map(|g| format!("g{g}"))
                        .collect(),
                },
                ip: "192.0.2.1".parse().unwrap(),
                device: device.map(|(secure_hardware, biometric_capable)| DeviceFacts {
                    registered: true,
                    secure_hardware,
                    biometric_capable,
                    ..DeviceFacts::default()
                }),
                risk: [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High][usize::from(risk)],
            },
            enrollments: enrollments
                .into_iter()
                .enumerate()
                .map(|(i, (k, mask, hw, level, bio, active))| {
                    let k = key(k);
                    let mut e = Enrollment::new(k);
                    e.methods = k
                        .methods()
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| mask & (1 << j) != 0)
                        .map(|(_, m)| *m)
                        .collect();
                    e.hardware_protected = hw;
                    e.user_verification = uv(level);
                    e.biometric_capable = bio;
                    e.status = if active {
                        EnrollmentStatus::Active
                    } else {
                        EnrollmentStatus::Inactive
                    };
                    e.id = Some(format!("e{i}"));
                    e
                })
                .collect(),
            records: records
                .into_iter()
                .map(|(k, m, a, f, h, l, c)| record(k, m, a, f, h, l, c))
                .collect(),
        })
}

fn run(policy: &CompiledPolicy, s: &State) -> Decision {
    evaluate(
        policy,
        &EvaluationInput {
            context: &s.context,
            enrollments: &s.enrollments,
            records: &s.records,
            now: now(),
            step_up: None,
        },
    )
}

fn rule<'a>(policy: &'a CompiledPolicy, name: &str) -> &'a Rule {
    policy.source().rules.iter().find(|r| r.name == name).unwrap()
}

// ---- An independent reading of DESIGN sections 3, 4.2 and 4.3, for confirming `allow`. ----

fn within(w: Reauthenticate, r: &VerificationRecord) -> bool {
    match w {
        Reauthenticate::EverySignIn => r.in_flow,
        Reauthenticate::NoSession => true,
        Reauthenticate::Within(d) => {
            now().as_second() - r.at.as_second() < i64::try_from(d.as_duration().as_secs()).unwrap()
        }
    }
}

fn meets(c: &MethodConstraints, r: &VerificationRecord) -> bool {
    let p = &r.proof.characteristics;
    (!c.phishing_resistant || p.phishing_resistant)
        && (!c.hardware_protected || p.hardware_protected)
        && (!c.device_bound || p.device_bound)
        && (!c.user_presence || p.user_presence)
        && p.user_verification >= c.user_verification
}

fn types(records: &[&VerificationRecord]) -> usize {
    let (mut k, mut p, mut i, mut any, mut federated) = (false, false, false, false, false);
    for r in records {
        match r.authenticator {
            K::Password => k = true,
            K::Idp => federated = true,
            _ => p = true,
        }
        match r.proof.characteristics.user_verification {
            Uv::Biometric => i = true,
            Uv::Any => any = true,
            Uv::None => {}
        }
    }
    if any && !(k && i) {
        if k { i = true } else { k = true }
    }
    match [k, p, i].iter().filter(|x| **x).count() {
        // A federated verification of no configured type counts as one factor when alone.
        0 if federated => 1,
        n => n,
    }
}

fn independently_allowed(rule: &Rule, chosen: &[&VerificationRecord]) -> bool {
    let require = rule.require.as_ref().unwrap();
    let default_window = require.reauthenticate.unwrap_or(Reauthenticate::NoSession);
    if let Some(a) = &require.assurance {
        let possession = a.possession.as_ref();
        if !chosen
            .iter()
            .all(|r| within(default_window, r) && !a.exclude.contains(&r.authenticator))
        {
            return false;
        }
        let counted: Vec<&VerificationRecord> = chosen
            .iter()
            .copied()
            .filter(|r| {
                r.authenticator == K::Password || possession.is_none_or(|p| meets(&p.constraints(), r))
            })
            .collect();
        let has_possession = counted
            .iter()
            .any(|r| !matches!(r.authenticator, K::Password | K::Idp));
        return counted.len() == chosen.len()
            && types(&counted) >= usize::try_from(a.factors).unwrap()
            && (possession.is_none() || has_possession);
    }
    let mut sorted: Vec<&VerificationRecord> = chosen.to_vec();
    sorted.sort_by_key(|r| r.at);
    require.chains.as_ref().unwrap().iter().any(|chain| {
        chain.steps.len() == sorted.len()
            && chain.steps.iter().zip(&sorted).all(|(step, r)| {
                within(chain.reauthenticate.unwrap_or(default_window), r)
                    && step.iter().any(|e| {
                        e.authenticator == r.authenticator
                            && e.method.is_none_or(|m| m == r.method)
                            && meets(&e.constraints(), r)
                    })
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// A matched deny rule never yields allow (nor anything but deny).
    #[test]
    fn a_matched_deny_rule_never_allows(policy in policy_strategy(), state in state_strategy()) {
        let d = run(&policy, &state);
        if rule(&policy, &d.rule).access == Access::Deny {
            prop_assert!(matches!(d.outcome, Outcome::Deny(_)), "{d:?}");
        }
    }

    /// Adding a valid record inside every window never turns allow into anything else.
    #[test]
    fn a_new_record_keeps_an_allow(policy in policy_strategy(), state in state_strategy(),
                                   extra in (0u8..8, 0u8..3, any::<bool>(), 0u8..3, any::<bool>())) {
        let before = run(&policy, &state);
        if before.is_allow() {
            let mut more = state.clone();
            more.records.push(record(extra.0, extra.1, 0, true, extra.2, extra.3, extra.4));
            let after = run(&policy, &more);
            prop_assert!(after.is_allow(), "{after:?}");
        }
    }

    /// Whether the decision is allow depends on the context and the records, never on the
    /// enrollments (continuous evaluation at a refresh relies on it to skip reading them).
    #[test]
    fn an_allow_does_not_depend_on_the_enrollments(policy in policy_strategy(), state in state_strategy()) {
        let with = run(&policy, &state);
        let without = run(&policy, &State { enrollments: Vec::new(), ..state.clone() });
        prop_assert_eq!(with.is_allow(), without.is_allow(), "{:?} / {:?}", with.outcome, without.outcome);
    }

    /// Options only name enrolled, active authenticators and methods; `continue` always has some.
    #[test]
    fn options_are_enrolled_and_active(policy in policy_strategy(), state in state_strategy()) {
        let d = run(&policy, &state);
        if let Outcome::Continue(c) = &d.outcome {
            prop_assert!(!c.options.is_empty());
        }
        for o in d.options() {
            let enrolled = state.enrollments.iter().any(|e| {
                e.is_active() && e.authenticator == o.authenticator && e.enrolled_methods().any(|m| m == o.method)
            });
            prop_assert!(enrolled, "{o:?} not enrolled: {:?}", state.enrollments);
        }
    }

    /// Remediation only names authenticators the enrollment policy allows, or a key on a device
    /// the user has enrolled.
    #[test]
    fn remediation_is_allowed_by_the_enrollment_policy(policy in policy_strategy(), state in state_strategy()) {
        let d = run(&policy, &state);
        for e in d.enroll() {
            match e.kind {
                EnrollKind::NewAuthenticator => prop_assert!(policy.enrollment_policy().allows(e.authenticator), "{e:?}"),
                EnrollKind::UserVerificationKey => prop_assert!(state.enrollments.iter().any(|x| {
                    x.is_active() && x.authenticator == K::Device && x.id == e.enrollment_id
                }), "{e:?}"),
            }
        }
    }

    /// Every allow is confirmed by an independent check of the records it names against the rule.
    #[test]
    fn an_allow_is_independently_confirmed(policy in policy_strategy(), state in state_strategy()) {
        let d = run(&policy, &state);
        if let Outcome::Allow(a) = &d.outcome {
            let chosen: Vec<&VerificationRecord> = a.satisfied_by.iter().map(|&i| &state.records[i]).collect();
            prop_assert!(independently_allowed(rule(&policy, &d.rule), &chosen), "{d:#?}");
        }
    }

    /// Evaluation is deterministic: the same input gives the same decision, trace included.
    #[test]
    fn evaluation_is_deterministic(policy in policy_strategy(), state in state_strategy()) {
        prop_assert_eq!(run(&policy, &state), run(&policy, &state));
    }
}
