//! `gatehouse keys`: the token signing keys.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use gatehouse_server::config::MasterKeySource;

/// Manage the token signing keys.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new active ES256 and RS256 key; the previous keys stay in the JWKS (retiring) until
    /// every token they signed has expired. Running servers switch at once on PostgreSQL (they are
    /// told), within 30 seconds on SQLite.
    Rotate(Target),
}

/// The database and master keyring, found as `gatehouse serve` finds them.
#[derive(Debug, Args)]
struct Target {
    /// The configuration file `serve` reads (its `database_url` and master key settings).
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    /// `postgres://…` for PostgreSQL; otherwise a SQLite file.
    #[arg(long, default_value = "./gatehouse.db", env = "GATEHOUSE_DATABASE_URL")]
    database_url: String,
    /// The master keyring, as `kid:base64key[,…]` (first key active).
    #[arg(long, env = "GATEHOUSE_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// File holding the master keyring when GATEHOUSE_MASTER_KEY is not set.
    #[arg(long, default_value = "./gatehouse.key", env = "GATEHOUSE_MASTER_KEY_FILE")]
    master_key_file: PathBuf,
}

pub fn run(args: KeysArgs) -> ExitCode {
    let KeysCommand::Rotate(target) = args.command;
    let source = match target.master_key {
        Some(spec) => MasterKeySource::Spec(spec),
        None => MasterKeySource::File(target.master_key_file),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            crate::report_error(&format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(gatehouse_server::oidc::keys::rotate_configured(
        &target.database_url,
        &source,
    )) {
        Ok(kids) => {
            println!("Rotated the signing keys; new key ids: {}", kids.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::report_error(&format!("cannot rotate the signing keys: {e}"));
            ExitCode::FAILURE
        }
    }
}
