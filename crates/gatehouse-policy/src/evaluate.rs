//! The evaluator of DESIGN sections 4.2 and 4.3: `evaluate(policy, input) -> Decision`.
//!
//! 1. Match: the first rule whose conditions all hold (every rule tried goes into the trace).
//! 2. `deny` ends there.
//! 3. The requirement — the rule's `assurance` or `chains`, and the step-up if the request has
//!    one — is checked against the records inside each window. All met: `allow`.
//! 4. Otherwise the options are the enrolled, active authenticator methods that advance a
//!    requirement *and lie on a path to meeting it* (a requirement the enrollments cannot meet
//!    at all offers nothing, so the user is never walked through steps that lead nowhere).
//! 5. A requirement the enrollments cannot meet is unsatisfiable: `remediate` if enrolling
//!    something now (a user-verification key on a biometric-capable device, or a new
//!    authenticator the enrollment policy allows) makes it reachable; otherwise `deny`, naming
//!    the requirement.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use jiff::Timestamp;

use crate::authenticator::{
    AuthenticatorKey, Constraint, Factor, Method, MethodConstraints, Proof, UserVerification, count_factors,
};
use crate::compile::{Alternative, AssuranceReq, ChainReq, CompiledPolicy, Possession, Requirement};
use crate::decision::{
    Allow, CandidateTrace, Continue, Decision, Deny, DenyCode, EnrollKind, EnrollOption, Outcome, Remediate,
    RemediationTrace, RequirementTrace, RuleTrace, StepOption, Trace, TraceEntry,
};
use crate::input::{Enrollment, EvaluationInput, StepUp, VerificationRecord};
use crate::model::{Access, AuthenticatorRef, ChainMethod, KnowledgeConstraints, Reauthenticate};

/// Evaluates `policy` for one sign-in step. Pure and deterministic: the same inputs give the same
/// decision, trace included.
pub fn evaluate(policy: &CompiledPolicy, input: &EvaluationInput<'_>) -> Decision {
    let prepared = policy.prepare(input.context);
    let mut trace = Vec::with_capacity(policy.rules.len() + 8);
    let mut matched = None;
    for (index, rule) in policy.rules.iter().enumerate() {
        let miss = rule.check(&prepared, input.context);
        trace.push(TraceEntry::Rule(RuleTrace {
            index,
            rule: Arc::clone(&rule.source),
            miss,
        }));
        if miss.is_none() {
            matched = Some(rule);
            break;
        }
    }
    let Some(rule) = matched else {
        return Decision {
            rule: Arc::from(""),
            outcome: Outcome::Deny(Deny {
                code: DenyCode::NoRuleMatched,
                message: format!("no rule of policy `{}` matches this sign-in", policy.name),
            }),
            trace: Trace(trace),
        };
    };
    let outcome = match (rule.access, &rule.requirement) {
        (Access::Deny, _) => Outcome::Deny(Deny {
            code: DenyCode::AccessDenied,
            message: format!("access denied: rule `{}` does not allow this sign-in", rule.name),
        }),
        (Access::Allow, requirement) => {
            let step_up = input
                .step_up
                .filter(|s| s.has_requirement())
                .map(step_up_requirement);
            let mut reqs: Vec<Req<'_>> = Vec::with_capacity(2);
            match requirement {
                Some(Requirement::Assurance(a)) => reqs.push(Req::Assurance(a, "assurance")),
                Some(Requirement::Chains(c)) => reqs.push(Req::Chains(c)),
                // Validation refuses `allow` without `require`; a policy built without it asks
                // for one verification of any kind.
                None => reqs.push(Req::Assurance(&ANY_ONE, "assurance")),
            }
            if let Some(s) = &step_up {
                reqs.push(Req::StepUp(s, rule.window));
            }
            decide(policy, input, &reqs, &mut trace)
        }
    };
    Decision {
        rule: Arc::clone(&rule.name),
        outcome,
        trace: Trace(trace),
    }
}

static ANY_ONE: AssuranceReq = AssuranceReq {
    factors: 1,
    alternatives: Vec::new(),
    exclude: Vec::new(),
};

