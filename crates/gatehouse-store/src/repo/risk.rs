//! What the risk scorer reads besides the request (docs/risk.md): where each user signed in from
//! (`sign_in_contexts`: browsers, networks and zones, refreshed at every successful sign-in) and
//! an administrator's risk verdict on a user with its expiry (`user_risk`).

use gatehouse_core::model::UserId;
use jiff::Timestamp;

use super::Builder;
use crate::StoreError;
use crate::sql::{Exec, InTx, query};

/// A kind of place a user signs in from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextKind {
    /// A browser: the SHA-256 of its `gh_device` cookie.
    Device,
    /// The /24 (IPv4) or /48 (IPv6) network of the address.
    Network,
    /// A network zone the address was in.
    Zone,
}

impl ContextKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Network => "network",
            Self::Zone => "zone",
        }
    }
}

/// What risk scoring asks about a sign-in's places, read at once ([`SignInContexts::places`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    /// When the user last signed in from this browser.
    pub device_seen_at: Option<Timestamp>,
    /// When the user last signed in from this network.
    pub network_seen_at: Option<Timestamp>,
    /// Every zone the user signed in from, most recent first (at most one row per zone of the
    /// policy document).
    pub zones: Vec<(String, Timestamp)>,
}

/// An administrator's verdict on a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRiskRow {
    pub level: String,
    pub reason: String,
    pub expires_at: Timestamp,
    pub set_at: Timestamp,
}

/// The sign-in contexts repository.
#[derive(Debug)]
pub struct SignInContexts<E> {
    ex: E,
}

