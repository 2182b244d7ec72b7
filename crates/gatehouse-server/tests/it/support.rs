//! Test support: a real server on `127.0.0.1:0` over a fresh database (SQLite in a temporary
//! directory, or a PostgreSQL database created and dropped for the test), with the demo
//! organisation seeded, a manual clock, and cheap argon2id parameters.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use gatehouse_crypto::{Keyring, PasswordParams};
use gatehouse_server::config::MasterKeySource;
use gatehouse_server::{AppState, Clock, Config};
use gatehouse_store::Dialect;
use gatehouse_store::testing::TestDatabase;
use tokio::sync::oneshot;

/// A running server; stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub state: AppState,
    pub clock: Clock,
    /// The admin token created at start.
    pub admin_token: String,
    pub outbox: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    db: Option<TestDatabase>,
}

/// How a test wants its server.
#[derive(Debug, Clone)]
pub struct Options {
    pub dialect: Dialect,
    pub demo: bool,
    /// Adjust the configuration before start (lockout, flow idle time, …).
    pub configure: fn(&mut Config),
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dialect: Dialect::Sqlite,
            demo: true,
            configure: |_| {},
        }
    }
}

impl TestServer {
    /// The demo organisation on SQLite.
    /// The stored user `login` (panics when there is none).
    pub async fn user(&self, login: &str) -> gatehouse_core::model::User {
        self.state
            .store()
            .users()
            .by_login(login)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no user {login}"))
    }

    pub async fn demo() -> Self {
        Self::start(Options::default()).await
    }

    pub async fn start(options: Options) -> Self {
        let db = TestDatabase::create(options.dialect).await;
        let outbox = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://127.0.0.1:{}", addr.port());
        let mut config = Config::new(db.url());
        config.listen = addr;
        config.issuer = base.clone();
        config.demo = options.demo;
        config.master_key = MasterKeySource::Spec(Keyring::generate_spec("test").unwrap());
        config.admin_token = Some("test-admin-token".to_owned());
        // Cheap hashing in tests; the parameters themselves are tested in gatehouse-crypto.
        config.password = PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        config.delivery.outbox_dir = Some(outbox.path().to_path_buf());
        (options.configure)(&mut config);
        let clock = Clock::manual(jiff::Timestamp::now());
        let started = gatehouse_server::start(config, clock.clone()).await.unwrap();
        let state = started.state.clone();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            gatehouse_server::serve(listener, started.state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            addr,
            base,
            state,
            clock,
            admin_token: "test-admin-token".to_owned(),
            outbox,
            shutdown: Some(tx),
            task: Some(task),
            db: Some(db),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client that keeps cookies and does not follow redirects.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// A request to the admin API with the admin token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client()
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token)
    }

    /// Runs one SQL statement on the server's database, from another connection.
    pub async fn execute_sql(&self, sql: &str) {
        if let Some(db) = &self.db {
            db.execute(sql).await;
        }
    }

    /// Drops the database under the running server (PostgreSQL: `WITH (FORCE)` ends its
    /// connections; SQLite: the file is removed).
    pub async fn lose_database(&mut self) {
        if let Some(db) = self.db.take() {
            db.destroy().await;
        }
    }

    /// Stops the server and drops its database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(db) = self.db.take() {
            db.destroy().await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
