//! Local user verification: the check that gates the use of a user-verification key.
//!
//! One trait, [`UserVerifier`], and three providers chosen with `--uv-provider NAME`:
//! - `test` — **for tests only**: the result comes from `GATEHOUSE_VERIFY_TEST_UV` (`pass`,
//!   `fail`, `unavailable`); it stands for a biometric sensor.
//! - `pin` — a PIN chosen at enrollment, stored as an argon2id hash in `pin.json`; verifies at
//!   level `any`; locked after [`PIN_ATTEMPTS`] wrong PINs in a row.
//! - `fprintd` — Linux fingerprint readers through fprintd's `fprintd-verify` command; verifies
//!   at level `biometric`.
//!
//! A passing check yields a [`UvGrant`], which only this module can create; signing with a
//! user-verification key requires one (see [`crate::responder`]). With the `software` and
//! `pkcs11` keystores the gate is enforced by Verify itself, not by the key store (a platform
//! keystore that binds keys to biometrics would enforce it in hardware).

use std::fmt;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::Command;

use gatehouse_core::device::UserVerification;
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;
use crate::home::{Home, PIN_FILE};

/// The environment variable the `test` provider reads.
pub const TEST_UV_ENV: &str = "GATEHOUSE_VERIFY_TEST_UV";
/// Wrong PINs in a row after which the `pin` provider refuses to verify.
pub const PIN_ATTEMPTS: u32 = 5;
/// The shortest PIN accepted.
pub const MIN_PIN_LEN: usize = 4;

/// Proof that the user was verified locally at `level`, just now.
#[derive(Debug)]
pub struct UvGrant {
    level: UserVerification,
}

impl UvGrant {
    pub fn level(&self) -> UserVerification {
        self.level
    }
}

/// The result of a local check.
#[derive(Debug)]
pub enum UvOutcome {
    Verified(UvGrant),
    /// The user tried and failed (wrong finger, wrong PIN).
    Failed,
    /// The check cannot run (no sensor, no PIN set, no terminal, provider locked).
    Unavailable(String),
}

/// A way to verify the user on this device.
pub trait UserVerifier: Send + Sync + fmt::Debug {
    fn name(&self) -> &'static str;
    /// The level a passing check reaches: `any` or `biometric`.
    fn level(&self) -> UserVerification;
    /// Runs the check; `reason` is shown to the user. May block (sensor, terminal).
    fn verify(&self, reason: &str) -> UvOutcome;
}

/// The provider called `name`.
pub fn provider(name: &str, home: &Home) -> Result<Box<dyn UserVerifier>, VerifyError> {
    match name {
        "test" => Ok(Box::new(TestProvider::from_env())),
        "pin" => Ok(Box::new(PinProvider::new(home.clone(), PinSource::Stdin))),
        "fprintd" => Ok(Box::new(FprintdProvider::default())),
        other => Err(VerifyError::UnknownProvider(other.to_owned())),
    }
}

/// The `test` provider's scripted result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestResult {
    Pass,
    Fail,
    Unavailable,
}

/// For tests only: the result is scripted, by `GATEHOUSE_VERIFY_TEST_UV` or by the caller.
#[derive(Debug, Clone)]
pub struct TestProvider {
    scripted: Option<TestResult>,
    raw: Option<String>,
}

impl TestProvider {
    /// Reads `GATEHOUSE_VERIFY_TEST_UV` at each check.
    pub fn from_env() -> Self {
        Self {
            scripted: None,
            raw: None,
        }
    }

    /// Always gives `result`.
    pub fn scripted(result: TestResult) -> Self {
        Self {
            scripted: Some(result),
            raw: None,
        }
    }

    /// Behaves as if `GATEHOUSE_VERIFY_TEST_UV` held `value`.
    pub fn with_env_value(value: Option<&str>) -> Self {
        Self {
            scripted: None,
            raw: Some(value.unwrap_or_default().to_owned()),
        }
    }

