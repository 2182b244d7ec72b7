//! Signing keys: ES256 and RS256, generated at first start, sealed at rest with the master
//! keyring, reread every 30 seconds so that several nodes agree, rotated by `gatehouse keys
//! rotate` (the old key stays in the JWKS, retiring, until the longest token it signed expired).

use std::time::Duration;

use gatehouse_core::model::{Actor, Outcome, event_types};
use gatehouse_crypto::{KeySet, KeyStatus, Keyring, SigningAlgorithm, SigningKey};
use gatehouse_store::{SigningKeyRow, Store};
use jiff::Timestamp;

use crate::ServerError;
use crate::audit::Event;

/// How long a retiring key stays published: longer than any token it may have signed (access
/// tokens live at most a day under the access policies; ID tokens an hour).
pub const RETIRING_FOR: Duration = Duration::from_secs(2 * 24 * 3600);

fn aad(kid: &str) -> Vec<u8> {
    format!("gatehouse:signing-key:{kid}").into_bytes()
}

fn crypto(e: gatehouse_crypto::CryptoError) -> ServerError {
    ServerError::Crypto(e)
}

async fn generate(algorithm: SigningAlgorithm) -> Result<SigningKey, ServerError> {
    tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
        .await
        .map_err(|e| ServerError::Config {
            what: "signing key generation".into(),
            reason: e.to_string(),
        })?
        .map_err(crypto)
}

fn sealed_row(keyring: &Keyring, key: &SigningKey, now: Timestamp) -> SigningKeyRow {
    SigningKeyRow {
        kid: key.kid().to_owned(),
        algorithm: key.algorithm().as_str().to_owned(),
        sealed: keyring.seal(key.pkcs8_der(), &aad(key.kid())),
        status: "active".to_owned(),
        created_at: now,
        not_after: None,
    }
}

/// Reads the stored keys into a key set (retiring keys past `not_after` left out).
pub async fn load(store: &Store, keyring: &Keyring, now: Timestamp) -> Result<Option<KeySet>, ServerError> {
    let rows = store.oauth().signing_keys().await?;
    let mut keys = Vec::new();
    for row in rows {
        if row.not_after.is_some_and(|t| t < now) {
            continue;
        }
        let corrupt = |reason: String| ServerError::Corrupt {
            what: format!("signing key `{}`", row.kid),
            reason,
        };
        let algorithm: SigningAlgorithm = row.algorithm.parse().map_err(|e| corrupt(format!("{e}")))?;
        let opened = keyring
            .open(&row.sealed, &aad(&row.kid))
            .map_err(|e| corrupt(e.to_string()))?;
        let key = SigningKey::from_pkcs8(algorithm, &opened.plaintext).map_err(|e| corrupt(e.to_string()))?;
        let status = if row.status == "active" {
            KeyStatus::Active
        } else {
            KeyStatus::Retiring
        };
        keys.push((key, status));
    }
    let has = |alg| {
        keys.iter()
            .any(|(k, s): &(SigningKey, KeyStatus)| k.algorithm() == alg && *s == KeyStatus::Active)
    };
    if !SigningAlgorithm::ALL.iter().all(|a| has(*a)) {
        return Ok(None);
    }
    KeySet::new(keys).map(Some).map_err(crypto)
}

/// Loads the keys, generating and storing an active key for each algorithm that has none.
pub async fn load_or_create(store: &Store, keyring: &Keyring, now: Timestamp) -> Result<KeySet, ServerError> {
    if let Some(set) = load(store, keyring, now).await? {
        return Ok(set);
    }
    let existing = store.oauth().signing_keys().await?;
    let mut tx = store.begin().await?;
    for algorithm in SigningAlgorithm::ALL {
        if existing
            .iter()
            .any(|k| k.algorithm == algorithm.as_str() && k.status == "active")
        {
            continue;
        }
        let key = generate(algorithm).await?;
        tx.oauth()
            .insert_signing_key(&sealed_row(keyring, &key, now))
            .await?;
        Event::new(
            event_types::APP_OAUTH2_KEY_ROTATE,
            Actor::System,
            Outcome::Success,
        )
        .detail("kid", key.kid())
        .detail("algorithm", algorithm.as_str())
        .detail("reason", "first start")
        .append(&mut tx, now)
        .await?;
    }
    tx.commit().await?;
    load(store, keyring, now)
        .await?
        .ok_or_else(|| ServerError::Corrupt {
            what: "signing keys".into(),
            reason: "no active key after generation".into(),
        })
}

/// Rotates the keys of every algorithm: a new active key each, the previous ones retiring until
/// [`RETIRING_FOR`] from now; retiring keys past their time are deleted. Returns the new key ids.
pub async fn rotate(store: &Store, keyring: &Keyring, now: Timestamp) -> Result<Vec<String>, ServerError> {
    let mut fresh = Vec::new();
    for algorithm in SigningAlgorithm::ALL {
        fresh.push(generate(algorithm).await?);
    }
    let not_after = now
        .checked_add(jiff::SignedDuration::try_from(RETIRING_FOR).unwrap_or_default())
        .unwrap_or(now);
    let mut tx = store.begin().await?;
    tx.oauth().purge_signing_keys(now).await?;
    let mut kids = Vec::new();
    for key in &fresh {
        let algorithm = key.algorithm().as_str();
        tx.oauth().retire_signing_keys(algorithm, not_after).await?;
        tx.oauth()
            .insert_signing_key(&sealed_row(keyring, key, now))
            .await?;
        Event::new(
            event_types::APP_OAUTH2_KEY_ROTATE,
            Actor::System,
            Outcome::Success,
        )
        .detail("kid", key.kid())
        .detail("algorithm", algorithm)
        .detail("reason", "rotation")
        .append(&mut tx, now)
        .await?;
        kids.push(key.kid().to_owned());
    }
    tx.commit().await?;
    Ok(kids)
}

/// `gatehouse keys rotate`: opens the database (migrating it) and the master keyring as `serve`
/// would, makes sure keys exist, and rotates them. Running servers pick the new keys up within
/// 30 seconds. Returns the new key ids.
pub async fn rotate_configured(
    database_url: &str,
    master_key: &crate::config::MasterKeySource,
) -> Result<Vec<String>, ServerError> {
    let store = Store::connect(database_url).await?;
    let keyring = crate::secrets::load_keyring(master_key)?;
    let now = Timestamp::now();
    load_or_create(&store, &keyring, now).await?;
    let kids = rotate(&store, &keyring, now).await?;
    // Running nodes on PostgreSQL reread their keys at once; otherwise within `KEYS_TTL`.
    store.announce(gatehouse_store::Change::Keys).await?;
    store.close().await;
    Ok(kids)
}
