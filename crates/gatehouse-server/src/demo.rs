//! The demo organisation of DESIGN section 12, seeded by `serve --demo` into an empty database:
//! users with argon2id passwords, alice's TOTP, groups, apps (secrets as SHA-256 digests), the
//! `corp` zone, the three policies (`examples/policies/demo.yaml`), one access-policy rule per
//! client but `blocked-app`, and an admin token. Demo secrets are fixed so that guides and tests
//! can use them; they are for the demo only.

use gatehouse_core::model::{
    AccessRuleRecord, Actor, AppName, Application, Assignments, AuthenticatorKey, ClientId, ClientKind,
    DisplayName, EVERYONE_ID, Email, Enrollment, EnrollmentStatus, GrantType, Group, GroupName, Login,
    Method, Outcome, PasswordData, PolicyName, Profile, TokenAuthMethod, TotpData, User, UserStatus,
    UserVerification, event_types, sealing_context,
};
use gatehouse_crypto::{TotpSecret, digest};
use gatehouse_store::{Tx, new_id};
use jiff::Timestamp;
use serde_json::json;

use crate::audit::Event;
use crate::{AppState, ServerError};

/// The demo policy file (DESIGN section 12), also in `examples/policies/demo.yaml`.
pub const POLICIES: &str = include_str!("../../../examples/policies/demo.yaml");

/// alice's TOTP seed: base32, SHA-1, 6 digits, 30 s.
pub const ALICE_TOTP_SECRET: &str = "GATEHOUSEDEMOALICETOTPSECRET2345";

/// A demo user: login, password, groups.
#[derive(Debug)]
pub struct DemoUser {
    pub login: &'static str,
    pub password: &'static str,
    pub groups: &'static [&'static str],
    pub display_name: &'static str,
}

pub const USERS: &[DemoUser] = &[
    DemoUser {
        login: "alice",
        password: "correct-horse-battery",
        groups: &["employees"],
        display_name: "Alice Example",
    },
    DemoUser {
        login: "bob",
        password: "bob-password-123",
        groups: &["contractors"],
        display_name: "Bob Example",
    },
    DemoUser {
        login: "admin",
        password: "admin-password-123",
        groups: &["admins"],
        display_name: "Demo Administrator",
    },
];

/// A demo application.
#[derive(Debug)]
pub struct DemoApp {
    pub client_id: &'static str,
    pub name: &'static str,
    /// `None` for the public client.
    pub secret: Option<&'static str>,
    pub redirect_uri: Option<&'static str>,
    pub grants: &'static [GrantType],
    /// Whether an access-policy rule covers it (`blocked-app` has none).
    pub access_rule: bool,
}

const CODE: &[GrantType] = &[GrantType::AuthorizationCode, GrantType::RefreshToken];

pub const APPS: &[DemoApp] = &[
    DemoApp {
        client_id: "dashboard",
        name: "Dashboard",
        secret: Some("demo-dashboard-secret"),
        redirect_uri: Some("http://127.0.0.1:9000/callback"),
        grants: CODE,
        access_rule: true,
    },
    DemoApp {
        client_id: "finance",
        name: "Finance",
        secret: Some("demo-finance-secret"),
        redirect_uri: Some("http://127.0.0.1:9001/callback"),
        grants: CODE,
        access_rule: true,
    },
    DemoApp {
        client_id: "cli",
        name: "Command line",
        secret: None,
        redirect_uri: Some("http://127.0.0.1:9002/callback"),
        grants: CODE,
        access_rule: true,
    },
    DemoApp {
        client_id: "reports-service",
        name: "Reports service",
        secret: Some("demo-reports-secret"),
        redirect_uri: None,
        grants: &[GrantType::ClientCredentials],
        access_rule: true,
    },
    DemoApp {
        client_id: "sso-gateway",
        name: "SSO gateway",
        secret: Some("demo-sso-secret"),
        redirect_uri: Some("http://127.0.0.1:8090/okta-login/acme-corp"),
        grants: CODE,
        access_rule: true,
    },
    DemoApp {
        client_id: "vault",
        name: "Vault",
        secret: Some("demo-vault-secret"),
        redirect_uri: Some("http://127.0.0.1:9004/callback"),
        grants: CODE,
        access_rule: true,
    },
    DemoApp {
        client_id: "blocked-app",
        name: "Blocked app",
        secret: Some("demo-blocked-secret"),
        redirect_uri: Some("http://127.0.0.1:9003/callback"),
        grants: CODE,
        access_rule: false,
    },
];

