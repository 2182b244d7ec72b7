//! The flow engine: from a flow's state, the user's directory records and the app's policy to
//! the next remediation. Every step re-evaluates the policy from scratch (DESIGN 4.2 step 6) with
//! the session's records and the records made in this flow.
//!
//! The functions here read (the user, enrollments, session records, compiled policies) but never
//! write: a step first decides in memory — slow checks such as argon2id included — and
//! `commit` then writes everything the step changed in one transaction, the flow last under its
//! version, so two racing requests on one flow cannot both win.

use std::net::IpAddr;

use gatehouse_core::model::{
    AuthenticatorKey, Enrollment, EnrollmentId, Method, Session, User, VerificationRecord as StoredRecord,
};
use gatehouse_policy::{
    CompiledPolicy, Decision, EnrollmentStatus, EvaluationInput, GlobalSessionRule, Outcome, PolicySet,
    RequestContext, RiskLevel, StepOption, UserContext, VerificationRecord,
};
use gatehouse_store::Read;
use jiff::Timestamp;

use super::data::{Current, FlowData, Pending};
use crate::{AppState, ServerError};

/// What the engine reads about the person signing in.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub user: Option<User>,
    pub groups: Vec<String>,
    pub enrollments: Vec<Enrollment>,
    /// Records of the session the flow started with (empty without one).
    pub session_records: Vec<StoredRecord>,
    pub session: Option<Session>,
    /// The user's registered devices (Gatehouse Verify), for their facts; read only when an
    /// enrollment or the session names one ([`Subject::needs_devices`]).
    pub devices: Vec<gatehouse_core::model::Device>,
}

impl Subject {
    /// Reads the identified user (if any), their groups, enrollments and the flow's session, in
    /// the snapshot `store` (which the caller may go on reading in, e.g. to score the risk).
    pub async fn load(store: &mut Read, state: &AppState, data: &FlowData) -> Result<Self, ServerError> {
        Self::load_with(store, state, data, None).await
    }

    /// [`Subject::load`], given the user when the caller has just read it.
    pub async fn load_with(
        store: &mut Read,
        state: &AppState,
        data: &FlowData,
        read: Option<User>,
    ) -> Result<Self, ServerError> {
        Self::load_known(store, state, data, read, None).await
    }

    /// [`Subject::load_with`], also given the names of the user's groups when the caller has
    /// just read them.
    pub async fn load_known(
        store: &mut Read,
        state: &AppState,
        data: &FlowData,
        read: Option<User>,
        groups: Option<Vec<String>>,
    ) -> Result<Self, ServerError> {
        let mut subject = Self::default();
        let Some(user_id) = data.identity.as_ref().and_then(|i| i.user_id) else {
            return Ok(subject);
        };
        let user = match read {
            Some(user) if user.id == user_id => user,
            _ => match store.users().get(user_id).await? {
                Some(user) => user,
                None => return Ok(subject),
            },
        };
        subject.groups = match groups {
            Some(groups) => groups,
            None => store.groups().names_of_user(user.id).await?,
        };
        subject.enrollments = store.enrollments().of_user(user.id).await?;
        if let Some(session_id) = data.session_id
            && let Some(session) = store.sessions().get(session_id).await?
            && session.user_id == user.id
            && session.is_live(state.now())
        {
            subject.session_records = store.sessions().records(session_id).await?;
            subject.session = Some(session);
        }
        if subject.needs_devices() {
            subject.devices = store.devices().of_user(user.id).await?;
        }
        subject.user = Some(user);
        Ok(subject)
    }

    /// Whether anything read names one of the user's devices: a device-bound enrollment (whose
    /// device decides whether it is usable and biometric) or the session's device. Users
    /// without Gatehouse Verify are spared the read.
    fn needs_devices(&self) -> bool {
        self.enrollments
            .iter()
            .any(|e| e.device_id.is_some() || e.authenticator == AuthenticatorKey::Device)
            || self.session.as_ref().is_some_and(|s| s.device_id.is_some())
    }

    pub fn enrollment(&self, id: EnrollmentId) -> Option<&Enrollment> {
        self.enrollments.iter().find(|e| e.id == id)
    }

    /// The user's active enrollment of `authenticator` offering `method`, preferring `id`.
    pub fn active_enrollment(
        &self,
        authenticator: AuthenticatorKey,
        method: Method,
        id: Option<EnrollmentId>,
    ) -> Option<&Enrollment> {
        let usable = |e: &&Enrollment| {
            e.is_active() && e.authenticator == authenticator && e.methods.contains(&method)
        };
        id.and_then(|id| self.enrollments.iter().filter(usable).find(|e| e.id == id))
            .or_else(|| self.enrollments.iter().find(usable))
    }

