//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in Gatehouse Verify, phrased for the person at the device.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    // Local state (`home`)
    #[error("cannot use the Verify home directory `{path}`: {source}")]
    Home { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is not valid Verify state: {detail}")]
    CorruptState { path: PathBuf, detail: String },
    #[error("`{path}` is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("this device is not enrolled; run `gatehouse-verify enroll --server URL --login LOGIN` first")]
    NotEnrolled,
    #[error(
        "this device is already enrolled for `{login}` at `{server}`; run `gatehouse-verify unenroll` first"
    )]
    AlreadyEnrolled { login: String, server: String },

    // Keystores (`keystore`)
    #[error("the keystore has no key `{0}`")]
    MissingKey(String),
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    #[error("key generation failed: {0}")]
    KeyGeneration(String),

    // User verification (`uv`)
    #[error("unknown user-verification provider `{0}` (known: test, pin, fprintd)")]
    UnknownProvider(String),
    #[error("user verification failed")]
    UserVerificationFailed,
    #[error("user verification is unavailable: {0}")]
    UserVerificationUnavailable(String),

    // Talking to the server (`server`, `flow`)
    #[error("cannot reach the Gatehouse server at `{url}`: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the server refused the request ({status} `{code}`): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server answered something unexpected from `{url}`: {detail}")]
    Protocol { url: String, detail: String },
    #[error("sign-in failed: {0}")]
    SignIn(String),
    #[error("the server's challenge is not valid: {0}")]
    BadChallenge(String),

    // Command line
    #[error("{0}")]
    Usage(String),
    #[error("reading standard input: {0}")]
    Stdin(std::io::Error),
}

impl VerifyError {
    pub(crate) fn home(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Home {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, detail: impl ToString) -> Self {
        Self::CorruptState {
            path: path.into(),
            detail: detail.to_string(),
        }
    }

    pub(crate) fn protocol(url: &str, detail: impl ToString) -> Self {
        Self::Protocol {
            url: url.to_owned(),
            detail: detail.to_string(),
        }
    }

    /// The server's error code when the server refused the request.
    pub fn refusal_code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}
