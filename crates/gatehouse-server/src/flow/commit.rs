//! Writing a step: every effect the step decided, the session and the authorization code when
//! the sign-in is allowed, and the flow itself last under its version — one transaction, so a
//! crash or a racing request never leaves half a step (a session without its records, a code
//! without its session, a used TOTP step on a flow that did not move).

use axum::http::HeaderValue;
use gatehouse_core::model::{
    Actor, EndReason, Flow, LifecycleAction, Outcome, Session, UserStatus, VerificationRecord, event_types,
};
use gatehouse_policy::{KeepSignedIn, PolicySet};
use gatehouse_store::{StoreError, Tx, new_id};
use jiff::{SignedDuration, Timestamp};

use super::data::{FlowData, Pending, Purpose, Status};
use super::engine;
use super::steps::{Effect, Work, lock_out};
use crate::audit::Event;
use crate::oidc::CompletedSignIn;
use crate::{AppState, ServerError};

/// Why a step could not be written.
#[derive(Debug)]
pub enum CommitError {
    /// Another request changed the flow first, or used the same one-time code: nothing was
    /// written; the step may be retried from a fresh read.
    Conflict,
    Server(ServerError),
}

impl From<ServerError> for CommitError {
    fn from(e: ServerError) -> Self {
        Self::Server(e)
    }
}

impl From<StoreError> for CommitError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Stale { .. } => Self::Conflict,
            other => Self::Server(other.into()),
        }
    }
}

/// Writes a step. Returns the `Set-Cookie` value when a session was created.
pub async fn commit(
    state: &AppState,
    flow: &Flow,
    data: &mut FlowData,
    work: &mut Work,
    policies: &PolicySet,
) -> Result<Option<HeaderValue>, CommitError> {
    let now = state.now();
    if work.allow.is_some() {
        // Issuing the code reads the client cache; when it has expired it is reloaded from the
        // store on another connection. Do that now, not while this transaction holds the write
        // lock: a holder waiting for a pooled connection while the others wait for its lock
        // stalls every sign-in until the busy timeout.
        state.oidc().clients(state).await?;
    }
    let mut tx = state.store().begin().await?;
    for effect in std::mem::take(&mut work.effects) {
        apply_effect(state, &mut tx, effect, now).await?;
    }
    let mut cookie = None;
    if let Some(satisfied_by) = work.allow.take() {
        cookie = finish(state, &mut tx, data, work, policies, &satisfied_by, now).await?;
    }
    let updated = Flow {
        state: serde_json::to_string(&*data).map_err(|e| ServerError::Corrupt {
            what: "flow state".to_owned(),
            reason: e.to_string(),
        })?,
        updated_at: now,
        expires_at: expiry(state, now),
        ..*flow
    };
    let updated = tx.flows().update(&updated).await?;
    tx.commit().await?;
    state.flow().remember(updated.id, updated.version, data);
    Ok(cookie)
}

/// When a flow touched at `now` expires (DESIGN section 5: 10 minutes idle).
pub fn expiry(state: &AppState, now: Timestamp) -> Timestamp {
    let idle = SignedDuration::try_from(state.config().flow_idle).unwrap_or(SignedDuration::from_mins(10));
    now.checked_add(idle).unwrap_or(now)
}

async fn apply_effect(
    state: &AppState,
    tx: &mut Tx,
    effect: Effect,
    now: Timestamp,
) -> Result<(), CommitError> {
    match effect {
        Effect::RecordUse { enrollment, counter } => {
            if !tx.enrollments().record_use(enrollment, now, counter).await? && counter.is_some() {
                // The same code was accepted by a concurrent request: this one loses.
                return Err(CommitError::Conflict);
            }
        }
        Effect::Success { user } => tx.sign_in_failures().reset(user.id).await?,
        Effect::Failure { user } => {
            let failures = tx.sign_in_failures().record(user.id, now).await?;
            let limit = i64::from(state.config().lockout.max_failures.max(1));
            if failures >= limit
                && let Some(mut current) = tx.users().get(user.id).await?
                && current.status == UserStatus::Active
                && lock_out(&mut current, now)
            {
                tx.users().update(&current).await?;
                Event::new(event_types::USER_LOCK_OUT, Actor::System, Outcome::Success)
                    .user(current.id)
                    .detail("failures", failures)
                    .append(tx, now)
                    .await?;
                crate::session::end_all_of_user_in(
                    tx,
                    current.id,
                    EndReason::UserLockedOut,
                    Actor::System,
                    now,
                )
                .await?;
            }
        }
        Effect::Unlock { user } => {
            if let Some(mut current) = tx.users().get(user.id).await?
                && current.transition(LifecycleAction::Unlock, now).is_ok()
            {
                tx.users().update(&current).await?;
                tx.sign_in_failures().reset(current.id).await?;
                Event::new(event_types::USER_UNLOCK, Actor::System, Outcome::Success)
                    .user(current.id)
                    .detail("reason", "lock-out period ended")
                    .append(tx, now)
                    .await?;
            }
        }
        Effect::CreateEnrollment(enrollment) => tx.enrollments().insert(&enrollment).await?,
        Effect::Log(event) => event.append(tx, now).await?,
    }
    Ok(())
}

