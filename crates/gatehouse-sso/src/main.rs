//! The `gatehouse-sso` binary: command-line parsing and dispatch (`serve`, `admin token create`,
//! `keyring generate`) and logging set-up. Everything else lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use gatehouse_crypto::Keyring;
use gatehouse_crypto::digest::sha256_hex;
use gatehouse_sso::app::{DemoTenant, Provisioning, default_key_file, load_keyring};
use gatehouse_sso::clock::{Clock, SystemClock, unix};
use gatehouse_sso::domain::PublicUrl;
use gatehouse_sso::provision::ServiceUrls;
use gatehouse_sso::{App, Config, serve, store};

/// The Gatehouse SSO gateway: each tenant signs in with its own OpenID Connect provider and gets
/// its workspace provisioned on the first login.
#[derive(Debug, Parser)]
#[command(name = "gatehouse-sso", version)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "GATEHOUSE_SSO_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (HTTP server, provisioning worker).
    Serve(ServeArgs),
    /// Administration from the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Keys that seal client secrets and login secrets at rest.
    Keyring {
        #[command(subcommand)]
        command: KeyringCommand,
    },
}

#[derive(Debug, Args)]
struct DatabaseArg {
    /// Database: a SQLite path (`sqlite:PATH` or `PATH`, created when missing) or `postgres://…`.
    #[arg(
        long,
        env = "GATEHOUSE_SSO_DATABASE_URL",
        default_value = "sqlite:gatehouse-sso.db"
    )]
    database_url: String,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_SSO_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Public base URL of the gateway; redirect URIs are `{public_url}/okta-login/{tenant_slug}`.
    /// Defaults to http://{listen}.
    #[arg(long, env = "GATEHOUSE_SSO_PUBLIC_URL")]
    public_url: Option<String>,
    #[command(flatten)]
    database: DatabaseArg,
    /// Register the tenant `acme-corp` against the demo Gatehouse (client `sso-gateway`) when it is
    /// absent, and create and print an admin token when none exists.
    #[arg(long)]
    demo: bool,
    /// Issuer of the demo tenant.
    #[arg(
        long,
        env = "GATEHOUSE_SSO_DEMO_ISSUER",
        default_value = "http://localhost:8080"
    )]
    demo_issuer: String,
    /// Keyring file used when GATEHOUSE_SSO_KEYRING is not set; created (mode 0600) with a fresh key
    /// when missing. Defaults to the database path with the extension `.keyring`.
    #[arg(long, env = "GATEHOUSE_SSO_KEYRING_FILE")]
    keyring_file: Option<PathBuf>,
    /// Base URL of the projects service. Without it (and --subscriptions-url) the embedded
    /// default services run on a loopback port.
    #[arg(long, env = "GATEHOUSE_SSO_PROJECTS_URL", requires = "subscriptions_url")]
    projects_url: Option<String>,
    /// Base URL of the subscriptions service.
    #[arg(long, env = "GATEHOUSE_SSO_SUBSCRIPTIONS_URL", requires = "projects_url")]
    subscriptions_url: Option<String>,
    /// Bearer token sent to external provisioning services.
    #[arg(long, env = "GATEHOUSE_SSO_PROVISIONING_TOKEN", hide_env_values = true)]
    provisioning_token: Option<String>,
    /// Seconds between retries of due provisioning.
    #[arg(long, default_value_t = 1)]
    worker_tick_secs: u64,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Admin API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an admin API token, store its SHA-256 digest, and print the token once.
    Create {
        #[command(flatten)]
        database: DatabaseArg,
        /// A label for the token.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeyringCommand {
    /// Print a new key entry `kid:base64key`. To rotate, put it first in GATEHOUSE_SSO_KEYRING (or
    /// the keyring file) followed by the old entries; secrets are re-sealed at the next start.
    Generate {
        /// Key id.
        #[arg(long, default_value = "k2")]
        kid: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "gatehouse-sso failed");
            eprintln_error(&format!("error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

#[expect(clippy::print_stderr, reason = "the CLI reports fatal errors on stderr")]
fn eprintln_error(text: &str) {
    eprintln!("{text}");
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_SSO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve_command(args).await,
        Command::Admin {
            command:
                AdminCommand::Token {
                    command: TokenCommand::Create { database, name },
                },
        } => {
            let store = store::connect(&database.database_url).await?;
            let token = create_admin_token(&store, &name).await?;
            println!("{token}");
            store.close().await;
            Ok(())
        }
        Command::Keyring {
            command: KeyringCommand::Generate { kid },
        } => {
            println!("{}", Keyring::generate_spec(&kid)?);
            Ok(())
        }
    }
}

async fn create_admin_token(store: &store::Store, name: &str) -> anyhow::Result<String> {
    let token = format!("ghsso_{}", gatehouse_crypto::random::token::<32>());
    let id = format!("tok_{}", uuid::Uuid::now_v7().simple());
    store
        .insert_admin_token(&id, name, &sha256_hex(token.as_bytes()), unix(SystemClock.now()))
        .await?;
    Ok(token)
}

async fn serve_command(args: ServeArgs) -> anyhow::Result<()> {
    let public = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let public_url = PublicUrl::parse(&public)
        .map_err(anyhow::Error::msg)
        .context("--public-url")?;
    let key_file = args
        .keyring_file
        .clone()
        .unwrap_or_else(|| default_key_file(&args.database.database_url));
    let keyring = load_keyring(std::env::var("GATEHOUSE_SSO_KEYRING").ok().as_deref(), &key_file)?;
    let admin_token = std::env::var("GATEHOUSE_SSO_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty());
    let provisioning = match (args.projects_url, args.subscriptions_url) {
        (Some(projects_url), Some(subscriptions_url)) => Provisioning::External(ServiceUrls {
            projects_url,
            subscriptions_url,
            token: args.provisioning_token,
        }),
        (None, None) => Provisioning::Embedded,
        _ => bail!("give both --projects-url and --subscriptions-url, or neither"),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = Config {
        public_url: public_url.clone(),
        database_url: args.database.database_url.clone(),
        keyring,
        admin_token: admin_token.clone(),
        provisioning,
        clock,
        worker_tick: Duration::from_secs(args.worker_tick_secs.max(1)),
        provision_wait: Duration::from_secs(3),
        http_timeout: Duration::from_secs(10),
        demo: args.demo.then(|| DemoTenant::acme_corp(&args.demo_issuer)),
    };
    let app = App::build(config).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let mut banner = vec![format!(
        "gatehouse-sso listening on http://{} (public URL {public_url})",
        args.listen
    )];
    if args.demo {
        banner.push(format!(
            "demo tenant acme-corp -> {} (client sso-gateway); register redirect URI {}/okta-login/acme-corp",
            args.demo_issuer, public_url
        ));
        banner.push(format!("sign in: {}/sso/start?tenant=acme-corp", public_url));
        if admin_token.is_none() && app.store().admin_token_count().await? == 0 {
            let token = create_admin_token(app.store(), "demo").await?;
            banner.push(format!("admin API token (shown once): {token}"));
        }
    }
    if admin_token.is_none() && app.store().admin_token_count().await? == 0 {
        tracing::warn!(
            "no admin token: set GATEHOUSE_SSO_ADMIN_TOKEN or run `gatehouse-sso admin token create`"
        );
    }
    if let Some(url) = app.embedded_provisioning_url() {
        tracing::info!(%url, "embedded provisioning services");
    }
    for line in banner {
        println!("{line}");
    }
    serve(listener, app, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
