//! `gatehouse admin token create|list|revoke`: admin API tokens, against the database directly
//! (as `serve` opens it). A created token is printed once; only its SHA-256 digest is stored.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use gatehouse_server::admin::tokens;
use gatehouse_store::Store;

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Admin API tokens (`Authorization: Bearer …` on `/api/v1`).
    Token(TokenArgs),
}

#[derive(Debug, Args)]
struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
    /// `postgres://…` for PostgreSQL; otherwise a SQLite file.
    #[arg(
        long,
        global = true,
        default_value = "./gatehouse.db",
        env = "GATEHOUSE_DATABASE_URL"
    )]
    database_url: String,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print its secret (shown once; store it now).
    Create {
        /// A name to recognise the token by in `list` and in the system log.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List tokens (id, name, created, last used, revoked); never their secrets.
    List,
    /// Revoke a token by id; it stops authenticating at once.
    Revoke {
        /// The token id, as `list` prints it.
        id: String,
    },
}

pub fn run(args: AdminArgs) -> ExitCode {
    let AdminCommand::Token(token) = args.command;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            crate::report_error(&e.to_string());
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(token_command(token)) {
        Ok(code) => code,
        Err(e) => {
            crate::report_error(&e.to_string());
            ExitCode::FAILURE
        }
    }
}

async fn token_command(args: TokenArgs) -> Result<ExitCode, gatehouse_server::ServerError> {
    let store = Store::connect(&args.database_url).await?;
    let now = jiff::Timestamp::now();
    let mut out = std::io::stdout().lock();
    let code = match args.command {
        TokenCommand::Create { name } => {
            let secret = tokens::create(&store, &name, None, now).await?;
            let _ = writeln!(out, "{secret}");
            ExitCode::SUCCESS
        }
        TokenCommand::List => {
            let _ = writeln!(out, "ID\tNAME\tCREATED\tLAST USED\tREVOKED");
            for t in store.admin_tokens().list().await? {
                let opt = |t: Option<jiff::Timestamp>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.created_at,
                    opt(t.last_used_at),
                    opt(t.revoked_at)
                );
            }
            ExitCode::SUCCESS
        }
        TokenCommand::Revoke { id } => {
            if tokens::revoke(&store, &id, now).await? {
                let _ = writeln!(out, "revoked {id}");
                ExitCode::SUCCESS
            } else {
                crate::report_error(&format!("no active admin token with id `{id}`"));
                ExitCode::from(2)
            }
        }
    };
    store.close().await;
    Ok(code)
}
