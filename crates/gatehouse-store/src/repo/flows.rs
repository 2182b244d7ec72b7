//! Sign-in flows (`flows`): opaque state JSON, a version for optimistic concurrency, an expiry.
//! An update names the version it read and fails with [`StoreError::Stale`] if another request
//! updated the flow first.

use gatehouse_core::model::{Flow, FlowId};
use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, Row, query};

/// The flows repository.
#[derive(Debug)]
pub struct Flows<E> {
    ex: E,
}

fn flow_from_row(row: &Row) -> Result<Flow, StoreError> {
    Ok(Flow {
        id: row.parse("id", FlowId::parse)?,
        state: row.text("state")?,
        version: row.int("version")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        expires_at: row.time("expires_at")?,
    })
}

impl<E: Exec> Flows<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// The flow, expired or not: check [`Flow::is_expired`] (an expired flow answers 410, an
    /// unknown one 404).
    pub async fn get(&mut self, id: FlowId) -> Result<Option<Flow>, StoreError> {
        self.get_since(id, -1).await
    }

    /// The flow as [`Flows::get`] reads it, but with an empty `state` when its version is
    /// `known`: the caller already holds that version's state (a negative `known` matches none).
    /// A flow's every change bumps its version, so an equal version is the same state.
    pub async fn get_since(&mut self, id: FlowId, known: i64) -> Result<Option<Flow>, StoreError> {
        let q = query(
            "SELECT id, CASE WHEN version = $2 THEN '' ELSE state END AS state, version, created_at, \
             updated_at, expires_at FROM flows WHERE id = $1",
        )
        .bind(id)
        .bind(known);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(flow_from_row)
            .transpose()
    }
}

impl Flows<InTx<'_>> {
    pub async fn insert(&mut self, flow: &Flow) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO flows (id, state, version, created_at, updated_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(flow.id)
        .bind(flow.state.as_str())
        .bind(flow.version)
        .bind(flow.created_at)
        .bind(flow.updated_at)
        .bind(flow.expires_at);
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Stores `flow.state`, `updated_at` and `expires_at` if the stored version is still
    /// `flow.version`; returns the flow with its new version. [`StoreError::Stale`] when another
    /// update won (or the flow is gone).
    pub async fn update(&mut self, flow: &Flow) -> Result<Flow, StoreError> {
        let q = query(
            "UPDATE flows SET state = $3, version = version + 1, updated_at = $4, expires_at = $5 \
             WHERE id = $1 AND version = $2",
        )
        .bind(flow.id)
        .bind(flow.version)
        .bind(flow.state.as_str())
        .bind(flow.updated_at)
        .bind(flow.expires_at);
        if self.ex.execute(q).await? != 1 {
            return Err(StoreError::Stale { what: "flow" });
        }
        let mut updated = flow.clone();
        updated.version += 1;
        Ok(updated)
    }

    pub async fn delete(&mut self, id: FlowId) -> Result<bool, StoreError> {
        Ok(self
            .ex
            .execute(query("DELETE FROM flows WHERE id = $1").bind(id))
            .await?
            == 1)
    }

    /// Deletes up to `limit` flows that expired before `before`; returns how many. Such a flow
    /// was also created before `before`: the `flows_created` index finds the candidates.
    pub async fn purge_expired(&mut self, before: Timestamp, limit: i64) -> Result<u64, StoreError> {
        let q = query(
            "DELETE FROM flows WHERE id IN \
             (SELECT id FROM flows WHERE created_at < $1 AND expires_at < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(limit);
        self.ex.execute(q).await
    }
}
