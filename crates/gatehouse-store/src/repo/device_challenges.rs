//! Gatehouse Verify's server-side records (`device_challenges`, `device_pushes`,
//! `device_proof_jtis`): challenges issued to devices with their atomic `answered` flag, each
//! enrollment's push queue, and the `jti`s of device proofs seen (replay cache). See
//! `docs/verify-protocol.md`.

use gatehouse_core::device::{
    ChallengeAudience, ChallengeBinding, ChallengeId, ChallengeKind, EnrollmentId, IssuedChallenge, Nonce,
    Origin, UserVerification,
};
use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, Row, query};

/// A stored challenge: the core record plus what the server keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChallenge {
    pub issued: IssuedChallenge,
    /// The sign-in flow it was issued for, if any.
    pub flow_id: Option<String>,
    /// The accepted outcome (JSON) left for the flow, once answered.
    pub outcome: Option<serde_json::Value>,
    pub created_at: Timestamp,
}

/// The device challenges repository (challenges, push queue).
#[derive(Debug)]
pub struct DeviceChallenges<E> {
    ex: E,
}

/// The device proof `jti` replay cache.
#[derive(Debug)]
pub struct DeviceProofJtis<E> {
    ex: E,
}

macro_rules! select {
    () => {
        "SELECT id, flow_id, kind, nonce, origin, expires_at, user_verification, user_presence, number_challenge, \
         expected_number, audience, answered, outcome, created_at FROM device_challenges"
    };
}

fn audience_to_text(audience: &ChallengeAudience) -> String {
    match audience {
        ChallengeAudience::AnyEnrollment => "any".to_owned(),
        ChallengeAudience::Enrollment(id) => format!("enrollment:{}", id.as_str()),
        ChallengeAudience::AnyOf(ids) => format!(
            "any_of:{}",
            ids.iter().map(EnrollmentId::as_str).collect::<Vec<_>>().join(",")
        ),
    }
}

fn audience_from_text(text: &str) -> Result<ChallengeAudience, String> {
    if text == "any" {
        return Ok(ChallengeAudience::AnyEnrollment);
    }
    if let Some(id) = text.strip_prefix("enrollment:") {
        return EnrollmentId::parse(id)
            .map(ChallengeAudience::Enrollment)
            .map_err(|e| e.to_string());
    }
    if let Some(ids) = text.strip_prefix("any_of:") {
        return ids
            .split(',')
            .filter(|s| !s.is_empty())
            .map(EnrollmentId::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(ChallengeAudience::AnyOf)
            .map_err(|e| e.to_string());
    }
    Err(format!("unknown audience `{text}`"))
}

fn challenge_from_row(row: &Row) -> Result<StoredChallenge, StoreError> {
    let expires_at = row.int("expires_at")?;
    let expected_number = row
        .opt_int("expected_number")?
        .map(|n| u32::try_from(n).map_err(|e| StoreError::corrupt("expected_number", e)))
        .transpose()?;
    let outcome = row
        .opt_text("outcome")?
        .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::corrupt("outcome", e)))
        .transpose()?;
    Ok(StoredChallenge {
        issued: IssuedChallenge {
            binding: ChallengeBinding {
                id: row.parse("id", ChallengeId::parse)?,
                kind: row.parse("kind", ChallengeKind::parse)?,
                nonce: row.parse("nonce", Nonce::parse)?,
                origin: row.parse("origin", Origin::parse)?,
                expires_at: u64::try_from(expires_at).map_err(|e| StoreError::corrupt("expires_at", e))?,
                user_verification: row.parse("user_verification", str::parse::<UserVerification>)?,
                user_presence: row.bool("user_presence")?,
                number_challenge: row.bool("number_challenge")?,
            },
            audience: row.parse("audience", audience_from_text)?,
            expected_number,
            answered: row.bool("answered")?,
        },
        flow_id: row.opt_text("flow_id")?,
        outcome,
        created_at: row.time("created_at")?,
    })
}

