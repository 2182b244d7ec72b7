//! Housekeeping: deleting what has expired, on every node every few minutes (deletes are
//! idempotent, so several nodes sweeping at once only share the work).
//!
//! - Sign-in flows, a day after they expired (until then a late visit still hears "expired",
//!   `410`, rather than "unknown flow", `404`).
//! - Device challenges and queued pushes, an hour after they expired.
//! - Places users signed in from (`sign_in_contexts`), once older than risk's look-back
//!   (`docs/risk.md`: they no longer count as known).
//!
//! OIDC codes and revoked token ids are purged by the provider itself (`oidc::OidcState::keys`).
//! Rows go in batches of [`BATCH`], one transaction each, so that a large backlog never holds
//! SQLite's write lock for long.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::{AppState, ServerError};

/// Rows deleted per statement (and transaction).
const BATCH: i64 = 1000;
/// How long an expired flow is kept.
const FLOW_GRACE: SignedDuration = SignedDuration::from_hours(24);
/// How long an expired device challenge or push is kept.
const CHALLENGE_GRACE: SignedDuration = SignedDuration::from_hours(1);
/// How often a node sweeps.
const EVERY: Duration = Duration::from_secs(10 * 60);

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub flows: u64,
    pub sign_in_places: u64,
}

/// Deletes what has expired (see the module documentation).
pub async fn sweep(state: &AppState) -> Result<Swept, ServerError> {
    let now = state.now();
    let mut swept = Swept::default();
    let flows_before = now.checked_sub(FLOW_GRACE).unwrap_or(Timestamp::MIN);
    loop {
        let mut tx = state.store().begin().await?;
        let n = tx.flows().purge_expired(flows_before, BATCH).await?;
        tx.commit().await?;
        swept.flows += n;
        if n < u64::try_from(BATCH).unwrap_or(u64::MAX) {
            break;
        }
    }
    let challenges_before = now.checked_sub(CHALLENGE_GRACE).unwrap_or(Timestamp::MIN);
    let mut tx = state.store().begin().await?;
    tx.device_challenges()
        .purge_expired(u64::try_from(challenges_before.as_second()).unwrap_or(0))
        .await?;
    tx.commit().await?;
    let places_before = crate::risk::since(now, state.config().risk.lookback);
    loop {
        let mut tx = state.store().begin().await?;
        let n = tx
            .sign_in_contexts()
            .purge_unseen_since(places_before, BATCH)
            .await?;
        tx.commit().await?;
        swept.sign_in_places += n;
        if n < u64::try_from(BATCH).unwrap_or(u64::MAX) {
            break;
        }
    }
    Ok(swept)
}

/// Sweeps every ten minutes, the first time ten minutes after start.
pub async fn run(state: AppState) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match sweep(&state).await {
            Ok(swept) => tracing::info!(
                flows = swept.flows,
                sign_in_places = swept.sign_in_places,
                "housekeeping"
            ),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; trying again later"),
        }
    }
}
