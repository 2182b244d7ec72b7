//! The one place errors become HTTP responses.
//!
//! Every error answers JSON `{"error": code, "message": text}` (plus `field` for a 400 about one
//! field, and `who_must_act`, `advice`, `details` when there is advice) and carries a
//! [`ProblemView`] extension; [`negotiate`] turns that into the error page when the caller is a
//! browser (`Accept` names `text/html` but not `application/json`), with the same status code.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use crate::SsoError;
use crate::domain::advice::{Actor, Detail};

/// What an error page shows.
#[derive(Debug, Clone)]
pub struct ProblemView {
    pub status: StatusCode,
    pub code: String,
    pub title: String,
    pub message: String,
    pub field: Option<String>,
    pub actor: Option<Actor>,
    pub advice: Option<String>,
    pub details: Vec<Detail>,
    /// Where to go next (for example the start page).
    pub next: Option<(String, String)>,
}

impl SsoError {
    /// The status, code and words for this error.
    pub fn view(&self) -> ProblemView {
        let plain = |status: StatusCode, code: &str, title: &str| ProblemView {
            status,
            code: code.to_owned(),
            title: title.to_owned(),
            message: self.to_string(),
            field: None,
            actor: None,
            advice: None,
            details: Vec::new(),
            next: None,
        };
        match self {
            Self::Invalid { field, .. } => ProblemView {
                field: field.clone(),
                ..plain(StatusCode::BAD_REQUEST, "invalid_request", "Invalid request")
            },
            Self::TenantExists(_) => ProblemView {
                field: Some("slug".into()),
                ..plain(StatusCode::CONFLICT, "conflict", "Tenant exists")
            },
            Self::SsoConfigNotFound => ProblemView {
                actor: Some(Actor::User),
                advice: Some(
                    "Check the organisation name you entered. If it is right, your organisation has not set up \
                     single sign-on with this service yet: ask your administrator."
                        .into(),
                ),
                next: Some(("/".into(), "Try another organisation".into())),
                ..plain(StatusCode::NOT_FOUND, "sso_config_not_found", "Organisation not found")
            },
            Self::InvalidState => ProblemView {
                actor: Some(Actor::User),
                advice: Some(
                    "Start the sign-in again. A sign-in must be finished within 10 minutes, only once, and in \
                     the same browser that started it."
                        .into(),
                ),
                next: Some(("/".into(), "Sign in again".into())),
                ..plain(StatusCode::UNAUTHORIZED, "invalid_state", "Sign-in expired")
            },
            Self::Unauthorized => plain(StatusCode::UNAUTHORIZED, "unauthorized", "Admin token required"),
            Self::Unauthenticated => ProblemView {
                next: Some(("/".into(), "Sign in".into())),
                ..plain(StatusCode::UNAUTHORIZED, "unauthenticated", "Not signed in")
            },
            Self::OriginNotAllowed(_) => ProblemView {
                actor: Some(Actor::Operator),
                advice: Some(
                    "The page that sent this request is not one of the tenant's registered origins. The \
                     operator of this service must add it to the tenant's `allowed_origins`."
                        .into(),
                ),
                ..plain(StatusCode::FORBIDDEN, "origin_not_allowed", "Origin not allowed")
            },
            Self::Idp { error, advice, .. } => {
                let status = if error == "access_denied" {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_GATEWAY
                };
                ProblemView {
                    actor: Some(advice.actor),
                    advice: Some(advice.text.clone()),
                    details: advice.details.clone(),
                    next: Some(("/".into(), "Back to sign-in".into())),
                    ..plain(status, error, "Your identity provider refused the sign-in")
                }
            }
            Self::Upstream { code, advice, .. } => ProblemView {
                actor: Some(advice.actor),
                advice: Some(advice.text.clone()),
                details: advice.details.clone(),
                next: Some(("/".into(), "Back to sign-in".into())),
                ..plain(StatusCode::BAD_GATEWAY, code, "The identity provider could not be used")
            },
            Self::Provisioning(_) => plain(StatusCode::BAD_GATEWAY, "provisioning_failed", "Provisioning failed"),
            Self::NotFound => plain(StatusCode::NOT_FOUND, "not_found", "Not found"),
            Self::Config(_)
            | Self::Database(_)
            | Self::Migration(_)
            | Self::Crypto(_)
            | Self::Corrupt(_) => ProblemView {
                message: "internal error: the operator of this service can find the details in its log".into(),
                actor: Some(Actor::Operator),
                ..plain(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side")
            },
        }
    }
}

impl ProblemView {
    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let Some(map) = body.as_object_mut() {
            if let Some(field) = &self.field {
                map.insert("field".into(), json!(field));
            }
            if let Some(actor) = self.actor {
                map.insert("who_must_act".into(), json!(actor.code()));
            }
            if let Some(advice) = &self.advice {
                map.insert("advice".into(), json!(advice));
            }
            if !self.details.is_empty() {
                map.insert(
                    "details".into(),
                    json!(
                        self.details
                            .iter()
                            .map(|d| json!({ "label": d.label, "expected": d.expected, "received": d.received }))
                            .collect::<Vec<_>>()
                    ),
                );
            }
        }
        body
    }
}

impl IntoResponse for SsoError {
    fn into_response(self) -> Response {
        let view = self.view();
        if view.status.is_server_error() {
            tracing::error!(error = %self, code = %view.code, "request failed");
        } else {
            tracing::info!(error = %self, code = %view.code, status = view.status.as_u16(), "request refused");
        }
        let mut body = view.body();
        if let (
            Self::Idp {
                error, description, ..
            },
            Some(map),
        ) = (&self, body.as_object_mut())
        {
            map.insert("idp_error".into(), json!(error));
            map.insert("error_description".into(), json!(description));
        }
        let mut response = (view.status, Json(body)).into_response();
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(view);
        response
    }
}

/// Whether the caller is a browser asking for a page.
pub fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    accept.contains("text/html") && !accept.contains("application/json")
}

/// Renders error responses as pages for browsers.
pub async fn negotiate(request: Request, next: Next) -> Response {
    let html = wants_html(request.headers());
    let trace_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = next.run(request).await;
    if !html {
        return response;
    }
    let Some(view) = response.extensions().get::<ProblemView>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let page = super::pages::error_page(&view, &trace_id);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, Html(page).into_response().into_body())
}
