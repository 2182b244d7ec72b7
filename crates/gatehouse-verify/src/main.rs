//! The `gatehouse-verify` binary: parses the command line and runs the command.

use std::process::ExitCode;

use clap::Parser as _;
use gatehouse_verify::cli::{Cli, Command};
use gatehouse_verify::commands::{self, Answering};
use gatehouse_verify::home::Home;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_VERIFY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e.to_string()),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

#[expect(
    clippy::print_stderr,
    reason = "the error is the command's answer to the user"
)]
fn fail(message: &str) -> ExitCode {
    eprintln!("gatehouse-verify: {message}");
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<(), gatehouse_verify::VerifyError> {
    let home = Home::open(cli.home.as_deref())?;
    let provider = cli.uv_provider.as_deref();
    match cli.command {
        Command::Enroll(args) => commands::enroll(&home, provider, args).await,
        Command::Status { json } => commands::status(&home, json).await,
        Command::Daemon { listen, no_push } => commands::run_daemon(&home, provider, listen, !no_push).await,
        Command::Approve { number } => {
            commands::answer_pending(&home, provider, Answering::Approve { number }).await
        }
        Command::Deny => commands::answer_pending(&home, provider, Answering::Deny).await,
        Command::Totp => commands::totp(&home),
        Command::EnrollBiometrics => {
            commands::answer_pending(&home, provider, Answering::EnrollBiometrics).await
        }
        Command::Unenroll => commands::unenroll(&home).await,
    }
}
