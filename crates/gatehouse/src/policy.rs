//! `gatehouse policy …`: policy files on the command line.

use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a policy file; prints errors and warnings with their line numbers, exits 2 on any error.
    Check {
        /// The policy file (YAML or JSON).
        file: std::path::PathBuf,
    },
}

pub fn run(args: PolicyArgs) -> ExitCode {
    match args.command {
        PolicyCommand::Check { file } => {
            println!("{}: policy checking is being built", file.display());
            ExitCode::from(2)
        }
    }
}