impl<E: Exec> SignInContexts<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// Whether the user signed in from this place since `since`, and whether they ever signed
    /// in at all since then (no history means every place is new).
    pub async fn seen(
        &mut self,
        user: UserId,
        kind: ContextKind,
        values: &[String],
        since: Timestamp,
    ) -> Result<bool, StoreError> {
        for value in values {
            let q = query(
                "SELECT 1 AS one FROM sign_in_contexts WHERE user_id = $1 AND kind = $2 AND value = $3 \
                 AND last_seen_at >= $4",
            )
            .bind(user)
            .bind(kind.as_str())
            .bind(value.as_str())
            .bind(since);
            if self.ex.fetch_optional(q).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl<E: Exec> SignInContexts<E> {
    /// In one statement: when `user` last signed in from this browser (`device`, if known) and
    /// this network, and from which zones when.
    pub async fn places(
        &mut self,
        user: UserId,
        device: Option<&str>,
        network: &str,
    ) -> Result<Places, StoreError> {
        let q = query(
            "SELECT kind, value, last_seen_at FROM sign_in_contexts WHERE user_id = $1 AND kind = 'zone' \
             UNION ALL SELECT kind, value, last_seen_at FROM sign_in_contexts \
             WHERE user_id = $1 AND kind = 'network' AND value = $2 \
             UNION ALL SELECT kind, value, last_seen_at FROM sign_in_contexts \
             WHERE user_id = $1 AND kind = 'device' AND value = $3",
        )
        .bind(user)
        .bind(network)
        .bind(device);
        let mut places = Places::default();
        for row in self.ex.fetch_all(q).await? {
            let at = row.time("last_seen_at")?;
            match row.text("kind")?.as_str() {
                "device" => places.device_seen_at = Some(at),
                "network" => places.network_seen_at = Some(at),
                _ => places.zones.push((row.text("value")?, at)),
            }
        }
        places.zones.sort_by_key(|z| std::cmp::Reverse(z.1));
        Ok(places)
    }

    /// The user's places of one kind, most recent first.
    pub async fn recent(
        &mut self,
        user: UserId,
        kind: ContextKind,
        limit: i64,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let q = query(
            "SELECT value, last_seen_at FROM sign_in_contexts WHERE user_id = $1 AND kind = $2 \
             ORDER BY last_seen_at DESC LIMIT $3",
        )
        .bind(user)
        .bind(kind.as_str())
        .bind(limit);
        self.ex
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| Ok((r.text("value")?, r.time("last_seen_at")?)))
            .collect()
    }
}

impl SignInContexts<InTx<'_>> {
    /// Records in one statement that the user signed in from each of `places` at `now`. A place
    /// already recorded is refreshed only if last seen before `stale_before` (a place seen again
    /// and again writes nothing until then). A place named twice is recorded once.
    pub async fn touch_all(
        &mut self,
        user: UserId,
        places: &[(ContextKind, &str)],
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<(), StoreError> {
        let mut distinct: Vec<(ContextKind, &str)> = Vec::with_capacity(places.len());
        for place in places {
            if !distinct.contains(place) {
                distinct.push(*place);
            }
        }
        if distinct.is_empty() {
            return Ok(());
        }
        let mut b = Builder::new("INSERT INTO sign_in_contexts (user_id, kind, value, last_seen_at) VALUES ");
        for (i, (kind, value)) in distinct.iter().enumerate() {
            b.sql(if i == 0 { "(" } else { ", (" })
                .bind(user)
                .sql(", ")
                .bind(kind.as_str())
                .sql(", ")
                .bind(*value)
                .sql(", ")
                .bind(now)
                .sql(")");
        }
        b.sql(" ON CONFLICT (user_id, kind, value) DO UPDATE SET last_seen_at = excluded.last_seen_at")
            .sql(" WHERE sign_in_contexts.last_seen_at < ")
            .bind(stale_before);
        self.ex.execute(b.build()).await?;
        Ok(())
    }

    /// Records (or refreshes) that the user signed in from this place at `now`.
    pub async fn touch(
        &mut self,
        user: UserId,
        kind: ContextKind,
        value: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO sign_in_contexts (user_id, kind, value, last_seen_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, kind, value) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        )
        .bind(user)
        .bind(kind.as_str())
        .bind(value)
        .bind(now);
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Forgets up to `limit` places not seen since `before` (older than risk's look-back, they
    /// no longer count); returns how many.
    pub async fn purge_unseen_since(&mut self, before: Timestamp, limit: i64) -> Result<u64, StoreError> {
        let q = query(
            "DELETE FROM sign_in_contexts WHERE (user_id, kind, value) IN \
             (SELECT user_id, kind, value FROM sign_in_contexts WHERE last_seen_at < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(limit);
        self.ex.execute(q).await
    }
}

/// The administrators' risk verdicts.
#[derive(Debug)]
pub struct UserRisks<E> {
    ex: E,
}

impl<E: Exec> UserRisks<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// The user's verdict, expired or not (the caller compares `expires_at` with its clock).
    pub async fn get(&mut self, user: UserId) -> Result<Option<UserRiskRow>, StoreError> {
        let row = self
            .ex
            .fetch_optional(
                query("SELECT level, reason, expires_at, set_at FROM user_risk WHERE user_id = $1")
                    .bind(user),
            )
            .await?;
        row.map(|r| {
            Ok(UserRiskRow {
                level: r.text("level")?,
                reason: r.text("reason")?,
                expires_at: r.time("expires_at")?,
                set_at: r.time("set_at")?,
            })
        })
        .transpose()
    }
}

impl UserRisks<InTx<'_>> {
    pub async fn set(&mut self, user: UserId, risk: &UserRiskRow) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO user_risk (user_id, level, reason, expires_at, set_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id) DO UPDATE SET level = excluded.level, reason = excluded.reason, \
             expires_at = excluded.expires_at, set_at = excluded.set_at",
        )
        .bind(user)
        .bind(risk.level.as_str())
        .bind(risk.reason.as_str())
        .bind(risk.expires_at)
        .bind(risk.set_at);
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Removes the verdict; whether there was one.
    pub async fn clear(&mut self, user: UserId) -> Result<bool, StoreError> {
        Ok(self
            .ex
            .execute(query("DELETE FROM user_risk WHERE user_id = $1").bind(user))
            .await?
            == 1)
    }
}
