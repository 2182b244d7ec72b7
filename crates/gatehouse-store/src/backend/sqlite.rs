//! SQLite, the embedded default (`./gatehouse.db`): created when missing, WAL journal (readers
//! never block the writer), `synchronous=NORMAL` (survives a process crash; an OS crash may lose
//! the last transactions), foreign keys on.
//!
//! Statements run on the calling thread (rusqlite), each a prepared statement from the
//! connection's cache. A sign-in step's statements take microseconds; handing each to a
//! connection thread and back (sqlx's SQLite driver, used before) cost more than the statements
//! themselves. The one wait SQLite can impose — another process holding the write lock — is not
//! waited for on the calling thread: a statement that finds the database busy is retried on a
//! blocking thread, which waits up to the busy timeout. sqlx still applies the migrations (its
//! `_sqlx_migrations` bookkeeping), on a connection of its own at start-up.
//!
//! Connections open on demand and up to [`MAX_IDLE`] wait for reuse; the rest close when
//! returned, which keeps idle memory low.
//!
//! Writes share commits (group commit). SQLite has one writer at a time, so transactions take
//! turns ([`Shared::turn`]) on one writing connection. Each runs inside a savepoint of a
//! transaction the group keeps open (the first, which begins that transaction, needs none);
//! its commit releases the savepoint and waits while the
//! transactions queued behind it run, then one `COMMIT` makes the whole group durable and
//! answers every member (see [`Pool::begin`], [`Tx::commit`]). Pages that several of them
//! change — the system log's last page, a table's newest leaf, page 1 — reach the WAL once per
//! group instead of once per transaction, and the writing connection's page cache is never
//! invalidated by another writer. A transaction that rolls back rolls back its savepoint only.
//!
//! Checkpoints (copying the WAL back into the database file, with its `fsync`s) run on a
//! thread of their own, woken every [`CHECKPOINT_EVERY`] commits or each second after a commit,
//! not inside whichever request's commit crossed SQLite's threshold. Pages rewritten by many
//! commits in between are copied once. Requests still checkpoint themselves if the WAL reaches
//! [`INLINE_CHECKPOINT_PAGES`] (the thread cannot keep up).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::MigrationFile;
use crate::StoreError;
use crate::sql::{Param, Query, Row, Sql};

/// The SQLite migrations, in order. To add one: create `migrations/sqlite/NNNN_name.sql` and
/// append it here (and its PostgreSQL twin in `postgres.rs`). Never edit an applied one.
pub(crate) const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile {
        version: 1,
        description: "initial schema",
        file: "0001_initial.sql",
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
    },
    MigrationFile {
        version: 2,
        description: "sign-in failures",
        file: "0002_sign_in.sql",
        sql: include_str!("../../migrations/sqlite/0002_sign_in.sql"),
    },
    MigrationFile {
        version: 3,
        description: "openid connect provider",
        file: "0003_oidc.sql",
        sql: include_str!("../../migrations/sqlite/0003_oidc.sql"),
    },
    MigrationFile {
        version: 4,
        description: "devices",
        file: "0004_devices.sql",
        sql: include_str!("../../migrations/sqlite/0004_devices.sql"),
    },
    MigrationFile {
        version: 5,
        description: "console tokens",
        file: "0005_console_tokens.sql",
        sql: include_str!("../../migrations/sqlite/0005_console_tokens.sql"),
    },
    MigrationFile {
        version: 6,
        description: "risk",
        file: "0006_risk.sql",
        sql: include_str!("../../migrations/sqlite/0006_risk.sql"),
    },
    MigrationFile {
        version: 7,
        description: "scale indexes",
        file: "0007_scale_indexes.sql",
        sql: include_str!("../../migrations/sqlite/0007_scale_indexes.sql"),
    },
    MigrationFile {
        version: 8,
        description: "lighter system log",
        file: "0008_lighter_system_log.sql",
        sql: include_str!("../../migrations/sqlite/0008_lighter_system_log.sql"),
    },
    MigrationFile {
        version: 9,
        description: "refresh session index",
        file: "0009_refresh_session_index.sql",
        sql: include_str!("../../migrations/sqlite/0009_refresh_session_index.sql"),
    },
    MigrationFile {
        version: 10,
        description: "system log without id index",
        file: "0010_system_log_without_id_index.sql",
        sql: include_str!("../../migrations/sqlite/0010_system_log_without_id_index.sql"),
    },
    MigrationFile {
        version: 11,
        description: "quieter flow and session indexes",
        file: "0011_quieter_flow_and_session_indexes.sql",
        sql: include_str!("../../migrations/sqlite/0011_quieter_flow_and_session_indexes.sql"),
    },
    MigrationFile {
        version: 12,
        description: "refresh families",
        file: "0012_refresh_families.sql",
        sql: include_str!("../../migrations/sqlite/0012_refresh_families.sql"),
    },
    MigrationFile {
        version: 13,
        description: "ordered verification records",
        file: "0013_ordered_verification_records.sql",
        sql: include_str!("../../migrations/sqlite/0013_ordered_verification_records.sql"),
    },
];