fn seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl<E: Exec> DeviceChallenges<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    pub async fn get(&mut self, id: &str) -> Result<Option<StoredChallenge>, StoreError> {
        let q = query(concat!(select!(), " WHERE id = $1")).bind(id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(challenge_from_row)
            .transpose()
    }

    /// A flow's challenges, newest first.
    pub async fn of_flow(&mut self, flow_id: &str) -> Result<Vec<StoredChallenge>, StoreError> {
        let q = query(concat!(
            select!(),
            " WHERE flow_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(flow_id);
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(challenge_from_row).collect()
    }

    /// The oldest queued push of an enrollment that expires after `now_seconds`: its sequence
    /// number and the challenge JWS.
    pub async fn next_push(
        &mut self,
        enrollment: &str,
        now_seconds: u64,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let q = query(
            "SELECT seq, request FROM device_pushes WHERE enrollment_id = $1 AND expires_at > $2 ORDER BY seq LIMIT 1",
        )
        .bind(enrollment)
        .bind(seconds(now_seconds));
        let row = self.ex.fetch_optional(q).await?;
        row.map(|r| Ok((r.int("seq")?, r.text("request")?))).transpose()
    }
}

impl DeviceChallenges<InTx<'_>> {
    pub async fn insert(
        &mut self,
        issued: &IssuedChallenge,
        flow_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let b = &issued.binding;
        let q = query(
            "INSERT INTO device_challenges (id, flow_id, kind, nonce, origin, expires_at, user_verification, \
             user_presence, number_challenge, expected_number, audience, answered, outcome, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13)",
        )
        .bind(b.id.as_str())
        .bind(flow_id)
        .bind(b.kind.as_str())
        .bind(b.nonce.as_str())
        .bind(b.origin.as_str())
        .bind(seconds(b.expires_at))
        .bind(b.user_verification.as_str())
        .bind(b.user_presence)
        .bind(b.number_challenge)
        .bind(issued.expected_number.map(i64::from))
        .bind(audience_to_text(&issued.audience))
        .bind(issued.answered)
        .bind(now);
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Marks a challenge answered if nobody did before: false when it was already answered (the
    /// caller lost the race) or does not exist.
    pub async fn mark_answered(&mut self, id: &str) -> Result<bool, StoreError> {
        let q = query("UPDATE device_challenges SET answered = $2 WHERE id = $1 AND answered = $3")
            .bind(id)
            .bind(true)
            .bind(false);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Leaves the accepted outcome for the challenge's flow.
    pub async fn set_outcome(&mut self, id: &str, outcome: &serde_json::Value) -> Result<(), StoreError> {
        let q = query("UPDATE device_challenges SET outcome = $2 WHERE id = $1")
            .bind(id)
            .bind(outcome.to_string());
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Takes the outcome away (the flow consumed it); true when there was one.
    pub async fn take_outcome(&mut self, id: &str) -> Result<bool, StoreError> {
        let q = query("UPDATE device_challenges SET outcome = NULL WHERE id = $1 AND outcome IS NOT NULL")
            .bind(id);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Cancels the unanswered challenges addressed to any of `enrollments` (marks them answered,
    /// so they can no longer be used) and empties their push queues; returns how many.
    pub async fn cancel_for_enrollments(&mut self, enrollments: &[String]) -> Result<u64, StoreError> {
        let mut count = 0;
        for enrollment in enrollments {
            let q = query(
                "UPDATE device_challenges SET answered = $2 WHERE answered = $3 AND \
                 (audience = $1 OR id IN (SELECT challenge_id FROM device_pushes WHERE enrollment_id = $4))",
            )
            .bind(format!("enrollment:{enrollment}"))
            .bind(true)
            .bind(false)
            .bind(enrollment.as_str());
            count += self.ex.execute(q).await?;
            self.ex
                .execute(
                    query("DELETE FROM device_pushes WHERE enrollment_id = $1").bind(enrollment.as_str()),
                )
                .await?;
        }
        Ok(count)
    }

    /// Queues a challenge JWS for an enrollment's push long-poll.
    pub async fn queue_push(
        &mut self,
        enrollment: &str,
        challenge_id: &str,
        request: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO device_pushes (enrollment_id, challenge_id, request, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(enrollment)
        .bind(challenge_id)
        .bind(request)
        .bind(seconds(expires_at));
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Removes a delivered push; false when another poller took it first.
    pub async fn take_push(&mut self, seq: i64) -> Result<bool, StoreError> {
        let q = query("DELETE FROM device_pushes WHERE seq = $1").bind(seq);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Drops expired pushes and challenges that expired before `before_seconds`.
    pub async fn purge_expired(&mut self, before_seconds: u64) -> Result<(), StoreError> {
        let before = seconds(before_seconds);
        self.ex
            .execute(query("DELETE FROM device_pushes WHERE expires_at <= $1").bind(before))
            .await?;
        self.ex
            .execute(query("DELETE FROM device_challenges WHERE expires_at <= $1").bind(before))
            .await?;
        Ok(())
    }
}

impl<E: Exec> DeviceProofJtis<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// Whether `jti` was seen (and has not expired from the cache).
    pub async fn seen(&mut self, jti: &str) -> Result<bool, StoreError> {
        let q = query("SELECT jti FROM device_proof_jtis WHERE jti = $1").bind(jti);
        Ok(self.ex.fetch_optional(q).await?.is_some())
    }
}

impl DeviceProofJtis<InTx<'_>> {
    /// Records a `jti` until `expires_at` (Unix seconds); false when it was already recorded.
    pub async fn record(&mut self, jti: &str, expires_at: u64, now_seconds: u64) -> Result<bool, StoreError> {
        self.ex
            .execute(query("DELETE FROM device_proof_jtis WHERE expires_at <= $1").bind(seconds(now_seconds)))
            .await?;
        let q = query(
            "INSERT INTO device_proof_jtis (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(seconds(expires_at));
        Ok(self.ex.execute(q).await? == 1)
    }
}