/// One requirement of the matched rule.
enum Req<'p> {
    Assurance(&'p AssuranceReq, &'static str),
    Chains(&'p [ChainReq]),
    StepUp(&'p AssuranceReq, Reauthenticate),
}

fn step_up_requirement(s: &StepUp) -> AssuranceReq {
    let phishing_resistant = s.phishing_resistant || s.hardware_protected;
    AssuranceReq {
        factors: s.min_factors.clamp(1, 2),
        alternatives: vec![Alternative {
            possession: phishing_resistant.then(|| Possession {
                constraints: MethodConstraints {
                    phishing_resistant: true,
                    hardware_protected: s.hardware_protected,
                    ..MethodConstraints::default()
                },
                allow: Vec::new(),
                exclude: Vec::new(),
            }),
            knowledge: None,
            // Replaced by the rule's window at evaluation.
            window: Reauthenticate::NoSession,
        }],
        exclude: Vec::new(),
    }
}

/// A record in chronological position.
#[derive(Clone, Copy)]
struct Rec<'a> {
    idx: usize,
    r: &'a VerificationRecord,
}

/// An enrolled (or hypothetical) authenticator method and the best it can prove.
#[derive(Debug, Clone)]
struct Cand<'a> {
    key: AuthenticatorKey,
    method: Method,
    proof: Proof,
    enrollment_id: Option<&'a str>,
}

fn candidates(enrollments: &[Enrollment]) -> Vec<Cand<'_>> {
    let mut out: Vec<Cand<'_>> = Vec::with_capacity(enrollments.len() * 2);
    for e in enrollments.iter().filter(|e| e.is_active()) {
        for method in e.enrolled_methods() {
            if let Some(proof) = e.best_proof(method) {
                out.push(Cand {
                    key: e.authenticator,
                    method,
                    proof,
                    enrollment_id: e.id.as_deref(),
                });
            }
        }
    }
    // Stable: enrollments of the same authenticator keep their input order.
    out.sort_by_key(|c| (c.key, c.method));
    out
}

fn in_window(window: Reauthenticate, r: &VerificationRecord, now: Timestamp) -> bool {
    match window {
        Reauthenticate::EverySignIn => r.in_flow,
        Reauthenticate::NoSession => true,
        Reauthenticate::Within(d) => now.duration_since(r.at) < d.as_signed(),
    }
}

/// What one requirement needs, given records and candidates.
#[derive(Default)]
struct ReqEval {
    satisfied_by: Option<Vec<usize>>,
    reachable: bool,
    options: Vec<StepOption>,
}