/// How long a statement that found the database locked by another process waits for it, and
/// how long a transaction waits for its turn to write before giving up with
/// [`StoreError::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections kept open for reuse. Statements run on the async worker threads (one per core)
/// plus the one write transaction, so a few suffice.
const MAX_IDLE: usize = 4;

/// Prepared statements kept per connection: every fixed statement of the repositories fits.
const STATEMENT_CACHE: usize = 256;

/// How many times a group's commit lets the other ready tasks run before it queues for the turn
/// (each time, the transactions they begin join the group). One round halved the WAL frames
/// per sign-in under load; four saved another 5-8 % of the CPU per sign-in, at no cost to
/// latency (measured with the shared load driver, BENCHMARKS.md). When nothing else is ready,
/// the rounds take microseconds.
const GROUP_YIELDS: usize = 4;

/// Commits between background checkpoints (and at most a second). A page rewritten by many
/// commits in between is copied back once: 1,024 instead of 256 measured 2-4 % less CPU per
/// password-first sign-in under load (BENCHMARKS.md).
const CHECKPOINT_EVERY: u64 = 1024;

/// The WAL size (pages) at which a committing connection checkpoints itself: the backstop for
/// a checkpoint thread that falls behind (SQLite's own default is 1,000).
const INLINE_CHECKPOINT_PAGES: u32 = 20_000;

/// The SQLite connections: opened on demand, the idle ones kept for reuse.
#[derive(Debug, Clone)]
pub(crate) struct Pool(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    path: String,
    idle: Mutex<Vec<Conn>>,
    closed: AtomicBool,
    /// Commits so far (the checkpoint thread compares it with what it last saw).
    commits: AtomicU64,
    checkpointer: Mutex<Option<std::thread::Thread>>,
    /// The turn to write: one transaction at a time, in the order they asked (instead of
    /// sleeping in SQLite's busy handler and retrying). A group's commit takes a turn too.
    turn: Arc<Semaphore>,
    /// The writing connection and its open group; only the holder of a turn touches it.
    writer: Mutex<Writer>,
}

/// The writing connection and the group commit it has open.
#[derive(Debug, Default)]
struct Writer {
    /// `None` while a transaction (or the group's commit) holds it, or before the first write.
    conn: Option<Conn>,
    /// Whether `conn` is inside the group's `BEGIN IMMEDIATE`.
    open: bool,
    /// The transactions released into the open group, waiting for its `COMMIT`.
    waiting: Vec<oneshot::Sender<Result<(), StoreError>>>,
}

pub(crate) async fn connect(url: &str) -> Result<Pool, StoreError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || path.contains('?') || path == ":memory:" {
        return Err(StoreError::Url {
            url: url.to_owned(),
            reason: "expected the path of a SQLite database file".to_owned(),
        });
    }
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .map_err(|e| StoreError::Url {
            url: url.to_owned(),
            reason: e.to_string(),
        })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let migrating = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    super::migrator(MIGRATIONS).run(&migrating).await?;
    migrating.close().await;
    let pool = Pool(Arc::new(Shared {
        path: path.to_owned(),
        idle: Mutex::new(Vec::new()),
        closed: AtomicBool::new(false),
        commits: AtomicU64::new(0),
        checkpointer: Mutex::new(None),
        turn: Arc::new(Semaphore::new(1)),
        writer: Mutex::new(Writer::default()),
    }));
    let first = pool.take()?;
    pool.give_back(first);
    pool.start_checkpointer()?;
    Ok(pool)
}

