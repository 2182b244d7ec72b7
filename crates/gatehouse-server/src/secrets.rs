//! The master keyring that seals secrets at rest (TOTP seeds, signing keys): from
//! `GATEHOUSE_MASTER_KEY`, or from a key file created on first start with a fresh key and mode
//! 0600 (DESIGN section 8, issue 4).

use std::io::Write as _;
use std::path::Path;

use gatehouse_crypto::Keyring;

use crate::ServerError;
use crate::config::MasterKeySource;

/// Loads (or, for a missing key file, creates) the master keyring.
pub fn load_keyring(source: &MasterKeySource) -> Result<Keyring, ServerError> {
    match source {
        MasterKeySource::Spec(spec) => Keyring::parse(spec).map_err(|e| ServerError::Config {
            what: "GATEHOUSE_MASTER_KEY".to_owned(),
            reason: e.to_string(),
        }),
        MasterKeySource::File(path) => load_or_create(path),
    }
}

fn load_or_create(path: &Path) -> Result<Keyring, ServerError> {
    let bad = |reason: String| ServerError::Config {
        what: format!("master key file `{}`", path.display()),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(spec) => Keyring::parse(spec.trim()).map_err(|e| bad(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let spec = Keyring::generate_spec("k1").map_err(|e| bad(e.to_string()))?;
            write_private(path, &spec).map_err(|e| bad(e.to_string()))?;
            tracing::info!(path = %path.display(), "created a new master key file (mode 0600)");
            Keyring::parse(&spec).map_err(|e| bad(e.to_string()))
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// Writes `text` to a new file readable only by its owner; fails if the file exists.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.key");
        let first = load_keyring(&MasterKeySource::File(path.clone())).unwrap();
        let sealed = first.seal(b"secret", b"ctx");
        let second = load_keyring(&MasterKeySource::File(path.clone())).unwrap();
        assert_eq!(&*second.open(&sealed, b"ctx").unwrap().plaintext, b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_bad_spec_names_its_source() {
        let err = load_keyring(&MasterKeySource::Spec("nonsense".into())).unwrap_err();
        assert!(err.to_string().contains("GATEHOUSE_MASTER_KEY"), "{err}");
    }
}
