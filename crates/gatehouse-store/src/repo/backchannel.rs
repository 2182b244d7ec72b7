//! The back-channel logout outbox (`backchannel_logouts`, docs/risk.md): one row per app that
//! received tokens from a session that ended, written in the transaction that ended it, so a
//! crash cannot lose a notification. Every node's worker delivers due rows; taking an attempt is
//! a conditional update on `attempts`, so two nodes never send the same attempt.

use gatehouse_core::model::{SessionId, UserId};
use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, query};

/// A logout token to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelLogout {
    pub id: String,
    pub session_id: String,
    pub user_id: String,
    pub client_id: String,
    pub uri: String,
    pub attempts: i64,
    pub status: String,
}

/// The outbox.
#[derive(Debug)]
pub struct BackchannelLogouts<E> {
    ex: E,
}

impl<E: Exec> BackchannelLogouts<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// Pending rows due at `now`, oldest first.
    pub async fn due(&mut self, now: Timestamp, limit: i64) -> Result<Vec<BackchannelLogout>, StoreError> {
        let q = query(
            "SELECT id, session_id, user_id, client_id, uri, attempts, status FROM backchannel_logouts \
             WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(limit);
        self.rows(q).await
    }

    /// Every row of a session (for tests and the admin view).
    pub async fn of_session(&mut self, session: SessionId) -> Result<Vec<BackchannelLogout>, StoreError> {
        let q = query(
            "SELECT id, session_id, user_id, client_id, uri, attempts, status FROM backchannel_logouts \
             WHERE session_id = $1 ORDER BY client_id",
        )
        .bind(session);
        self.rows(q).await
    }

    async fn rows(&mut self, q: crate::sql::Query<'_>) -> Result<Vec<BackchannelLogout>, StoreError> {
        self.ex
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| {
                Ok(BackchannelLogout {
                    id: r.text("id")?,
                    session_id: r.text("session_id")?,
                    user_id: r.text("user_id")?,
                    client_id: r.text("client_id")?,
                    uri: r.text("uri")?,
                    attempts: r.int("attempts")?,
                    status: r.text("status")?,
                })
            })
            .collect()
    }

    /// Takes attempt `attempts + 1` of a row, leasing it until `lease_until`; false when another
    /// worker took it first.
    pub async fn take(
        &mut self,
        row: &BackchannelLogout,
        lease_until: Timestamp,
    ) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE backchannel_logouts SET attempts = attempts + 1, next_attempt_at = $3 \
             WHERE id = $1 AND attempts = $2 AND status = 'pending'",
        )
        .bind(row.id.as_str())
        .bind(row.attempts)
        .bind(lease_until);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Records an attempt's outcome: `delivered`, `failed` (given up), or `pending` again at
    /// `next_attempt_at`.
    pub async fn settle(
        &mut self,
        id: &str,
        status: &str,
        next_attempt_at: Timestamp,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let q = query(
            "UPDATE backchannel_logouts SET status = $2, next_attempt_at = $3, last_error = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(next_attempt_at)
        .bind(error);
        self.ex.execute(q).await?;
        Ok(())
    }
}

impl BackchannelLogouts<InTx<'_>> {
    /// Queues a logout token for every app with a back-channel logout URI that received a code or
    /// a refresh token from the session; returns how many.
    pub async fn enqueue_for_session(
        &mut self,
        session: SessionId,
        user: UserId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let q = query(
            "SELECT DISTINCT a.client_id, a.backchannel_logout_uri FROM applications a \
             WHERE a.backchannel_logout_uri IS NOT NULL AND a.client_id IN ( \
             SELECT client_id FROM oauth_codes WHERE session_id = $1 \
             UNION SELECT client_id FROM oauth_refresh_families WHERE session_id = $1) ORDER BY a.client_id",
        )
        .bind(session);
        let targets = self.ex.fetch_all(q).await?;
        let mut queued = 0;
        for row in &targets {
            let q = query(
                "INSERT INTO backchannel_logouts (id, session_id, user_id, client_id, uri, created_at, \
                 next_attempt_at, attempts, status) VALUES ($1, $2, $3, $4, $5, $6, $6, 0, 'pending')",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(session)
            .bind(user)
            .bind(row.text("client_id")?)
            .bind(row.text("backchannel_logout_uri")?)
            .bind(now);
            queued += self.ex.execute(q).await?;
        }
        Ok(queued)
    }
}
