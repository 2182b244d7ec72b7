//! Putting the gateway together: configuration, start-up (database and migrations, keyring,
//! provisioning services, the demo tenant) and [`serve`] with graceful shutdown.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_crypto::Keyring;
use gatehouse_crypto::digest::sha256_hex;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::SsoError;
use crate::clock::{Clock, unix};
use crate::domain::PublicUrl;
use crate::http::sso::secret_aad;
use crate::http::{AppState, SharedState};
use crate::oidc::{Oidc, Transport};
use crate::provision::{Provisioner, ProvisioningClient, ServiceUrls, embedded};
use crate::store::{self, NewAudit, Store, TenantRecord};

/// Where provisioning calls go.
#[derive(Debug, Clone)]
pub enum Provisioning {
    /// The embedded default services, on a loopback port of their own.
    Embedded,
    /// External services.
    External(ServiceUrls),
}

/// A tenant to register at start when absent (`--demo`).
#[derive(Debug, Clone)]
pub struct DemoTenant {
    pub slug: String,
    pub company_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl DemoTenant {
    /// DESIGN.md section 11/12: `acme-corp` against the demo Gatehouse's `sso-gateway` client.
    pub fn acme_corp(issuer: &str) -> Self {
        Self {
            slug: "acme-corp".into(),
            company_name: "Acme Corp".into(),
            issuer: issuer.into(),
            client_id: "sso-gateway".into(),
            client_secret: "demo-sso-secret".into(),
        }
    }
}

/// Everything the gateway is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub public_url: PublicUrl,
    pub database_url: String,
    pub keyring: Keyring,
    pub admin_token: Option<String>,
    pub provisioning: Provisioning,
    pub clock: Arc<dyn Clock>,
    /// How often the provisioning worker looks for due retries.
    pub worker_tick: Duration,
    /// How long a callback waits for provisioning before showing the dashboard.
    pub provision_wait: Duration,
    /// Timeout of calls to IdPs and provisioning services.
    pub http_timeout: Duration,
    pub demo: Option<DemoTenant>,
}

/// A built gateway, ready to [`serve`].
#[derive(Debug)]
pub struct App {
    state: SharedState,
    embedded: Option<(TcpListener, axum::Router)>,
    embedded_url: Option<String>,
    worker_tick: Duration,
}

impl App {
    /// Opens the database, applies migrations, reseals secrets under the active key, prepares
    /// provisioning and registers the demo tenant.
    pub async fn build(config: Config) -> Result<Self, SsoError> {
        let store = store::connect(&config.database_url).await?;
        reseal_secrets(&store, &config.keyring, config.clock.as_ref()).await?;
        let (urls, embedded, embedded_url) = match &config.provisioning {
            Provisioning::External(urls) => (urls.clone(), None, None),
            Provisioning::Embedded => {
                let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
                    SsoError::Config(format!("cannot bind the embedded provisioning service: {e}"))
                })?;
                let addr = listener
                    .local_addr()
                    .map_err(|e| SsoError::Config(format!("embedded provisioning service address: {e}")))?;
                let token = gatehouse_crypto::random::token::<32>();
                let base = format!("http://{addr}");
                let router = embedded::router(store.clone(), config.clock.clone(), token.clone());
                let urls = ServiceUrls {
                    projects_url: base.clone(),
                    subscriptions_url: base.clone(),
                    token: Some(token),
                };
                (urls, Some((listener, router)), Some(base))
            }
        };
        let client = ProvisioningClient::new(urls, config.http_timeout)?;
        let provisioner = Provisioner::new(store.clone(), client, config.clock.clone());
        let oidc = Oidc::new(Transport::new(config.http_timeout)?, config.clock.clone());
        let state = Arc::new(AppState {
            store,
            keyring: config.keyring.clone(),
            oidc,
            provisioner,
            clock: config.clock.clone(),
            public_url: config.public_url.clone(),
            admin_token_hash: config.admin_token.as_deref().map(|t| sha256_hex(t.as_bytes())),
            provision_wait: config.provision_wait,
        });
        if let Some(demo) = &config.demo {
            register_demo(&state, demo).await?;
        }
        Ok(Self {
            state,
            embedded,
            embedded_url,
            worker_tick: config.worker_tick,
        })
    }

    pub fn state(&self) -> &SharedState {
        &self.state
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn provisioner(&self) -> &Provisioner {
        &self.state.provisioner
    }

    /// The embedded provisioning services' base URL, when they are used.
    pub fn embedded_provisioning_url(&self) -> Option<&str> {
        self.embedded_url.as_deref()
    }
}

/// Serves the gateway on `listener` until `shutdown` completes, then drains requests, stops the
/// provisioning worker and closes the database.
pub async fn serve<F>(listener: TcpListener, app: App, shutdown: F) -> Result<(), SsoError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let stop = CancellationToken::new();
    let state = app.state.clone();
    let mut tasks = tokio::task::JoinSet::new();
    if let Some((listener, router)) = app.embedded {
        let stop = stop.clone();
        tasks.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "embedded provisioning service stopped");
            }
        });
    }
    tasks.spawn(
        state
            .provisioner
            .clone()
            .run_worker(app.worker_tick, stop.clone()),
    );
    let router = crate::http::router(state.clone());
    let local = listener.local_addr().ok();
    tracing::info!(listen = ?local, public_url = %state.public_url, database = state.store.kind(), "gatehouse-sso serving");
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    state.store.close().await;
    tracing::info!("gatehouse-sso stopped");
    served.map_err(|e| SsoError::Config(format!("server failed: {e}")))
}

