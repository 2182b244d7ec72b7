//! The Verify home directory (`--home DIR`): everything Verify keeps on the device, as small JSON
//! files readable only by the user (directory 0700, files 0600, written atomically).
//!
//! | file | holds |
//! |---|---|
//! | `installation.json` | the installation id (kept across enrollments) |
//! | `enrollment.json` | server, enrollment and device ids, keystore configuration, key references, TOTP seed |
//! | `keys.json` | the `software` keystore's private keys |
//! | `pending-push.json` | the push waiting for `approve`/`deny`/`enroll-biometrics` |
//! | `pin.json` | the `pin` provider's PIN hash and failure count |
//! | `management-attestation` | written by device management: the device is managed (see the protocol document) |

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use gatehouse_api::device::UserVerificationLevel;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;
use crate::keystore::KeystoreConfig;

pub const INSTALLATION_FILE: &str = "installation.json";
pub const ENROLLMENT_FILE: &str = "enrollment.json";
pub const KEYS_FILE: &str = "keys.json";
pub const PENDING_PUSH_FILE: &str = "pending-push.json";
pub const PIN_FILE: &str = "pin.json";
pub const MANAGEMENT_ATTESTATION_FILE: &str = "management-attestation";

/// The Verify home directory.
#[derive(Debug, Clone)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// Opens (creating it with mode 0700 when missing) `dir`, or the default directory:
    /// `$XDG_DATA_HOME/gatehouse-verify`, else `$HOME/.local/share/gatehouse-verify`.
    pub fn open(dir: Option<&Path>) -> Result<Self, VerifyError> {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => default_dir().ok_or_else(|| {
                VerifyError::Usage("no home directory is known: pass `--home DIR`".to_owned())
            })?,
        };
        if !dir.exists() {
            fs::create_dir_all(&dir).map_err(|e| VerifyError::home(&dir, e))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| VerifyError::home(&dir, e))?;
        }
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// Reads a JSON file; `None` when it does not exist. Refuses a file other users can read.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, VerifyError> {
        let path = self.path(name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(VerifyError::home(&path, e)),
        };
        check_private(&path)?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| VerifyError::corrupt(&path, e))
    }

    /// Writes a JSON file with mode 0600, atomically (a temporary file renamed over it).
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), VerifyError> {
        let text = serde_json::to_vec_pretty(value).map_err(|e| VerifyError::corrupt(self.path(name), e))?;
        self.write_private(name, &text)
    }

    /// Writes bytes with mode 0600, atomically.
    pub fn write_private(&self, name: &str, bytes: &[u8]) -> Result<(), VerifyError> {
        let path = self.path(name);
        let tmp = self.path(&format!(".{name}.tmp"));
        let result = (|| {
            let _ = fs::remove_file(&tmp);
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        result.map_err(|e| VerifyError::home(&path, e))
    }

    /// Removes a file; a missing file is not an error.
    pub fn remove(&self, name: &str) -> Result<(), VerifyError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(VerifyError::home(&path, e)),
        }
    }

    /// The enrollment, or [`VerifyError::NotEnrolled`].
    pub fn enrollment(&self) -> Result<EnrollmentRecord, VerifyError> {
        self.read_json(ENROLLMENT_FILE)?.ok_or(VerifyError::NotEnrolled)
    }

    /// The installation id, created on first use.
    pub fn installation_id(&self) -> Result<String, VerifyError> {
        if let Some(installation) = self.read_json::<Installation>(INSTALLATION_FILE)? {
            return Ok(installation.installation_id);
        }
        let installation = Installation {
            installation_id: gatehouse_crypto::random::token::<16>(),
        };
        self.write_json(INSTALLATION_FILE, &installation)?;
        Ok(installation.installation_id)
    }

    /// The management attestation written by device management, if any (trimmed, non-empty).
    pub fn management_attestation(&self) -> Result<Option<String>, VerifyError> {
        let path = self.path(MANAGEMENT_ATTESTATION_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(VerifyError::home(&path, e)),
        }
    }
}

fn default_dir() -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("XDG_DATA_HOME")
        .or_else(|| from_env("HOME").map(|home| home.join(".local").join("share")))
        .map(|data| data.join("gatehouse-verify"))
}

fn check_private(path: &Path) -> Result<(), VerifyError> {
    let mode = fs::metadata(path)
        .map_err(|e| VerifyError::home(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(VerifyError::InsecurePermissions {
            path: path.to_path_buf(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

/// The installation id file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Installation {
    pub installation_id: String,
}

/// A key held in the keystore: the keystore's reference and the public key's thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub key_ref: String,
    pub kid: String,
}

/// A user-verification key and the level it is gated by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUvKey {
    pub key_ref: String,
    pub kid: String,
    pub level: UserVerificationLevel,
}

/// The TOTP seed received at enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTotp {
    pub secret: String,
    pub algorithm: String,
    pub digits: u8,
    pub period: u32,
}

/// Everything about the device's enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentRecord {
    /// The URL Verify dials (as given to `enroll --server`).
    pub server_url: String,
    /// The server's issuer (from discovery): audience of the device's proofs.
    pub issuer: String,
    /// The origin the sign-in page is served from (the issuer's origin): the only origin the
    /// daemon answers.
    pub origin: String,
    pub enrollment_id: String,
    pub device_id: String,
    pub user_id: String,
    pub login: String,
    pub keystore: KeystoreConfig,
    pub proof_of_possession: StoredKey,
    pub user_verification: Option<StoredUvKey>,
    pub biometric_capable: bool,
    pub managed: bool,
    pub totp: StoredTotp,
    /// The user-verification provider chosen at enrollment (used when `--uv-provider` is not given).
    pub uv_provider: String,
    pub enrolled_at: u64,
}

/// A push waiting for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPush {
    /// The challenge JWS as received (verified again when answered).
    pub request: String,
    pub received_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_refused_when_not() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(Some(&dir.path().join("verify"))).unwrap();
        assert_eq!(
            fs::metadata(home.dir()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        home.write_json(
            "x.json",
            &Installation {
                installation_id: "abc".into(),
            },
        )
        .unwrap();
        let path = home.path("x.json");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let back: Installation = home.read_json("x.json").unwrap().unwrap();
        assert_eq!(back.installation_id, "abc");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = home.read_json::<Installation>("x.json").unwrap_err();
        assert!(
            matches!(err, VerifyError::InsecurePermissions { mode: 0o644, .. }),
            "{err}"
        );
        assert!(home.read_json::<Installation>("missing.json").unwrap().is_none());
    }

    #[test]
    fn the_installation_id_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(Some(dir.path())).unwrap();
        let first = home.installation_id().unwrap();
        assert_eq!(home.installation_id().unwrap(), first);
        assert!(matches!(home.enrollment(), Err(VerifyError::NotEnrolled)));
    }
}
