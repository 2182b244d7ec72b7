//! The user-verification providers: the test provider's three results, the PIN provider's
//! hashing and lock-out, and the fprintd provider against stand-in `fprintd-verify` programs.

use std::os::unix::fs::PermissionsExt as _;

use gatehouse_core::device::UserVerification;
use gatehouse_verify::home::Home;
use gatehouse_verify::uv::{
    FprintdProvider, PIN_ATTEMPTS, PinProvider, PinSource, TestProvider, TestResult, UserVerifier, UvOutcome,
};

fn verified_level(outcome: UvOutcome) -> Option<UserVerification> {
    match outcome {
        UvOutcome::Verified(grant) => Some(grant.level()),
        _ => None,
    }
}

#[test]
fn the_test_provider_passes_fails_or_is_unavailable_as_told() {
    let pass = TestProvider::with_env_value(Some("pass"));
    assert_eq!(pass.level(), UserVerification::Biometric);
    assert_eq!(
        verified_level(pass.verify("x")),
        Some(UserVerification::Biometric)
    );
    assert!(matches!(
        TestProvider::with_env_value(Some("fail")).verify("x"),
        UvOutcome::Failed
    ));
    assert!(matches!(
        TestProvider::with_env_value(Some("unavailable")).verify("x"),
        UvOutcome::Unavailable(_)
    ));
    let UvOutcome::Unavailable(unset) = TestProvider::with_env_value(None).verify("x") else {
        panic!("an unset variable must not pass");
    };
    assert!(unset.contains("GATEHOUSE_VERIFY_TEST_UV is not set"), "{unset}");
    let UvOutcome::Unavailable(bad) = TestProvider::with_env_value(Some("yes")).verify("x") else {
        panic!("an unknown value must not pass");
    };
    assert!(bad.contains("not one of pass, fail, unavailable"), "{bad}");
    assert!(matches!(
        TestProvider::scripted(TestResult::Fail).verify("x"),
        UvOutcome::Failed
    ));
}

#[test]
fn the_pin_provider_hashes_the_pin_and_locks_after_repeated_failures() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::open(Some(dir.path())).unwrap();
    let unset = PinProvider::new(home.clone(), PinSource::answers(&[]));
    assert!(!unset.is_set().unwrap());
    assert!(matches!(unset.verify("x"), UvOutcome::Unavailable(_)));

    let mismatch = PinProvider::new(home.clone(), PinSource::answers(&["2468", "2469"]));
    assert!(mismatch.choose_pin().is_err());
    let short = PinProvider::new(home.clone(), PinSource::answers(&["12"]));
    assert!(short.choose_pin().unwrap_err().to_string().contains("at least 4"));

    PinProvider::new(home.clone(), PinSource::answers(&["2468", "2468"]))
        .choose_pin()
        .unwrap();
    let stored = std::fs::read_to_string(home.path("pin.json")).unwrap();
    assert!(
        !stored.contains("2468") && stored.contains("$argon2id$"),
        "{stored}"
    );
    assert_eq!(
        std::fs::metadata(home.path("pin.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let right = PinProvider::new(home.clone(), PinSource::answers(&["2468"]));
    assert_eq!(right.level(), UserVerification::Any);
    assert_eq!(verified_level(right.verify("x")), Some(UserVerification::Any));

    // Wrong PINs: each fails, and after PIN_ATTEMPTS in a row even the right one is refused.
    let wrongs: Vec<&str> = std::iter::repeat_n("0000", PIN_ATTEMPTS as usize).collect();
    let wrong = PinProvider::new(home.clone(), PinSource::answers(&wrongs));
    for _ in 0..PIN_ATTEMPTS {
        assert!(matches!(wrong.verify("x"), UvOutcome::Failed));
    }
    let locked = PinProvider::new(home, PinSource::answers(&["2468"]));
    let UvOutcome::Unavailable(why) = locked.verify("x") else {
        panic!("a locked PIN must not verify");
    };
    assert!(why.contains("locked"), "{why}");
}

fn script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn the_fprintd_provider_reads_fprintd_verify() {
    let dir = tempfile::tempdir().unwrap();
    let matched = script(
        dir.path(),
        "match",
        "echo 'Using device /net/reactivated/Fprint/Device/0'\necho 'Verify result: verify-match (done)'",
    );
    let provider = FprintdProvider::with_command(&matched);
    assert_eq!(provider.level(), UserVerification::Biometric);
    assert_eq!(
        verified_level(provider.verify("x")),
        Some(UserVerification::Biometric)
    );
    let no_match = script(
        dir.path(),
        "nomatch",
        "echo 'Verify result: verify-no-match (done)'\nexit 1",
    );
    assert!(matches!(
        FprintdProvider::with_command(&no_match).verify("x"),
        UvOutcome::Failed
    ));
    let no_device = script(dir.path(), "nodevice", "echo 'No devices available' >&2\nexit 1");
    let UvOutcome::Unavailable(why) = FprintdProvider::with_command(&no_device).verify("x") else {
        panic!("no reader means unavailable");
    };
    assert_eq!(why, "fprintd: No devices available");
    let missing = FprintdProvider::with_command(dir.path().join("absent"));
    assert!(matches!(missing.verify("x"), UvOutcome::Unavailable(_)));
}
