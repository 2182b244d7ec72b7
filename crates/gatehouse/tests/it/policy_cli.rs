//! `gatehouse policy check | simulate | import` as a user runs them: exit codes, located
//! messages, the DESIGN 4.5 JSON shape, and `--help` for every subcommand.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn gatehouse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch file under cargo's temporary directory for integration tests.
fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy_cli");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn every_subcommand_has_help() {
    for (args, must) in [
        (vec!["policy", "--help"], vec!["check", "simulate", "import"]),
        (vec!["policy", "check", "--help"], vec!["FILE", "exits 2"]),
        (
            vec!["policy", "simulate", "--help"],
            vec!["--policy", "--app", "--context", "--json"],
        ),
        (
            vec!["policy", "import", "--help"],
            vec!["--from", "okta", "--output"],
        ),
    ] {
        let out = gatehouse(&args);
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        for word in must {
            assert!(help.contains(word), "{args:?} help lacks {word}:\n{help}");
        }
    }
}

#[test]
fn every_example_policy_passes_check() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("examples/policies")).unwrap() {
        let path = entry.unwrap().path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            continue;
        }
        let rel = path.strip_prefix(repo()).unwrap().to_str().unwrap().to_owned();
        let out = gatehouse(&["policy", "check", &rel]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{rel}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains(": ok"), "{rel}");
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn check_reports_errors_with_file_line_column_and_exits_2() {
    let file = scratch(
        "bad.yaml",
        "version: 1\nauthentication_policies:\n  - name: p\n    apps: [a]\n    rules:\n      - name: r\n        access: allow\n        require:\n          reauthenticate: 4 hours\n          assurance: { factors: 1 }\n",
    );
    let out = gatehouse(&["policy", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("bad.yaml:9:27: error:"), "{stdout}");
    assert!(
        stdout.contains("expected an ISO-8601 duration such as PT4H"),
        "{stdout}"
    );

    let file = scratch(
        "no-catch-all.yaml",
        "version: 1\nauthentication_policies:\n  - name: p\n    apps: [a]\n    rules:\n      - name: r\n        when: { risk: [high] }\n        access: deny\n      - name: s\n        when: { risk: [high] }\n        access: deny\n",
    );
    let out = gatehouse(&["policy", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("no-catch-all.yaml:9:") && stdout.contains("catch-all"),
        "{stdout}"
    );
    assert!(stdout.contains("warning: rule `s` can never match"), "{stdout}");
}

#[test]
fn check_with_only_warnings_exits_0() {
    let out = gatehouse(&["policy", "check", "examples/policies/design-4.1.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("design-4.1.yaml:52:48: warning:"),
        "{}",
        text(&out.stdout)
    );
    let out = gatehouse(&["policy", "check", "examples/policies/no-such-file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read"));
}

fn simulate_json(policy: &str, app: &str, context: &str) -> Value {
    let out = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        policy,
        "--app",
        app,
        "--context",
        context,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn simulate_gives_the_expected_decisions_on_the_design_example() {
    let policy = "examples/policies/design-4.1.yaml";
    let cases = [
        ("alice-managed-mac", "remediate", "managed-employees"),
        ("alice-managed-mac-biometric", "continue", "managed-employees"),
        ("alice-fastpass-done", "allow", "managed-employees"),
        ("high-risk", "deny", "block-risky"),
        ("bob-offsite-start", "continue", "everyone-else"),
        ("bob-offsite-after-password", "continue", "everyone-else"),
        ("carol-password-only", "remediate", "everyone-else"),
    ];
    for (context, decision, rule) in cases {
        let path = format!("examples/policies/contexts/{context}.json");
        let out = simulate_json(policy, "finance", &path);
        assert_eq!(out["decision"], decision, "{context}: {out:#}");
        assert_eq!(out["rule"], rule, "{context}");
        assert!(
            out["trace"].as_array().is_some_and(|t| !t.is_empty()),
            "{context}"
        );
        match decision {
            "continue" => assert!(out["options"].as_array().is_some_and(|o| !o.is_empty())),
            "remediate" => assert!(
                out["remediation"]["enroll"]
                    .as_array()
                    .is_some_and(|o| !o.is_empty())
            ),
            "deny" => assert!(out["message"].is_string()),
            _ => {}
        }
        for absent in ["options", "remediation", "message"] {
            let expected = matches!(
                (decision, absent),
                ("continue", "options") | ("remediate", "remediation") | ("deny", "message")
            );
            assert_eq!(
                out.get(absent).is_some(),
                expected,
                "{context}: `{absent}` in {out:#}"
            );
        }
    }
    // DESIGN 4.5's own context: the biometric key on the enrolled device is the remediation.
    let out = simulate_json(
        policy,
        "finance",
        "examples/policies/contexts/alice-managed-mac.json",
    );
    assert_eq!(out["remediation"]["enroll"][0]["authenticator"], "device");
    assert_eq!(out["remediation"]["enroll"][0]["user_verification"], "biometric");
    let out = simulate_json(
        policy,
        "finance",
        "examples/policies/contexts/bob-offsite-after-password.json",
    );
    assert_eq!(out["options"][0]["authenticator"], "webauthn");
    assert_eq!(out["options"][0]["user_verification"], "any");
}

#[test]
fn simulate_on_the_demo_policies() {
    let out = simulate_json(
        "examples/policies/demo.yaml",
        "vault",
        "examples/policies/contexts/demo-alice-vault.json",
    );
    assert_eq!(out["decision"], "remediate");
    assert_eq!(out["remediation"]["enroll"][0]["kind"], "user_verification_key");
    let out = simulate_json(
        "examples/policies/demo.yaml",
        "finance",
        "examples/policies/contexts/demo-alice-finance.json",
    );
    assert_eq!(out["decision"], "continue");
    assert_eq!(out["options"][0]["authenticator"], "totp");
}

#[test]
fn simulate_text_form_shows_rule_decision_and_indented_trace() {
    let out = gatehouse(&[
        "policy",
        "simulate",
        "--policy",
        "examples/policies/design-4.1.yaml",
        "--app",
        "finance",
        "--context",
        "examples/policies/contexts/high-risk.json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("rule:     block-risky"), "{stdout}");
    assert!(stdout.contains("decision: deny"), "{stdout}");
    assert!(
        stdout.contains("trace:\n  - rule `block-risky`: matched"),
        "{stdout}"
    );
}

#[test]
fn simulate_refuses_invalid_contexts_policies_and_apps_with_exit_2() {
    let context = scratch(
        "bad-context.json",
        "{\n  \"user\": {\"login\": \"a\"},\n  \"ip\": \"10.0.0.1\",\n  \"records\": [{\"authenticator\": \"totp\", \"method\": \"sms\"}],\n  \"now\": \"2026-11-23T10:00:00Z\"\n}\n",
    );
    let args = |policy: &str, app: &str, ctx: &str| -> Output {
        gatehouse(&[
            "policy",
            "simulate",
            "--policy",
            policy,
            "--app",
            app,
            "--context",
            ctx,
            "--json",
        ])
    };
    let out = args(
        "examples/policies/design-4.1.yaml",
        "finance",
        context.to_str().unwrap(),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad-context.json:4:") && stderr.contains("`sms`"),
        "{stderr}"
    );

    let broken = scratch(
        "broken-context.json",
        "{\n  \"user\": {\"login\": \"a\"},\n  \"ip\": \"not-an-ip\"\n}\n",
    );
    let out = args(
        "examples/policies/design-4.1.yaml",
        "finance",
        broken.to_str().unwrap(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("broken-context.json:3:"),
        "{}",
        text(&out.stderr)
    );

    let out = args(
        "examples/policies/design-4.1.yaml",
        "nope",
        "examples/policies/contexts/high-risk.json",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no authentication policy lists app `nope`"));

    let bad_policy = scratch(
        "bad-policy.yaml",
        "version: 1\nnetwork_zones:\n  - name: corp\n    cidrs: [10.1.2.3/8]\n",
    );
    let out = args(
        bad_policy.to_str().unwrap(),
        "finance",
        "examples/policies/contexts/high-risk.json",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad-policy.yaml:4:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn import_from_okta_writes_a_policy_that_checks_and_reports_the_rest() {
    let input = repo().join("crates/gatehouse-policy/tests/data/okta-access-policy.json");
    let output = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy_cli/imported.yaml");
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    let out = gatehouse(&[
        "policy",
        "import",
        "--from",
        "okta",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("not translated") && stderr.contains("security.risk.level"),
        "{stderr}"
    );
    let yaml = std::fs::read_to_string(&output).unwrap();
    assert!(yaml.contains("any_of:"), "{yaml}");
    let out = gatehouse(&["policy", "check", output.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let out = gatehouse(&[
        "policy",
        "import",
        "--from",
        "okta",
        "examples/policies/demo.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
