//! Running the independent checkers (python3, node) from a test.

use std::path::PathBuf;
use std::process::Command;

/// The repository's `e2e/` directory (where `node_modules` with `jose` lives).
pub fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e")
}

/// Whether `program --version` runs; prints why a test is skipped when it does not.
pub fn available(program: &str) -> bool {
    let ok = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("SKIPPED: `{program}` is not installed, so the cross-check cannot run");
    }
    ok
}

/// Runs a command and returns its stdout parsed as JSON, failing the test loudly otherwise.
#[expect(
    clippy::expect_used,
    clippy::panic,
    reason = "a test helper fails its test loudly"
)]
pub fn run_json(command: &mut Command) -> serde_json::Value {
    let output = command.output().expect("the checker starts");
    assert!(
        output.status.success(),
        "checker failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "checker printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