/// Re-seals client secrets sealed under a key other than the active one (after a key rotation).
async fn reseal_secrets(store: &Store, keyring: &Keyring, clock: &dyn Clock) -> Result<(), SsoError> {
    let mut resealed = 0;
    for mut tenant in store.list_tenants().await? {
        let aad = secret_aad(&tenant.id);
        let opened = keyring.open(&tenant.client_secret_sealed, aad.as_bytes())?;
        if !opened.needs_reseal {
            continue;
        }
        tenant.client_secret_sealed = keyring.seal(&opened.plaintext, aad.as_bytes());
        tenant.updated_at = unix(clock.now());
        let event = NewAudit {
            at: unix(clock.now()),
            kind: "tenant.secret_resealed".into(),
            tenant: Some(tenant.slug.to_string()),
            actor: "system".into(),
            detail: json!({ "key_id": keyring.active_key_id() }),
        };
        store.update_tenant(&tenant, &event).await?;
        resealed += 1;
    }
    if resealed > 0 {
        tracing::info!(
            resealed,
            key_id = keyring.active_key_id(),
            "client secrets re-sealed under the active key"
        );
    }
    Ok(())
}

async fn register_demo(state: &SharedState, demo: &DemoTenant) -> Result<(), SsoError> {
    use crate::domain::{ClientId, CompanyName, Issuer, TenantSlug};
    if state.store.tenant_by_slug(&demo.slug).await?.is_some() {
        return Ok(());
    }
    let slug = TenantSlug::parse(&demo.slug).map_err(SsoError::Config)?;
    let issuer = Issuer::parse(&demo.issuer).map_err(SsoError::Config)?;
    let company = CompanyName::parse(&demo.company_name).map_err(SsoError::Config)?;
    let client_id = ClientId::parse(&demo.client_id).map_err(SsoError::Config)?;
    let now = unix(state.clock.now());
    let id = format!("tnt_{}", uuid::Uuid::now_v7().simple());
    let tenant = TenantRecord {
        client_secret_sealed: state
            .keyring
            .seal(demo.client_secret.as_bytes(), secret_aad(&id).as_bytes()),
        id,
        slug,
        company_name: company.as_str().to_owned(),
        issuer: issuer.as_str().to_owned(),
        client_id: client_id.as_str().to_owned(),
        allowed_origins: vec![state.public_url.origin()],
        enabled: true,
        created_at: now,
        updated_at: now,
    };
    let event = NewAudit {
        at: now,
        kind: "tenant.created".into(),
        tenant: Some(tenant.slug.to_string()),
        actor: "demo".into(),
        detail: json!({ "issuer": tenant.issuer, "client_id": tenant.client_id }),
    };
    match state.store.insert_tenant(&tenant, &event).await {
        Ok(()) | Err(SsoError::TenantExists(_)) => {}
        Err(e) => return Err(e),
    }
    tracing::info!(
        tenant = %tenant.slug,
        issuer = %tenant.issuer,
        redirect_uri = %state.public_url.redirect_uri(&tenant.slug),
        "demo tenant registered"
    );
    Ok(())
}

/// The keyring: `GATEHOUSE_SSO_KEYRING` (`kid:base64key,…`, first key active) when given, else
/// the key file, created with one fresh key (mode 0600) when missing.
pub fn load_keyring(spec: Option<&str>, key_file: &Path) -> Result<Keyring, SsoError> {
    if let Some(spec) = spec.filter(|s| !s.trim().is_empty()) {
        return Ok(Keyring::parse(spec)?);
    }
    if !key_file.exists() {
        let spec = Keyring::generate_spec("k1")?;
        write_private(key_file, &format!("{spec}\n"))?;
        tracing::info!(path = %key_file.display(), "created a new keyring file");
    }
    let text = std::fs::read_to_string(key_file)
        .map_err(|e| SsoError::Config(format!("cannot read keyring file `{}`: {e}", key_file.display())))?;
    Ok(Keyring::parse(text.trim())?)
}

fn write_private(path: &Path, text: &str) -> Result<(), SsoError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| SsoError::Config(format!("cannot create keyring file `{}`: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| SsoError::Config(format!("cannot write keyring file `{}`: {e}", path.display())))
}

/// The default keyring file: beside a SQLite database (`gatehouse-sso.db` →
/// `gatehouse-sso.keyring`), else in the working directory.
pub fn default_key_file(database_url: &str) -> PathBuf {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return PathBuf::from("gatehouse-sso.keyring");
    }
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .unwrap_or(database_url);
    let path = path.split('?').next().unwrap_or(path);
    Path::new(path).with_extension("keyring")
}
