//! Just-in-time provisioning through a stored outbox keyed by tenant.
//!
//! A login's transaction (`Backend::record_login`) writes or bumps the tenant's provisioning row;
//! this module runs it: claim the row (one conditional UPDATE, so one runner per tenant), then
//! make the next call the pure plan (`domain::provisioning::next_step`) asks for — create the
//! project, create the `advanced` subscription, add each new member — storing each result before
//! the next call, so a retry never repeats a completed step. A failure is recorded on the row
//! (error, attempt count, next attempt time with backoff) and in the audit log; the background
//! [`Provisioner::run_worker`] retries due rows, and `POST /admin/tenants/{slug}/reprovision`
//! runs a tenant at once.
//!
//! - [`client`]: the services' HTTP API (client side).
//! - [`embedded`]: the default implementation of those services, served on loopback.

pub mod client;
pub mod embedded;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

pub use client::{ProvisioningClient, ServiceUrls};

use crate::SsoError;
use crate::clock::{Clock, unix};
use crate::domain::login::oldest_valid_state;
use crate::domain::provisioning::{
    PLAN, PendingMember, ProjectRole, ProvisionStep, ProvisioningSnapshot, RUN_LEASE, USER_ROLE, next_step,
    retry_delay,
};
use crate::store::{NewAudit, ProvisioningRecord, Store, TenantRecord};

/// How one provisioning run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Everything requested so far is provisioned.
    Done {
        project_id: String,
        subscription_id: String,
    },
    /// A call failed; the row says when the next attempt is due.
    Failed { error: String },
    /// Another runner holds the tenant, or nothing is due.
    NotClaimed,
}

/// Runs the provisioning outbox.
#[derive(Debug, Clone)]
pub struct Provisioner {
    store: Store,
    client: ProvisioningClient,
    clock: Arc<dyn Clock>,
}

impl Provisioner {
    pub fn new(store: Store, client: ProvisioningClient, clock: Arc<dyn Clock>) -> Self {
        Self { store, client, clock }
    }

    pub fn client(&self) -> &ProvisioningClient {
        &self.client
    }

    /// Runs the tenant's provisioning if it is due (or at once with `force`).
    pub async fn run(&self, tenant_id: &str, force: bool) -> Result<RunOutcome, SsoError> {
        let mut force = force;
        loop {
            let now = unix(self.clock.now());
            let lease = now + secs(RUN_LEASE);
            let Some(claim) = self
                .store
                .claim_provisioning(tenant_id, now, lease, force)
                .await?
            else {
                return Ok(RunOutcome::NotClaimed);
            };
            force = false;
            let Some(tenant) = self.store.tenant_by_id(tenant_id).await? else {
                return Ok(RunOutcome::NotClaimed);
            };
            if claim.attempts > 0 {
                self.audit(
                    &tenant,
                    "provision.retried",
                    json!({ "attempt": claim.attempts + 1 }),
                )
                .await?;
            }
            match self.steps(&tenant).await {
                Ok(()) => {
                    let now = unix(self.clock.now());
                    let state = self.store.finish_provisioning(tenant_id, now).await?;
                    if state == "pending" {
                        // A new member arrived during the run: go again.
                        continue;
                    }
                    let row = self.store.provisioning(tenant_id).await?;
                    let (project_id, subscription_id) = row
                        .map(|r| {
                            (
                                r.project_id.unwrap_or_default(),
                                r.subscription_id.unwrap_or_default(),
                            )
                        })
                        .unwrap_or_default();
                    self.audit(
                        &tenant,
                        "provision.succeeded",
                        json!({ "project_id": project_id, "subscription_id": subscription_id }),
                    )
                    .await?;
                    tracing::info!(tenant = %tenant.slug, %project_id, %subscription_id, "tenant provisioned");
                    return Ok(RunOutcome::Done {
                        project_id,
                        subscription_id,
                    });
                }
                Err(StepError::Call(error)) => {
                    let now = unix(self.clock.now());
                    let failures = u32::try_from(claim.attempts + 1).unwrap_or(u32::MAX);
                    let next = now + secs(retry_delay(failures));
                    self.store.fail_provisioning(tenant_id, &error, next, now).await?;
                    self.audit(
                        &tenant,
                        "provision.failed",
                        json!({ "error": error, "attempts": failures, "next_attempt_at": crate::clock::rfc3339(next) }),
                    )
                    .await?;
                    tracing::warn!(tenant = %tenant.slug, %error, failures, "provisioning failed; will retry");
                    return Ok(RunOutcome::Failed { error });
                }
                Err(StepError::Store(e)) => {
                    let now = unix(self.clock.now());
                    let failures = u32::try_from(claim.attempts + 1).unwrap_or(u32::MAX);
                    let next = now + secs(retry_delay(failures));
                    self.store
                        .fail_provisioning(tenant_id, &e.to_string(), next, now)
                        .await?;
                    return Err(e);
                }
            }
        }
    }

