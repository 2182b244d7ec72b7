//! The router (every area's routes merged under one state) and [`serve`], which runs it on a
//! bound listener until the shutdown signal, then finishes the requests in flight.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use gatehouse_store::Store;
use tokio::net::TcpListener;

use crate::{
    AppState, Clock, Config, ServerError, admin, console, dashboard, demo, flow, health, metrics, oidc,
    verify,
};

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::endpoint))
        .merge(admin::router())
        .merge(oidc::router())
        .merge(flow::router())
        .merge(dashboard::router())
        .merge(console::router())
        .merge(verify::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            around_request,
        ))
        .with_state(state)
}

/// The one middleware every request passes (one layer, not five: each layer boxed and moved the
/// request's future, and one instead of five made a refresh grant about 3 % cheaper):
/// - its `x-request-id`: the caller's, or a new UUID, in the request, in the response, and on
///   every system-log event built while serving it ([`crate::audit::request_id`]);
/// - its log span, a `debug` span made only when the filter asks for it
///   (`RUST_LOG=gatehouse_server=debug`), with method, path (never the query, which can carry
///   codes) and id, and a `debug` line with the status and latency. Without it, an internal
///   error's log line still names the request (see [`crate::error::ApiError::internal`]);
/// - its latency and status class in the metrics.
async fn around_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let header = request
        .headers()
        .get(REQUEST_ID)
        .filter(|v| v.to_str().is_ok())
        .cloned();
    let header = header.unwrap_or_else(|| {
        let id = HeaderValue::from_str(&uuid::Uuid::new_v4().hyphenated().to_string());
        let id = id.unwrap_or(HeaderValue::from_static("-"));
        request.headers_mut().insert(REQUEST_ID, id.clone());
        id
    });
    let id = header.to_str().unwrap_or("-").to_owned();
    let mut response = if tracing::enabled!(tracing::Level::DEBUG) {
        let span = tracing::debug_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id);
        let response = crate::audit::scoped(id, next.run(request))
            .instrument(span.clone())
            .await;
        span.in_scope(|| {
            tracing::debug!(status = response.status().as_u16(), latency = ?started.elapsed(), "answered");
        });
        response
    } else {
        crate::audit::scoped(id, next.run(request)).await
    };
    response.headers_mut().insert(REQUEST_ID, header);
    state.metrics().request(response.status(), started.elapsed());
    response
}

const REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// What start-up did, for the banner.
#[derive(Debug)]
pub struct Started {
    pub state: AppState,
    /// The demo organisation was seeded now.
    pub seeded_demo: bool,
    /// The admin token created at this start (first start only), to print once.
    pub new_admin_token: Option<String>,
}

/// Opens the database (migrating it), builds the state, seeds the demo organisation when asked
/// and the database is empty, and creates the first admin token.
pub async fn start(config: Config, clock: Clock) -> Result<Started, ServerError> {
    let store = Store::connect(&config.database_url).await?;
    let demo = config.demo;
    let configured_token = config.admin_token.clone();
    // Nodes starting together on one PostgreSQL database take turns to make the shared state
    // (signing keys, demo organisation, built-in client, first admin token): the first makes
    // it, the others find it made.
    let lock = store.start_lock().await?;
    let state = AppState::build(config, store, clock).await?;
    let seeded_demo = if demo {
        demo::seed_if_empty(&state).await?
    } else {
        false
    };
    verify::ensure_builtin_client(&state).await?;
    let new_admin_token =
        admin::tokens::ensure_initial(state.store(), configured_token.as_deref(), state.now()).await?;
    lock.release().await?;
    Ok(Started {
        state,
        seeded_demo,
        new_admin_token,
    })
}

/// Serves `state` on `listener` until `shutdown` resolves; requests in flight are finished.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let app = router(state.clone());
    let stopping = state.clone();
    let upkeep = state.clone();
    let upkeep = tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.metrics().upkeep();
        }
    });
    let backchannel = tokio::spawn(oidc::backchannel::run(state.clone()));
    let follow = tokio::spawn(follow_other_nodes(state.clone()));
    let housekeeping = tokio::spawn(crate::housekeeping::run(state.clone()));
    let shutdown = async move {
        shutdown.await;
        // Load balancers see `/readyz` fail while the requests in flight finish.
        stopping.start_draining();
        // Long-polls answer at once (204) instead of holding the shutdown for their wait.
        stopping.verify().shutdown();
    };
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    upkeep.abort();
    backchannel.abort();
    follow.abort();
    housekeeping.abort();
    state.store().close().await;
    Ok(())
}

/// Drops this node's cached policies, clients and keys whenever any node announces a change to
/// them, and wakes the push long-polls it holds when any node queues a push for them
/// (PostgreSQL `LISTEN`); returns at once on SQLite, where there is one node.
async fn follow_other_nodes(state: AppState) {
    use gatehouse_store::{Change, Heard};
    loop {
        let mut changes = match state.store().changes().await {
            Ok(Some(changes)) => changes,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen to the other nodes; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            match changes.next().await {
                Ok(Heard::Changed(change)) => state.forget(change).await,
                Ok(Heard::Push(enrollment)) => state.verify().wake(&enrollment),
                Ok(Heard::Reconnected) => {
                    for change in [Change::Policies, Change::Clients, Change::Keys] {
                        state.forget(change).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the other nodes' announcements; reconnecting");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}
