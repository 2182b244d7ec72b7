//! The `gatehouse` binary: command-line parsing and dispatch only.
//!
//! Each subcommand lives in its own module (`policy` for policy files; the server, admin and key
//! commands beside it) and returns the process exit code. Work itself happens in the library
//! crates; this crate wires configuration, telemetry and I/O to them.

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// jemalloc instead of the C library's allocator: a sign-in allocates and frees a few hundred
/// small buffers (headers, rows, claims, log events), and glibc's malloc and free were 11–15 % of
/// the server's CPU per flow. Measured side by side (BENCHMARKS.md, 2026-12-04 "jemalloc"):
/// client credentials −12 %, refresh −11 %, authorization code −6 %, for 3 MiB more peak RSS.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod admin;
mod config_file;
mod dev;
mod keys;
mod policy;
mod serve;
mod telemetry;

/// Gatehouse: a self-hostable identity engine with expressive authentication policies.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Administer the engine: admin API tokens.
    Admin(admin::AdminArgs),
    /// Developer tools: `dev seed` fills a database with test-scale data.
    Dev(dev::DevArgs),
    /// Manage the token signing keys: `keys rotate`.
    Keys(keys::KeysArgs),
    /// Work with policy files: check, simulate, import from Okta.
    Policy(policy::PolicyArgs),
    /// Run the engine (OIDC provider, sign-in flows, admin API) on HTTP.
    Serve(Box<serve::ServeArgs>),
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let (command, file) = match config_file::apply(Cli::command(), &args) {
        Ok(applied) => applied,
        Err(message) => {
            report_error(&message);
            return ExitCode::FAILURE;
        }
    };
    let cli = match command
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if let Some(file) = file
                && e.use_stderr()
            {
                report_error(&format!(
                    "settings not given on the command line or in the environment come from {}",
                    file.display()
                ));
            }
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match cli.command {
        Command::Admin(args) => admin::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Keys(args) => keys::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Serve(args) => serve::run(*args),
    }
}

/// Prints `gatehouse: MESSAGE` on standard error.
fn report_error(message: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "gatehouse: {message}");
}
