//! `gatehouse dev seed`: fills a database with test-scale data (issue 9) — users with passwords,
//! groups, TOTP enrollments and registered devices — so that sign-in speed can be measured with
//! a million users as with a thousand.
//!
//! Seeded users are `seed-0000000`, `seed-0000001`, …, all with the same password (one argon2id
//! hash at the configured parameters, computed once: hashing a million passwords would take hours
//! and measure nothing). Each joins one of ten groups `seed-group-0` … `seed-group-9` and, when
//! the database has one, `employees`; each has a TOTP enrollment (a random secret sealed under
//! the master key, as real enrollments are); every `device_every`-th user has a registered
//! device (a fresh P-256 proof-of-possession key nobody holds: inert, but shaped as Verify makes
//! them). Users are written in transactions of `batch`, several at once on PostgreSQL. Running it
//! again continues the numbering after the highest seeded login.

use std::sync::Arc;

use gatehouse_core::model::{
    Actor, AuthenticatorKey, Device, DeviceStatus, DisplayName, Email, Enrollment, Group, GroupId, GroupName,
    KeyStorage, Login, Method, Outcome, PasswordData, Profile, TotpData, User, UserId, UserStatus,
    event_types, sealing_context,
};
use gatehouse_crypto::{Keyring, PasswordHasher, PasswordParams, TotpSecret};
use gatehouse_store::{Dialect, Store, new_id};
use jiff::Timestamp;

use crate::ServerError;
use crate::audit::Event;
use crate::demo::enrollment;

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub users: u64,
    /// The password every seeded user gets.
    pub password: String,
    /// Every n-th user has a registered device (0: none).
    pub device_every: u64,
    /// Users per transaction.
    pub batch: u64,
}

/// What was seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// The first seeded number (`seed-{first:07}`).
    pub first: u64,
    pub users: u64,
    pub enrollments: u64,
    pub devices: u64,
}

/// The login of seeded user number `n`.
pub fn seed_login(n: u64) -> String {
    format!("seed-{n:07}")
}

/// What every batch shares.
struct Shared {
    keyring: Keyring,
    password_hash: String,
    groups: Vec<GroupId>,
    employees: Option<GroupId>,
    device_every: u64,
}

/// Seeds `options.users` users into `store` (see the module documentation).
pub async fn seed(
    store: &Store,
    keyring: Keyring,
    params: PasswordParams,
    options: &SeedOptions,
    now: Timestamp,
) -> Result<SeedReport, ServerError> {
    let hasher = PasswordHasher::new(params).map_err(ServerError::Crypto)?;
    let password_hash = hasher.hash(&options.password).map_err(ServerError::Crypto)?;
    let first = next_number(store).await?;
    let (groups, employees) = groups(store, now).await?;
    let shared = Arc::new(Shared {
        keyring,
        password_hash,
        groups,
        employees,
        device_every: options.device_every,
    });
    let batch = options.batch.max(1);
    // SQLite writes one transaction at a time; PostgreSQL takes several side by side.
    let parallel = match store.dialect() {
        Dialect::Sqlite => 1,
        Dialect::Postgres => 4,
    };
    let mut report = SeedReport {
        first,
        users: 0,
        enrollments: 0,
        devices: 0,
    };
    let end = first.saturating_add(options.users);
    let mut next = first;
    let mut running = tokio::task::JoinSet::new();
    while next < end || !running.is_empty() {
        while next < end && running.len() < parallel {
            let upto = next.saturating_add(batch).min(end);
            let (store, shared) = (store.clone(), Arc::clone(&shared));
            running.spawn(async move { write_batch(&store, &shared, next..upto, now).await });
            next = upto;
        }
        if let Some(done) = running.join_next().await {
            let (users, enrollments, devices) = done.map_err(|e| ServerError::Config {
                what: "seeding".into(),
                reason: e.to_string(),
            })??;
            report.users += users;
            report.enrollments += enrollments;
            report.devices += devices;
        }
    }
    let mut tx = store.begin().await?;
    Event::new(event_types::SYSTEM_DEV_SEED, Actor::System, Outcome::Success)
        .detail("first", seed_login(first))
        .detail("users", report.users)
        .detail("enrollments", report.enrollments)
        .detail("devices", report.devices)
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(report)
}

/// One past the highest seeded number already in the database.
async fn next_number(store: &Store) -> Result<u64, ServerError> {
    let highest = store.users().highest_login_with_prefix("seed-").await?;
    Ok(highest
        .and_then(|login| login.strip_prefix("seed-").and_then(|n| n.parse::<u64>().ok()))
        .map_or(0, |n| n.saturating_add(1)))
}

/// The ten seed groups (made when missing) and `employees`, if the database has it.
async fn groups(store: &Store, now: Timestamp) -> Result<(Vec<GroupId>, Option<GroupId>), ServerError> {
    let mut tx = store.begin().await?;
    let mut ids = Vec::with_capacity(10);
    for i in 0..10 {
        let name = format!("seed-group-{i}");
        let id = match tx.groups().by_name(&name).await? {
            Some(group) => group.id,
            None => {
                let group = Group {
                    id: new_id(),
                    name: GroupName::parse(&name).map_err(invalid)?,
                    description: "Seeded by gatehouse dev seed".to_owned(),
                    builtin: false,
                    created_at: now,
                    updated_at: now,
                };
                tx.groups().insert(&group).await?;
                group.id
            }
        };
        ids.push(id);
    }
    let employees = tx.groups().by_name("employees").await?.map(|g| g.id);
    tx.commit().await?;
    Ok((ids, employees))
}

