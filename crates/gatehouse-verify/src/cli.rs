//! The command line of `gatehouse-verify` (DESIGN.md section 7).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Gatehouse Verify: the device authenticator of Gatehouse. It holds this device's keys, answers
/// FastPass challenges from the sign-in page through a loopback daemon, receives and answers
/// push sign-in requests, and gives one-time codes.
#[derive(Debug, Parser)]
#[command(name = "gatehouse-verify", version, about, long_about = None)]
pub struct Cli {
    /// Directory holding Verify's state (keys, enrollment, pending push). Default:
    /// `$XDG_DATA_HOME/gatehouse-verify`, else `~/.local/share/gatehouse-verify`.
    #[arg(long, global = true, value_name = "DIR", env = "GATEHOUSE_VERIFY_HOME")]
    pub home: Option<PathBuf>,

    /// How the user is verified before a user-verification key is used: `pin` (a PIN chosen at
    /// enrollment; level `any`), `fprintd` (a fingerprint reader through fprintd; level
    /// `biometric`), or `test` — FOR TESTS ONLY: the result is read from the environment variable
    /// GATEHOUSE_VERIFY_TEST_UV (`pass`, `fail` or `unavailable`) and stands for a biometric
    /// check. Default: the provider chosen at enrollment, else `pin`.
    #[arg(long, global = true, value_name = "NAME")]
    pub uv_provider: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enroll this device: sign in to the server (as the server's sign-in policy demands),
    /// create the device keys and register the device.
    ///
    /// Standard input is read line by line, in this order: the password (`--password-stdin`),
    /// the PKCS#11 PIN (`--pkcs11-pin-stdin`), a new Verify PIN twice (`--uv any|biometric` with
    /// the `pin` provider and no PIN yet), the Verify PIN, then whatever the sign-in asks
    /// (one-time codes).
    Enroll(EnrollArgs),
    /// Show the enrollment and its state at the server.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the loopback daemon: answer FastPass challenges from the sign-in page and receive
    /// pushes (long-polling the server). Stops on Ctrl-C or SIGTERM.
    Daemon {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:8769", value_name = "ADDR")]
        listen: SocketAddr,
        /// Do not long-poll the server for pushes (FastPass only).
        #[arg(long)]
        no_push: bool,
    },
    /// Approve the pending push (after user verification when the sign-in asks for it). For a
    /// pending request to add biometrics, the same as `enroll-biometrics`.
    Approve {
        /// The number shown on the sign-in page, when the push asks for number matching.
        #[arg(long, value_name = "N")]
        number: Option<u32>,
    },
    /// Deny the pending push.
    Deny,
    /// Print the current one-time code.
    Totp,
    /// Add a biometric user-verification key to this enrollment, answering a sign-in that asks
    /// for it (the server accepts a new key only inside the sign-in that asked for it).
    EnrollBiometrics,
    /// Remove this device's enrollment: tell the server, then destroy the keys and forget it.
    Unenroll,
}

/// Where the device keys are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeystoreKind {
    /// A key file in the Verify home, readable only by the user.
    Software,
    /// A PKCS#11 token (hardware; keys never leave it).
    Pkcs11,
}

/// The user-verification key to create at enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UvChoice {
    /// Only the proof-of-possession key.
    None,
    /// A key unlocked by a PIN or a biometric check.
    Any,
    /// A key unlocked by a biometric check (needs `--biometric-capable`).
    Biometric,
}

#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// The Gatehouse server, e.g. `http://localhost:8080`.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The login to sign in with.
    #[arg(long, value_name = "LOGIN")]
    pub login: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Where to generate the keys.
    #[arg(long, value_enum, default_value = "software")]
    pub keystore: KeystoreKind,
    /// The PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`); needed with `--keystore pkcs11`.
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
    /// Read the token's user PIN from standard input (else it is asked for).
    #[arg(long)]
    pub pkcs11_pin_stdin: bool,
    /// The label of the token to use (default: the first initialised token).
    #[arg(long, value_name = "LABEL")]
    pub pkcs11_token: Option<String>,
    /// This device can verify the user biometrically.
    #[arg(long)]
    pub biometric_capable: bool,
    /// Report the device as managed (self-reported; a `management-attestation` file in the home
    /// directory, written by device management, does the same with its content as attestation).
    #[arg(long)]
    pub managed: bool,
    /// Create a user-verification key now.
    #[arg(long, value_enum, default_value = "none")]
    pub uv: UvChoice,
}
