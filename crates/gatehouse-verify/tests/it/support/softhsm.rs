//! SoftHSM2 tokens of their own for each test (a token directory under a temporary directory,
//! selected with `SOFTHSM2_CONF`). SoftHSM2 comes from Debian's `softhsm2` package, which
//! `scripts/setup.sh` installs.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const USER_PIN: &str = "4321";
const SO_PIN: &str = "87654321";

/// The SoftHSM2 PKCS#11 module (`SOFTHSM2_MODULE` overrides the Debian path).
pub fn module() -> PathBuf {
    let path = std::env::var_os("SOFTHSM2_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
    assert!(
        path.exists(),
        "SoftHSM2 is not installed (no `{}`): run scripts/setup.sh or `apt-get install softhsm2`",
        path.display()
    );
    path
}

/// A fresh token directory with one initialised token.
#[derive(Debug)]
pub struct Token {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub label: String,
}

impl Token {
    pub fn new(label: &str) -> Self {
        module();
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let output = Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                USER_PIN,
                "--so-pin",
                SO_PIN,
            ])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("softhsm2-util must be installed (scripts/setup.sh)");
        assert!(
            output.status.success(),
            "softhsm2-util failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self {
            dir,
            conf,
            label: label.to_owned(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
