//! What `gatehouse serve` is told: addresses, database, keys and the knobs DESIGN leaves to the
//! operator. The binary fills it from flags and environment variables; tests build it directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gatehouse_crypto::PasswordParams;

/// Where the master keyring (secrets at rest) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// A keyring spec (`kid:base64key[,…]`), from `GATEHOUSE_MASTER_KEY`.
    Spec(String),
    /// A file holding a keyring spec; created with a fresh key and mode 0600 when missing.
    File(PathBuf),
}

/// Failed-attempt lockout (DESIGN section 4.4 and issue 4): after `max_failures` wrong answers in
/// a row the user is `locked_out` until an admin unlocks them or `duration` passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutConfig {
    pub max_failures: u32,
    pub duration: Duration,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            max_failures: 10,
            duration: Duration::from_secs(15 * 60),
        }
    }
}

/// How one-time codes reach people: always the file outbox unless SMTP / a webhook is set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryConfig {
    /// Directory where every email and SMS is also written as a JSON file (tests read it).
    pub outbox_dir: Option<PathBuf>,
    /// `smtp://user:pass@host:port` or `smtps://…`: send email through this relay.
    pub smtp_url: Option<String>,
    /// The `From:` address of email.
    pub email_from: String,
    /// An HTTP endpoint that receives `{"to", "text"}` for every SMS.
    pub sms_webhook: Option<String>,
}

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The public base URL (`http://localhost:8080`): OIDC issuer, cookie and WebAuthn origin.
    pub issuer: String,
    /// `postgres://…` or a SQLite path (`./gatehouse.db`).
    pub database_url: String,
    /// Seed the demo organisation into an empty database.
    pub demo: bool,
    pub master_key: MasterKeySource,
    /// The admin token to create at first start (`GATEHOUSE_ADMIN_TOKEN`); else a random one.
    pub admin_token: Option<String>,
    pub password: PasswordParams,
    /// How many argon2id hashes may run at once (0: one per core).
    pub password_concurrency: usize,
    /// A flow expires after this long without a step (DESIGN section 5: 10 minutes).
    pub flow_idle: Duration,
    pub lockout: LockoutConfig,
    /// Per-IP and per-login limits on sign-in steps (`0` turns one off).
    pub rate_limits: crate::limits::RateLimitConfig,
    pub delivery: DeliveryConfig,
    /// The loopback ports the sign-in page probes for Gatehouse Verify's FastPass daemon, in
    /// order (DESIGN section 7: `8769`). Also the only ports the page's CSP lets it connect to.
    pub fastpass_ports: Vec<u16>,
    /// Risk scoring: weights, thresholds and windows (docs/risk.md).
    pub risk: crate::risk::RiskConfig,
    /// Proxies (load balancers) whose `X-Forwarded-For` is believed: the client address is the
    /// right-most one in that header that is not such a proxy. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<gatehouse_policy::Cidr>,
    /// PEM files of the authenticator attestation roots trusted for WebAuthn: a security key
    /// whose attestation chains to one is `hardware_protected` (docs/webauthn.md). Empty: none
    /// is, and attestation is not requested.
    pub webauthn_attestation_cas: Vec<PathBuf>,
}

impl Config {
    /// The defaults of DESIGN section 1, with the database at `database_url`.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: "http://localhost:8080".to_owned(),
            database_url: database_url.into(),
            demo: false,
            master_key: MasterKeySource::File(PathBuf::from("gatehouse.key")),
            admin_token: None,
            password: PasswordParams::default(),
            password_concurrency: 0,
            flow_idle: Duration::from_secs(10 * 60),
            lockout: LockoutConfig::default(),
            rate_limits: crate::limits::RateLimitConfig::default(),
            delivery: DeliveryConfig {
                outbox_dir: Some(PathBuf::from("gatehouse-outbox")),
                smtp_url: None,
                email_from: "Gatehouse <no-reply@localhost>".to_owned(),
                sms_webhook: None,
            },
            fastpass_ports: vec![gatehouse_api::device::DEFAULT_LOOPBACK_PORT],
            risk: crate::risk::RiskConfig::default(),
            trusted_proxies: Vec::new(),
            webauthn_attestation_cas: Vec::new(),
        }
    }
}
