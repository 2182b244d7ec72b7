//! Global sessions (`sessions`) and their verification records (`verification_records`).
//! A session is found by the digest of its cookie token; ending one sets `ended_at` and
//! `end_reason` (rows are kept for the admin view and the log); records go with their session.

use std::time::Duration;

use gatehouse_core::model::{
    DeviceId, EndReason, EnrollmentId, FlowId, RecordId, Session, SessionId, UserId, VerificationRecord,
    parse_authenticator, parse_method,
};
use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, Row, query};

/// The sessions repository.
#[derive(Debug)]
pub struct Sessions<E> {
    ex: E,
}

macro_rules! select {
    () => {
        "SELECT id, token_digest, user_id, device_id, created_at, last_seen_at, expires_at, max_idle_ms, \
         keep_signed_in, client_ip, user_agent, ended_at, end_reason FROM sessions"
    };
}

fn session_from_row(row: &Row) -> Result<Session, StoreError> {
    let idle_ms = row.int("max_idle_ms")?;
    Ok(Session {
        id: row.parse("id", SessionId::parse)?,
        token_digest: row.text("token_digest")?,
        user_id: row.parse("user_id", UserId::parse)?,
        device_id: row.opt_parse("device_id", DeviceId::parse)?,
        created_at: row.time("created_at")?,
        last_seen_at: row.time("last_seen_at")?,
        expires_at: row.time("expires_at")?,
        max_idle: Duration::from_millis(
            u64::try_from(idle_ms).map_err(|e| StoreError::corrupt("max_idle_ms", e))?,
        ),
        keep_signed_in: row.bool("keep_signed_in")?,
        client_ip: row.opt_text("client_ip")?,
        user_agent: row.opt_text("user_agent")?,
        ended_at: row.opt_time("ended_at")?,
        end_reason: row.opt_parse("end_reason", EndReason::parse)?,
    })
}

fn record_from_row(row: &Row) -> Result<VerificationRecord, StoreError> {
    Ok(VerificationRecord {
        id: row.parse("id", RecordId::parse)?,
        session_id: row.parse("session_id", SessionId::parse)?,
        flow_id: row.opt_parse("flow_id", FlowId::parse)?,
        authenticator: row.parse("authenticator", |t| parse_authenticator("authenticator", t))?,
        method: row.parse("method", |t| parse_method("method", t))?,
        enrollment_id: row.opt_parse("enrollment_id", EnrollmentId::parse)?,
        device_id: row.opt_parse("device_id", DeviceId::parse)?,
        verified_at: row.time("verified_at")?,
        proof: row.json("proof")?,
    })
}

