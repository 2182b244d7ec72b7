//! Both keystores through the one trait: generate, sign, verify the signature independently
//! (RustCrypto's p256 and gatehouse-crypto's aws-lc verifier), keys that never leave the
//! keystore, and state that survives a new process.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt as _;

use gatehouse_api::device::KeyStorage;
use gatehouse_crypto::P256PublicKey;
use gatehouse_verify::home::Home;
use gatehouse_verify::keystore::Keystore;
use gatehouse_verify::keystore::pkcs11::{Pkcs11Keystore, TokenSelector};
use gatehouse_verify::keystore::software::SoftwareKeystore;
use p256::ecdsa::signature::Verifier as _;

use crate::support::run_test_in_child;
use crate::support::softhsm::{self, USER_PIN};

/// Checks a signature with RustCrypto's p256 (independent of the keystore that made it).
fn p256_verifies(public: &P256PublicKey, message: &[u8], signature: &[u8; 64]) -> bool {
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&public.to_sec1()).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(signature).unwrap();
    key.verify(message, &signature).is_ok()
}

/// What every keystore must do.
fn exercise(keystore: &dyn Keystore) -> (String, P256PublicKey) {
    let a = keystore.generate().unwrap();
    let b = keystore.generate().unwrap();
    assert_ne!(a.key_ref, b.key_ref);
    assert_ne!(a.public, b.public, "two keys, two public keys");
    assert_eq!(keystore.public_key(&a.key_ref).unwrap(), a.public);
    let message = b"gatehouse-device-challenge/1\nid=ch_1\n";
    let signature = keystore.sign(&a.key_ref, message).unwrap();
    assert!(p256_verifies(&a.public, message, &signature));
    assert!(gatehouse_crypto::verify_p256_signature(&a.public, message, &signature).is_ok());
    assert!(!p256_verifies(&a.public, b"another message", &signature));
    assert!(
        !p256_verifies(&b.public, message, &signature),
        "signed by a, not b"
    );
    keystore.delete(&b.key_ref).unwrap();
    assert!(
        keystore.sign(&b.key_ref, message).is_err(),
        "a deleted key no longer signs"
    );
    keystore.delete(&b.key_ref).unwrap();
    (a.key_ref, a.public)
}

#[test]
fn software_keys_live_in_a_private_file_and_survive_a_new_instance() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::open(Some(dir.path())).unwrap();
    let keystore = SoftwareKeystore::new(home.clone());
    assert_eq!(keystore.storage(), KeyStorage::Software);
    let (key_ref, public) = exercise(&keystore);
    let file = home.path("keys.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A new keystore over the same home (what a new process sees).
    let again = SoftwareKeystore::new(Home::open(Some(dir.path())).unwrap());
    assert_eq!(again.public_key(&key_ref).unwrap(), public);
    let signature = again.sign(&key_ref, b"after restart").unwrap();
    assert!(p256_verifies(&public, b"after restart", &signature));
    // A key file others can read is refused rather than used.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = again.sign(&key_ref, b"x").unwrap_err();
    assert!(err.to_string().contains("readable by other users"), "{err}");
}

const PHASE: &str = "GATEHOUSE_VERIFY_TEST_PHASE";

/// The test's body in a child process with `SOFTHSM2_CONF` set, per phase.
fn pkcs11_child(phase: &str) {
    let out = std::path::PathBuf::from(std::env::var("GATEHOUSE_VERIFY_TEST_OUT").unwrap());
    let label = std::env::var("GATEHOUSE_VERIFY_TEST_TOKEN").unwrap();
    let keystore =
        Pkcs11Keystore::open(&softhsm::module(), &TokenSelector::Label(label.clone()), USER_PIN).unwrap();
    assert_eq!(keystore.storage(), KeyStorage::Hardware);
    assert_eq!(keystore.token_label(), label);
    match phase {
        "generate" => {
            let (key_ref, public) = exercise(&keystore);
            assert!(
                !keystore.private_value_readable(&key_ref).unwrap(),
                "the private key must be sensitive and not extractable"
            );
            std::fs::write(
                &out,
                format!(
                    "{key_ref}\n{}\n{}",
                    hex(&public.to_sec1()),
                    keystore.token_serial()
                ),
            )
            .unwrap();
            let wrong = Pkcs11Keystore::open(&softhsm::module(), &TokenSelector::Label(label), "0000");
            assert!(wrong.unwrap_err().to_string().contains("PIN is not correct"));
        }
        "reopen" => {
            let saved = std::fs::read_to_string(&out).unwrap();
            let mut lines = saved.lines();
            let (key_ref, public_hex, serial) = (
                lines.next().unwrap(),
                lines.next().unwrap(),
                lines.next().unwrap(),
            );
            let by_serial = Pkcs11Keystore::open(
                &softhsm::module(),
                &TokenSelector::Serial(serial.to_owned()),
                USER_PIN,
            )
            .unwrap();
            let public = by_serial.public_key(key_ref).unwrap();
            assert_eq!(hex(&public.to_sec1()), public_hex, "the same key after a restart");
            let signature = by_serial.sign(key_ref, b"signed in a new process").unwrap();
            std::fs::write(&out, format!("{}\n{public_hex}", hex(&signature))).unwrap();
        }
        other => panic!("unknown phase {other}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn pkcs11_keys_are_generated_in_the_token_never_leave_it_and_survive_a_restart() {
    if let Ok(phase) = std::env::var(PHASE) {
        return pkcs11_child(&phase);
    }
    let token = softhsm::Token::new("verify-keystore");
    let out = token.path().join("out.txt");
    let env = |phase: &'static str| {
        vec![
            ("SOFTHSM2_CONF", token.conf.as_os_str().to_owned()),
            (PHASE, OsStr::new(phase).to_owned()),
            ("GATEHOUSE_VERIFY_TEST_OUT", out.as_os_str().to_owned()),
            ("GATEHOUSE_VERIFY_TEST_TOKEN", OsStr::new(&token.label).to_owned()),
        ]
    };
    let run = |phase: &'static str| {
        let env = env(phase);
        let borrowed: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        run_test_in_child(
            "keystore::pkcs11_keys_are_generated_in_the_token_never_leave_it_and_survive_a_restart",
            &borrowed,
        );
    };
    run("generate");
    // A second process finds the key by the token's serial number and signs with it.
    run("reopen");
    let saved = std::fs::read_to_string(&out).unwrap();
    let mut lines = saved.lines();
    let signature: [u8; 64] = unhex(lines.next().unwrap()).try_into().unwrap();
    let public = P256PublicKey::from_sec1(&unhex(lines.next().unwrap())).unwrap();
    assert!(p256_verifies(&public, b"signed in a new process", &signature));
}
