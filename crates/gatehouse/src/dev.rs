//! `gatehouse dev`: tools for developers and for measuring, never for production data.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use gatehouse_server::config::MasterKeySource;
use gatehouse_server::seed::{SeedOptions, seed_login};

#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(subcommand)]
    command: DevCommand,
}

#[derive(Debug, Subcommand)]
enum DevCommand {
    /// Fill a database with test-scale data: users (one shared password), groups, TOTP
    /// enrollments and devices. Seeded logins are `seed-0000000`, `seed-0000001`, ….
    Seed(SeedArgs),
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// How many users to add (after any seeded before).
    #[arg(long)]
    users: u64,
    /// The password of every seeded user.
    #[arg(long, default_value = "seed-password-123")]
    password: String,
    /// Every N-th user gets a registered device (0: none).
    #[arg(long, default_value_t = 10)]
    device_every: u64,
    /// Users per transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// The configuration file `serve` reads (its database, master key and argon2id settings).
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    /// `postgres://…` for PostgreSQL; otherwise a SQLite file, created when missing.
    #[arg(long, default_value = "./gatehouse.db", env = "GATEHOUSE_DATABASE_URL")]
    database_url: String,
    /// The master keyring, as `kid:base64key[,…]` (first key active).
    #[arg(long, env = "GATEHOUSE_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// File holding the master keyring when GATEHOUSE_MASTER_KEY is not set; created when missing.
    #[arg(long, default_value = "./gatehouse.key", env = "GATEHOUSE_MASTER_KEY_FILE")]
    master_key_file: PathBuf,
    /// argon2id memory cost in KiB of the shared password hash (as `serve`).
    #[arg(long, default_value_t = 19_456, env = "GATEHOUSE_PASSWORD_MEMORY_KIB")]
    password_memory_kib: u32,
    /// argon2id iterations of the shared password hash.
    #[arg(long, default_value_t = 2, env = "GATEHOUSE_PASSWORD_ITERATIONS")]
    password_iterations: u32,
}

pub fn run(args: DevArgs) -> ExitCode {
    let DevCommand::Seed(args) = args.command;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            crate::report_error(&format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let started = std::time::Instant::now();
    match runtime.block_on(seed(&args)) {
        Ok(report) => {
            let last = report.first.saturating_add(report.users).saturating_sub(1);
            println!(
                "Seeded {} users ({} … {}), {} enrollments, {} devices in {:.1} s; password: {}",
                report.users,
                seed_login(report.first),
                seed_login(last),
                report.enrollments,
                report.devices,
                started.elapsed().as_secs_f64(),
                args.password
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::report_error(&format!("cannot seed: {e}"));
            ExitCode::FAILURE
        }
    }
}

async fn seed(args: &SeedArgs) -> Result<gatehouse_server::seed::SeedReport, gatehouse_server::ServerError> {
    let source = match &args.master_key {
        Some(spec) => MasterKeySource::Spec(spec.clone()),
        None => MasterKeySource::File(args.master_key_file.clone()),
    };
    let keyring = gatehouse_server::secrets::load_keyring(&source)?;
    let store = gatehouse_store::Store::connect(&args.database_url).await?;
    let params = gatehouse_crypto::PasswordParams {
        memory_kib: args.password_memory_kib,
        iterations: args.password_iterations,
        ..Default::default()
    };
    let options = SeedOptions {
        users: args.users,
        password: args.password.clone(),
        device_every: args.device_every,
        batch: args.batch,
    };
    let report =
        gatehouse_server::seed::seed(&store, keyring, params, &options, jiff::Timestamp::now()).await;
    store.close().await;
    report
}