impl Pool {
    /// An idle connection, or a new one.
    fn take(&self) -> Result<Conn, StoreError> {
        if self.0.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => Ok(Conn::new(open(&self.0.path)?)),
        }
    }

    /// Returns a connection for reuse (closing it when enough wait already, or when it is
    /// still inside a transaction because a rollback failed).
    fn give_back(&self, conn: Conn) {
        if !conn.db.is_autocommit() || self.0.closed.load(Ordering::Acquire) {
            return;
        }
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Closes the idle connections and stops the checkpoint thread; later statements fail with
    /// [`StoreError::Closed`].
    pub(crate) fn close(&self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.writer().conn = None;
        self.wake_checkpointer();
    }

    /// Starts the checkpoint thread, on a connection of its own. It holds only a weak reference:
    /// it ends when the store is closed or dropped.
    fn start_checkpointer(&self) -> Result<(), StoreError> {
        let conn = open(&self.0.path)?;
        let shared = Arc::downgrade(&self.0);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || {
                let mut seen = 0;
                loop {
                    std::thread::park_timeout(Duration::from_secs(1));
                    let Some(shared) = shared.upgrade() else { break };
                    if shared.closed.load(Ordering::Acquire) {
                        break;
                    }
                    let commits = shared.commits.load(Ordering::Relaxed);
                    drop(shared);
                    if commits != seen {
                        seen = commits;
                        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                            tracing::warn!(error = %e, "SQLite checkpoint failed; the next one retries");
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Io(e.to_string()))?;
        *self.0.checkpointer.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread.thread().clone());
        Ok(())
    }

    fn wake_checkpointer(&self) {
        if let Some(thread) = &*self.0.checkpointer.lock().unwrap_or_else(PoisonError::into_inner) {
            thread.unpark();
        }
    }

    /// Counts a commit; every [`CHECKPOINT_EVERY`]th wakes the checkpoint thread.
    fn committed(&self) {
        let n = self.0.commits.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(CHECKPOINT_EVERY) {
            self.wake_checkpointer();
        }
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.0.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Begins a write transaction: waits for the turn to write, then opens a savepoint in the
    /// writing connection's group, beginning the group (`BEGIN IMMEDIATE`: the write lock at
    /// once, so no reader ever has to upgrade and fail with `SQLITE_BUSY`) if none is open.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        let turn = tokio::time::timeout(BUSY_TIMEOUT, Arc::clone(&self.0.turn).acquire_owned())
            .await
            .map_err(|_| StoreError::Busy)?
            .map_err(|_| StoreError::Closed)?;
        if self.0.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let (conn, in_group) = {
            let mut writer = self.writer();
            let conn = writer.conn.take();
            let live = conn.as_ref().is_some_and(|c| !c.db.is_autocommit());
            if writer.open && !live {
                // The group's transaction is gone: its connection was lost (a blocking retry's
                // thread died), or SQLite rolled it back after an I/O error. Its members'
                // writes went with it; they must not be told otherwise.
                writer.open = false;
                for member in writer.waiting.drain(..) {
                    let _ = member.send(Err(StoreError::Busy));
                }
            }
            (conn, writer.open)
        };
        let conn = match conn {
            Some(conn) => conn,
            None => Conn::new(open(&self.0.path)?),
        };
        let mut tx = Tx {
            pool: self.clone(),
            conn: Some(conn),
            savepoint: false,
            _turn: Some(turn),
        };
        if in_group {
            tx.run(crate::sql::query("SAVEPOINT tx"), Op::Execute).await?;
            tx.savepoint = true;
        } else {
            // The group's first member needs no savepoint: until it commits, the group holds
            // its writes alone, and rolling it back rolls back the group.
            tx.run(crate::sql::query("BEGIN IMMEDIATE"), Op::Execute).await?;
            self.writer().open = true;
        }
        Ok(tx)
    }

    /// Hands the writing connection back after a transaction that did not commit: its
    /// savepoint (if it has one) rolled back, and the group with it when no one waits on the
    /// group (always so for the group's first member, which has no savepoint).
    /// If the savepoint cannot be rolled back, the whole group is, and its members are told.
    fn release_writer(&self, conn: Conn, savepoint: bool) {
        let undone = !savepoint || conn.db.execute_batch("ROLLBACK TO tx; RELEASE tx").is_ok();
        let mut writer = self.writer();
        if !undone || (writer.open && writer.waiting.is_empty()) {
            let _ = conn.db.execute_batch("ROLLBACK");
            for member in writer.waiting.drain(..) {
                let _ = member.send(Err(StoreError::Busy));
            }
        }
        writer.open = !conn.db.is_autocommit();
        writer.conn = Some(conn);
    }

    /// Commits the open group, once the tasks ready to run have had [`GROUP_YIELDS`] rounds to
    /// queue for the turn and join it. Runs as a task of its own: a member whose request is
    /// abandoned cannot strand the others.
    async fn commit_group(self) {
        for _ in 0..GROUP_YIELDS {
            tokio::task::yield_now().await;
        }
        let turn = Arc::clone(&self.0.turn).acquire_owned().await;
        let (conn, members) = {
            let mut writer = self.writer();
            (writer.conn.take(), std::mem::take(&mut writer.waiting))
        };
        let done = match conn {
            Some(conn) => {
                let (conn, done) = run_or_wait(conn, crate::sql::query("COMMIT"), Op::Execute).await;
                let mut writer = self.writer();
                if let Some(conn) = conn {
                    if !conn.db.is_autocommit() {
                        let _ = conn.db.execute_batch("ROLLBACK");
                    }
                    writer.conn = Some(conn);
                }
                writer.open = false;
                done.map(drop)
            }
            None => {
                self.writer().open = false;
                Err(StoreError::Closed)
            }
        };
        drop(turn);
        if done.is_ok() {
            self.committed();
        }
        for member in members {
            let _ = member.send(match &done {
                Ok(()) => Ok(()),
                Err(e) => Err(e.shared()),
            });
        }
    }

    /// Opens a read snapshot on a connection of its own. Its first read begins the read
    /// transaction every later read of the snapshot shares; a snapshot that reads nothing
    /// costs no statement.
    pub(crate) fn read(&self) -> Result<Read, StoreError> {
        Ok(Read {
            pool: self.clone(),
            conn: Some(self.take()?),
            begun: false,
        })
    }

    async fn run(&self, query: Query<'_>, op: Op) -> Result<Done, StoreError> {
        let conn = self.take()?;
        let (conn, done) = run_or_wait(conn, query, op).await;
        if let Some(conn) = conn {
            self.give_back(conn);
        }
        done
    }
}

/// A connection, with what [`run`] learnt about each statement it prepared there (the same for
/// every run of the statement, and costly to ask SQLite again: the placeholder names are looked
/// up one by one, and the column names copied).
#[derive(Debug)]
struct Conn {
    db: Connection,
    shapes: HashMap<Box<str>, Shape>,
}

impl Conn {
    fn new(db: Connection) -> Self {
        Self {
            db,
            shapes: HashMap::new(),
        }
    }
}

/// A prepared statement's placeholders and result columns.
#[derive(Debug)]
struct Shape {
    /// For each placeholder, in SQLite's numbering, the index of its parameter in the query.
    /// Placeholders are `$N`; SQLite numbers distinct names in order of first appearance. A name
    /// that is not `$N` maps past every parameter, so binding it fails.
    params: Box<[usize]>,
    columns: Arc<[Box<str>]>,
}

impl Shape {
    fn of(statement: &rusqlite::Statement<'_>) -> Self {
        let params = (1..=statement.parameter_count())
            .map(|index| {
                statement
                    .parameter_name(index)
                    .and_then(|name| name.strip_prefix('$'))
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| n.checked_sub(1))
                    .unwrap_or(usize::MAX)
            })
            .collect();
        let columns = statement.column_names().into_iter().map(Box::from).collect();
        Self { params, columns }
    }
}

