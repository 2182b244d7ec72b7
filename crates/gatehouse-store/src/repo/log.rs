//! The system log (`system_log`): append-only. This repository has no update or delete, and
//! both schemas refuse them with triggers, so not even a stray statement can rewrite history.
//! Events are ordered by `seq` (insertion order); queries return newest first.

use std::fmt::Write as _;

use gatehouse_core::model::{Actor, AppId, DeviceId, EventId, EventType, LogEvent, Outcome, UserId};
use jiff::Timestamp;

use super::{Builder, escape_like};
use crate::StoreError;
use crate::page::{Page, PageRequest};
use crate::sql::{Exec, InTx, Query, Row, query};

/// The system log repository.
#[derive(Debug)]
pub struct Log<E> {
    ex: E,
}

/// Which events to read. Every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Events whose target user is this one.
    pub user: Option<UserId>,
    /// Events of this type or below it (`user.session` matches `user.session.start`).
    pub type_prefix: Option<String>,
    /// At or after this time.
    pub since: Option<Timestamp>,
    /// Strictly before this time.
    pub until: Option<Timestamp>,
}

fn event_from_row(row: &Row) -> Result<LogEvent, StoreError> {
    let actor_type = row.text("actor_type")?;
    let actor_id = row.opt_text("actor_id")?;
    Ok(LogEvent {
        id: row.parse("id", EventId::parse)?,
        at: row.time("at")?,
        event_type: row.parse("event_type", EventType::parse)?,
        actor: Actor::from_parts(&actor_type, actor_id.as_deref())
            .map_err(|e| StoreError::corrupt("actor_type", e))?,
        target_user: row.opt_parse("target_user_id", UserId::parse)?,
        target_app: row.opt_parse("target_app_id", AppId::parse)?,
        target_device: row.opt_parse("target_device_id", DeviceId::parse)?,
        outcome: row.parse("outcome", Outcome::parse)?,
        request_id: row.opt_text("request_id")?,
        client_ip: row.opt_text("client_ip")?,
        details: row.json("details")?,
    })
}

impl<E: Exec> Log<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// Events matching `filter`, newest first.
    pub async fn query(
        &mut self,
        filter: &LogFilter,
        page: &PageRequest,
    ) -> Result<Page<LogEvent>, StoreError> {
        let mut b = Builder::new(
            "SELECT seq, id, at, event_type, actor_type, actor_id, target_user_id, target_app_id, target_device_id, \
             outcome, request_id, client_ip, details FROM system_log WHERE 1 = 1",
        );
        if let Some(user) = filter.user {
            b.sql(" AND target_user_id = ").bind(user);
        }
        if let Some(prefix) = &filter.type_prefix {
            b.sql(" AND (event_type = ")
                .bind(prefix.clone())
                .sql(" OR event_type LIKE ")
                .bind(format!("{}.%", escape_like(prefix)))
                .sql(" ESCAPE '\\')");
        }
        if let Some(since) = filter.since {
            b.sql(" AND at >= ").bind(since);
        }
        if let Some(until) = filter.until {
            b.sql(" AND at < ").bind(until);
        }
        if let Some(after) = &page.after {
            let seq: i64 = after
                .parse()
                .map_err(|_| StoreError::corrupt("cursor", "not a log position"))?;
            b.sql(" AND seq < ").bind(seq);
        }
        b.sql(" ORDER BY seq DESC LIMIT ").bind(page.fetch());
        let rows = self.ex.fetch_all(b.build()).await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            events.push((row.int("seq")?, event_from_row(row)?));
        }
        Ok(Page::from_rows(events, page, |(seq, _)| seq.to_string()).map(|(_, event)| event))
    }

    pub async fn count(&mut self) -> Result<i64, StoreError> {
        let row = self
            .ex
            .fetch_optional(query("SELECT COUNT(*) AS n FROM system_log"))
            .await?;
        row.map_or(Ok(0), |r| r.int("n"))
    }
}

impl Log<InTx<'_>> {
    /// Appends an event.
    pub async fn append(&mut self, event: &LogEvent) -> Result<(), StoreError> {
        self.append_all(std::slice::from_ref(event)).await
    }

    /// Appends events in as few statements as possible (one per 64 events).
    pub async fn append_all(&mut self, events: &[LogEvent]) -> Result<(), StoreError> {
        const COLUMNS: usize = 12;
        for chunk in events.chunks(64) {
            let mut sql = String::from(
                "INSERT INTO system_log (id, at, event_type, actor_type, actor_id, target_user_id, \
                 target_app_id, target_device_id, outcome, request_id, client_ip, details) VALUES ",
            );
            for row in 0..chunk.len() {
                sql.push_str(if row == 0 { "(" } else { ", (" });
                for column in 0..COLUMNS {
                    if column > 0 {
                        sql.push_str(", ");
                    }
                    let _ = write!(sql, "${}", row * COLUMNS + column + 1);
                }
                sql.push(')');
            }
            let mut q = Query::built(sql);
            for event in chunk {
                q = q
                    .bind(event.id)
                    .bind(event.at)
                    .bind(event.event_type.as_str())
                    .bind(event.actor.kind())
                    .bind(event.actor.id())
                    .bind(event.target_user)
                    .bind(event.target_app)
                    .bind(event.target_device)
                    .bind(event.outcome.as_str())
                    .bind(event.request_id.as_deref())
                    .bind(event.client_ip.as_deref())
                    .bind(event.details.to_string());
            }
            self.ex.execute(q).await?;
        }
        Ok(())
    }
}
