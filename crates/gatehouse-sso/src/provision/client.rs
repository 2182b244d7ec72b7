//! The provisioning services' HTTP API, client side.
//!
//! - `POST {projects_url}/projects {"external_id", "name"}` → `{"id", …}` (create-or-get by
//!   `external_id`, which is the tenant slug);
//! - `POST {subscriptions_url}/subscriptions {"project_id", "plan"}` → `{"id", …}` (one per
//!   project);
//! - `PUT {projects_url}/projects/{project_id}/members/{user_id} {"email", "name", "role",
//!   "project_role"}` (upsert).
//!
//! Every call carries an `Idempotency-Key`, and `Authorization: Bearer …` when a token is
//! configured. Any answer but 2xx is a failure the outbox retries.

use std::time::Duration;

use serde_json::{Value, json};

use crate::domain::provisioning::PendingMember;
use crate::oidc::Transport;

/// Where the provisioning services live.
#[derive(Debug, Clone)]
pub struct ServiceUrls {
    pub projects_url: String,
    pub subscriptions_url: String,
    pub token: Option<String>,
}

/// The client for the provisioning services.
#[derive(Debug, Clone)]
pub struct ProvisioningClient {
    urls: ServiceUrls,
    http: Transport,
}

impl ProvisioningClient {
    pub fn new(urls: ServiceUrls, timeout: Duration) -> Result<Self, crate::SsoError> {
        Ok(Self {
            urls,
            http: Transport::new(timeout)?,
        })
    }

    pub fn urls(&self) -> &ServiceUrls {
        &self.urls
    }

    /// Creates (or finds) the tenant's project; returns its id.
    pub async fn create_project(&self, tenant_slug: &str, name: &str) -> Result<String, String> {
        let url = format!("{}/projects", self.urls.projects_url.trim_end_matches('/'));
        let body = json!({ "external_id": tenant_slug, "name": name });
        let answer = self
            .call(
                reqwest::Method::POST,
                &url,
                &format!("project:{tenant_slug}"),
                &body,
            )
            .await?;
        id_of(&answer, &url)
    }

    /// Creates (or finds) the project's subscription; returns its id.
    pub async fn create_subscription(&self, project_id: &str, plan: &str) -> Result<String, String> {
        let url = format!(
            "{}/subscriptions",
            self.urls.subscriptions_url.trim_end_matches('/')
        );
        let body = json!({ "project_id": project_id, "plan": plan });
        let answer = self
            .call(
                reqwest::Method::POST,
                &url,
                &format!("subscription:{project_id}"),
                &body,
            )
            .await?;
        id_of(&answer, &url)
    }

    /// Adds (or updates) a project member.
    pub async fn put_member(
        &self,
        project_id: &str,
        member: &PendingMember,
        role: &str,
    ) -> Result<(), String> {
        let url = format!(
            "{}/projects/{project_id}/members/{}",
            self.urls.projects_url.trim_end_matches('/'),
            member.user_id
        );
        let body = json!({
            "email": member.email,
            "name": member.name,
            "role": role,
            "project_role": member.project_role.as_str(),
        });
        let key = format!("member:{project_id}:{}", member.user_id);
        self.call(reqwest::Method::PUT, &url, &key, &body)
            .await
            .map(|_| ())
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        key: &str,
        body: &Value,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .client()
            .request(method.clone(), url)
            .header("idempotency-key", key)
            .json(body);
        if let Some(token) = &self.urls.token {
            request = request.bearer_auth(token);
        }
        let (status, _, bytes) = self
            .http
            .send(request)
            .await
            .map_err(|e| format!("{method} {url} failed: {e}"))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let text: String = text.chars().take(200).collect();
            return Err(format!("{method} {url} answered HTTP {status}: {text}"));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{method} {url} answered with invalid JSON: {e}"))
    }
}

fn id_of(answer: &Value, url: &str) -> Result<String, String> {
    match answer.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(format!("{url} answered without an `id`")),
    }
}