/// Seeds the demo organisation when the database is empty; returns whether it did.
pub async fn seed_if_empty(state: &AppState) -> Result<bool, ServerError> {
    if !state.store().is_empty().await? {
        return Ok(false);
    }
    let now = state.now();
    // Hash before the transaction: argon2id is slow and the transaction holds the write lock.
    let mut hashes = Vec::with_capacity(USERS.len());
    for user in USERS {
        hashes.push(state.passwords().hash(user.password.to_owned()).await?);
    }
    let mut tx = state.store().begin().await?;
    let mut group_ids = Vec::new();
    for name in ["employees", "contractors", "admins"] {
        let group = Group {
            id: new_id(),
            name: GroupName::parse(name).map_err(bad)?,
            description: format!("Demo group {name}"),
            builtin: false,
            created_at: now,
            updated_at: now,
        };
        tx.groups().insert(&group).await?;
        group_ids.push((name, group.id));
    }
    for (user, hash) in USERS.iter().zip(hashes) {
        let record = User {
            id: new_id(),
            login: Login::parse(user.login).map_err(bad)?,
            email: Email::parse(&format!("{}@example.com", user.login)).map_err(bad)?,
            display_name: DisplayName::parse(user.display_name).map_err(bad)?,
            status: UserStatus::Active,
            profile: Profile::default(),
            created_at: now,
            updated_at: now,
            status_changed_at: now,
            last_sign_in_at: None,
        };
        tx.users().insert(&record).await?;
        for group in user.groups {
            if let Some((_, id)) = group_ids.iter().find(|(n, _)| n == group) {
                tx.groups().add_member(*id, record.id, now).await?;
            }
        }
        let password = enrollment(record.id, AuthenticatorKey::Password, vec![Method::Password], now);
        let password = Enrollment {
            data: serde_json::to_value(PasswordData { hash }).map_err(|e| bad_json(&e))?,
            ..password
        };
        tx.enrollments().insert(&password).await?;
        if user.login == "alice" {
            add_alice_totp(state, &mut tx, record.id, now).await?;
        }
    }
    for app in APPS {
        let record = Application {
            id: new_id(),
            client_id: ClientId::parse(app.client_id).map_err(bad)?,
            name: AppName::parse(app.name).map_err(bad)?,
            kind: if app.secret.is_some() {
                ClientKind::Confidential
            } else {
                ClientKind::Public
            },
            secret_digest: app.secret.map(|s| digest::sha256_hex(s.as_bytes())),
            redirect_uris: app.redirect_uri.map(|u| vec![u.to_owned()]).unwrap_or_default(),
            // RP-initiated logout may return to the app's origin + `/logged-out`.
            post_logout_redirect_uris: app
                .redirect_uri
                .and_then(|u| url::Url::parse(u).ok())
                .map(|u| vec![format!("{}/logged-out", u.origin().ascii_serialization())])
                .unwrap_or_default(),
            grant_types: app.grants.to_vec(),
            token_endpoint_auth_method: if app.secret.is_some() {
                TokenAuthMethod::ClientSecretBasic
            } else {
                TokenAuthMethod::None
            },
            policy_id: None,
            backchannel_logout_uri: None,
            assignments: Assignments {
                groups: vec![EVERYONE_ID],
                users: Vec::new(),
            },
            created_at: now,
            updated_at: now,
        };
        tx.apps().insert(&record).await?;
        if app.access_rule {
            let priority = tx.access_rules().list().await?.len();
            let body = json!({
                "name": format!("{}-any-scope", app.client_id),
                "priority": priority,
                "clients": [app.client_id],
                "grant_types": ["*"],
                "scopes": ["*"],
                "access_token_lifetime": "PT1H",
                "refresh_token_lifetime": "P1D",
            });
            tx.access_rules()
                .insert(&AccessRuleRecord {
                    id: new_id(),
                    name: PolicyName::parse(&format!("{}-any-scope", app.client_id)).map_err(bad)?,
                    priority: i64::try_from(priority).unwrap_or(i64::MAX),
                    body,
                    created_at: now,
                    updated_at: now,
                })
                .await?;
        }
    }
    let document =
        gatehouse_policy::parse_document(POLICIES, gatehouse_policy::Format::Yaml).map_err(|e| {
            ServerError::Config {
                what: "the demo policies".into(),
                reason: e.to_string(),
            }
        })?;
    crate::directory::apply(&mut tx, &document, &Actor::System, now).await?;
    tx.settings().set("demo_seeded", &now.to_string(), now).await?;
    Event::new(event_types::SYSTEM_DEMO_SEED, Actor::System, Outcome::Success)
        .detail("users", USERS.len())
        .detail("apps", APPS.len())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok(true)
}