fn open(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = {INLINE_CHECKPOINT_PAGES}; PRAGMA journal_size_limit = {};",
        64 * 1024 * 1024
    ))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// A write transaction: a savepoint in the writing connection's open group, holding the turn
/// to write. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub(crate) struct Tx {
    pool: Pool,
    /// `None` only if a statement's blocking retry was lost (its thread panicked).
    conn: Option<Conn>,
    /// Whether the savepoint `tx` is open (to release at commit, roll back when dropped). The
    /// group's first member has none.
    savepoint: bool,
    _turn: Option<OwnedSemaphorePermit>,
}

impl Tx {
    async fn run(&mut self, query: Query<'_>, op: Op) -> Result<Done, StoreError> {
        run_held(&mut self.conn, query, op).await
    }

    /// Releases the savepoint into the group, gives up the turn (the transactions queued behind
    /// it join the group) and waits for the group's commit.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        if self.savepoint {
            self.run(crate::sql::query("RELEASE tx"), Op::Execute).await?;
            self.savepoint = false;
        }
        let conn = self.conn.take().ok_or(StoreError::Closed)?;
        let (member, committed) = oneshot::channel();
        let first = {
            let mut writer = self.pool.writer();
            writer.conn = Some(conn);
            writer.waiting.push(member);
            writer.waiting.len() == 1
        };
        self._turn = None;
        if first {
            tokio::spawn(self.pool.clone().commit_group());
        }
        committed.await.unwrap_or(Err(StoreError::Closed))
    }

    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        drop(self);
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.release_writer(conn, self.savepoint);
        }
    }
}

