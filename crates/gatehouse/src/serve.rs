//! `gatehouse serve`: the engine on HTTP, with its database, keys and (optionally) the demo
//! organisation.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use gatehouse_server::config::{DeliveryConfig, LockoutConfig, MasterKeySource};
use gatehouse_server::{Clock, Config};

/// Run the engine: OIDC provider, sign-in flows, admin API.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML file of these settings (`key = value`, keys as the flags with `_`, as in
    /// `database_url`); flags and environment variables override it.
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "GATEHOUSE_LISTEN")]
    listen: SocketAddr,
    /// Public base URL: the OIDC issuer, cookie and WebAuthn origin (WebAuthn needs a host name).
    #[arg(long, default_value = "http://localhost:8080", env = "GATEHOUSE_ISSUER")]
    issuer: String,
    /// `postgres://…` for PostgreSQL; otherwise a SQLite file, created when missing.
    #[arg(long, default_value = "./gatehouse.db", env = "GATEHOUSE_DATABASE_URL")]
    database_url: String,
    /// Seed the demo organisation (DESIGN section 12) when the database is empty.
    #[arg(long)]
    demo: bool,
    /// The master keyring sealing secrets at rest, as `kid:base64key[,…]` (first key active).
    #[arg(long, env = "GATEHOUSE_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// File holding the master keyring when GATEHOUSE_MASTER_KEY is not set; created with a new
    /// key and mode 0600 when missing.
    #[arg(long, default_value = "./gatehouse.key", env = "GATEHOUSE_MASTER_KEY_FILE")]
    master_key_file: PathBuf,
    /// The admin API token to create at first start (default: a random one, printed once).
    #[arg(long, env = "GATEHOUSE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// argon2id memory cost in KiB (OWASP: 19456).
    #[arg(long, default_value_t = 19_456, env = "GATEHOUSE_PASSWORD_MEMORY_KIB")]
    password_memory_kib: u32,
    /// argon2id iterations (OWASP: 2).
    #[arg(long, default_value_t = 2, env = "GATEHOUSE_PASSWORD_ITERATIONS")]
    password_iterations: u32,
    /// Wrong answers in a row before a user is locked out.
    #[arg(long, default_value_t = 10, env = "GATEHOUSE_LOCKOUT_FAILURES")]
    lockout_failures: u32,
    /// Minutes a lockout lasts unless an admin unlocks the user first.
    #[arg(long, default_value_t = 15, env = "GATEHOUSE_LOCKOUT_MINUTES")]
    lockout_minutes: u64,
    /// Sign-in steps (identify, password, codes) per minute from one IP address; 0 turns the limit off.
    #[arg(long, default_value_t = 600, env = "GATEHOUSE_RATE_LIMIT_PER_IP")]
    rate_limit_per_ip: u32,
    /// Sign-in steps per minute naming one login, known or not; 0 turns the limit off.
    #[arg(long, default_value_t = 120, env = "GATEHOUSE_RATE_LIMIT_PER_LOGIN")]
    rate_limit_per_login: u32,
    /// With --demo: do not start the demo applications on their callback ports (9000, 9001, …).
    #[arg(long, env = "GATEHOUSE_NO_DEMO_APPS")]
    no_demo_apps: bool,
    /// Directory where every email and SMS is written as a JSON file (the default delivery).
    #[arg(long, default_value = "./gatehouse-outbox", env = "GATEHOUSE_OUTBOX_DIR")]
    outbox_dir: PathBuf,
    /// Send email through this SMTP relay (`smtp://user:pass@host:587`, `smtps://…`).
    #[arg(long, env = "GATEHOUSE_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The From: address of email.
    #[arg(
        long,
        default_value = "Gatehouse <no-reply@localhost>",
        env = "GATEHOUSE_EMAIL_FROM"
    )]
    email_from: String,
    /// POST every SMS as JSON `{"to","text"}` to this URL.
    #[arg(long, env = "GATEHOUSE_SMS_WEBHOOK")]
    sms_webhook: Option<String>,
    /// Loopback ports the sign-in page probes, in order, for Gatehouse Verify's FastPass daemon
    /// (comma-separated; the sign-in page may connect to these ports only).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "8769",
        env = "GATEHOUSE_FASTPASS_PORTS",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    fastpass_ports: Vec<u16>,
    /// Load balancers or proxies (CIDRs, comma-separated) whose X-Forwarded-For names the client.
    #[arg(long, value_delimiter = ',', env = "GATEHOUSE_TRUSTED_PROXIES", value_parser = parse_cidr)]
    trusted_proxies: Vec<gatehouse_policy::Cidr>,
    /// PEM files (comma-separated) of the authenticator attestation roots to trust: a WebAuthn
    /// security key whose attestation chains to one counts as hardware protected.
    #[arg(long, value_delimiter = ',', env = "GATEHOUSE_WEBAUTHN_ATTESTATION_CA")]
    webauthn_attestation_ca: Vec<PathBuf>,
    /// Risk score at which a sign-in is `medium` (docs/risk.md: a new browser adds 30, a new network 30).
    #[arg(long, default_value_t = 50, env = "GATEHOUSE_RISK_MEDIUM_AT")]
    risk_medium_at: u32,
    /// Risk score at which a sign-in is `high`.
    #[arg(long, default_value_t = 80, env = "GATEHOUSE_RISK_HIGH_AT")]
    risk_high_at: u32,
}