async fn add_alice_totp(
    state: &AppState,
    tx: &mut Tx,
    user: gatehouse_core::model::UserId,
    now: Timestamp,
) -> Result<(), ServerError> {
    let secret = TotpSecret::from_base32(ALICE_TOTP_SECRET).map_err(ServerError::Crypto)?;
    let base = enrollment(user, AuthenticatorKey::Totp, vec![Method::Otp], now);
    let sealed = state
        .keyring()
        .seal(secret.as_bytes(), sealing_context(base.id).as_bytes());
    let data = TotpData {
        secret_sealed: sealed,
        algorithm: "SHA1".to_owned(),
        digits: 6,
        period: 30,
    };
    let totp = Enrollment {
        name: Some("Authenticator app".to_owned()),
        data: serde_json::to_value(data).map_err(|e| bad_json(&e))?,
        ..base
    };
    tx.enrollments().insert(&totp).await?;
    Ok(())
}

/// A new active enrollment of `user` with empty method data (the caller fills it in).
pub(crate) fn enrollment(
    user: gatehouse_core::model::UserId,
    authenticator: AuthenticatorKey,
    methods: Vec<Method>,
    now: Timestamp,
) -> Enrollment {
    Enrollment {
        id: new_id(),
        user_id: user,
        authenticator,
        methods,
        status: EnrollmentStatus::Active,
        name: None,
        data: json!({}),
        hardware_protected: false,
        user_verification: UserVerification::None,
        device_id: None,
        counter: None,
        created_at: now,
        updated_at: now,
        last_used_at: None,
    }
}

fn bad(e: gatehouse_core::CoreError) -> ServerError {
    ServerError::Config {
        what: "the demo organisation".into(),
        reason: e.to_string(),
    }
}

fn bad_json(e: &serde_json::Error) -> ServerError {
    ServerError::Config {
        what: "the demo organisation".into(),
        reason: e.to_string(),
    }
}

/// The banner `serve --demo` prints.
pub fn banner(issuer: &str, admin_token: Option<&str>) -> String {
    let mut out = String::new();
    out.push_str("Gatehouse demo organisation\n");
    out.push_str(&format!("  sign-in:   {issuer}/app\n"));
    out.push_str("  users:     alice / correct-horse-battery   (employees; TOTP secret GATEHOUSEDEMOALICETOTPSECRET2345)\n");
    out.push_str("             bob   / bob-password-123        (contractors)\n");
    out.push_str("             admin / admin-password-123      (admins)\n");
    out.push_str(
        "  apps:      dashboard (demo-dashboard-secret)  finance (demo-finance-secret)  cli (public, PKCE)\n",
    );
    out.push_str("             reports-service (demo-reports-secret)  sso-gateway (demo-sso-secret)\n");
    out.push_str("             vault (demo-vault-secret)  blocked-app (demo-blocked-secret)\n");
    if let Some(token) = admin_token {
        out.push_str(&format!("  admin API: Authorization: Bearer {token}\n"));
    }
    out
}
