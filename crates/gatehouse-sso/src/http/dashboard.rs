//! The signed-in side: `GET /dashboard` (user, tenant, project, subscription — a page for
//! browsers, JSON otherwise), `POST /logout`, and the start page at `/`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use gatehouse_crypto::digest::sha256_hex;
use serde_json::{Value, json};

use super::{SharedState, cookies, pages, problem};
use crate::SsoError;
use crate::clock::{rfc3339, unix};
use crate::store::{ProvisioningRecord, TenantRecord, UserRecord};

/// `GET /`: the sign-in page with the organisation field.
pub async fn home(State(state): State<SharedState>) -> Response {
    pages::start_page(&state.public_url, None).into_response()
}

/// What the dashboard shows.
#[derive(Debug, Clone)]
pub struct DashboardView {
    pub user: UserRecord,
    pub tenant: TenantRecord,
    pub provisioning: Option<ProvisioningRecord>,
}

impl DashboardView {
    pub fn json(&self) -> Value {
        let p = self.provisioning.as_ref();
        let project_id = p.and_then(|p| p.project_id.clone()).unwrap_or_default();
        let subscription = p.and_then(|p| {
            p.subscription_id
                .as_ref()
                .map(|id| json!({ "id": id, "plan": p.plan }))
        });
        json!({
            "user": {
                "id": self.user.id,
                "subject": self.user.subject,
                "issuer": self.user.issuer,
                "email": self.user.email,
                "name": self.user.name,
                "role": self.user.role,
                "project_role": self.user.project_role,
            },
            "tenant": {
                "slug": self.tenant.slug.as_str(),
                "company_name": self.tenant.company_name,
            },
            "project_id": project_id,
            "project": if project_id.is_empty() { Value::Null } else { json!({ "id": project_id, "name": self.tenant.company_name }) },
            "subscription": subscription,
            "provisioning": p.map(provisioning_json),
        })
    }
}

/// The provisioning status of a tenant, as the API shows it.
pub fn provisioning_json(p: &ProvisioningRecord) -> Value {
    let status = match (p.state.as_str(), p.attempts) {
        ("done", _) => "done",
        ("running", _) => "running",
        (_, 0) => "pending",
        _ => "failed",
    };
    json!({
        "status": status,
        "project_id": p.project_id.clone().unwrap_or_default(),
        "subscription_id": p.subscription_id,
        "plan": p.plan,
        "attempts": p.attempts,
        "last_error": p.last_error,
        "next_attempt_at": if status == "done" { Value::Null } else { json!(rfc3339(p.next_attempt_at)) },
    })
}

/// `GET /dashboard`.
pub async fn dashboard(
    State(state): State<SharedState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, SsoError> {
    let view = current(&state, &jar).await?.ok_or(SsoError::Unauthenticated)?;
    if problem::wants_html(&headers) {
        Ok(pages::dashboard_page(&view).into_response())
    } else {
        Ok(axum::Json(view.json()).into_response())
    }
}

/// `POST /logout`: ends the session.
pub async fn logout(State(state): State<SharedState>, jar: CookieJar) -> Result<Response, SsoError> {
    if let Some(token) = cookies::token(&jar, cookies::SESSION) {
        state.store.delete_session(&sha256_hex(token.as_bytes())).await?;
    }
    let jar = jar.add(cookies::removal(cookies::SESSION, &state.public_url));
    Ok((jar, Redirect::to(&state.public_url.join("/"))).into_response())
}

/// The signed-in user's dashboard data, if the session cookie is valid.
pub async fn current(state: &SharedState, jar: &CookieJar) -> Result<Option<DashboardView>, SsoError> {
    let Some(token) = cookies::token(jar, cookies::SESSION) else {
        return Ok(None);
    };
    let now = unix(state.clock.now());
    let Some(session) = state.store.session(&sha256_hex(token.as_bytes()), now).await? else {
        return Ok(None);
    };
    let (Some(user), Some(tenant)) = (
        state.store.user_by_id(&session.user_id).await?,
        state.store.tenant_by_id(&session.tenant_id).await?,
    ) else {
        return Ok(None);
    };
    if !tenant.enabled {
        return Ok(None);
    }
    let provisioning = state.store.provisioning(&tenant.id).await?;
    Ok(Some(DashboardView {
        user,
        tenant,
        provisioning,
    }))
}