/// A read snapshot on its own connection: one read transaction for all its reads (each
/// statement on its own would begin and end one, with their shared-memory locks). Dropping it
/// ends the transaction.
#[derive(Debug)]
pub(crate) struct Read {
    pool: Pool,
    /// `None` only if a statement's blocking retry was lost (its thread panicked).
    conn: Option<Conn>,
    /// Whether `BEGIN` ran (at the first read).
    begun: bool,
}

impl Read {
    async fn run(&mut self, query: Query<'_>, op: Op) -> Result<Done, StoreError> {
        if !self.begun
            && let Some(conn) = self.conn.as_mut()
        {
            run(conn, &crate::sql::query("BEGIN"), Op::Execute)?;
            self.begun = true;
        }
        run_held(&mut self.conn, query, op).await
    }
}

impl Drop for Read {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if !conn.db.is_autocommit() && run(&mut conn, &crate::sql::query("COMMIT"), Op::Execute).is_err()
            {
                let _ = conn.db.execute_batch("ROLLBACK");
            }
            self.pool.give_back(conn);
        }
    }
}

/// Runs `query` on a connection a [`Tx`] or [`Read`] holds, keeping it (`None` afterwards only if
/// the statement's blocking retry was lost).
async fn run_held(held: &mut Option<Conn>, query: Query<'_>, op: Op) -> Result<Done, StoreError> {
    let conn = held.take().ok_or(StoreError::Closed)?;
    let (conn, done) = run_or_wait(conn, query, op).await;
    *held = conn;
    done
}

/// What to do with a statement's result rows.
#[derive(Debug, Clone, Copy)]
enum Op {
    All,
    Optional,
    Execute,
}

/// A statement's outcome, by [`Op`].
enum Done {
    Rows(Vec<Row>),
    Count(u64),
}

