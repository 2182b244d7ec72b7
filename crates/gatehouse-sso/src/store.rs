//! The storage seam: the [`Backend`] trait, its records, and [`connect`] choosing a backend from
//! the database URL.
//!
//! Two backends implement it — [`sqlite`] (the default, `./gatehouse-sso.db`) and [`postgres`] —
//! with their own migrations (`migrations/sqlite`, `migrations/postgres`). The query text is
//! shared ([`sql`]): both dialects accept `$N` parameters, `ON CONFLICT` and `RETURNING`. What
//! differs — connecting, migrating, and how a write transaction begins (`BEGIN IMMEDIATE` on
//! SQLite) — stays inside the backend modules; callers never ask which database they talk to.
//!
//! Times are stored as Unix seconds (`i64`), identifiers as text.
//!
//! INVARIANT: every write that must happen together (a tenant change and its audit event; a
//! login's user, provisioning row and audit event) shares one transaction.

pub mod postgres;
mod sql;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::SsoError;
use crate::domain::TenantSlug;

/// A boxed future returned by the backends (keeps [`Backend`] object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The store the gateway runs on.
pub type Store = Arc<dyn Backend>;

/// Opens the database named by `url` and brings its schema up to date: `postgres://…` (or
/// `postgresql://…`) selects PostgreSQL; `sqlite:PATH`, `sqlite://PATH` or a bare path selects
/// SQLite (created when missing).
pub async fn connect(url: &str) -> Result<Store, SsoError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgBackend::connect(url).await?))
    } else {
        Ok(Arc::new(sqlite::SqliteBackend::connect(url).await?))
    }
}

/// A registered tenant as stored (client secret sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: String,
    pub slug: TenantSlug,
    pub company_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_sealed: String,
    pub allowed_origins: Vec<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A login in progress: the state (hashed), the browser binding (hashed) and the sealed PKCE
/// verifier and nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStateRecord {
    pub state_hash: String,
    pub tenant_id: String,
    pub browser_hash: String,
    pub pkce_verifier_sealed: String,
    pub nonce_sealed: String,
    pub created_at: i64,
}

/// What consuming a login state returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedState {
    pub pkce_verifier_sealed: String,
    pub nonce_sealed: String,
    pub created_at: i64,
}

/// A completed sign-in to record (just-in-time provisioning happens here).
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub tenant_id: String,
    pub tenant_slug: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The id the user gets if this login creates them.
    pub new_user_id: String,
    pub now: i64,
}

/// A user of a tenant, keyed by (tenant, issuer, subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub tenant_id: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: String,
    pub project_role: String,
    pub created_at: i64,
    pub last_login_at: i64,
    pub synced_at: Option<i64>,
}

/// The result of [`Backend::record_login`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    pub user: UserRecord,
    /// This login's transaction inserted the tenant's project row (so its user is the owner).
    pub inserted_project: bool,
    /// This login created the user.
    pub inserted_user: bool,
}

/// A tenant's provisioning row: the outbox entry keyed by tenant and what is done so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningRecord {
    pub tenant_id: String,
    pub owner_user_id: String,
    pub project_id: Option<String>,
    pub subscription_id: Option<String>,
    pub plan: String,
    /// `pending`, `running` or `done`.
    pub state: String,
    pub requested_gen: i64,
    pub claimed_gen: i64,
    /// Consecutive failed runs.
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A dashboard session (token hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user_id: String,
    pub tenant_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An audit event to append.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub at: i64,
    pub kind: String,
    pub tenant: Option<String>,
    pub actor: String,
    pub detail: serde_json::Value,
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub tenant: Option<String>,
    pub actor: String,
    pub detail: String,
}

/// A project of the embedded provisioning service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvcProject {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub created_at: i64,
}

/// A subscription of the embedded provisioning service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvcSubscription {
    pub id: String,
    pub project_id: String,
    pub plan: String,
    pub created_at: i64,
}

/// A project member of the embedded provisioning service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvcMember {
    pub project_id: String,
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: String,
    pub project_role: String,
    pub updated_at: i64,
}

