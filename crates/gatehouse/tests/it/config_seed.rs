//! `serve --config FILE` (a TOML file under the environment and the command line) and
//! `gatehouse dev seed`, run as real processes.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use gatehouse_core::model::AuthenticatorKey;
use gatehouse_store::Store;
use gatehouse_store::testing::TestDatabase;

fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("config_seed")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gatehouse() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    for (key, _) in std::env::vars() {
        if key.starts_with("GATEHOUSE_") {
            command.env_remove(key);
        }
    }
    command
}

/// Kills the server when the test ends, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain HTTP/1.1 GET; returns the body.
fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_once("\r\n\r\n").unwrap().1.to_owned()
}

#[test]
fn the_config_file_sets_what_flags_and_environment_do_not() {
    let dir = scratch_dir("serve");
    let file = dir.join("gatehouse.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:0\"\nissuer = \"http://from-file.example\"\ndatabase_url = \"{db}\"\n\
             master_key_file = \"{key}\"\noutbox_dir = \"{outbox}\"\ndemo = true\nno_demo_apps = true\n\
             password_memory_kib = 1024\npassword_iterations = 1\nfastpass_ports = [8769, 8770]\n",
            db = dir.join("from-file.db").display(),
            key = dir.join("gatehouse.key").display(),
            outbox = dir.join("outbox").display(),
        ),
    )
    .unwrap();
    let mut child = gatehouse()
        .args(["serve", "--config"])
        .arg(&file)
        .env("GATEHOUSE_ISSUER", "http://from-env.example")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut banner = String::new();
    let mut addr = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if let Some(rest) = line.strip_prefix("Gatehouse listening on http://") {
            addr = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("no listening line in:\n{banner}"));
    assert!(
        banner.contains("Gatehouse demo organisation"),
        "demo = true from the file: {banner}"
    );
    assert!(
        dir.join("from-file.db").exists(),
        "the database named in the file"
    );
    let discovery = get(&addr, "/.well-known/openid-configuration");
    let discovery: serde_json::Value = serde_json::from_str(&discovery).unwrap();
    assert_eq!(
        discovery["issuer"], "http://from-env.example",
        "GATEHOUSE_ISSUER overrides the file"
    );
    drop(server);
}

#[test]
fn a_bad_config_file_is_refused_with_the_file_and_the_reason() {
    let dir = scratch_dir("bad");
    let unknown = dir.join("unknown.toml");
    std::fs::write(&unknown, "listen = \"127.0.0.1:0\"\nlistne = \"typo\"\n").unwrap();
    let out = gatehouse()
        .args(["serve", "--config"])
        .arg(&unknown)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown.toml") && stderr.contains("unknown key `listne`"),
        "{stderr}"
    );

    let invalid = dir.join("invalid.toml");
    std::fs::write(&invalid, "listen = \"nowhere\"\n").unwrap();
    let out = gatehouse()
        .args(["serve", "--config"])
        .arg(&invalid)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'nowhere'") && stderr.contains("--listen") && stderr.contains("invalid.toml"),
        "{stderr}"
    );

    let missing = gatehouse()
        .args(["serve", "--config"])
        .arg(dir.join("absent.toml"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the config file"));
}

async fn seed_and_check(db: TestDatabase, dir: &Path) {
    let run = |users: &str| {
        let out = gatehouse()
            .args([
                "dev",
                "seed",
                "--users",
                users,
                "--batch",
                "64",
                "--device-every",
                "10",
            ])
            .args([
                "--password",
                "seeded-secret-1",
                "--password-memory-kib",
                "1024",
                "--password-iterations",
                "1",
            ])
            .arg("--database-url")
            .arg(db.url())
            .arg("--master-key-file")
            .arg(dir.join("gatehouse.key"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run("250");
    assert!(
        first.contains("Seeded 250 users (seed-0000000 … seed-0000249), 525 enrollments, 25 devices"),
        "{first}"
    );
    let again = run("5");
    assert!(
        again.contains("(seed-0000250 … seed-0000254)"),
        "numbering continues: {again}"
    );

    let store: Store = db.connect().await;
    assert_eq!(store.users().count().await.unwrap(), 255);
    let user = store.users().by_login("seed-0000130").await.unwrap().unwrap();
    let enrollments = store.enrollments().of_user(user.id).await.unwrap();
    let kinds: Vec<AuthenticatorKey> = enrollments.iter().map(|e| e.authenticator).collect();
    assert!(kinds.contains(&AuthenticatorKey::Password) && kinds.contains(&AuthenticatorKey::Totp));
    assert!(
        kinds.contains(&AuthenticatorKey::Device),
        "every 10th user has a device: {kinds:?}"
    );
    assert_eq!(store.devices().of_user(user.id).await.unwrap().len(), 1);
    let password = enrollments
        .iter()
        .find(|e| e.authenticator == AuthenticatorKey::Password)
        .unwrap();
    let hasher = gatehouse_crypto::PasswordHasher::new(gatehouse_crypto::PasswordParams::default()).unwrap();
    assert!(hasher.verify(
        "seeded-secret-1",
        password.data.get("hash").unwrap().as_str().unwrap()
    ));
    let groups = store.groups().of_user(user.id).await.unwrap();
    assert!(
        groups.iter().any(|g| g.name.as_str() == "seed-group-0"),
        "{groups:?}"
    );
    store.close().await;
    db.destroy().await;
}

#[tokio::test]
async fn dev_seed_fills_sqlite() {
    let dir = scratch_dir("seed-sqlite");
    seed_and_check(TestDatabase::sqlite(), &dir).await;
}

#[tokio::test]
async fn dev_seed_fills_postgres() {
    let dir = scratch_dir("seed-postgres");
    seed_and_check(TestDatabase::postgres().await, &dir).await;
}