impl<E: Exec> Sessions<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    pub async fn get(&mut self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let q = query(concat!(select!(), " WHERE id = $1")).bind(id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    /// The session whose cookie token hashes to `digest` (lower-case hex SHA-256), ended or not:
    /// check [`Session::is_live`].
    pub async fn by_token_digest(&mut self, digest: &str) -> Result<Option<Session>, StoreError> {
        let q = query(concat!(select!(), " WHERE token_digest = $1")).bind(digest);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    /// A user's sessions that have not been ended, newest first (they may have timed out: check
    /// [`Session::is_live`]).
    pub async fn open_of_user(&mut self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let q = query(concat!(
            select!(),
            " WHERE user_id = $1 AND ended_at IS NULL ORDER BY created_at DESC, id"
        ))
        .bind(user);
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(session_from_row).collect()
    }

    /// How many sessions are open at `now`: not ended and before their absolute expiry (the
    /// `/metrics` gauge; an idle timeout is noticed only when the session is next used).
    pub async fn count_open(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let q =
            query("SELECT COUNT(*) AS n FROM sessions WHERE ended_at IS NULL AND expires_at > $1").bind(now);
        let n = self.ex.fetch_optional(q).await?.map_or(Ok(0), |r| r.int("n"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The open sessions with a verification record of the `device` authenticator on `device`
    /// (the sessions established with that device's Gatehouse Verify), oldest first.
    pub async fn open_verified_by_device(&mut self, device: DeviceId) -> Result<Vec<Session>, StoreError> {
        let q = query(concat!(
            select!(),
            " WHERE ended_at IS NULL AND id IN (SELECT session_id FROM verification_records \
             WHERE device_id = $1 AND authenticator = 'device') ORDER BY created_at, id"
        ))
        .bind(device);
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(session_from_row).collect()
    }

    /// A session's verification records, oldest first.
    pub async fn records(&mut self, session: SessionId) -> Result<Vec<VerificationRecord>, StoreError> {
        let q = query(
            "SELECT id, session_id, flow_id, authenticator, method, enrollment_id, device_id, verified_at, \
             proof FROM verification_records WHERE session_id = $1 ORDER BY verified_at, id",
        )
        .bind(session);
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(record_from_row).collect()
    }
}

impl Sessions<InTx<'_>> {
    /// Inserts a session ([`StoreError::Duplicate`] `token` if the digest exists).
    pub async fn insert(&mut self, session: &Session) -> Result<(), StoreError> {
        let idle_ms = i64::try_from(session.max_idle.as_millis()).unwrap_or(i64::MAX);
        let q = query(
            "INSERT INTO sessions (id, token_digest, user_id, device_id, created_at, last_seen_at, expires_at, \
             max_idle_ms, keep_signed_in, client_ip, user_agent, ended_at, end_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(session.id)
        .bind(session.token_digest.as_str())
        .bind(session.user_id)
        .bind(session.device_id)
        .bind(session.created_at)
        .bind(session.last_seen_at)
        .bind(session.expires_at)
        .bind(idle_ms)
        .bind(session.keep_signed_in)
        .bind(session.client_ip.as_deref())
        .bind(session.user_agent.as_deref())
        .bind(session.ended_at)
        .bind(session.end_reason.map(|r| r.as_str()));
        self.ex
            .execute(q)
            .await
            .map_err(|e| e.unique_as("token").foreign_key_as("user or device"))?;
        Ok(())
    }

    /// Adds a verification record to its session.
    pub async fn add_record(&mut self, record: &VerificationRecord) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO verification_records (id, session_id, flow_id, authenticator, method, enrollment_id, \
             device_id, verified_at, proof) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(record.id)
        .bind(record.session_id)
        .bind(record.flow_id)
        .bind(record.authenticator.as_str())
        .bind(record.method.as_str())
        .bind(record.enrollment_id)
        .bind(record.device_id)
        .bind(record.verified_at)
        .bind_json(&record.proof);
        self.ex
            .execute(q)
            .await
            .map_err(|e| e.foreign_key_as("session"))?;
        Ok(())
    }

    /// Marks a session used at `now` (idle timeout restarts); false when ended or unknown.
    pub async fn touch(&mut self, id: SessionId, now: Timestamp) -> Result<bool, StoreError> {
        let q = query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND ended_at IS NULL")
            .bind(id)
            .bind(now);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Ends one session; false when it was already ended or is unknown.
    pub async fn end(
        &mut self,
        id: SessionId,
        reason: EndReason,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let q =
            query("UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL")
                .bind(id)
                .bind(now)
                .bind(reason.as_str());
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Ends every open session of a user; returns how many were ended.
    pub async fn end_all_of_user(
        &mut self,
        user: UserId,
        reason: EndReason,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let q = query(
            "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE user_id = $1 AND ended_at IS NULL",
        )
        .bind(user)
        .bind(now)
        .bind(reason.as_str());
        self.ex.execute(q).await
    }

    /// Ends every open session established with a device; returns how many were ended.
    pub async fn end_all_of_device(
        &mut self,
        device: DeviceId,
        reason: EndReason,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let q = query(
            "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE device_id = $1 AND ended_at IS NULL",
        )
        .bind(device)
        .bind(now)
        .bind(reason.as_str());
        self.ex.execute(q).await
    }
}
