//! The gateway's HTML pages (askama templates in `templates/`, HTML-escaped).

use askama::Template;
use axum::response::Html;

use super::dashboard::DashboardView;
use super::problem::ProblemView;
use crate::domain::PublicUrl;

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage<'a> {
    redirect_pattern: String,
    tenant: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    view: &'a ProblemView,
    status: u16,
    actor: Option<&'static str>,
    trace_id: &'a str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    user_name: String,
    email: String,
    subject: &'a str,
    role: &'a str,
    project_role: &'a str,
    tenant_slug: &'a str,
    company_name: &'a str,
    project_id: String,
    subscription_id: String,
    plan: String,
    provisioning_status: String,
    last_error: String,
}

fn render(result: askama::Result<String>) -> Html<String> {
    match result {
        Ok(page) => Html(page),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            Html("<!doctype html><title>Error</title><p>Something went wrong on our side.</p>".into())
        }
    }
}

/// The sign-in page: the organisation field, and for administrators the redirect URI their IdP
/// must have registered.
pub fn start_page(public: &PublicUrl, tenant: Option<&str>) -> Html<String> {
    render(
        StartPage {
            redirect_pattern: format!("{}/okta-login/{{tenant_slug}}", public.as_str()),
            tenant: tenant.unwrap_or_default(),
        }
        .render(),
    )
}

/// The error page for a browser.
pub fn error_page(view: &ProblemView, trace_id: &str) -> String {
    render(
        ErrorPage {
            view,
            status: view.status.as_u16(),
            actor: view.actor.map(|a| a.describe()),
            trace_id,
        }
        .render(),
    )
    .0
}

/// The dashboard.
pub fn dashboard_page(view: &DashboardView) -> Html<String> {
    let p = view.provisioning.as_ref();
    let status = p
        .map(|p| {
            super::dashboard::provisioning_json(p)
                .get("status")
                .and_then(|s| s.as_str())
                .unwrap_or("pending")
                .to_owned()
        })
        .unwrap_or_else(|| "pending".into());
    render(
        DashboardPage {
            user_name: view
                .user
                .name
                .clone()
                .unwrap_or_else(|| view.user.subject.clone()),
            email: view.user.email.clone().unwrap_or_default(),
            subject: &view.user.subject,
            role: &view.user.role,
            project_role: &view.user.project_role,
            tenant_slug: view.tenant.slug.as_str(),
            company_name: &view.tenant.company_name,
            project_id: p.and_then(|p| p.project_id.clone()).unwrap_or_default(),
            subscription_id: p.and_then(|p| p.subscription_id.clone()).unwrap_or_default(),
            plan: p.map(|p| p.plan.clone()).unwrap_or_default(),
            provisioning_status: status,
            last_error: p.and_then(|p| p.last_error.clone()).unwrap_or_default(),
        }
        .render(),
    )
}
