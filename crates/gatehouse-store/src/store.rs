//! [`Store`], the handle every other crate holds, and [`Tx`], a write transaction.
//!
//! Reads go through the store (`store.users().get(id)`); every write goes through a transaction
//! (`let mut tx = store.begin().await?; tx.users().insert(&user).await?; tx.log().append(&event)
//! .await?; tx.commit().await?`), so the writes that belong together — a record and its log
//! event, a session and its verification records, a device and its enrollment — commit or vanish
//! together. A `Tx` dropped without `commit` rolls back.

use gatehouse_core::model::Id;

use crate::StoreError;
use crate::backend::{self, Dialect, Pools, ReadInner, TxInner};
use crate::repo::{
    AccessRules, AdminTokens, Apps, BackchannelLogouts, DeviceChallenges, DeviceProofJtis, Devices,
    Enrollments, Flows, Groups, Log, OAuth, Policies, Sessions, Settings, SignInContexts, SignInFailures,
    UserRisks, Users, Zones,
};
use crate::sql::{InRead, InTx, Pooled};

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
    /// System-log events to insert, in one statement, just before the commit.
    log_at_commit: Vec<gatehouse_core::model::LogEvent>,
}

/// A read snapshot: reads that see one state of the database, for the price of one (on SQLite
/// each statement on its own begins and ends a read transaction; a snapshot begins one). Take
/// one for a handful of reads in a row — `let mut read = store.read()?; read.users().get(id)…` —
/// and drop it before writing: it does not see later commits, not even the caller's own.
#[derive(Debug)]
pub struct Read {
    inner: ReadInner,
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

    pub(crate) fn pools(&self) -> &Pools {
        &self.pools
    }

    /// Which database this store runs on (for logs and the start-up banner only).
    pub fn dialect(&self) -> Dialect {
        self.pools.dialect()
    }

    /// Begins a write transaction. On SQLite, transactions take turns (one writer at a time)
    /// and share commits: see `backend::sqlite`. Waiting more than 5 s for the turn fails with
    /// [`StoreError::Busy`].
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: self.pools.begin().await?,
            log_at_commit: Vec::new(),
        })
    }

    /// Opens a read snapshot (see [`Read`]).
    pub fn read(&self) -> Result<Read, StoreError> {
        Ok(Read {
            inner: self.pools.read()?,
        })
    }

    /// Begins a write transaction that reads first: a [`Read`] whose statements run inside the
    /// transaction, which [`Read::into_tx`] then hands over for the writes. For a request that
    /// reads what it is about to change (a refresh token, its user and session) and writes
    /// whenever it succeeds. On SQLite the reads run on the writing connection, whose pages
    /// stay cached, instead of a reader's, which reloads them after every commit; they see what
    /// the transactions before it wrote, and no other write comes between them and the
    /// writes. On PostgreSQL they read committed, as every transaction there does: races are
    /// still settled by conditional updates. It holds the turn to write from the start (see
    /// [`Store::begin`]): nothing done while it is open may begin another transaction.
    /// Dropped, it rolls back.
    pub async fn read_then_write(&self) -> Result<Read, StoreError> {
        Ok(Read {
            inner: ReadInner::Tx(self.pools.begin().await?),
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

impl Read {
    /// The transaction of a [`Store::read_then_write`], to write in after the reads;
    /// [`StoreError::ReadOnly`] for a plain snapshot.
    pub fn into_tx(self) -> Result<Tx, StoreError> {
        match self.inner {
            ReadInner::Tx(inner) => Ok(Tx {
                inner,
                log_at_commit: Vec::new(),
            }),
            _ => Err(StoreError::ReadOnly),
        }
    }
}

impl Tx {
    /// Commits, inserting the events given to [`Tx::log_at_commit`] first.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if !self.log_at_commit.is_empty() {
            let events = std::mem::take(&mut self.log_at_commit);
            self.log().append_all(&events).await?;
        }
        self.inner.commit().await
    }

    /// Queues a system-log event to be inserted with this transaction's commit (all of a
    /// transaction's events go in one statement). Reads inside the transaction do not see it.
    pub fn log_at_commit(&mut self, event: gatehouse_core::model::LogEvent) {
        self.log_at_commit.push(event);
    }

    /// Rolls back explicitly (dropping the transaction does the same, without waiting).
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.inner.rollback().await
    }
}

/// Declares each repository once: `store.NAME()` reads from the pool, `read.NAME()` inside a
/// read snapshot, `tx.NAME()` reads and writes inside the transaction. To add a repository, add a line here and its module in `repo`.
macro_rules! repositories {
    ($($(#[$doc:meta])* $name:ident: $repo:ident),+ $(,)?) => {
        impl Store {$(
            $(#[$doc])*
            pub fn $name(&self) -> $repo<Pooled<'_>> {
                $repo::new(Pooled(&self.pools))
            }
        )+}

        impl Read {$(
            $(#[$doc])*
            pub fn $name(&mut self) -> $repo<InRead<'_>> {
                $repo::new(InRead(&mut self.inner))
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
    /// Where each user signed in from (risk: new device, new network).
    sign_in_contexts: SignInContexts,
    /// Administrators' risk verdicts on users.
    user_risks: UserRisks,
    /// Back-channel logout tokens to deliver.
    backchannel_logouts: BackchannelLogouts,
    /// The OpenID Connect provider's codes, refresh tokens, signing keys and revoked token ids.
    oauth: OAuth,
}
