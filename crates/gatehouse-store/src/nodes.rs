//! Several nodes on one database (issue 9): what one node tells the others, and the lock a node
//! holds while it sets up shared state at start.
//!
//! Nodes keep a few things in memory — compiled policies, OIDC clients, signing keys — and reread
//! them after a short time anyway. On PostgreSQL a node that changes one of them says so on the
//! `gatehouse_changes` channel (`NOTIFY`), and every node listening drops its copy at once. SQLite
//! has one node, so announcing is a no-op there and there is nothing to listen to.

use std::str::FromStr;

use sqlx::postgres::PgListener;

use crate::backend::Pools;
use crate::{Store, StoreError};

/// The `LISTEN`/`NOTIFY` channel.
const CHANNEL: &str = "gatehouse_changes";

/// The advisory lock key held while a node initialises shared state (signing keys, the demo
/// organisation, built-in clients, the first admin token). Migrations take sqlx's own lock.
const START_LOCK_KEY: i64 = 0x6761_7465_686f_7573; // "gatehous"

/// The payload prefix of a queued push (`push:<enrollment id>`).
const PUSH_PREFIX: &str = "push:";

/// What changed, as nodes announce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Policies, rules, zones or the apps' policy assignment.
    Policies,
    /// Applications (OIDC clients) or the authorization server's access rules.
    Clients,
    /// The token signing keys (a rotation).
    Keys,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Policies => "policies",
            Self::Clients => "clients",
            Self::Keys => "keys",
        }
    }
}

impl FromStr for Change {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "policies" => Ok(Self::Policies),
            "clients" => Ok(Self::Clients),
            "keys" => Ok(Self::Keys),
            _ => Err(()),
        }
    }
}

/// What a listening node hears next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Another node (or this one) announced a change.
    Changed(Change),
    /// A push was queued for this device enrollment: wake its long-polls.
    Push(String),
    /// The listening connection was lost and has been reopened: announcements in between may be
    /// lost, so drop everything cached.
    Reconnected,
}

/// The announcements of every node, received on one dedicated connection.
#[derive(Debug)]
pub struct Changes(PgListener);

impl Changes {
    /// Waits for the next announcement. An error means the database cannot be reached; wait
    /// and call again (the listener reconnects).
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        loop {
            match self.0.try_recv().await? {
                None => return Ok(Heard::Reconnected),
                Some(n) => {
                    let payload = n.payload();
                    if let Some(enrollment) = payload.strip_prefix(PUSH_PREFIX) {
                        return Ok(Heard::Push(enrollment.to_owned()));
                    }
                    if let Ok(change) = payload.parse() {
                        return Ok(Heard::Changed(change));
                    }
                    // A payload from a newer node: nothing this node caches depends on it.
                }
            }
        }
    }
}

/// Held by a node while it initialises shared state at start; other nodes starting at the same
/// time wait for it, then find that state made. Release it with [`StartLock::release`]; if it
/// is dropped instead, its connection closes and PostgreSQL releases the lock.
#[derive(Debug)]
pub struct StartLock(Option<sqlx::PgConnection>);

impl StartLock {
    pub async fn release(self) -> Result<(), StoreError> {
        if let Some(conn) = self.0 {
            use sqlx::Connection as _;
            conn.close().await?;
        }
        Ok(())
    }
}

impl Store {
    /// Tells every node (this one included) that `change` happened. A no-op on SQLite.
    pub async fn announce(&self, change: Change) -> Result<(), StoreError> {
        self.notify(change.as_str()).await
    }

    /// Tells every node that a push was queued for device enrollment `enrollment`, so that
    /// whichever node holds the device's long-poll answers it at once. A no-op on SQLite.
    pub async fn announce_push(&self, enrollment: &str) -> Result<(), StoreError> {
        self.notify(&format!("{PUSH_PREFIX}{enrollment}")).await
    }

    async fn notify(&self, payload: &str) -> Result<(), StoreError> {
        if let Pools::Postgres(pool) = self.pools() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Starts listening to every node's announcements; `None` on SQLite (one node).
    pub async fn changes(&self) -> Result<Option<Changes>, StoreError> {
        match self.pools() {
            Pools::Sqlite(_) => Ok(None),
            Pools::Postgres(pool) => {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                Ok(Some(Changes(listener)))
            }
        }
    }

    /// Takes the start lock (PostgreSQL `pg_advisory_lock` on a connection of its own), waiting
    /// for any other node that holds it. On SQLite there is nothing to take.
    pub async fn start_lock(&self) -> Result<StartLock, StoreError> {
        match self.pools() {
            Pools::Sqlite(_) => Ok(StartLock(None)),
            Pools::Postgres(pool) => {
                let mut conn = pool.acquire().await?.detach();
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(START_LOCK_KEY)
                    .execute(&mut conn)
                    .await?;
                Ok(StartLock(Some(conn)))
            }
        }
    }
}