    fn result(&self) -> Result<TestResult, String> {
        if let Some(result) = self.scripted {
            return Ok(result);
        }
        let value = match &self.raw {
            Some(raw) => raw.clone(),
            None => std::env::var(TEST_UV_ENV).unwrap_or_default(),
        };
        match value.as_str() {
            "pass" => Ok(TestResult::Pass),
            "fail" => Ok(TestResult::Fail),
            "unavailable" => Ok(TestResult::Unavailable),
            "" => Err(format!(
                "{TEST_UV_ENV} is not set (the test provider is for tests only)"
            )),
            other => Err(format!(
                "{TEST_UV_ENV}=`{other}` is not one of pass, fail, unavailable"
            )),
        }
    }
}

impl UserVerifier for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    fn level(&self) -> UserVerification {
        UserVerification::Biometric
    }

    fn verify(&self, _reason: &str) -> UvOutcome {
        match self.result() {
            Ok(TestResult::Pass) => UvOutcome::Verified(UvGrant {
                level: UserVerification::Biometric,
            }),
            Ok(TestResult::Fail) => UvOutcome::Failed,
            Ok(TestResult::Unavailable) => {
                UvOutcome::Unavailable("the test sensor is unavailable".to_owned())
            }
            Err(why) => UvOutcome::Unavailable(why),
        }
    }
}

/// Where the `pin` provider reads the PIN from.
#[derive(Debug, Clone)]
pub enum PinSource {
    /// A prompt on standard error, the answer read as one line of standard input.
    Stdin,
    /// Fixed answers, consumed in order (tests).
    Answers(std::sync::Arc<std::sync::Mutex<Vec<String>>>),
}

impl PinSource {
    pub fn answers(answers: &[&str]) -> Self {
        Self::Answers(std::sync::Arc::new(std::sync::Mutex::new(
            answers.iter().rev().map(|a| (*a).to_owned()).collect(),
        )))
    }

    fn read(&self, prompt: &str) -> Option<String> {
        match self {
            Self::Stdin => {
                #[expect(
                    clippy::print_stderr,
                    reason = "the PIN prompt is for the person at the terminal"
                )]
                {
                    eprint!("{prompt}: ");
                }
                let mut line = String::new();
                match std::io::stdin().lock().read_line(&mut line) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
                }
            }
            Self::Answers(answers) => answers.lock().ok().and_then(|mut a| a.pop()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct PinFile {
    /// argon2id PHC string.
    hash: String,
    failures: u32,
}

/// A PIN known only to the user.
#[derive(Debug, Clone)]
pub struct PinProvider {
    home: Home,
    source: PinSource,
}

impl PinProvider {
    pub fn new(home: Home, source: PinSource) -> Self {
        Self { home, source }
    }

    fn hasher() -> Result<gatehouse_crypto::PasswordHasher, VerifyError> {
        gatehouse_crypto::PasswordHasher::new(gatehouse_crypto::PasswordParams::default())
            .map_err(|e| VerifyError::UserVerificationUnavailable(e.to_string()))
    }

    /// Whether a PIN is set.
    pub fn is_set(&self) -> Result<bool, VerifyError> {
        Ok(self.home.read_json::<PinFile>(PIN_FILE)?.is_some())
    }

    /// Asks for a new PIN twice and stores its hash.
    pub fn choose_pin(&self) -> Result<(), VerifyError> {
        let pin = self
            .source
            .read("Choose a Gatehouse Verify PIN")
            .ok_or_else(|| VerifyError::UserVerificationUnavailable("no PIN was entered".to_owned()))?;
        if pin.chars().count() < MIN_PIN_LEN {
            return Err(VerifyError::Usage(format!(
                "the PIN must have at least {MIN_PIN_LEN} characters"
            )));
        }
        let again = self
            .source
            .read("Repeat the PIN")
            .ok_or_else(|| VerifyError::UserVerificationUnavailable("no PIN was entered".to_owned()))?;
        if again != pin {
            return Err(VerifyError::Usage("the two PINs differ".to_owned()));
        }
        let hash = Self::hasher()?
            .hash(&pin)
            .map_err(|e| VerifyError::UserVerificationUnavailable(e.to_string()))?;
        self.home.write_json(PIN_FILE, &PinFile { hash, failures: 0 })
    }

    fn check(&self) -> Result<UvOutcome, VerifyError> {
        let Some(mut file) = self.home.read_json::<PinFile>(PIN_FILE)? else {
            return Ok(UvOutcome::Unavailable("no PIN is set on this device".to_owned()));
        };
        if file.failures >= PIN_ATTEMPTS {
            return Ok(UvOutcome::Unavailable(format!(
                "the PIN is locked after {PIN_ATTEMPTS} wrong attempts; enroll the device again"
            )));
        }
        let Some(pin) = self.source.read("Gatehouse Verify PIN") else {
            return Ok(UvOutcome::Unavailable("no PIN was entered".to_owned()));
        };
        let ok = Self::hasher()?.verify(&pin, &file.hash);
        file.failures = if ok { 0 } else { file.failures.saturating_add(1) };
        self.home.write_json(PIN_FILE, &file)?;
        Ok(if ok {
            UvOutcome::Verified(UvGrant {
                level: UserVerification::Any,
            })
        } else {
            UvOutcome::Failed
        })
    }
}

impl UserVerifier for PinProvider {
    fn name(&self) -> &'static str {
        "pin"
    }

    fn level(&self) -> UserVerification {
        UserVerification::Any
    }

    fn verify(&self, _reason: &str) -> UvOutcome {
        self.check()
            .unwrap_or_else(|e| UvOutcome::Unavailable(e.to_string()))
    }
}

