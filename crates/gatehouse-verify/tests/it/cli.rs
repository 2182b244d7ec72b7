//! The real `gatehouse-verify` binary against the reference server: enrollment through the
//! sign-in (password and a one-time code from standard input), device facts, `status`, `totp`,
//! `unenroll` and re-enrollment, the PKCS#11 keystore on SoftHSM2, the daemon's push channel with
//! number matching, and the inline biometric remediation by push — in one flow.

use std::process::{Output, Stdio};
use std::time::Duration;

use gatehouse_api::device::{ChallengeKind, KeyStorage, Platform, UserVerificationLevel};
use gatehouse_core::device::LifecycleAction;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::support::refserver::{self, ChallengeSpec, PASSWORD, RefServer, TOTP_SECRET};
use crate::support::softhsm::{self, USER_PIN};
use crate::support::verify_bin;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run_of(output: Output) -> Run {
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn verify(home: &std::path::Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(verify_bin());
    command
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("GATEHOUSE_VERIFY_TEST_UV")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("gatehouse-verify did not finish")
        .unwrap();
    run_of(output)
}

fn json(run: &Run) -> Value {
    assert!(run.ok, "failed: {}\n{}", run.stdout, run.stderr);
    serde_json::from_str(run.stdout.trim()).unwrap()
}

fn totp_now(secret: &str) -> Vec<String> {
    let totp = gatehouse_crypto::Totp::new(
        &gatehouse_crypto::TotpSecret::from_base32(secret).unwrap(),
        gatehouse_crypto::TotpParams {
            algorithm: gatehouse_crypto::TotpAlgorithm::Sha1,
            digits: gatehouse_crypto::TotpDigits::from_count(6).unwrap(),
        },
    )
    .unwrap();
    let now = refserver::now();
    [now - 30, now, now + 30]
        .iter()
        .map(|t| totp.generate(*t))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_through_the_sign_in_then_status_totp_unenroll_and_enroll_again() {
    let server = RefServer::start().await;
    server.require_totp();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let enroll_args = [
        "enroll",
        "--server",
        &server.base,
        "--login",
        "alice",
        "--password-stdin",
        "--managed",
    ];
    let stdin = format!("{PASSWORD}\n{}\n", refserver::sign_in_totp_code());
    let run = verify(home, &enroll_args, &stdin, &[]).await;
    assert!(run.ok, "enroll failed: {}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("enrolled alice at"), "{}", run.stdout);
    assert!(
        run.stderr.contains("One-time code (totp)"),
        "the code was asked for: {}",
        run.stderr
    );

    let status = json(&verify(home, &["status", "--json"], "", &[]).await);
    let enrollment_id = status["enrollment_id"].as_str().unwrap().to_owned();
    let device_id = status["device_id"].as_str().unwrap().to_owned();
    assert_eq!(status["login"], "alice");
    assert_eq!(status["issuer"], server.issuer.as_str());
    assert_eq!(status["key_storage"], "software");
    assert_eq!(status["server"]["enrollment_status"], "active");
    assert_eq!(status["server"]["device_status"], "active");
    let registered = server.enrollment(&enrollment_id);
    assert_eq!(registered.pop_storage, KeyStorage::Software);
    assert_eq!(registered.facts.platform, Platform::Linux);
    assert!(registered.facts.managed);
    assert_eq!(
        registered.facts.management_attestation.as_deref(),
        Some(gatehouse_verify::facts::SELF_REPORTED_MANAGEMENT)
    );
    assert!(!registered.facts.os_version.is_empty());

    let code = verify(home, &["totp"], "", &[]).await;
    assert!(code.ok, "{}", code.stderr);
    assert!(
        totp_now(TOTP_SECRET).contains(&code.stdout.trim().to_owned()),
        "`totp` printed {} which the server's seed does not give",
        code.stdout
    );

    let again = verify(home, &enroll_args, &stdin, &[]).await;
    assert!(
        !again.ok && again.stderr.contains("already enrolled"),
        "{}",
        again.stderr
    );

    let gone = verify(home, &["unenroll"], "", &[]).await;
    assert!(gone.ok, "{}", gone.stderr);
    assert!(
        gone.stdout.contains("the server removed the enrollment"),
        "{}",
        gone.stdout
    );
    assert_eq!(server.enrollment_count(), 0);
    assert!(!home.join("enrollment.json").exists() && !home.join("keys.json").exists());
    let status = verify(home, &["status"], "", &[]).await;
    assert!(
        !status.ok && status.stderr.contains("not enrolled"),
        "{}",
        status.stderr
    );

    // Enrolling again links the new enrollment to the same device record.
    let stdin = format!("{PASSWORD}\n{}\n", refserver::sign_in_totp_code());
    let run = verify(home, &enroll_args, &stdin, &[]).await;
    assert!(run.ok, "{}", run.stderr);
    let status = json(&verify(home, &["status", "--json"], "", &[]).await);
    assert_eq!(status["device_id"], device_id.as_str());
    assert_ne!(status["enrollment_id"], enrollment_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_the_enrollment_with_the_flows_message() {
    let server = RefServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let run = verify(
        dir.path(),
        &[
            "enroll",
            "--server",
            &server.base,
            "--login",
            "alice",
            "--password-stdin",
        ],
        "not-the-password\n",
        &[],
    )
    .await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("That password is not valid."),
        "{}",
        run.stderr
    );
    assert_eq!(server.enrollment_count(), 0);
    assert!(!dir.path().join("enrollment.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pkcs11_keystore_enrolls_and_signs_inside_softhsm() {
    let server = RefServer::start().await;
    let token = softhsm::Token::new("verify-cli");
    let conf = token.conf.to_str().unwrap().to_owned();
    let module = softhsm::module();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let env = [("SOFTHSM2_CONF", conf.as_str())];
    let run = verify(
        home,
        &[
            "enroll",
            "--server",
            &server.base,
            "--login",
            "alice",
            "--password-stdin",
            "--keystore",
            "pkcs11",
            "--pkcs11-module",
            module.to_str().unwrap(),
            "--pkcs11-pin-stdin",
        ],
        &format!("{PASSWORD}\n{USER_PIN}\n"),
        &env,
    )
    .await;
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    let status = json(&verify(home, &["status", "--json"], "", &env).await);
    assert_eq!(status["keystore"], "pkcs11");
    assert_eq!(status["key_storage"], "hardware");
    // The server accepted a request proof signed inside the token.
    assert_eq!(status["server"]["device_status"], "active");
    let registered = server.enrollment(status["enrollment_id"].as_str().unwrap());
    assert_eq!(registered.pop_storage, KeyStorage::Hardware);
    assert!(registered.facts.secure_hardware_present);
    // No private key material on disk outside the token.
    assert!(!home.join("keys.json").exists());

    // With a wrong PIN nothing is enrolled.
    let other = tempfile::tempdir().unwrap();
    let wrong = verify(
        other.path(),
        &[
            "enroll",
            "--server",
            &server.base,
            "--login",
            "alice",
            "--password-stdin",
            "--keystore",
            "pkcs11",
            "--pkcs11-module",
            module.to_str().unwrap(),
            "--pkcs11-pin-stdin",
        ],
        &format!("{PASSWORD}\n0000\n"),
        &env,
    )
    .await;
    assert!(
        !wrong.ok && wrong.stderr.contains("PIN is not correct"),
        "{}",
        wrong.stderr
    );
}

/// The daemon as a process, its stdout lines readable.
struct DaemonProcess {
    child: Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    url: String,
}

impl DaemonProcess {
    async fn start(home: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(verify_bin());
        command
            .arg("--home")
            .arg(home)
            .args(["--uv-provider", "test", "daemon", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = tx.send(line);
            }
        });
        let first = tokio::time::timeout(Duration::from_secs(20), lines.recv())
            .await
            .expect("the daemon did not start")
            .unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in `{first}`"))
            .to_owned();
        Self { child, lines, url }
    }

    async fn expect_line(&mut self, needle: &str) -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("the daemon never printed `{needle}`"))
                .unwrap();
            if line.contains(needle) {
                return line;
            }
        }
    }

    async fn stop(mut self) {
        let pid = self.child.id().unwrap();
        std::process::Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the daemon did not stop on SIGTERM")
            .unwrap();
        assert!(status.success(), "the daemon exited with {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_with_number_matching_and_the_biometric_remediation_in_one_flow() {
    let server = RefServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let run = verify(
        home,
        &[
            "--uv-provider",
            "test",
            "enroll",
            "--server",
            &server.base,
            "--login",
            "alice",
            "--password-stdin",
            "--biometric-capable",
        ],
        &format!("{PASSWORD}\n"),
        &[],
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    let status = json(&verify(home, &["status", "--json"], "", &[]).await);
    let enrollment = status["enrollment_id"].as_str().unwrap().to_owned();
    assert_eq!(status["user_verification"], "none");

    let mut daemon = DaemonProcess::start(home, &[("GATEHOUSE_VERIFY_TEST_UV", "pass")]).await;
    let probe = reqwest::get(format!("{}/probe", daemon.url)).await.unwrap();
    assert_eq!(probe.status(), 200);

    let pass = [("GATEHOUSE_VERIFY_TEST_UV", "pass")];
    let push = |spec: ChallengeSpec| {
        let (jws, id) = server.challenge(&spec);
        server.queue_push(&enrollment, &jws);
        id
    };

    // A push with number matching: the number is required, and the right one approves.
    let id = push(ChallengeSpec {
        number: Some(37),
        ..ChallengeSpec::push(&enrollment)
    });
    let notice = daemon.expect_line("push: sign-in to Vault").await;
    assert!(notice.contains("--number"), "{notice}");
    let missing = verify(home, &["approve"], "", &pass).await;
    assert!(
        !missing.ok && missing.stderr.contains("--number N"),
        "{}",
        missing.stderr
    );
    let approved = verify(home, &["approve", "--number", "37"], "", &pass).await;
    assert!(
        approved.ok && approved.stdout.contains("approved"),
        "{}",
        approved.stderr
    );
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("verified:none".to_owned())
    );
    let nothing = verify(home, &["approve"], "", &pass).await;
    assert!(
        !nothing.ok && nothing.stderr.contains("no push is waiting"),
        "{}",
        nothing.stderr
    );

    // The vault rule wants biometrics; this device has none yet: it says so, signed.
    let biometric = |kind| ChallengeSpec {
        kind,
        flow: Some("flow_vault".to_owned()),
        ..ChallengeSpec::push(&enrollment).uv(UserVerificationLevel::Biometric)
    };
    let id = push(biometric(ChallengeKind::Push));
    daemon.expect_line("push: sign-in to Vault").await;
    let unavailable = verify(home, &["approve"], "", &pass).await;
    assert!(!unavailable.ok, "{}", unavailable.stdout);
    assert!(
        unavailable
            .stderr
            .contains("no user-verification key at level `biometric`"),
        "{}",
        unavailable.stderr
    );
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("UserVerificationUnavailable { biometric_capable: true }".to_owned())
    );

    // The flow asks for a biometric key; `enroll-biometrics` adds it after the local check.
    let id = push(biometric(ChallengeKind::EnrollUserVerification));
    daemon.expect_line("enroll-biometrics").await;
    let wrong_command = verify(
        home,
        &["enroll-biometrics"],
        "",
        &[("GATEHOUSE_VERIFY_TEST_UV", "fail")],
    )
    .await;
    assert!(!wrong_command.ok && wrong_command.stderr.contains("user verification failed"));
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("UserVerificationFailed".to_owned())
    );
    let id = push(biometric(ChallengeKind::EnrollUserVerification));
    daemon.expect_line("enroll-biometrics").await;
    let added = verify(home, &["enroll-biometrics"], "", &pass).await;
    assert!(
        added.ok && added.stdout.contains("biometric key added"),
        "{}",
        added.stderr
    );
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("key_accepted:biometric".to_owned())
    );
    let status = json(&verify(home, &["status", "--json"], "", &[]).await);
    assert_eq!(status["user_verification"], "biometric");
    assert_eq!(status["server"]["user_verification"], "biometric");

    // Challenged again in the same flow: a failed check is reported, a passing one approves.
    let id = push(biometric(ChallengeKind::Push));
    daemon.expect_line("push: sign-in to Vault").await;
    let failed = verify(home, &["approve"], "", &[("GATEHOUSE_VERIFY_TEST_UV", "fail")]).await;
    assert!(
        !failed.ok && failed.stderr.contains("user verification failed"),
        "{}",
        failed.stderr
    );
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("UserVerificationFailed".to_owned())
    );
    let id = push(biometric(ChallengeKind::Push));
    daemon.expect_line("push: sign-in to Vault").await;
    let approved = verify(home, &["approve"], "", &pass).await;
    assert!(approved.ok, "{}", approved.stderr);
    let decided = server.wait_answer(&id).await;
    assert_eq!(decided.decision, Ok("verified:biometric".to_owned()));
    assert_eq!(server.uv_flow("flow_vault").keys_added, 1);

    // Deny.
    let id = push(ChallengeSpec::push(&enrollment));
    daemon.expect_line("push: sign-in to Vault").await;
    let denied = verify(home, &["deny"], "", &[]).await;
    assert!(denied.ok && denied.stdout.contains("denied"), "{}", denied.stderr);
    assert_eq!(server.wait_answer(&id).await.decision, Ok("Denied".to_owned()));

    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_shows_in_status_and_refuses_account_removal() {
    let server = RefServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let run = verify(
        home,
        &[
            "enroll",
            "--server",
            &server.base,
            "--login",
            "alice",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[],
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    let status = json(&verify(home, &["status", "--json"], "", &[]).await);
    let device = status["device_id"].as_str().unwrap().to_owned();
    server.lifecycle(&device, LifecycleAction::Deactivate).unwrap();
    let status = json(&verify(home, &["status", "--json"], "", &[]).await);
    assert_eq!(status["server"]["device_status"], "deactivated");
    assert_eq!(status["server"]["enrollment_status"], "inactive");
    let text = verify(home, &["status"], "", &[]).await;
    assert!(text.stdout.contains("device deactivated"), "{}", text.stdout);
    // The server refuses to remove an account from a deactivated device; Verify forgets it anyway.
    let gone = verify(home, &["unenroll"], "", &[]).await;
    assert!(gone.ok, "{}", gone.stderr);
    assert!(gone.stdout.contains("device_deactivated"), "{}", gone.stdout);
    assert_eq!(server.enrollment_count(), 1);
    // And a new enrollment on that device is refused while it is deactivated.
    let again = verify(
        home,
        &[
            "enroll",
            "--server",
            &server.base,
            "--login",
            "alice",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[],
    )
    .await;
    assert!(
        !again.ok && again.stderr.contains("device_deactivated"),
        "{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_verification_key_is_created_at_enrollment_only_after_the_local_check() {
    let server = RefServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let args = |uv: &'static str, capable: bool| {
        let mut args = vec![
            "--uv-provider".to_owned(),
            "test".to_owned(),
            "enroll".to_owned(),
            "--server".to_owned(),
            server.base.clone(),
            "--login".to_owned(),
            "alice".to_owned(),
            "--password-stdin".to_owned(),
            "--uv".to_owned(),
            uv.to_owned(),
        ];
        if capable {
            args.push("--biometric-capable".to_owned());
        }
        args
    };
    let stdin = format!("{PASSWORD}\n");
    let run_with = |args: Vec<String>, uv: &'static str| {
        let stdin = stdin.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            verify(home, &args, &stdin, &[("GATEHOUSE_VERIFY_TEST_UV", uv)]).await
        }
    };

    let not_capable = run_with(args("biometric", false), "pass").await;
    assert!(
        !not_capable.ok && not_capable.stderr.contains("--biometric-capable"),
        "{}",
        not_capable.stderr
    );
    let failed = run_with(args("biometric", true), "fail").await;
    assert!(
        !failed.ok && failed.stderr.contains("user verification failed"),
        "{}",
        failed.stderr
    );
    let unavailable = run_with(args("any", true), "unavailable").await;
    assert!(
        !unavailable.ok && unavailable.stderr.contains("unavailable"),
        "{}",
        unavailable.stderr
    );
    assert_eq!(
        server.enrollment_count(),
        0,
        "nothing is registered without a passing check"
    );

    let ok = run_with(args("biometric", true), "pass").await;
    assert!(ok.ok, "{}", ok.stderr);
    let status = json(&verify(home, &["status", "--json"], "", &[]).await);
    assert_eq!(status["user_verification"], "biometric");
    assert_eq!(status["server"]["user_verification"], "biometric");
    let enrollment = status["enrollment_id"].as_str().unwrap().to_owned();
    assert!(server.enrollment(&enrollment).uv.is_some());

    // The key works at once: a biometric push is approved with it.
    let mut daemon = DaemonProcess::start(home, &[("GATEHOUSE_VERIFY_TEST_UV", "pass")]).await;
    let (jws, id) = server.challenge(&ChallengeSpec::push(&enrollment).uv(UserVerificationLevel::Biometric));
    server.queue_push(&enrollment, &jws);
    daemon.expect_line("push: sign-in to Vault").await;
    let approved = verify(home, &["approve"], "", &[("GATEHOUSE_VERIFY_TEST_UV", "pass")]).await;
    assert!(approved.ok, "{}", approved.stderr);
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("verified:biometric".to_owned())
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_provider_gates_an_any_key_from_enrollment_to_approval() {
    let server = RefServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    // Standard input: the password, the new PIN twice, then the PIN to unlock the new key.
    let run = verify(
        home,
        &[
            "enroll",
            "--server",
            &server.base,
            "--login",
            "alice",
            "--password-stdin",
            "--uv",
            "any",
        ],
        &format!("{PASSWORD}\n2468\n2468\n2468\n"),
        &[],
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    let status = json(&verify(home, &["status", "--json"], "", &[]).await);
    assert_eq!(status["uv_provider"], "pin");
    assert_eq!(status["user_verification"], "any");
    let enrollment = status["enrollment_id"].as_str().unwrap().to_owned();

    let mut daemon = DaemonProcess::start(home, &[]).await;
    let any_push = ChallengeSpec::push(&enrollment).uv(UserVerificationLevel::Any);
    let (jws, id) = server.challenge(&any_push);
    server.queue_push(&enrollment, &jws);
    daemon.expect_line("push: sign-in to Vault").await;
    let wrong = verify(home, &["--uv-provider", "pin", "approve"], "1111\n", &[]).await;
    assert!(
        !wrong.ok && wrong.stderr.contains("user verification failed"),
        "{}",
        wrong.stderr
    );
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("UserVerificationFailed".to_owned())
    );

    let (jws, id) = server.challenge(&any_push);
    server.queue_push(&enrollment, &jws);
    daemon.expect_line("push: sign-in to Vault").await;
    let approved = verify(home, &["--uv-provider", "pin", "approve"], "2468\n", &[]).await;
    assert!(approved.ok, "{}", approved.stderr);
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("verified:any".to_owned())
    );

    // A PIN-gated key does not meet a biometric requirement.
    let (jws, id) = server.challenge(&ChallengeSpec::push(&enrollment).uv(UserVerificationLevel::Biometric));
    server.queue_push(&enrollment, &jws);
    daemon.expect_line("push: sign-in to Vault").await;
    let weak = verify(home, &["--uv-provider", "pin", "approve"], "2468\n", &[]).await;
    assert!(!weak.ok, "{}", weak.stdout);
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("UserVerificationUnavailable { biometric_capable: false }".to_owned())
    );
    daemon.stop().await;
}