fn decide(
    policy: &CompiledPolicy,
    input: &EvaluationInput<'_>,
    reqs: &[Req<'_>],
    trace: &mut Vec<TraceEntry>,
) -> Outcome {
    let now = input.now;
    let mut recs: Vec<Rec<'_>> = input
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| match input.step_up {
            Some(s) => {
                (!s.in_flow_only || r.in_flow)
                    && s.max_age.is_none_or(|max| {
                        now.duration_since(r.at)
                            <= jiff::SignedDuration::try_from(max).unwrap_or(jiff::SignedDuration::MAX)
                    })
            }
            None => true,
        })
        .map(|(idx, r)| Rec { idx, r })
        .collect();
    recs.sort_by(|a, b| a.r.at.cmp(&b.r.at).then(a.idx.cmp(&b.idx)));
    let cands = candidates(input.enrollments);

    let evals: Vec<ReqEval> = reqs
        .iter()
        .map(|req| eval_req(req, &recs, &cands, now, Some(&mut *trace)))
        .collect();

    if evals.iter().all(|e| e.satisfied_by.is_some()) {
        let mut satisfied_by: Vec<usize> = evals
            .iter()
            .filter_map(|e| e.satisfied_by.clone())
            .flatten()
            .collect();
        satisfied_by.sort_unstable();
        satisfied_by.dedup();
        return Outcome::Allow(Allow { satisfied_by });
    }
    let pending: Vec<(&Req<'_>, &ReqEval)> = reqs
        .iter()
        .zip(&evals)
        .filter(|(_, e)| e.satisfied_by.is_none())
        .collect();
    if pending.iter().all(|(_, e)| e.reachable) {
        let options = match pending.as_slice() {
            [(_, only)] => only.options.clone(),
            _ => merge_options(pending.iter().map(|(_, e)| e.options.as_slice())),
        };
        if !options.is_empty() {
            return Outcome::Continue(Continue { options });
        }
    }

    // Unsatisfiable with what is enrolled: look for something to enroll now.
    let hypotheses = hypotheses(policy, input);
    let mut helpful: Vec<EnrollOption> = Vec::new();
    let mut uv_key_done: Vec<Option<&str>> = Vec::new();
    for h in &hypotheses {
        if h.kind == EnrollKind::UserVerificationKey && uv_key_done.contains(&h.enrollment_id) {
            continue;
        }
        let mut extended = cands.clone();
        extended.extend(h.cands.iter().cloned());
        let results: Vec<ReqEval> = pending
            .iter()
            .map(|(req, _)| eval_req(req, &recs, &extended, now, None))
            .collect();
        let helps = results.iter().all(|e| e.reachable);
        let option = helps.then(|| enroll_option(h, &results));
        trace.push(TraceEntry::Remediation(RemediationTrace {
            authenticator: h.key,
            remediation: h.kind,
            helps,
            reason: if helps {
                format!("would make the requirement reachable ({})", h.label)
            } else {
                format!("would not make the requirement reachable ({})", h.label)
            },
        }));
        if let Some(option) = option {
            if h.kind == EnrollKind::UserVerificationKey {
                uv_key_done.push(h.enrollment_id);
            }
            helpful.push(option);
        }
    }
    if helpful.is_empty() && hypotheses.len() > 1 {
        // Nothing helps alone: several enrollments together may.
        let mut extended = cands.clone();
        extended.extend(hypotheses.iter().flat_map(|h| h.cands.iter().cloned()));
        let results: Vec<ReqEval> = pending
            .iter()
            .map(|(req, _)| eval_req(req, &recs, &extended, now, None))
            .collect();
        if results.iter().all(|e| e.reachable) {
            for h in &hypotheses {
                let used = results.iter().flat_map(|e| &e.options).any(|o| {
                    h.cands
                        .iter()
                        .any(|c| c.key == o.authenticator && c.method == o.method)
                });
                if used
                    && !helpful
                        .iter()
                        .any(|o| o.authenticator == h.key && o.kind == h.kind)
                {
                    helpful.push(enroll_option(h, &results));
                }
            }
        }
    }
    if !helpful.is_empty() {
        return Outcome::Remediate(Remediate { enroll: helpful });
    }
    let unmet = pending
        .iter()
        .find(|(_, e)| !e.reachable)
        .or(pending.first())
        .map(|(req, _)| describe_req(req))
        .unwrap_or_default();
    Outcome::Deny(Deny {
        code: DenyCode::Unsatisfiable,
        message: format!(
            "{unmet}; none of your enrolled authenticators can provide it, and there is nothing you may enroll now that could"
        ),
    })
}

/// Drops options that repeat an earlier authenticator and method (the first wins).
fn dedup_options(options: &mut Vec<StepOption>) {
    let mut i = 0;
    while i < options.len() {
        let (head, tail) = options.split_at(i);
        let repeated = tail.first().is_some_and(|o| {
            head.iter()
                .any(|x| x.authenticator == o.authenticator && x.method == o.method)
        });
        if repeated {
            options.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Options of several requirements in order, without repeating an authenticator and method.
fn merge_options<'a>(lists: impl Iterator<Item = &'a [StepOption]>) -> Vec<StepOption> {
    let mut out: Vec<StepOption> = Vec::new();
    for list in lists {
        for o in list {
            if !out
                .iter()
                .any(|x| x.authenticator == o.authenticator && x.method == o.method)
            {
                out.push(o.clone());
            }
        }
    }
    out
}

fn describe_req(req: &Req<'_>) -> String {
    match req {
        Req::Assurance(a, label) => describe_assurance(a, label),
        Req::StepUp(a, _) => describe_assurance(a, "step-up"),
        Req::Chains(chains) => describe_chains(chains),
    }
}

fn eval_req(
    req: &Req<'_>,
    recs: &[Rec<'_>],
    cands: &[Cand<'_>],
    now: Timestamp,
    trace: Option<&mut Vec<TraceEntry>>,
) -> ReqEval {
    match req {
        Req::Assurance(a, label) => eval_assurance(a, label, None, recs, cands, now, trace),
        Req::StepUp(a, window) => eval_assurance(a, "step-up", Some(*window), recs, cands, now, trace),
        Req::Chains(chains) => eval_chains(chains, recs, cands, now, trace),
    }
}

/// Why a record or candidate does not count for an assurance alternative.
#[derive(Debug, Clone, Copy)]
enum Fail {
    Excluded,
    NotListed(Factor),
    Constraint(Constraint),
}

fn counts(
    alt: &Alternative,
    exclude: &[AuthenticatorKey],
    key: AuthenticatorKey,
    method: Method,
    proof: &Proof,
) -> Result<(), Fail> {
    if exclude.contains(&key) {
        return Err(Fail::Excluded);
    }
    if proof.is_possession()
        && let Some(p) = &alt.possession
    {
        if !listed(&p.allow, &p.exclude, key, method) {
            return Err(Fail::NotListed(Factor::Possession));
        }
        if let Some(c) = p.constraints.first_failure(&proof.characteristics) {
            return Err(Fail::Constraint(c));
        }
    }
    if proof.is_knowledge()
        && let Some(KnowledgeConstraints {
            authenticators,
            exclude,
        }) = &alt.knowledge
        && !listed(authenticators, exclude, key, method)
    {
        return Err(Fail::NotListed(Factor::Knowledge));
    }
    Ok(())
}

fn listed(
    allow: &[AuthenticatorRef],
    exclude: &[AuthenticatorRef],
    key: AuthenticatorKey,
    method: Method,
) -> bool {
    (allow.is_empty() || allow.iter().any(|r| r.matches(key, method)))
        && !exclude.iter().any(|r| r.matches(key, method))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    possession: bool,
    knowledge: bool,
    factors: u8,
}

impl Progress {
    fn of<'a>(alt: &Alternative, factors: u8, proofs: impl Iterator<Item = &'a Proof> + Clone) -> Self {
        Self {
            possession: alt.possession.is_none() || proofs.clone().any(Proof::is_possession),
            knowledge: alt.knowledge.is_none() || proofs.clone().any(Proof::is_knowledge),
            factors: count_factors(proofs).min(factors),
        }
    }

    fn met(&self, factors: u8) -> bool {
        self.possession && self.knowledge && self.factors >= factors
    }

    fn improves_on(&self, before: &Self) -> bool {
        (self.possession && !before.possession)
            || (self.knowledge && !before.knowledge)
            || self.factors > before.factors
    }
}

fn fail_reason(
    f: Fail,
    key: AuthenticatorKey,
    constraints: Option<&MethodConstraints>,
    proof: &Proof,
) -> Cow<'static, str> {
    match f {
        Fail::Excluded => Cow::Owned(format!("`{key}` is excluded")),
        Fail::NotListed(factor) => Cow::Owned(format!(
            "`{key}` is not listed for the {} factor",
            factor.as_str()
        )),
        Fail::Constraint(Constraint::UserVerification) => Cow::Owned(format!(
            "fails user_verification: needs `{}`, this enrollment can prove `{}`",
            constraints.map_or(UserVerification::None, |c| c.user_verification),
            proof.characteristics.user_verification
        )),
        Fail::Constraint(Constraint::PhishingResistant) => Cow::Borrowed("fails phishing_resistant"),
        Fail::Constraint(Constraint::HardwareProtected) => Cow::Borrowed("fails hardware_protected"),
        Fail::Constraint(Constraint::DeviceBound) => Cow::Borrowed("fails device_bound"),
        Fail::Constraint(Constraint::UserPresence) => Cow::Borrowed("fails user_presence"),
    }
}

fn eval_assurance(
    req: &AssuranceReq,
    label: &'static str,
    window_override: Option<Reauthenticate>,
    recs: &[Rec<'_>],
    cands: &[Cand<'_>],
    now: Timestamp,
    mut trace: Option<&mut Vec<TraceEntry>>,
) -> ReqEval {
    let fallback = [Alternative {
        possession: None,
        knowledge: None,
        window: Reauthenticate::NoSession,
    }];
    let alternatives: &[Alternative] = if req.alternatives.is_empty() {
        &fallback
    } else {
        &req.alternatives
    };
    let mut eval = ReqEval::default();
    for (ai, alt) in alternatives.iter().enumerate() {
        let name: Cow<'static, str> = if alternatives.len() > 1 {
            Cow::Owned(format!("{label} alternative {}", ai + 1))
        } else {
            Cow::Borrowed(label)
        };
        let window = window_override.unwrap_or(alt.window);
        let counted: Vec<Rec<'_>> = recs
            .iter()
            .filter(|r| in_window(window, r.r, now))
            .filter(|r| counts(alt, &req.exclude, r.r.authenticator, r.r.method, &r.r.proof).is_ok())
            .copied()
            .collect();
        let progress = Progress::of(alt, req.factors, counted.iter().map(|r| &r.r.proof));
        if progress.met(req.factors) {
            let chosen = minimal_cover(alt, req.factors, &counted);
            if let Some(t) = trace.as_deref_mut() {
                t.push(TraceEntry::Requirement(RequirementTrace {
                    requirement: name,
                    satisfied: true,
                    reachable: true,
                    detail: format!(
                        "met by {} within {window}",
                        describe_records(chosen.iter().filter_map(|i| recs.iter().find(|r| r.idx == *i)))
                    ),
                }));
            }
            eval.satisfied_by = Some(chosen);
            eval.reachable = true;
            eval.options.clear();
            return eval;
        }
        let verdicts: Vec<Result<(), Fail>> = cands
            .iter()
            .map(|c| counts(alt, &req.exclude, c.key, c.method, &c.proof))
            .collect();
        let all = counted.iter().map(|r| &r.r.proof).chain(
            cands
                .iter()
                .zip(&verdicts)
                .filter(|(_, v)| v.is_ok())
                .map(|(c, _)| &c.proof),
        );
        let reachable = Progress::of(alt, req.factors, all).met(req.factors);
        let mut offered_here = Vec::new();
        let mut candidate_traces = Vec::new();
        for (c, verdict) in cands.iter().zip(&verdicts) {
            let (offered, failed, reason) = match verdict {
                Err(f) => (
                    false,
                    match f {
                        Fail::Constraint(c) => Some(*c),
                        _ => None,
                    },
                    fail_reason(
                        *f,
                        c.key,
                        alt.possession.as_ref().map(|p| &p.constraints),
                        &c.proof,
                    ),
                ),
                Ok(()) => {
                    let with = Progress::of(
                        alt,
                        req.factors,
                        counted
                            .iter()
                            .map(|r| &r.r.proof)
                            .chain(std::iter::once(&c.proof)),
                    );
                    if !with.improves_on(&progress) {
                        (
                            false,
                            None,
                            Cow::Borrowed("adds nothing the records do not already cover"),
                        )
                    } else if !reachable {
                        (
                            false,
                            None,
                            Cow::Borrowed(
                                "advances the requirement, which cannot be met with the enrollments",
                            ),
                        )
                    } else {
                        (true, None, Cow::Borrowed("offered"))
                    }
                }
            };
            if offered {
                let constraints = match (&alt.possession, c.proof.is_possession()) {
                    (Some(p), true) => p.constraints.for_method(c.key, c.method),
                    _ => MethodConstraints::default(),
                };
                offered_here.push(StepOption {
                    authenticator: c.key,
                    method: c.method,
                    constraints,
                    enrollment_ids: c.enrollment_id.map(str::to_owned).into_iter().collect(),
                });
            }
            if trace.is_some() {
                candidate_traces.push(TraceEntry::Candidate(CandidateTrace {
                    requirement: name.clone(),
                    authenticator: c.key,
                    method: c.method,
                    enrollment_id: c.enrollment_id.map(str::to_owned),
                    offered,
                    failed,
                    reason,
                }));
            }
        }
        if let Some(t) = trace.as_deref_mut() {
            t.push(TraceEntry::Requirement(RequirementTrace {
                requirement: name,
                satisfied: false,
                reachable,
                detail: describe_progress(alt, req.factors, &progress, window),
            }));
            t.append(&mut candidate_traces);
        }
        if reachable {
            eval.reachable = true;
            eval.options.extend(merge_ids(offered_here));
        }
    }
    dedup_options(&mut eval.options);
    eval
}

/// One option per authenticator and method, with every enrollment id that offers it.
fn merge_ids(options: Vec<StepOption>) -> Vec<StepOption> {
    let mut out: Vec<StepOption> = Vec::with_capacity(options.len());
    for o in options {
        match out.iter_mut().find(|x| {
            x.authenticator == o.authenticator && x.method == o.method && x.constraints == o.constraints
        }) {
            Some(existing) => {
                for id in o.enrollment_ids {
                    if !existing.enrollment_ids.contains(&id) {
                        existing.enrollment_ids.push(id);
                    }
                }
            }
            None => out.push(o),
        }
    }
    out
}

/// A small set of counted records that meets the alternative: the possession and knowledge
/// records it needs first, then whichever adds the most factor types (newest on ties).
fn minimal_cover(alt: &Alternative, factors: u8, counted: &[Rec<'_>]) -> Vec<usize> {
    let mut chosen: Vec<Rec<'_>> = Vec::new();
    let pick = |pred: &dyn Fn(&Proof) -> bool, chosen: &[Rec<'_>]| {
        counted
            .iter()
            .rev()
            .filter(|r| pred(&r.r.proof) && !chosen.iter().any(|c| c.idx == r.idx))
            .max_by_key(|r| r.r.proof.factor_count())
            .copied()
    };
    if alt.possession.is_some()
        && let Some(r) = pick(&Proof::is_possession, &chosen)
    {
        chosen.push(r);
    }
    if alt.knowledge.is_some()
        && let Some(r) = pick(&Proof::is_knowledge, &chosen)
    {
        chosen.push(r);
    }
    while count_factors(chosen.iter().map(|r| &r.r.proof)) < factors {
        let current = count_factors(chosen.iter().map(|r| &r.r.proof));
        let best = counted
            .iter()
            .rev()
            .filter(|r| !chosen.iter().any(|c| c.idx == r.idx))
            .map(|r| {
                let gain = count_factors(
                    chosen
                        .iter()
                        .map(|c| &c.r.proof)
                        .chain(std::iter::once(&r.r.proof)),
                );
                (gain, *r)
            })
            .max_by(|(ga, _), (gb, _)| ga.cmp(gb).then(Ordering::Greater));
        match best {
            Some((gain, r)) if gain > current => chosen.push(r),
            _ => break,
        }
    }
    let mut idx: Vec<usize> = chosen.iter().map(|r| r.idx).collect();
    idx.sort_unstable();
    idx
}

fn entry_accepts(
    e: &ChainMethod,
    key: AuthenticatorKey,
    method: Method,
    proof: &Proof,
) -> Option<Result<(), Constraint>> {
    if e.authenticator != key || e.method.is_some_and(|m| m != method) {
        return None;
    }
    Some(match e.constraints().first_failure(&proof.characteristics) {
        None => Ok(()),
        Some(c) => Err(c),
    })
}

fn eval_chains(
    chains: &[ChainReq],
    recs: &[Rec<'_>],
    cands: &[Cand<'_>],
    now: Timestamp,
    mut trace: Option<&mut Vec<TraceEntry>>,
) -> ReqEval {
    let mut eval = ReqEval::default();
    // (chain index, satisfied prefix, reachable)
    let mut states: Vec<(usize, usize, bool)> = Vec::with_capacity(chains.len());
    for (ci, chain) in chains.iter().enumerate() {
        let name = format!("chain {}", ci + 1);
        let window: Vec<Rec<'_>> = recs
            .iter()
            .filter(|r| in_window(chain.window, r.r, now))
            .copied()
            .collect();
        let mut pos = 0;
        let mut chosen: Vec<usize> = Vec::new();
        for step in &chain.steps {
            let found = window.iter().enumerate().skip(pos).find(|(_, r)| {
                step.iter()
                    .any(|e| entry_accepts(e, r.r.authenticator, r.r.method, &r.r.proof) == Some(Ok(())))
            });
            match found {
                Some((i, r)) => {
                    chosen.push(r.idx);
                    pos = i + 1;
                }
                None => break,
            }
        }
        let prefix = chosen.len();
        if prefix == chain.steps.len() {
            if let Some(t) = trace.as_deref_mut() {
                t.push(TraceEntry::Requirement(RequirementTrace {
                    requirement: name.into(),
                    satisfied: true,
                    reachable: true,
                    detail: format!(
                        "every step met, in order, within {} by {}",
                        chain.window,
                        describe_records(chosen.iter().filter_map(|i| recs.iter().find(|r| r.idx == *i)))
                    ),
                }));
            }
            chosen.sort_unstable();
            eval.satisfied_by = Some(chosen);
            eval.reachable = true;
            eval.options.clear();
            return eval;
        }
        let reachable = chain.steps.iter().skip(prefix).all(|step| {
            step.iter().any(|e| {
                cands
                    .iter()
                    .any(|c| entry_accepts(e, c.key, c.method, &c.proof) == Some(Ok(())))
            })
        });
        if let Some(t) = trace.as_deref_mut() {
            t.push(TraceEntry::Requirement(RequirementTrace {
                requirement: name.into(),
                satisfied: false,
                reachable,
                detail: format!(
                    "{prefix} of {} steps met within {}{}",
                    chain.steps.len(),
                    chain.window,
                    if reachable {
                        ""
                    } else {
                        "; a remaining step has no enrolled option that meets it"
                    }
                ),
            }));
        }
        states.push((ci, prefix, reachable));
    }
    let started = states.iter().any(|(_, p, r)| *p > 0 && *r);
    for &(ci, prefix, reachable) in &states {
        let Some(chain) = chains.get(ci) else { continue };
        let Some(step) = chain.steps.get(prefix) else {
            continue;
        };
        let offer = reachable && (prefix > 0 || !started);
        if reachable {
            eval.reachable = true;
        }
        for entry in step {
            for c in cands {
                let Some(verdict) = entry_accepts(entry, c.key, c.method, &c.proof) else {
                    continue;
                };
                let offered = offer && verdict.is_ok();
                if offered {
                    eval.options.push(StepOption {
                        authenticator: c.key,
                        method: c.method,
                        constraints: entry.constraints().for_method(c.key, c.method),
                        enrollment_ids: c.enrollment_id.map(str::to_owned).into_iter().collect(),
                    });
                }
                if let Some(t) = trace.as_deref_mut() {
                    t.push(TraceEntry::Candidate(CandidateTrace {
                        requirement: Cow::Owned(format!("chain {} step {}", ci + 1, prefix + 1)),
                        authenticator: c.key,
                        method: c.method,
                        enrollment_id: c.enrollment_id.map(str::to_owned),
                        offered,
                        failed: verdict.err(),
                        reason: match verdict {
                            Err(f) => {
                                fail_reason(Fail::Constraint(f), c.key, Some(&entry.constraints()), &c.proof)
                            }
                            Ok(()) if offered => Cow::Borrowed("offered"),
                            Ok(()) if !reachable => {
                                Cow::Borrowed("meets the step, but a later step of this chain cannot be met")
                            }
                            Ok(()) => Cow::Borrowed("meets the step, but another chain is already under way"),
                        },
                    }));
                }
            }
        }
    }
    eval.options = merge_ids(std::mem::take(&mut eval.options));
    dedup_options(&mut eval.options);
    eval
}

/// A hypothetical enrollment considered for remediation.
struct Hypothesis<'a> {
    key: AuthenticatorKey,
    kind: EnrollKind,
    enrollment_id: Option<&'a str>,
    /// For a user-verification key, its level.
    level: UserVerification,
    label: String,
    cands: Vec<Cand<'a>>,
}

fn hypotheses<'a>(policy: &CompiledPolicy, input: &EvaluationInput<'a>) -> Vec<Hypothesis<'a>> {
    let mut out = Vec::new();
    // The common case first: a user-verification key on a device already enrolled.
    for e in input
        .enrollments
        .iter()
        .filter(|e| e.is_active() && e.authenticator == AuthenticatorKey::Device)
    {
        for level in [UserVerification::Any, UserVerification::Biometric] {
            if e.user_verification >= level
                || (level == UserVerification::Biometric && !e.is_biometric_capable(input.context))
            {
                continue;
            }
            let upgraded = Enrollment {
                user_verification: level,
                ..e.clone()
            };
            out.push(Hypothesis {
                key: AuthenticatorKey::Device,
                kind: EnrollKind::UserVerificationKey,
                enrollment_id: e.id.as_deref(),
                level,
                label: format!("a user-verification key of level `{level}` on the enrolled device"),
                cands: hypothetical_cands(&upgraded, e.id.as_deref()),
            });
        }
    }
    let device = input.context.device.clone();
    for key in AuthenticatorKey::ALL {
        if !policy.enrollment.allows(key)
            || matches!(key, AuthenticatorKey::SmartCard | AuthenticatorKey::Idp)
        {
            continue;
        }
        let has_active = input
            .enrollments
            .iter()
            .any(|e| e.is_active() && e.authenticator == key);
        if has_active && !matches!(key, AuthenticatorKey::Webauthn | AuthenticatorKey::Device) {
            continue;
        }
        // A device that proved itself is registered already: it can gain a key, not a second
        // enrollment.
        if key == AuthenticatorKey::Device && device.as_ref().is_some_and(|d| d.registered) {
            continue;
        }
        let mut e = Enrollment::new(key);
        match key {
            AuthenticatorKey::Webauthn => {
                // The enrollment ceremony can demand attestation and user verification.
                e.hardware_protected = true;
                e.user_verification = UserVerification::Any;
            }
            AuthenticatorKey::Device => {
                let d = device.clone().unwrap_or_default();
                e.hardware_protected = d.secure_hardware;
                e.biometric_capable = d.biometric_capable;
                e.user_verification = if d.biometric_capable {
                    UserVerification::Biometric
                } else {
                    UserVerification::Any
                };
            }
            _ => {}
        }
        out.push(Hypothesis {
            key,
            kind: EnrollKind::NewAuthenticator,
            enrollment_id: None,
            level: UserVerification::None,
            label: format!("a new `{key}` enrollment"),
            cands: hypothetical_cands(&e, None),
        });
    }
    out
}

fn hypothetical_cands<'a>(e: &Enrollment, id: Option<&'a str>) -> Vec<Cand<'a>> {
    e.enrolled_methods()
        .filter_map(|m| {
            e.best_proof(m).map(|proof| Cand {
                key: e.authenticator,
                method: m,
                proof,
                enrollment_id: id,
            })
        })
        .collect()
}

fn enroll_option(h: &Hypothesis<'_>, results: &[ReqEval]) -> EnrollOption {
    let constraints = match h.kind {
        EnrollKind::UserVerificationKey => MethodConstraints {
            user_verification: h.level,
            ..MethodConstraints::default()
        },
        EnrollKind::NewAuthenticator => results
            .iter()
            .flat_map(|e| &e.options)
            .find(|o| o.authenticator == h.key)
            .map(|o| o.constraints)
            .unwrap_or_default(),
    };
    EnrollOption {
        authenticator: h.key,
        constraints,
        kind: h.kind,
        enrollment_id: h.enrollment_id.map(str::to_owned),
    }
}

fn describe_records<'a>(recs: impl Iterator<Item = &'a Rec<'a>>) -> String {
    let parts: Vec<String> = recs
        .map(|r| format!("{} {} (record {})", r.r.authenticator, r.r.method, r.idx))
        .collect();
    parts.join(", ")
}

fn factor_words(n: u8) -> &'static str {
    if n >= 2 { "two factor types" } else { "one factor" }
}

