//! [`AppState`]: what every request shares. Cheap to clone (one `Arc`).
//!
//! Each area keeps its own state beside the common parts: `oidc` its signing keys, `flow` its
//! delivery channels and in-memory helpers; they are built once at start by [`AppState::build`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_crypto::Keyring;
use gatehouse_oidc::Issuer;
use gatehouse_policy::PolicySet;
use gatehouse_store::{Change, Store};
use tokio::sync::RwLock;

use crate::passwords::Passwords;
use crate::{Clock, Config, ServerError, audit, directory, flow, oidc, verify};

/// How long a compiled policy set is trusted before it is read again. Writes on this node
/// invalidate it at once; the bound covers writes made by other nodes on the same database.
const POLICY_CACHE_TTL: Duration = Duration::from_secs(2);

/// The shared state of the server.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Config,
    store: Store,
    clock: Clock,
    passwords: Passwords,
    keyring: Keyring,
    issuer: Issuer,
    policies: RwLock<Option<(Arc<PolicySet>, Instant)>>,
    oidc: oidc::OidcState,
    flow: flow::FlowState,
    verify: verify::VerifyState,
    log: audit::Appender,
    metrics: crate::metrics::Metrics,
    /// Set when shutdown began: `/readyz` answers 503 while requests in flight finish.
    draining: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// Builds the state over an opened store: loads the master keyring, the signing keys
    /// (generating them on first start) and each area's state.
    pub async fn build(config: Config, store: Store, clock: Clock) -> Result<Self, ServerError> {
        let issuer = Issuer::parse(&config.issuer).map_err(|e| ServerError::Config {
            what: format!("issuer `{}`", config.issuer),
            reason: e.to_string(),
        })?;
        let keyring = crate::secrets::load_keyring(&config.master_key)?;
        let concurrency = if config.password_concurrency == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            config.password_concurrency
        };
        let passwords = Passwords::new(config.password, concurrency)?;
        let oidc = oidc::OidcState::load(&store, &keyring, &clock).await?;
        let flow = flow::FlowState::new(&config)?;
        let verify = verify::VerifyState::new();
        let log = audit::Appender::start(store.clone());
        Ok(Self(Arc::new(Inner {
            config,
            store,
            clock,
            passwords,
            keyring,
            issuer,
            policies: RwLock::new(None),
            oidc,
            flow,
            verify,
            log,
            metrics: crate::metrics::Metrics::new(),
            draining: std::sync::atomic::AtomicBool::new(false),
        })))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.0.clock.now()
    }

    pub fn passwords(&self) -> &Passwords {
        &self.0.passwords
    }

    pub fn keyring(&self) -> &Keyring {
        &self.0.keyring
    }

    pub fn issuer(&self) -> &Issuer {
        &self.0.issuer
    }

    pub fn oidc(&self) -> &oidc::OidcState {
        &self.0.oidc
    }

    pub fn flow(&self) -> &flow::FlowState {
        &self.0.flow
    }

    pub fn verify(&self) -> &verify::VerifyState {
        &self.0.verify
    }

    /// The system log's group commit, for events that belong to no other write.
    pub fn log(&self) -> &audit::Appender {
        &self.0.log
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }

    /// Whether shutdown began (`/readyz` then answers 503).
    pub fn draining(&self) -> bool {
        self.0.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn start_draining(&self) {
        self.0.draining.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The stored policies, compiled. Read from the database at most every couple of seconds,
    /// and again at once after [`AppState::policies_changed`].
    pub async fn policies(&self) -> Result<Arc<PolicySet>, ServerError> {
        if let Some((set, loaded)) = self.0.policies.read().await.as_ref()
            && loaded.elapsed() < POLICY_CACHE_TTL
        {
            return Ok(Arc::clone(set));
        }
        let mut slot = self.0.policies.write().await;
        if let Some((set, loaded)) = slot.as_ref()
            && loaded.elapsed() < POLICY_CACHE_TTL
        {
            return Ok(Arc::clone(set));
        }
        let set = Arc::new(directory::compile(&self.0.store).await?);
        *slot = Some((Arc::clone(&set), Instant::now()));
        Ok(set)
    }

    /// Drops the cached policies here and on every other node: call after any write to
    /// policies, rules, zones or the apps' policy assignment.
    pub async fn policies_changed(&self) {
        self.forget(Change::Policies).await;
        self.announce(Change::Policies).await;
    }

    /// Drops what the OIDC provider caches about clients and access rules, here and on every
    /// other node: call after any write to apps or authorization-server rules.
    pub async fn clients_changed(&self) {
        self.forget(Change::Clients).await;
        self.announce(Change::Clients).await;
    }

    /// Drops this node's cached copy of what `change` names (another node announced it).
    pub async fn forget(&self, change: Change) {
        match change {
            Change::Policies => *self.0.policies.write().await = None,
            Change::Clients => self.0.oidc.clients_changed(),
            Change::Keys => self.0.oidc.keys_changed(),
        }
    }

    /// Tells the other nodes. The write it follows has committed, so a failure here is logged,
    /// not returned: the other nodes' caches expire on their own within seconds.
    async fn announce(&self, change: Change) {
        if let Err(e) = self.0.store.announce(change).await {
            tracing::warn!(error = %e, change = change.as_str(), "could not tell the other nodes");
        }
    }
}