/// Storage operations of the gateway. Both backends pass one conformance suite
/// (`tests/it/store.rs`).
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// `sqlite` or `postgres`, for logs.
    fn kind(&self) -> &'static str;
    fn close(&self) -> BoxFuture<'_, ()>;

    // Tenants.
    /// Inserts a tenant; [`SsoError::TenantExists`] when the slug is taken.
    fn insert_tenant<'a>(
        &'a self,
        tenant: &'a TenantRecord,
        audit: &'a NewAudit,
    ) -> BoxFuture<'a, Result<(), SsoError>>;
    fn tenant_by_slug<'a>(&'a self, slug: &'a str) -> BoxFuture<'a, Result<Option<TenantRecord>, SsoError>>;
    fn tenant_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<TenantRecord>, SsoError>>;
    fn list_tenants(&self) -> BoxFuture<'_, Result<Vec<TenantRecord>, SsoError>>;
    /// Replaces a tenant's mutable fields (by id); false when it no longer exists.
    fn update_tenant<'a>(
        &'a self,
        tenant: &'a TenantRecord,
        audit: &'a NewAudit,
    ) -> BoxFuture<'a, Result<bool, SsoError>>;
    /// Deletes a tenant and everything of it; false when it did not exist.
    fn delete_tenant<'a>(
        &'a self,
        slug: &'a str,
        audit: &'a NewAudit,
    ) -> BoxFuture<'a, Result<bool, SsoError>>;
    /// Slugs of the enabled tenants that registered `origin`.
    fn tenants_allowing_origin<'a>(&'a self, origin: &'a str)
    -> BoxFuture<'a, Result<Vec<String>, SsoError>>;

    // Login states.
    fn insert_login_state<'a>(&'a self, state: &'a LoginStateRecord) -> BoxFuture<'a, Result<(), SsoError>>;
    /// Deletes and returns the state in one statement, only if it matches tenant and browser and
    /// was created at or after `oldest`: missing, reused, foreign and expired look the same.
    fn consume_login_state<'a>(
        &'a self,
        state_hash: &'a str,
        tenant_id: &'a str,
        browser_hash: &'a str,
        oldest: i64,
    ) -> BoxFuture<'a, Result<Option<ConsumedState>, SsoError>>;
    fn purge_login_states(&self, older_than: i64) -> BoxFuture<'_, Result<u64, SsoError>>;

    // Logins and users.
    /// Records a completed sign-in in one transaction: inserts the tenant's provisioning row if
    /// absent (the inserter's user becomes `owner`, later users `member`), upserts the user,
    /// requests provisioning for a new user, and appends the audit event.
    fn record_login<'a>(&'a self, login: &'a LoginRecord) -> BoxFuture<'a, Result<LoginOutcome, SsoError>>;
    fn user_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<UserRecord>, SsoError>>;
    fn users_of_tenant<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Result<Vec<UserRecord>, SsoError>>;

    // Sessions.
    fn insert_session<'a>(&'a self, session: &'a SessionRecord) -> BoxFuture<'a, Result<(), SsoError>>;
    fn session<'a>(
        &'a self,
        token_hash: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<Option<SessionRecord>, SsoError>>;
    fn delete_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<(), SsoError>>;
    fn purge_sessions(&self, now: i64) -> BoxFuture<'_, Result<u64, SsoError>>;

    // Provisioning outbox.
    fn provisioning<'a>(
        &'a self,
        tenant_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ProvisioningRecord>, SsoError>>;
    /// Takes the tenant's provisioning run if it is due (or `force`), not running, or its lease
    /// expired; at most one caller gets it.
    fn claim_provisioning<'a>(
        &'a self,
        tenant_id: &'a str,
        now: i64,
        lease_until: i64,
        force: bool,
    ) -> BoxFuture<'a, Result<Option<ProvisioningRecord>, SsoError>>;
    /// Tenant ids whose provisioning is due at `now`.
    fn due_provisioning(&self, now: i64, limit: i64) -> BoxFuture<'_, Result<Vec<String>, SsoError>>;
    fn set_project_id<'a>(
        &'a self,
        tenant_id: &'a str,
        project_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<(), SsoError>>;
    fn set_subscription_id<'a>(
        &'a self,
        tenant_id: &'a str,
        subscription_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<(), SsoError>>;
    fn unsynced_members<'a>(&'a self, tenant_id: &'a str)
    -> BoxFuture<'a, Result<Vec<UserRecord>, SsoError>>;
    fn mark_member_synced<'a>(&'a self, user_id: &'a str, now: i64) -> BoxFuture<'a, Result<(), SsoError>>;
    /// Ends a run: `done` unless a login asked for more meanwhile (then `pending`, due now).
    fn finish_provisioning<'a>(
        &'a self,
        tenant_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<String, SsoError>>;
    /// Ends a run that failed: records the error and when to retry.
    fn fail_provisioning<'a>(
        &'a self,
        tenant_id: &'a str,
        error: &'a str,
        next_attempt_at: i64,
        now: i64,
    ) -> BoxFuture<'a, Result<(), SsoError>>;

    // Audit.
    fn append_audit<'a>(&'a self, event: &'a NewAudit) -> BoxFuture<'a, Result<(), SsoError>>;
    fn audit_events<'a>(
        &'a self,
        tenant: Option<&'a str>,
        kind_prefix: Option<&'a str>,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<AuditRecord>, SsoError>>;

    // Admin tokens.
    fn insert_admin_token<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        token_hash: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<(), SsoError>>;
    fn admin_token_known<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool, SsoError>>;
    fn admin_token_count(&self) -> BoxFuture<'_, Result<i64, SsoError>>;

    // The embedded provisioning services' own data.
    /// Creates the project with `external_id` unless it exists; returns it and whether it was
    /// created.
    fn svc_create_project<'a>(
        &'a self,
        id: &'a str,
        external_id: &'a str,
        name: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<(SvcProject, bool), SsoError>>;
    /// Creates the project's subscription unless it has one; `None` for an unknown project.
    fn svc_create_subscription<'a>(
        &'a self,
        id: &'a str,
        project_id: &'a str,
        plan: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<Option<(SvcSubscription, bool)>, SsoError>>;
    /// Adds or updates a member; `None` for an unknown project, else whether it was created.
    fn svc_upsert_member<'a>(
        &'a self,
        member: &'a SvcMember,
    ) -> BoxFuture<'a, Result<Option<bool>, SsoError>>;
    fn svc_projects(&self) -> BoxFuture<'_, Result<Vec<SvcProject>, SsoError>>;
    fn svc_subscriptions(&self) -> BoxFuture<'_, Result<Vec<SvcSubscription>, SsoError>>;
    fn svc_members<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Result<Vec<SvcMember>, SsoError>>;
}