fn describe_alternative(alt: &Alternative, factors: u8) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &alt.possession {
        let mut text = p.constraints.describe();
        if !p.allow.is_empty() {
            let names: Vec<String> = p.allow.iter().map(ToString::to_string).collect();
            text.push_str(&format!(" ({})", names.join(" or ")));
        }
        parts.push(text);
    }
    if let Some(k) = &alt.knowledge {
        let names: Vec<String> = k.authenticators.iter().map(ToString::to_string).collect();
        parts.push(if names.is_empty() {
            "a knowledge factor".to_owned()
        } else {
            format!("a knowledge factor ({})", names.join(" or "))
        });
    }
    match (parts.is_empty(), factors) {
        (true, n) => factor_words(n).to_owned(),
        (false, 1) => parts.join(" and "),
        (false, _) => format!("{} as part of two factor types", parts.join(" and ")),
    }
}

fn describe_assurance(req: &AssuranceReq, label: &str) -> String {
    let alts: Vec<String> = if req.alternatives.is_empty() {
        vec![factor_words(req.factors).to_owned()]
    } else {
        req.alternatives
            .iter()
            .map(|a| describe_alternative(a, req.factors))
            .collect()
    };
    let subject = if label == "step-up" {
        "this sign-in (as the app requested)"
    } else {
        "this app"
    };
    format!("{subject} requires {}", alts.join(", or "))
}

