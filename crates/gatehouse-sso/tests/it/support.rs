//! Test harness: a gateway on 127.0.0.1:0 with a fresh database (SQLite file or a PostgreSQL
//! database created and dropped for the test), a clock the test can move forward, and browser-like
//! clients.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_crypto::Keyring;
use gatehouse_sso::app::{Config, Provisioning};
use gatehouse_sso::clock::ShiftedClock;
use gatehouse_sso::domain::PublicUrl;
use gatehouse_sso::http::SharedState;
use gatehouse_sso::provision::ServiceUrls;
use gatehouse_sso::{App, serve};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::idp::TestIdp;

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database for one test, removed afterwards.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

fn pg_admin_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("GATEHOUSE_TEST_POSTGRES_URL is a URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

impl TestDb {
    pub async fn create(db: Db) -> Self {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("gatehouse-sso.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Db::Postgres => {
                use sqlx::Connection as _;
                let name = format!("sso_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&pg_admin_url())
                    .await
                    .expect("PostgreSQL must be running (GATEHOUSE_TEST_POSTGRES_URL)");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                Self {
                    url: with_database(&pg_admin_url(), &name),
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime: drop the database from a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    conn.close().await.ok();
                }
            });
        })
        .join();
    }
}

/// How the app under test provisions.
#[derive(Debug, Clone)]
pub enum Prov {
    Embedded,
    External(String),
}

/// Options for [`TestApp::spawn`].
pub struct Options {
    pub db: Db,
    pub provisioning: Prov,
    pub keyring: Option<Keyring>,
    pub database: Option<TestDb>,
    pub clock: Option<ShiftedClock>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            db: Db::Sqlite,
            provisioning: Prov::Embedded,
            keyring: None,
            database: None,
            clock: None,
        }
    }
}

/// A running gateway.
pub struct TestApp {
    pub base: String,
    /// Real time, moved forward by the test when it needs to.
    pub clock: ShiftedClock,
    pub state: SharedState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub db: Option<TestDb>,
}

impl TestApp {
    pub async fn spawn(options: Options) -> Self {
        let db = match options.database {
            Some(db) => db,
            None => TestDb::create(options.db).await,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let clock = options.clock.unwrap_or_default();
        let keyring = options
            .keyring
            .unwrap_or_else(|| Keyring::parse(&Keyring::generate_spec("k1").unwrap()).unwrap());
        let provisioning = match &options.provisioning {
            Prov::Embedded => Provisioning::Embedded,
            Prov::External(url) => Provisioning::External(ServiceUrls {
                projects_url: url.clone(),
                subscriptions_url: url.clone(),
                token: None,
            }),
        };
        let config = Config {
            public_url: PublicUrl::parse(&base).unwrap(),
            database_url: db.url.clone(),
            keyring: keyring.clone(),
            admin_token: Some(ADMIN_TOKEN.into()),
            provisioning,
            clock: Arc::new(clock.clone()),
            // The worker stays out of the way; tests call `run_due` when they mean it.
            worker_tick: Duration::from_secs(3600),
            provision_wait: Duration::from_secs(5),
            http_timeout: Duration::from_secs(5),
            demo: None,
        };
        let app = App::build(config).await.expect("gateway builds");
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            serve(listener, app, async move {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Self {
            base,
            clock,
            state,
            shutdown: Some(tx),
            task: Some(task),
            db: Some(db),
        }
    }

    pub async fn sqlite() -> Self {
        Self::spawn(Options::default()).await
    }

    /// Stops the server and hands back its database (to start another gateway on it).
    pub async fn stop(mut self) -> TestDb {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.db.take().expect("database")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn redirect_uri(&self, slug: &str) -> String {
        self.url(&format!("/okta-login/{slug}"))
    }

    /// An admin API call.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let client = reqwest::Client::new();
        let mut req = client.request(method, self.url(path)).bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("admin call");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Registers a tenant for `idp` (origins: `origins`).
    pub async fn register(&self, slug: &str, idp: &TestIdp, origins: &[&str]) -> Value {
        let (status, body) = self
            .admin(
                reqwest::Method::POST,
                "/admin/tenants",
                Some(json!({
                    "slug": slug,
                    "company_name": format!("{slug} Inc"),
                    "issuer": idp.issuer(),
                    "client_id": idp.client_id(),
                    "client_secret": idp.client_secret(),
                    "allowed_origins": origins,
                })),
            )
            .await;
        assert_eq!(status, 201, "registration failed: {body}");
        body
    }

    pub async fn audit_kinds(&self, tenant: &str) -> Vec<String> {
        let (_, body) = self
            .admin(
                reqwest::Method::GET,
                &format!("/admin/audit?tenant={tenant}&limit=1000"),
                None,
            )
            .await;
        body["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["kind"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A browser: its own cookie jar, redirects not followed.
pub struct Browser {
    pub client: reqwest::Client,
}

/// Where one step of the redirect dance ended.
#[derive(Debug)]
pub struct Step {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Step {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Step {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await.unwrap_or_default();
        Step {
            status,
            location,
            body,
        }
    }

    pub async fn get(&self, url: &str) -> Step {
        self.send(self.client.get(url)).await
    }

    /// `POST /sso/start {"tenant"}`; returns the IdP authorize URL.
    pub async fn start(&self, app: &TestApp, tenant: &str) -> String {
        let step = self
            .send(
                self.client
                    .post(app.url("/sso/start"))
                    .json(&json!({ "tenant": tenant })),
            )
            .await;
        assert_eq!(step.status, 303, "start failed: {step:?}");
        step.location.expect("Location to the IdP")
    }

    /// Follows the IdP's authorize URL as `user`; returns the callback URL it redirects to.
    pub async fn authorize(&self, authorize_url: &str, user: &str) -> String {
        let step = self
            .send(self.client.get(authorize_url).header("x-test-user", user))
            .await;
        assert_eq!(step.status, 302, "authorize failed: {step:?}");
        step.location.expect("Location back to the gateway")
    }

    /// The whole dance for `user`; returns the callback's answer.
    pub async fn login(&self, app: &TestApp, tenant: &str, user: &str) -> Step {
        let authorize = self.start(app, tenant).await;
        let callback = self.authorize(&authorize, user).await;
        self.get(&callback).await
    }

    /// `GET /dashboard` as JSON.
    pub async fn dashboard(&self, app: &TestApp) -> (u16, Value) {
        let step = self
            .send(
                self.client
                    .get(app.url("/dashboard"))
                    .header("accept", "application/json"),
            )
            .await;
        (step.status, step.json())
    }
}

/// Asserts a finished login: 303 to the dashboard.
pub fn assert_signed_in(step: &Step, app: &TestApp) {
    assert_eq!(step.status, 303, "callback did not sign in: {step:?}");
    assert_eq!(step.location.as_deref(), Some(app.url("/dashboard").as_str()));
}