/// Runs `query` on this thread; if the database is locked by another process, runs it again on
/// a blocking thread that waits up to [`BUSY_TIMEOUT`]. Hands the connection back (unless that
/// thread was lost).
async fn run_or_wait(mut conn: Conn, query: Query<'_>, op: Op) -> (Option<Conn>, Result<Done, StoreError>) {
    match run(&mut conn, &query, op) {
        Err(e) if is_busy(&e) => {}
        done => return (Some(conn), done.map_err(StoreError::from)),
    }
    let query = query.into_owned();
    let waited = tokio::task::spawn_blocking(move || {
        let mut conn = conn;
        let done = conn
            .db
            .busy_timeout(BUSY_TIMEOUT)
            .and_then(|()| run(&mut conn, &query, op));
        let _ = conn.db.busy_timeout(Duration::ZERO);
        (conn, done)
    })
    .await;
    match waited {
        Ok((conn, done)) => (Some(conn), done.map_err(StoreError::from)),
        Err(_) => (None, Err(StoreError::Closed)),
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn run(conn: &mut Conn, query: &Query<'_>, op: Op) -> rusqlite::Result<Done> {
    let sql = match &query.sql {
        Sql::Static(sql) => sql,
        Sql::Built(sql) => sql.as_str(),
    };
    tracing::trace!(sql, "statement");
    let Conn { db, shapes } = conn;
    let mut statement = db.prepare_cached(sql)?;
    let shape = match shapes.get(sql) {
        Some(shape) => shape,
        None => {
            if shapes.len() >= STATEMENT_CACHE {
                shapes.clear();
            }
            shapes.entry(sql.into()).or_insert(Shape::of(&statement))
        }
    };
    for (index, position) in shape.params.iter().enumerate() {
        let param = query
            .params
            .get(*position)
            .ok_or(rusqlite::Error::InvalidParameterCount(
                shape.params.len(),
                query.params.len(),
            ))?;
        match param {
            Param::Text(v) => statement.raw_bind_parameter(index + 1, v.as_deref())?,
            Param::Int(v) => statement.raw_bind_parameter(index + 1, v)?,
            Param::Bool(v) => statement.raw_bind_parameter(index + 1, v)?,
        }
    }
    let readonly = statement.readonly();
    let width = statement.column_count();
    let columns = Arc::clone(&shape.columns);
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        match op {
            Op::Execute => continue,
            Op::All | Op::Optional => {}
        }
        let values = (0..width)
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push(Row::Sqlite(SqliteRow {
            columns: Arc::clone(&columns),
            values,
        }));
        if matches!(op, Op::Optional) {
            break;
        }
    }
    drop(rows);
    Ok(match op {
        Op::Execute if readonly => Done::Count(0),
        Op::Execute => Done::Count(db.changes()),
        Op::All | Op::Optional => Done::Rows(out),
    })
}

pub(crate) async fn fetch_all(pool: &Pool, query: Query<'_>) -> Result<Vec<Row>, StoreError> {
    pool.run(query, Op::All).await.map(Done::rows)
}

pub(crate) async fn fetch_optional(pool: &Pool, query: Query<'_>) -> Result<Option<Row>, StoreError> {
    pool.run(query, Op::Optional)
        .await
        .map(|d| d.rows().into_iter().next())
}

/// A statement on its own that may write: it takes its turn like any transaction (and joins
/// the group commit), so it never meets the group's write lock.
pub(crate) async fn execute(pool: &Pool, query: Query<'_>) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let n = tx.run(query, Op::Execute).await.map(Done::count)?;
    tx.commit().await?;
    Ok(n)
}

pub(crate) async fn fetch_all_read(read: &mut Read, query: Query<'_>) -> Result<Vec<Row>, StoreError> {
    read.run(query, Op::All).await.map(Done::rows)
}

pub(crate) async fn fetch_optional_read(
    read: &mut Read,
    query: Query<'_>,
) -> Result<Option<Row>, StoreError> {
    read.run(query, Op::Optional)
        .await
        .map(|d| d.rows().into_iter().next())
}

pub(crate) async fn fetch_all_tx(tx: &mut Tx, query: Query<'_>) -> Result<Vec<Row>, StoreError> {
    tx.run(query, Op::All).await.map(Done::rows)
}

pub(crate) async fn fetch_optional_tx(tx: &mut Tx, query: Query<'_>) -> Result<Option<Row>, StoreError> {
    tx.run(query, Op::Optional)
        .await
        .map(|d| d.rows().into_iter().next())
}

pub(crate) async fn execute_tx(tx: &mut Tx, query: Query<'_>) -> Result<u64, StoreError> {
    tx.run(query, Op::Execute).await.map(Done::count)
}

impl Done {
    fn rows(self) -> Vec<Row> {
        match self {
            Self::Rows(rows) => rows,
            Self::Count(_) => Vec::new(),
        }
    }

    fn count(self) -> u64 {
        match self {
            Self::Count(n) => n,
            Self::Rows(_) => 0,
        }
    }
}

/// A SQLite result row, read out of the statement.
#[derive(Debug)]
pub struct SqliteRow {
    columns: Arc<[Box<str>]>,
    values: Vec<Value>,
}

impl SqliteRow {
    fn value(&self, column: &str) -> Result<&Value, StoreError> {
        self.columns
            .iter()
            .position(|c| &**c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| StoreError::corrupt(column, "the query did not return it"))
    }

    /// Text, as sqlx read it: integers and reals as their decimal text.
    pub(crate) fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(match self.value(column)? {
            Value::Null => None,
            Value::Text(text) => Some(text.clone()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Real(x) => Some(x.to_string()),
            Value::Blob(bytes) => {
                Some(String::from_utf8(bytes.clone()).map_err(|e| StoreError::corrupt(column, e))?)
            }
        })
    }

    pub(crate) fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Integer(n) => Ok(Some(*n)),
            Value::Text(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| StoreError::corrupt(column, e)),
            Value::Real(_) | Value::Blob(_) => Err(StoreError::corrupt(column, "it is not an integer")),
        }
    }

    pub(crate) fn bool(&self, column: &str) -> Result<bool, StoreError> {
        match self.opt_int(column)? {
            Some(n) => Ok(n != 0),
            None => Err(StoreError::corrupt(column, "it is null")),
        }
    }
}