/// The sign-in is allowed: store the session (new, or the one the flow started with) with this
/// flow's records, issue the client's code, and end the flow as a success.
pub(super) async fn finish(
    state: &AppState,
    tx: &mut Tx,
    data: &mut FlowData,
    work: &Work,
    policies: &PolicySet,
    satisfied_by: &[usize],
    now: Timestamp,
) -> Result<Option<HeaderValue>, CommitError> {
    let subject = &work.subject;
    let Some(user) = subject.user.clone() else {
        return Err(CommitError::Server(ServerError::Corrupt {
            what: "flow".to_owned(),
            reason: "allowed without a user".to_owned(),
        }));
    };
    let rule = engine::session_rule(policies, data, subject);
    let mut cookie = None;
    let session_id = match &subject.session {
        Some(session) if session.user_id == user.id => {
            tx.sessions().touch(session.id, now).await?;
            session.id
        }
        _ => {
            let (token, token_key) = crate::handle::new();
            let keep = data.identity.as_ref().is_some_and(|i| i.keep_signed_in)
                && rule.keep_signed_in == KeepSignedIn::Allowed;
            let lifetime = rule.max_lifetime.as_signed();
            let session = Session {
                id: new_id(),
                token_digest: token_key,
                user_id: user.id,
                device_id: data.records.iter().rev().find_map(|r| r.device_id),
                created_at: now,
                last_seen_at: now,
                expires_at: now.checked_add(lifetime).unwrap_or(now),
                max_idle: rule.max_idle.as_duration(),
                keep_signed_in: keep,
                client_ip: Some(data.client_ip.clone()),
                user_agent: data.user_agent.clone(),
                ended_at: None,
                end_reason: None,
            };
            tx.sessions().insert(&session).await?;
            Event::new(
                event_types::USER_SESSION_START,
                Actor::User(user.id),
                Outcome::Success,
            )
            .user(user.id)
            .detail("session_id", session.id.to_string())
            .detail("keep_signed_in", keep)
            .client_ip(data.client_ip.clone())
            .append(tx, now)
            .await?;
            cookie = Some(crate::session::set_cookie(
                state,
                &token,
                keep.then_some(session.expires_at),
            ));
            session.id
        }
    };
    let new_records: Vec<VerificationRecord> = data
        .records
        .iter()
        .map(|r| VerificationRecord {
            id: r.id,
            session_id,
            flow_id: None,
            authenticator: r.authenticator,
            method: r.method,
            enrollment_id: r.enrollment_id,
            device_id: r.device_id,
            verified_at: r.verified_at,
            proof: r.proof,
        })
        .collect();
    for record in &new_records {
        tx.sessions().add_record(record).await?;
    }
    tx.users().record_sign_in(user.id, now).await?;
    if let Ok(ip) = data.client_ip.parse::<std::net::IpAddr>() {
        let zones = &policies.document().network_zones;
        crate::risk::remember(tx, &user, ip.to_canonical(), data.browser.as_deref(), zones, now).await?;
    }
    // `satisfied_by` indexes the records as the policy saw them: the session's, then the flow's.
    let seen: Vec<&VerificationRecord> = subject.session_records.iter().chain(new_records.iter()).collect();
    let satisfied: Vec<VerificationRecord> = satisfied_by
        .iter()
        .filter_map(|&i| seen.get(i).map(|r| (*r).clone()))
        .collect();
    let auth_time = satisfied.iter().map(|r| r.verified_at).max().unwrap_or(now);
    let mut event = Event::new(
        event_types::USER_AUTH_SIGN_IN,
        Actor::User(user.id),
        Outcome::Success,
    )
    .user(user.id)
    .detail("session_id", session_id.to_string())
    .detail("rule", data.rule.clone().unwrap_or_default())
    .detail(
        "verified_with",
        satisfied
            .iter()
            .map(|r| format!("{}:{}", r.authenticator, r.method))
            .collect::<Vec<_>>(),
    )
    .client_ip(data.client_ip.clone());
    if let Some(risk) = &data.risk {
        event = event
            .detail("risk", risk.level.as_str())
            .detail("risk_signals", risk.signals.join(","));
    }
    if let Some(app) = data.app.id {
        event = event.app(app);
    }
    event.append(tx, now).await?;
    let redirect = match &data.purpose {
        Purpose::Authorize { request } => {
            // The client cache holds the app (loaded before this transaction began).
            let clients = state.oidc().clients(state).await?;
            let app = clients
                .by_id
                .get(data.app.client_id.as_str())
                .filter(|c| Some(c.app.id) == data.app.id)
                .map(|c| c.app.clone());
            let Some(app) = app else {
                return Err(CommitError::Server(ServerError::Corrupt {
                    what: "flow".to_owned(),
                    reason: format!("application `{}` is gone", data.app.client_id),
                }));
            };
            let signed_in = CompletedSignIn {
                app,
                user,
                session_id,
                auth_time,
                records: satisfied,
                groups: subject.groups.clone(),
            };
            crate::oidc::complete_authorization(state, tx, request, &signed_in).await?
        }
        Purpose::Dashboard { return_to } | Purpose::Enroll { return_to } => return_to.clone(),
    };
    data.status = Status::Success;
    data.pending = Pending::Done;
    data.current = None;
    data.redirect = Some(redirect);
    Ok(cookie)
}

/// Stores a new flow.
pub async fn insert(
    state: &AppState,
    id: gatehouse_core::model::FlowId,
    data: &FlowData,
    effects: Vec<Effect>,
) -> Result<(), ServerError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    for effect in effects {
        match apply_effect(state, &mut tx, effect, now).await {
            Ok(()) => {}
            Err(CommitError::Server(e)) => return Err(e),
            Err(CommitError::Conflict) => {
                return Err(ServerError::Store(StoreError::Stale { what: "enrollment" }));
            }
        }
    }
    let flow = Flow {
        id,
        state: serde_json::to_string(data).map_err(|e| ServerError::Corrupt {
            what: "flow state".to_owned(),
            reason: e.to_string(),
        })?,
        version: 0,
        created_at: now,
        updated_at: now,
        expires_at: expiry(state, now),
    };
    tx.flows().insert(&flow).await?;
    tx.commit().await?;
    state.flow().remember(id, flow.version, data);
    Ok(())
}