/// Fingerprint verification through fprintd (`fprintd-verify`, from the `fprintd` package).
#[derive(Debug, Clone)]
pub struct FprintdProvider {
    command: PathBuf,
}

impl Default for FprintdProvider {
    fn default() -> Self {
        Self {
            command: PathBuf::from("fprintd-verify"),
        }
    }
}

impl FprintdProvider {
    /// Uses `command` instead of `fprintd-verify` from `PATH`.
    pub fn with_command(command: impl Into<PathBuf>) -> Self {
        Self {
            command: command.into(),
        }
    }
}

/// Reads `fprintd-verify`'s output: `verify-match` passes, `verify-no-match` fails, anything
/// else (no device, no enrolled finger, daemon not running) is unavailable.
fn fprintd_outcome(success: bool, output: &str) -> UvOutcome {
    if output.contains("verify-no-match") {
        UvOutcome::Failed
    } else if success && output.contains("verify-match") {
        UvOutcome::Verified(UvGrant {
            level: UserVerification::Biometric,
        })
    } else {
        let reason = output
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("fprintd-verify gave no result");
        UvOutcome::Unavailable(format!("fprintd: {reason}"))
    }
}

impl UserVerifier for FprintdProvider {
    fn name(&self) -> &'static str {
        "fprintd"
    }

    fn level(&self) -> UserVerification {
        UserVerification::Biometric
    }

    fn verify(&self, _reason: &str) -> UvOutcome {
        match Command::new(&self.command).output() {
            Ok(out) => {
                let text = format!(
                    "{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                fprintd_outcome(out.status.success(), &text)
            }
            Err(e) => UvOutcome::Unavailable(format!("cannot run `{}`: {e}", self.command.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fprintd_output_is_read_as_a_user_would() {
        assert!(matches!(
            fprintd_outcome(
                true,
                "Using device /net/reactivated/Fprint/Device/0\nVerify result: verify-match (done)\n"
            ),
            UvOutcome::Verified(UvGrant {
                level: UserVerification::Biometric
            })
        ));
        assert!(matches!(
            fprintd_outcome(false, "Verify result: verify-no-match (done)\n"),
            UvOutcome::Failed
        ));
        let UvOutcome::Unavailable(why) = fprintd_outcome(false, "No devices available\n") else {
            panic!("no reader is unavailable");
        };
        assert_eq!(why, "fprintd: No devices available");
    }
}