    async fn steps(&self, tenant: &TenantRecord) -> Result<(), StepError> {
        // Bounded: each step completes one item, and members are finite.
        for _ in 0..10_000 {
            let row = self
                .store
                .provisioning(&tenant.id)
                .await?
                .ok_or_else(|| StepError::Call("the tenant's provisioning row disappeared".into()))?;
            let snapshot = self.snapshot(&row).await?;
            let now = unix(self.clock.now());
            match next_step(&snapshot) {
                ProvisionStep::CreateProject => {
                    let id = self
                        .client
                        .create_project(tenant.slug.as_str(), &tenant.company_name)
                        .await
                        .map_err(StepError::Call)?;
                    self.store.set_project_id(&tenant.id, &id, now).await?;
                    self.audit(tenant, "provision.project_created", json!({ "project_id": id }))
                        .await?;
                }
                ProvisionStep::CreateSubscription { project_id } => {
                    let id = self
                        .client
                        .create_subscription(&project_id, PLAN)
                        .await
                        .map_err(StepError::Call)?;
                    self.store.set_subscription_id(&tenant.id, &id, now).await?;
                    self.audit(
                        tenant,
                        "provision.subscription_created",
                        json!({ "project_id": project_id, "subscription_id": id, "plan": PLAN }),
                    )
                    .await?;
                }
                ProvisionStep::AddMember { project_id, member } => {
                    self.client
                        .put_member(&project_id, &member, USER_ROLE)
                        .await
                        .map_err(StepError::Call)?;
                    self.store.mark_member_synced(&member.user_id, now).await?;
                }
                ProvisionStep::Done => return Ok(()),
            }
        }
        Err(StepError::Call("too many provisioning steps in one run".into()))
    }

    async fn snapshot(&self, row: &ProvisioningRecord) -> Result<ProvisioningSnapshot, SsoError> {
        let pending_members = self
            .store
            .unsynced_members(&row.tenant_id)
            .await?
            .into_iter()
            .map(|u| PendingMember {
                project_role: ProjectRole::parse(&u.project_role).unwrap_or(ProjectRole::Member),
                user_id: u.id,
                email: u.email,
                name: u.name,
            })
            .collect();
        Ok(ProvisioningSnapshot {
            project_id: row.project_id.clone(),
            subscription_id: row.subscription_id.clone(),
            pending_members,
        })
    }

    async fn audit(
        &self,
        tenant: &TenantRecord,
        kind: &str,
        detail: serde_json::Value,
    ) -> Result<(), SsoError> {
        self.store
            .append_audit(&NewAudit {
                at: unix(self.clock.now()),
                kind: kind.into(),
                tenant: Some(tenant.slug.to_string()),
                actor: "provisioner".into(),
                detail,
            })
            .await
    }

    /// Runs every due tenant once; returns how many runs were made.
    pub async fn run_due(&self) -> Result<usize, SsoError> {
        let now = unix(self.clock.now());
        let due = self.store.due_provisioning(now, 20).await?;
        let mut runs = 0;
        for tenant_id in due {
            if self.run(&tenant_id, false).await? != RunOutcome::NotClaimed {
                runs += 1;
            }
        }
        Ok(runs)
    }

    /// The background loop: retries due provisioning every `tick` and sweeps expired login
    /// states and sessions, until `stop` is cancelled.
    pub async fn run_worker(self, tick: Duration, stop: CancellationToken) {
        let mut ticks: u64 = 0;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(tick) => {}
            }
            if let Err(e) = self.run_due().await {
                tracing::error!(error = %e, "provisioning worker failed");
            }
            ticks += 1;
            if ticks.is_multiple_of(60) {
                let now = self.clock.now();
                let states = self.store.purge_login_states(unix(oldest_valid_state(now))).await;
                let sessions = self.store.purge_sessions(unix(now)).await;
                tracing::debug!(?states, ?sessions, "swept expired login states and sessions");
            }
        }
        tracing::info!("provisioning worker stopped");
    }
}

#[derive(Debug)]
enum StepError {
    Call(String),
    Store(SsoError),
}

impl From<SsoError> for StepError {
    fn from(e: SsoError) -> Self {
        Self::Store(e)
    }
}

/// Whole seconds of `d`, as stored.
pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