    pub fn has_active(&self, authenticator: AuthenticatorKey) -> bool {
        self.enrollments
            .iter()
            .any(|e| e.is_active() && e.authenticator == authenticator)
    }
}

/// The request context of a flow: who, from where, on what, at what risk.
pub fn context(data: &FlowData, subject: &Subject) -> RequestContext {
    let login = subject
        .user
        .as_ref()
        .map(|u| u.login.as_str().to_owned())
        .or_else(|| data.identity.as_ref().map(|i| i.login.clone()))
        .unwrap_or_default();
    let ip = data
        .client_ip
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    RequestContext {
        user: UserContext {
            login,
            groups: subject.groups.clone(),
        },
        ip,
        device: super::device::policy_device(data),
        risk: data.risk.as_ref().map_or(RiskLevel::Low, |r| r.level),
    }
}

/// Scores the sign-in's risk once the user is known (docs/risk.md); an unknown login stays `low`,
/// so its screens are those of a known user on a known browser.
pub async fn score_risk(
    store: &mut Read,
    state: &AppState,
    data: &mut FlowData,
    user: Option<&User>,
) -> Result<(), ServerError> {
    let Some(user) = user else {
        return Ok(());
    };
    let ip = data
        .client_ip
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let assessment =
        crate::risk::assess(store, state, user, ip, data.browser.as_deref(), state.now()).await?;
    data.risk = Some(super::data::FlowRisk::of(&assessment));
    Ok(())
}

/// The policy engine's view of an enrollment.
pub fn policy_enrollment(enrollment: &Enrollment, subject: &Subject) -> gatehouse_policy::Enrollment {
    // A device enrollment is usable only while its device is active (DESIGN 7), and the registry
    // knows whether the device can gate a key with biometrics.
    let device = enrollment
        .device_id
        .and_then(|id| subject.devices.iter().find(|d| d.id == id));
    let device_active = device.is_none_or(|d| d.status == gatehouse_core::device::DeviceStatus::Active);
    gatehouse_policy::Enrollment {
        authenticator: enrollment.authenticator,
        methods: enrollment.methods.clone(),
        hardware_protected: enrollment.hardware_protected,
        user_verification: enrollment.user_verification,
        biometric_capable: device.is_some_and(|d| d.biometric_capable),
        status: if enrollment.is_active() && device_active {
            EnrollmentStatus::Active
        } else {
            EnrollmentStatus::Inactive
        },
        id: Some(enrollment.id.to_string()),
        idp_factor: None,
    }
}

/// The records the policy reads: the session's (outside this flow) and this flow's.
pub fn policy_records(data: &FlowData, subject: &Subject) -> Vec<VerificationRecord> {
    let from_session = subject.session_records.iter().map(|r| VerificationRecord {
        authenticator: r.authenticator,
        method: r.method,
        proof: r.proof,
        at: r.verified_at,
        in_flow: false,
        enrollment_id: r.enrollment_id.map(|id| id.to_string()),
    });
    let from_flow = data.records.iter().map(|r| VerificationRecord {
        authenticator: r.authenticator,
        method: r.method,
        proof: r.proof,
        at: r.verified_at,
        in_flow: true,
        enrollment_id: r.enrollment_id.map(|id| id.to_string()),
    });
    from_session.chain(from_flow).collect()
}

/// The compiled policy of the flow's app, if one is assigned.
pub fn app_policy<'a>(policies: &'a PolicySet, data: &FlowData) -> Option<&'a CompiledPolicy> {
    policies.policy_for_app(&data.app.client_id).or_else(|| {
        // `/app` and the built-in Gatehouse Verify client use the organisation's default policy
        // (the dashboard's) unless a policy names them (protocol 3.1).
        (data.app.client_id == super::DASHBOARD_CLIENT
            || data.app.client_id == gatehouse_api::device::VERIFY_CLIENT_ID)
            .then(|| policies.policy_for_app("dashboard"))
            .flatten()
    })
}

/// Evaluates the app's policy for the identified user.
pub fn evaluate(policy: &CompiledPolicy, data: &FlowData, subject: &Subject, now: Timestamp) -> Decision {
    let context = context(data, subject);
    let enrollments: Vec<_> = subject
        .enrollments
        .iter()
        .map(|e| policy_enrollment(e, subject))
        .collect();
    let records = policy_records(data, subject);
    let step_up = data.step_up;
    gatehouse_policy::evaluate(
        policy,
        &EvaluationInput {
            context: &context,
            enrollments: &enrollments,
            records: &records,
            now,
            step_up: if step_up == gatehouse_policy::StepUp::default() {
                None
            } else {
                Some(&step_up)
            },
        },
    )
}

/// The global session rule that governs this sign-in.
pub fn session_rule(policies: &PolicySet, data: &FlowData, subject: &Subject) -> GlobalSessionRule {
    policies.global_session_rule(&context(data, subject))
}

