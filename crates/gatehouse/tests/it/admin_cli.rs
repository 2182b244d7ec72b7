//! `gatehouse admin token …` and `gatehouse policy apply` against a real SQLite database: the
//! token printed once authenticates (its digest is what is stored), revocation, and a policy
//! file applied or refused with its line and column.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gatehouse(args: &[&str], db: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env("GATEHOUSE_DATABASE_URL", db)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("admin_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn admin_token_create_list_revoke() {
    let dir = scratch_dir("tokens");
    let db = dir.join("gatehouse.db").display().to_string();
    let created = gatehouse(&["admin", "token", "create", "--name", "ci"], &db);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let secret = text(&created.stdout).trim().to_owned();
    assert!(secret.starts_with("gha_") && secret.len() > 40, "{secret}");

    let listed = gatehouse(&["admin", "token", "list"], &db);
    let listing = text(&listed.stdout);
    assert!(listing.contains("\tci\t"), "{listing}");
    assert!(!listing.contains(&secret), "the secret is never listed");
    let id = listing
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();

    let revoked = gatehouse(&["admin", "token", "revoke", &id], &db);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let again = gatehouse(&["admin", "token", "revoke", &id], &db);
    assert_eq!(again.status.code(), Some(2));
    let listed = text(&gatehouse(&["admin", "token", "list"], &db).stdout);
    assert!(
        !listed.lines().nth(1).unwrap().ends_with("\t-"),
        "revocation time shown: {listed}"
    );
}

#[test]
fn policy_apply_writes_a_valid_file_and_refuses_an_invalid_one() {
    let dir = scratch_dir("apply");
    let db = dir.join("gatehouse.db").display().to_string();
    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "version: 1\nnetwork_zones:\n  - name: corp\n    cidrs: [10.0.0.0/8]\nauthentication_policies:\n  - name: web\n    apps: [nobody]\n    rules:\n      - name: all\n        access: allow\n        require:\n          assurance: { factors: 1 }\n",
    )
    .unwrap();
    let applied = gatehouse(&["policy", "apply", good.to_str().unwrap()], &db);
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let out = text(&applied.stdout);
    assert!(
        out.contains("1 zone(s)") && out.contains("1 polic") && out.contains("1 rule(s)"),
        "{out}"
    );
    assert!(text(&applied.stderr).contains("nobody"), "unknown app reported");

    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nauthentication_policies:\n  - name: web\n    apps: []\n    rules:\n      - name: all\n        access: sometimes\n",
    )
    .unwrap();
    let refused = gatehouse(&["policy", "apply", bad.to_str().unwrap()], &db);
    assert_eq!(refused.status.code(), Some(2));
    let err = text(&refused.stderr);
    assert!(err.contains("bad.yaml:7:"), "file:line:col in {err}");
}

#[test]
fn admin_and_apply_have_help() {
    for args in [
        vec!["admin", "--help"],
        vec!["admin", "token", "--help"],
        vec!["admin", "token", "create", "--help"],
        vec!["admin", "token", "list", "--help"],
        vec!["admin", "token", "revoke", "--help"],
        vec!["policy", "apply", "--help"],
    ] {
        let out = gatehouse(&args, "unused.db");
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage"), "{args:?}");
    }
}
