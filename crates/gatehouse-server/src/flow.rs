//! Sign-in flows (DESIGN sections 4.2–4.4, 5 and 6, issue 4): the interaction API
//! (`/api/v1/flows/{id}`), the sign-in page (`/signin/{id}`), global sessions (`gh_session`) and
//! one-time code delivery.

use axum::Router;

use crate::{AppState, Config, ServerError};

/// The flows' state: delivery channels.
#[derive(Debug)]
pub struct FlowState {}

impl FlowState {
    pub fn new(_config: &Config) -> Result<Self, ServerError> {
        Ok(Self {})
    }
}

/// The flows' routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
