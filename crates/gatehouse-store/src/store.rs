//! [`Store`], the handle every other crate holds, and [`Tx`], a write transaction.
//!
//! Reads go through the store (`store.users().get(id)`); every write goes through a transaction
//! (`let mut tx = store.begin().await?; tx.users().insert(&user).await?; tx.log().append(&event)
//! .await?; tx.commit().await?`), so the writes that belong together — a record and its log
//! event, a session and its verification records, a device and its enrollment — commit or vanish
//! together. A `Tx` dropped without `commit` rolls back.

use gatehouse_core::model::Id;

use crate::StoreError;
use crate::backend::{self, Dialect, Pools, TxInner};
use crate::repo::{
    AccessRules, AdminTokens, Apps, DeviceChallenges, DeviceProofJtis, Devices, Enrollments, Flows, Groups,
    Log, OAuth, Policies, Sessions, Settings, SignInFailures, Users, Zones,
};
use crate::sql::{InTx, Pooled};

/// A fresh id: a UUIDv7 (time-ordered, 74 random bits).
pub fn new_id<T: Id>() -> T {
    T::from_uuid(uuid::Uuid::now_v7())
}

/// The storage handle: cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
}

/// A write transaction. Commit it with [`Tx::commit`]; dropping it rolls back.
#[derive(Debug)]
pub struct Tx {
    inner: TxInner,
}

impl Store {
    /// Opens the database named by `url` — `postgres://…` (or `postgresql://…`) for PostgreSQL,
    /// otherwise a SQLite file path (`./gatehouse.db`, `sqlite:PATH`, `sqlite://PATH`), created
    /// when missing — and applies the pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            pools: backend::connect(url).await?,
        })
    }

    /// Which database this store runs on (for logs and the start-up banner only).
    pub fn dialect(&self) -> Dialect {
        self.pools.dialect()
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: self.pools.begin().await?,
        })
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        self.pools.close().await;
    }

    /// Whether every migration this binary knows has been applied successfully (`/readyz`);
    /// an error when the database does not answer.
    pub async fn migrated(&self) -> Result<bool, StoreError> {
        let dialect = self.dialect();
        let known = backend::migration_lists()
            .iter()
            .find(|(d, _)| *d == dialect)
            .map_or(0, |(_, files)| files.len());
        let q = crate::sql::query("SELECT COUNT(*) AS n FROM _sqlx_migrations WHERE success = TRUE");
        let applied = backend::fetch_optional_pooled(&self.pools, q)
            .await?
            .map_or(Ok(0), |r| r.int("n"))?;
        Ok(usize::try_from(applied).is_ok_and(|n| n >= known))
    }

    /// Whether nothing has been created yet: no users, no applications, no policies (the
    /// built-in `everyone` group does not count). `serve --demo` seeds only such a database.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.users().count().await? == 0
            && self.apps().count().await? == 0
            && self.policies().count().await? == 0)
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await
    }

    /// Rolls back explicitly (dropping the transaction does the same, without waiting).
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.inner.rollback().await
    }
}

/// Declares each repository once: `store.NAME()` reads from the pool, `tx.NAME()` reads and
/// writes inside the transaction. To add a repository, add a line here and its module in `repo`.
macro_rules! repositories {
    ($($(#[$doc:meta])* $name:ident: $repo:ident),+ $(,)?) => {
        impl Store {$(
            $(#[$doc])*
            pub fn $name(&self) -> $repo<Pooled<'_>> {
                $repo::new(Pooled(&self.pools))
            }
        )+}

        impl Tx {$(
            $(#[$doc])*
            pub fn $name(&mut self) -> $repo<InTx<'_>> {
                $repo::new(InTx(&mut self.inner))
            }
        )+}
    };
}

repositories! {
    /// Users of the directory.
    users: Users,
    /// Groups and their members.
    groups: Groups,
    /// Applications (OIDC clients) and their assignments.
    apps: Apps,
    /// Network zones.
    zones: Zones,
    /// Policies and their ordered rules.
    policies: Policies,
    /// The authorization server's access-policy rules.
    access_rules: AccessRules,
    /// Authenticator enrollments.
    enrollments: Enrollments,
    /// Registered devices.
    devices: Devices,
    /// Challenges issued to devices and their push queues.
    device_challenges: DeviceChallenges,
    /// Device proof `jti`s seen (replay cache).
    device_proof_jtis: DeviceProofJtis,
    /// Global sessions and their verification records.
    sessions: Sessions,
    /// Sign-in flows.
    flows: Flows,
    /// The append-only system log.
    log: Log,
    /// Admin API tokens (digests).
    admin_tokens: AdminTokens,
    /// Installation settings.
    settings: Settings,
    /// Consecutive failed sign-in verifications, for lock-out.
    sign_in_failures: SignInFailures,
    /// The OpenID Connect provider's codes, refresh tokens, signing keys and revoked token ids.
    oauth: OAuth,
}
