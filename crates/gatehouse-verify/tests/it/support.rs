//! Test support: the reference server, SoftHSM2 tokens, child processes.

pub mod refserver;
pub mod softhsm;

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the test `name` (its path inside this binary) again in a child process with `env` set,
/// and fails when the child fails. Used where a variable must be set before a library loads
/// (`SOFTHSM2_CONF`) or where a new process is the point (state surviving a restart).
pub fn run_test_in_child(name: &str, env: &[(&str, &std::ffi::OsStr)]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(exe);
    command.args([name, "--exact", "--nocapture", "--test-threads=1"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child test `{name}` failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "child test `{name}` did not run:\n{text}"
    );
    output
}

/// The `gatehouse-verify` binary built for these tests.
pub fn verify_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gatehouse-verify"))
}