fn describe_progress(alt: &Alternative, factors: u8, p: &Progress, window: Reauthenticate) -> String {
    let mut missing = Vec::new();
    if p.factors < factors {
        missing.push(format!("{} of {factors} factor types covered", p.factors));
    }
    if !p.possession
        && let Some(poss) = &alt.possession
    {
        missing.push(format!("no record proves {}", poss.constraints.describe()));
    }
    if !p.knowledge {
        missing.push("no knowledge record".to_owned());
    }
    format!("{} (records within {window})", missing.join("; "))
}

fn describe_entry(e: &ChainMethod) -> String {
    let mut text = match e.method {
        Some(m) => format!("{} {}", e.authenticator, m),
        None => e.authenticator.to_string(),
    };
    let c = e.constraints();
    if !c.is_empty() {
        text.push_str(&format!(" with {}", c.describe()));
    }
    text
}

fn describe_chains(chains: &[ChainReq]) -> String {
    let chains: Vec<String> = chains
        .iter()
        .map(|c| {
            let steps: Vec<String> = c
                .steps
                .iter()
                .map(|s| s.iter().map(describe_entry).collect::<Vec<_>>().join(" or "))
                .collect();
            steps.join(", then ")
        })
        .collect();
    format!("this app requires {}", chains.join("; or "))
}