/// What the engine decided for the flow after a step.
#[derive(Debug, Clone)]
pub enum Next {
    /// The policy is satisfied: finish with these records (indices into `policy_records`).
    Allow { satisfied_by: Vec<usize> },
    /// The sign-in ends; the message names the reason.
    Deny { code: &'static str, message: String },
    /// Ask for a verification (pending and current are set in the flow data).
    Ask,
}

/// Turns a decision into the flow's next state: sets `pending` and `current` for a `continue` or
/// `remediate` decision, and says whether to allow or deny.
///
/// With user enumeration prevention, a sign-in that began by typing a login verifies the
/// password (or, without one, an email code) before anything the policy says — even before a
/// denial — so a known and an unknown login see the same screens (DESIGN 4.4).
pub fn next(
    data: &mut FlowData,
    subject: &Subject,
    decision: &Decision,
    rule: &GlobalSessionRule,
    now: Timestamp,
) -> Next {
    data.rule = Some(decision.rule.to_string());
    let first_step = data.records.is_empty();
    if rule.user_enumeration_prevention
        && first_step
        && !decision.is_allow()
        && subject.session.is_none()
        && let Some(option) = first_factor(subject)
    {
        data.pending = Pending::Verify {
            options: vec![option.clone()],
        };
        keep_or_select(data, subject, &[option], now);
        return Next::Ask;
    }
    match &decision.outcome {
        Outcome::Allow(allow) => Next::Allow {
            satisfied_by: allow.satisfied_by.clone(),
        },
        Outcome::Deny(deny) => Next::Deny {
            code: deny.code.as_str(),
            message: deny.message.clone(),
        },
        Outcome::Continue(cont) => {
            let options = order_options(&cont.options, subject);
            data.pending = Pending::Verify {
                options: options.clone(),
            };
            keep_or_select(data, subject, &options, now);
            Next::Ask
        }
        Outcome::Remediate(remediate) => {
            data.pending = Pending::Enroll {
                options: remediate.enroll.clone(),
            };
            if !matches!(&data.current, Some(Current::Enroll { authenticator, .. })
                if remediate.enroll.iter().any(|o| o.authenticator == *authenticator))
            {
                data.current = None;
            }
            Next::Ask
        }
    }
}

/// The verification an unknown device starts with: the password, else an email code; for a
/// login that does not exist, the password (what most known logins show).
fn first_factor(subject: &Subject) -> Option<StepOption> {
    let option = |authenticator, method| StepOption {
        authenticator,
        method,
        constraints: gatehouse_policy::MethodConstraints::default(),
        enrollment_ids: Vec::new(),
    };
    if subject.user.is_none() || subject.has_active(AuthenticatorKey::Password) {
        return Some(option(AuthenticatorKey::Password, Method::Password));
    }
    if subject.has_active(AuthenticatorKey::Email) {
        return Some(option(AuthenticatorKey::Email, Method::Otp));
    }
    None
}

/// Options in the order the person sees them: the most recently used enrollment first.
fn order_options(options: &[StepOption], subject: &Subject) -> Vec<StepOption> {
    let last_used = |option: &StepOption| {
        subject
            .enrollments
            .iter()
            .filter(|e| e.authenticator == option.authenticator && e.methods.contains(&option.method))
            .filter(|e| option.enrollment_ids.is_empty() || option.enrollment_ids.contains(&e.id.to_string()))
            .filter_map(|e| e.last_used_at)
            .max()
    };
    let mut ordered: Vec<(usize, Option<Timestamp>, StepOption)> = options
        .iter()
        .enumerate()
        .map(|(i, o)| (i, last_used(o), o.clone()))
        .collect();
    // Most recent first; never used keeps the policy's order, after the used ones.
    ordered.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ordered.into_iter().map(|(_, _, o)| o).collect()
}

/// Keeps the current challenge when it is still among the options, else selects the first.
fn keep_or_select(data: &mut FlowData, subject: &Subject, options: &[StepOption], _now: Timestamp) {
    if let Some(Current::Challenge {
        authenticator,
        method,
        ..
    }) = &data.current
        && options
            .iter()
            .any(|o| o.authenticator == *authenticator && o.method == *method)
    {
        return;
    }
    data.current = options.first().map(|o| Current::Challenge {
        authenticator: o.authenticator,
        method: o.method,
        enrollment_id: subject
            .active_enrollment(o.authenticator, o.method, first_enrollment_id(o))
            .map(|e| e.id),
        otp: None,
        device: None,
    });
}

pub fn first_enrollment_id(option: &StepOption) -> Option<EnrollmentId> {
    option
        .enrollment_ids
        .first()
        .and_then(|id| EnrollmentId::parse(id).ok())
}
