//! Prometheus metrics at `/metrics` (`docs/operations.md`): sign-ins by outcome, policy
//! decisions by policy and rule, HTTP request latency, open sessions.
//!
//! Each server state owns its recorder (no process-global recorder, so several servers in one
//! test process keep their own counts). The fixed series are registered once at start: recording
//! them on the hot path is an atomic add. Series with open-ended labels (policy and rule names)
//! go through the recorder's registry, which looks the key up and allocates it only the first
//! time.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

use crate::AppState;

/// Latency buckets in seconds: sign-in steps with argon2id sit around 50–500 ms.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

const SIGNINS: &str = "gatehouse_signins_total";
const DECISIONS: &str = "gatehouse_policy_decisions_total";
const REQUESTS: &str = "gatehouse_http_requests_total";
const LATENCY: &str = "gatehouse_http_request_duration_seconds";
const SESSIONS: &str = "gatehouse_sessions_active";

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// How a sign-in flow ended, or a failed answer within one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Success,
    /// Denied by policy, cancelled, or ended by a refused step.
    Denied,
    /// A wrong password, code or device answer (the flow goes on).
    FailedAttempt,
}

/// The server's metrics.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    recorder: PrometheusRecorder,
    success: Counter,
    denied: Counter,
    failed: Counter,
    status: [Counter; 5],
    latency: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = match PrometheusBuilder::new().set_buckets(&BUCKETS) {
            Ok(builder) => builder.build_recorder(),
            // Only an empty bucket list is refused; fall back to summaries.
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        recorder.describe_counter(
            SIGNINS.into(),
            None,
            "Sign-in flows by outcome (success, denied) and failed answers (failed_attempt)".into(),
        );
        recorder.describe_counter(
            DECISIONS.into(),
            None,
            "Authentication policy decisions by policy, rule and decision".into(),
        );
        recorder.describe_counter(REQUESTS.into(), None, "HTTP requests by status class".into());
        recorder.describe_histogram(
            LATENCY.into(),
            Some(Unit::Seconds),
            "HTTP request latency, from the request to the response head".into(),
        );
        recorder.describe_gauge(SESSIONS.into(), None, "Global sessions open now".into());
        let signins = |outcome: &'static str| {
            recorder.register_counter(
                &Key::from_parts(SIGNINS, vec![Label::new("outcome", outcome)]),
                &METADATA,
            )
        };
        let class = |c: &'static str| {
            recorder.register_counter(
                &Key::from_parts(REQUESTS, vec![Label::new("status", c)]),
                &METADATA,
            )
        };
        let inner = Inner {
            success: signins("success"),
            denied: signins("denied"),
            failed: signins("failed_attempt"),
            status: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            latency: recorder.register_histogram(&Key::from_name(LATENCY), &METADATA),
            recorder,
        };
        Self(Arc::new(inner))
    }

    /// Counts a sign-in outcome.
    pub fn sign_in(&self, outcome: SignIn) {
        match outcome {
            SignIn::Success => &self.0.success,
            SignIn::Denied => &self.0.denied,
            SignIn::FailedAttempt => &self.0.failed,
        }
        .increment(1);
    }

    /// Counts a policy decision of `rule` in `policy` (`allow`, `deny`, `continue`, `remediate`).
    pub fn policy_decision(&self, policy: &str, rule: &str, decision: &'static str) {
        let key = Key::from_parts(
            DECISIONS,
            vec![
                Label::new("policy", policy.to_owned()),
                Label::new("rule", rule.to_owned()),
                Label::new("decision", decision),
            ],
        );
        self.0.recorder.register_counter(&key, &METADATA).increment(1);
    }

    /// Counts a request by its status class and records its latency (`app::around_request`).
    pub(crate) fn request(&self, status: StatusCode, took: Duration) {
        let class = usize::from(status.as_u16() / 100).saturating_sub(1).min(4);
        if let Some(counter) = self.0.status.get(class) {
            counter.increment(1);
        }
        self.0.latency.record(took.as_secs_f64());
    }

    /// The text exposition, with the open-session gauge set to `sessions`.
    pub fn render(&self, sessions: Option<u64>) -> String {
        if let Some(n) = sessions {
            #[expect(clippy::cast_precision_loss, reason = "a session count fits a gauge's f64")]
            self.0
                .recorder
                .register_gauge(&Key::from_name(SESSIONS), &METADATA)
                .set(n as f64);
        }
        self.0.recorder.handle().render()
    }

    /// Folds buffered histogram samples into their buckets (run every few seconds so samples do
    /// not pile up between scrapes).
    pub fn upkeep(&self) {
        self.0.recorder.handle().run_upkeep();
    }
}

/// `GET /metrics`: the Prometheus text format.
pub async fn endpoint(State(state): State<AppState>) -> Response {
    let sessions = match state.store().sessions().count_open(state.now()).await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count open sessions");
            None
        }
    };
    let mut response = state.metrics().render(sessions).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