/// Writes users `numbers` in one transaction, with multi-row inserts; returns (users,
/// enrollments, devices) written.
async fn write_batch(
    store: &Store,
    shared: &Shared,
    numbers: std::ops::Range<u64>,
    now: Timestamp,
) -> Result<(u64, u64, u64), ServerError> {
    let mut users = Vec::new();
    let mut memberships = Vec::new();
    let mut enrollments = Vec::new();
    let mut devices = Vec::new();
    for n in numbers {
        let user = seed_user(n, now)?;
        let group = shared
            .groups
            .get(usize::try_from(n % 10).unwrap_or(0))
            .copied()
            .ok_or_else(|| invalid_text("no seed group"))?;
        memberships.push((group, user.id));
        if let Some(employees) = shared.employees {
            memberships.push((employees, user.id));
        }
        enrollments.push(password(shared, user.id, now)?);
        enrollments.push(totp(shared, user.id, now)?);
        if shared.device_every > 0 && n % shared.device_every == 0 {
            let (device, installation_id, enrollment) = device(shared, &user, now)?;
            devices.push((device, installation_id));
            enrollments.push(enrollment);
        }
        users.push(user);
    }
    let mut tx = store.begin().await?;
    tx.users().insert_many(&users).await?;
    tx.groups().add_members(&memberships, now).await?;
    for (device, installation_id) in &devices {
        tx.devices().insert(device).await?;
        tx.devices()
            .set_installation_id(device.id, installation_id)
            .await?;
    }
    tx.enrollments().insert_many(&enrollments).await?;
    tx.commit().await?;
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    Ok((count(users.len()), count(enrollments.len()), count(devices.len())))
}

fn seed_user(n: u64, now: Timestamp) -> Result<User, ServerError> {
    let login = seed_login(n);
    Ok(User {
        id: new_id(),
        email: Email::parse(&format!("{login}@seed.example.com")).map_err(invalid)?,
        display_name: DisplayName::parse(&format!("Seed User {n}")).map_err(invalid)?,
        login: Login::parse(&login).map_err(invalid)?,
        status: UserStatus::Active,
        profile: Profile::default(),
        created_at: now,
        updated_at: now,
        status_changed_at: now,
        last_sign_in_at: None,
    })
}

fn password(shared: &Shared, user: UserId, now: Timestamp) -> Result<Enrollment, ServerError> {
    let data = PasswordData {
        hash: shared.password_hash.clone(),
    };
    Ok(Enrollment {
        data: serde_json::to_value(data).map_err(|e| invalid_text(&e.to_string()))?,
        ..enrollment(user, AuthenticatorKey::Password, vec![Method::Password], now)
    })
}

fn totp(shared: &Shared, user: UserId, now: Timestamp) -> Result<Enrollment, ServerError> {
    let base = enrollment(user, AuthenticatorKey::Totp, vec![Method::Otp], now);
    let secret = TotpSecret::generate();
    let data = TotpData {
        secret_sealed: shared
            .keyring
            .seal(secret.as_bytes(), sealing_context(base.id).as_bytes()),
        algorithm: "SHA1".to_owned(),
        digits: 6,
        period: 30,
    };
    Ok(Enrollment {
        name: Some("Authenticator app".to_owned()),
        data: serde_json::to_value(data).map_err(|e| invalid_text(&e.to_string()))?,
        ..base
    })
}

/// A device with its installation id and its `device` enrollment.
fn device(shared: &Shared, user: &User, now: Timestamp) -> Result<(Device, String, Enrollment), ServerError> {
    // A random 32-byte string is a valid P-256 scalar except with probability ~2^-32.
    let key = (0..8)
        .find_map(|_| p256::ecdsa::SigningKey::from_slice(&gatehouse_crypto::random::bytes::<32>()).ok())
        .ok_or_else(|| invalid_text("no valid P-256 scalar was drawn"))?;
    let point = key.verifying_key().to_sec1_point(false);
    let pop =
        gatehouse_crypto::pop::P256PublicKey::from_sec1(point.as_bytes()).map_err(ServerError::Crypto)?;
    let installation_id = uuid::Uuid::new_v4().to_string();
    let device = Device {
        id: new_id(),
        user_id: user.id,
        status: DeviceStatus::Active,
        display_name: format!("Seed laptop of {}", user.login.as_str()),
        platform: "macos".to_owned(),
        os_version: "15.1".to_owned(),
        model: "Seed".to_owned(),
        secure_hardware: false,
        managed: false,
        biometric_capable: false,
        key_storage: KeyStorage::Software,
        pop_public_key: pop.to_jwk().to_string(),
        uv_public_key: None,
        uv_level: None,
        created_at: now,
        updated_at: now,
        last_seen_at: None,
    };
    let base = enrollment(
        user.id,
        AuthenticatorKey::Device,
        vec![Method::Push, Method::Otp, Method::Fastpass],
        now,
    );
    let seed = TotpSecret::generate();
    let data = crate::verify::device_api::DeviceEnrollmentData {
        pop_kid: pop.thumbprint(),
        pop_jwk: pop.to_jwk(),
        pop_storage: gatehouse_api::device::KeyStorage::Software,
        uv_jwk: None,
        uv_kid: None,
        uv_storage: None,
        totp_secret_sealed: shared
            .keyring
            .seal(seed.as_bytes(), sealing_context(base.id).as_bytes()),
        installation_id,
    };
    let record = Enrollment {
        name: Some(device.display_name.clone()),
        data: serde_json::to_value(&data).map_err(|e| invalid_text(&e.to_string()))?,
        device_id: Some(device.id),
        ..base
    };
    Ok((device, data.installation_id, record))
}

fn invalid(e: gatehouse_core::CoreError) -> ServerError {
    invalid_text(&e.to_string())
}

fn invalid_text(reason: &str) -> ServerError {
    ServerError::Config {
        what: "seeded data".into(),
        reason: reason.to_owned(),
    }
}
