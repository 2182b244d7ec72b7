//! What every admin handler shares: the [`Admin`] guard (bearer admin token), [`Body`] (JSON
//! refused with the failing field), paging and id parsing, and time formatting.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use gatehouse_core::model::Actor;
use gatehouse_store::PageRequest;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// An authenticated administrator: the admin token that made the request. Every admin handler
/// takes it first, so a request without a valid token is refused before anything else is read.
#[derive(Debug, Clone)]
pub struct Admin {
    pub token_id: String,
}

impl Admin {
    /// The actor of the system-log events this request causes.
    pub fn actor(&self) -> Actor {
        Actor::AdminToken(self.token_id.clone())
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized("an admin API token is required: Authorization: Bearer <token>")
            })?;
        let secret = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
        match super::tokens::authenticate(state.store(), secret, state.now()).await? {
            Some(token) => Ok(Self { token_id: token.id }),
            None => Err(ApiError::unauthorized("the admin API token is not valid")),
        }
    }
}

/// A JSON request body. Malformed JSON, wrong types and unknown fields are a 400 naming the
/// field (`rules[1].access`), never a 500. The body is read as JSON whatever its `Content-Type`
/// (a bearer token, which browsers never add cross-site, is what guards these routes).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid_json(format!("the request body could not be read: {e}")))?;
        parse_json(&bytes).map(Body)
    }
}

/// Parses `bytes` as `T`, naming the failing field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end()
                .map_err(|e| ApiError::invalid_json(format!("the request body is not valid JSON: {e}")))?;
            Ok(value)
        }
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let mut api = ApiError::invalid_json(format!("the request body is not valid: {inner}"));
            if let Some(field) = field_of(&path, &inner.to_string()) {
                api = api.with_field(field);
            }
            Err(api)
        }
    }
}

/// The field an error is about: the path where it happened, or the field serde names
/// (`unknown field `x``, `missing field `x``) below it.
fn field_of(path: &str, message: &str) -> Option<String> {
    let named = ["unknown field `", "missing field `"].iter().find_map(|p| {
        message
            .split_once(p)
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(f, _)| f.to_owned())
    });
    let path = if path == "." { "" } else { path };
    match (path.is_empty(), named) {
        (true, None) => None,
        (true, Some(name)) => Some(name),
        (false, Some(name)) if !path.ends_with(&name) => Some(format!("{path}.{name}")),
        (false, _) => Some(path.to_owned()),
    }
}

/// Query parameters, read as text; handlers parse and validate each one.
pub type Params = axum::extract::Query<HashMap<String, String>>;

/// `?limit=&after=` as a page request.
pub fn page(params: &HashMap<String, String>) -> Result<PageRequest, ApiError> {
    let limit = params
        .get("limit")
        .map(|l| {
            l.parse::<u32>()
                .map_err(|_| ApiError::invalid("limit", "`limit` must be a whole number"))
        })
        .transpose()?;
    PageRequest::parse(limit, params.get("after").map(String::as_str)).map_err(|e| {
        let field = match e {
            gatehouse_store::PageError::Cursor => "after",
            gatehouse_store::PageError::Limit { .. } => "limit",
        };
        ApiError::invalid(field, e.to_string())
    })
}

/// An id from the path; an unparseable one names nothing that exists, so it is a 404.
pub fn id<T>(
    raw: &str,
    what: &str,
    parse: impl FnOnce(&str) -> Result<T, gatehouse_core::CoreError>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|_| ApiError::not_found(what))
}

/// RFC 3339 UTC text of a time.
pub fn time(t: jiff::Timestamp) -> String {
    t.to_string()
}

/// The wire text of a serde enum (`"active"`).
pub fn wire<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
