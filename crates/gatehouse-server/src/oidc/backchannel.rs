//! OpenID Connect Back-Channel Logout 1.0 delivery (docs/risk.md): the worker every node runs
//! over the `backchannel_logouts` outbox. Each due row becomes a logout token (ES256, `typ`
//! `logout+jwt`, `iss`, `aud` = the app, `sub`, `sid`, `events`, never a `nonce`) POSTed as
//! `logout_token` to the app's `backchannel_logout_uri`; a 2xx answer delivers it, anything else
//! is retried with backoff (10 s, 20 s, 40 s, 80 s) and given up after five attempts. Every
//! delivery and every give-up is in the system log.

use std::time::Duration;

use gatehouse_core::model::{Actor, Outcome, event_types};
use gatehouse_crypto::{SigningAlgorithm, random};
use gatehouse_oidc::claims::{LOGOUT_TOKEN_TYPE, logout_token_claims};
use gatehouse_store::BackchannelLogout;
use jiff::{SignedDuration, Timestamp};

use crate::audit::Event;
use crate::{AppState, ServerError};

/// Attempts before a notification is given up.
const MAX_ATTEMPTS: i64 = 5;
/// How long an attempt may take before another node may try again.
const LEASE: SignedDuration = SignedDuration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the worker until the task is aborted: a pass over the due notifications every second.
pub async fn run(state: AppState) {
    let http = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(error = %e, "back-channel logout disabled: no HTTP client");
            return;
        }
    };
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        if let Err(e) = deliver_due(&state, &http).await {
            tracing::warn!(error = %e, "back-channel logout pass failed; retrying");
        }
    }
}

/// Delivers what is due now; returns how many were attempted.
pub async fn deliver_due(state: &AppState, http: &reqwest::Client) -> Result<usize, ServerError> {
    let now = state.now();
    let due = state.store().backchannel_logouts().due(now, 50).await?;
    let mut attempted = 0;
    for row in due {
        let lease_until = now.checked_add(LEASE).unwrap_or(now);
        let mut tx = state.store().begin().await?;
        let taken = tx.backchannel_logouts().take(&row, lease_until).await?;
        tx.commit().await?;
        if !taken {
            continue;
        }
        attempted += 1;
        let result = send(state, http, &row, now).await;
        settle(state, &row, result).await?;
    }
    Ok(attempted)
}

async fn send(
    state: &AppState,
    http: &reqwest::Client,
    row: &BackchannelLogout,
    now: Timestamp,
) -> Result<(), String> {
    let keys = state.oidc().keys(state).await.map_err(|e| e.to_string())?;
    let claims = logout_token_claims(
        state.issuer(),
        &row.client_id,
        &row.user_id,
        Some(&row.session_id),
        now,
        &random::token::<16>(),
    );
    let token = keys
        .sign_typed(SigningAlgorithm::Es256, LOGOUT_TOKEN_TYPE, &claims)
        .map_err(|e| e.to_string())?;
    let response = http
        .post(&row.uri)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", response.status()))
    }
}

async fn settle(
    state: &AppState,
    row: &BackchannelLogout,
    result: Result<(), String>,
) -> Result<(), ServerError> {
    let now = state.now();
    let attempts = row.attempts + 1;
    let (status, next, outcome) = match &result {
        Ok(()) => ("delivered", now, Outcome::Success),
        Err(_) if attempts >= MAX_ATTEMPTS => ("failed", now, Outcome::Failure),
        Err(_) => {
            let backoff = SignedDuration::from_secs(10 * (1 << (attempts - 1).clamp(0, 6)));
            (
                "pending",
                now.checked_add(backoff).unwrap_or(now),
                Outcome::Failure,
            )
        }
    };
    let error = result.as_ref().err().map(String::as_str);
    let mut tx = state.store().begin().await?;
    tx.backchannel_logouts()
        .settle(&row.id, status, next, error)
        .await?;
    let mut event = Event::new(event_types::APP_OAUTH2_BACKCHANNEL_LOGOUT, Actor::System, outcome)
        .detail("client_id", row.client_id.clone())
        .detail("session_id", row.session_id.clone())
        .detail("attempt", attempts)
        .detail("status", status);
    if let Ok(user) = gatehouse_core::model::UserId::parse(&row.user_id) {
        event = event.user(user);
    }
    if let Some(error) = error {
        event = event.detail("error", error.to_owned());
    }
    event.append(&mut tx, now).await?;
    tx.commit().await?;
    Ok(())
}