impl ServeArgs {
    fn config(self) -> Config {
        let mut config = Config::new(self.database_url);
        config.listen = self.listen;
        config.issuer = self.issuer.trim_end_matches('/').to_owned();
        config.demo = self.demo;
        config.master_key = match self.master_key {
            Some(spec) => MasterKeySource::Spec(spec),
            None => MasterKeySource::File(self.master_key_file),
        };
        config.admin_token = self.admin_token;
        config.password.memory_kib = self.password_memory_kib;
        config.password.iterations = self.password_iterations;
        config.lockout = LockoutConfig {
            max_failures: self.lockout_failures,
            duration: std::time::Duration::from_secs(self.lockout_minutes.saturating_mul(60)),
        };
        config.rate_limits = gatehouse_server::limits::RateLimitConfig {
            per_ip_per_minute: self.rate_limit_per_ip,
            per_login_per_minute: self.rate_limit_per_login,
        };
        config.delivery = DeliveryConfig {
            outbox_dir: Some(self.outbox_dir),
            smtp_url: self.smtp_url,
            email_from: self.email_from,
            sms_webhook: self.sms_webhook,
        };
        config.fastpass_ports = self.fastpass_ports;
        config.trusted_proxies = self.trusted_proxies;
        config.webauthn_attestation_cas = self.webauthn_attestation_ca;
        config.risk.settings.medium_at = self.risk_medium_at;
        config.risk.settings.high_at = self.risk_high_at;
        config
    }
}

pub fn run(args: ServeArgs) -> ExitCode {
    let demo_apps = args.demo && !args.no_demo_apps;
    crate::telemetry::init();
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            crate::report_error(&format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args.config(), demo_apps)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::report_error(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// The server's runtime: a worker thread per core the process may run on, or, when that is one
/// core (a container limited to one CPU, a process pinned with `taskset`), the single-threaded
/// scheduler — there is no other worker to hand tasks to, and every wake-up stays on one thread.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cores == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    }
}

async fn serve(config: Config, demo_apps: bool) -> anyhow::Result<()> {
    let listen = config.listen;
    let issuer = config.issuer.clone();
    let demo = config.demo;
    let started = gatehouse_server::start(config, Clock::System).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr()?;
    if demo {
        if started.seeded_demo {
            println!(
                "{}",
                gatehouse_server::demo::banner(&issuer, started.new_admin_token.as_deref())
            );
        } else {
            println!(
                "Gatehouse: the database already holds data; the demo organisation was not seeded again."
            );
            println!("{}", gatehouse_server::demo::banner(&issuer, None));
        }
    } else if let Some(token) = &started.new_admin_token {
        println!("Gatehouse: created the first admin API token (shown once): {token}");
    }
    println!("Gatehouse listening on http://{local} (issuer {issuer})");
    if demo_apps {
        let mut reach = local;
        if reach.ip().is_unspecified() {
            reach.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let provider = format!("http://{reach}");
        for (name, addr) in gatehouse_server::demo_apps::spawn_all(&issuer, &provider).await {
            println!("  demo app {name}: http://{addr}/");
        }
    }
    tracing::info!(%local, %issuer, "listening");
    gatehouse_server::serve(listener, started.state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn parse_cidr(text: &str) -> Result<gatehouse_policy::Cidr, String> {
    gatehouse_policy::Cidr::parse(text).map_err(|e| e.to_string())
}
