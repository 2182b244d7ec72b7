//! A provisioning service for tests: the projects/subscriptions API of the gateway's
//! `provision::client`, counting every create call, and able to go down (its port closed, so
//! calls are refused) and come back on the same port.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

#[derive(Default)]
pub struct Data {
    /// (id, external_id)
    pub projects: Vec<(String, String)>,
    /// (id, project_id, plan)
    pub subscriptions: Vec<(String, String, String)>,
    /// (project_id, user_id, project_role)
    pub members: Vec<(String, String, String)>,
}

#[derive(Default)]
struct Inner {
    data: Mutex<Data>,
    project_calls: AtomicUsize,
    subscription_calls: AtomicUsize,
}

pub struct ProvService {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ProvService {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let service = Self {
            addr,
            inner: Arc::new(Inner::default()),
            task: Mutex::new(None),
        };
        service.serve(listener);
        service
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let router = Router::new()
            .route("/projects", post(create_project))
            .route("/subscriptions", post(create_subscription))
            .route("/projects/{project_id}/members/{user_id}", put(put_member))
            .with_state(self.inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        *self.task.lock().unwrap() = Some(task);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes the port: calls are refused.
    pub async fn go_down(&self) {
        let task = self.task.lock().unwrap().take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
    }

    /// Serves again on the same port.
    pub async fn come_back(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("rebind same port");
        self.serve(listener);
    }

    pub fn project_calls(&self) -> usize {
        self.inner.project_calls.load(Ordering::SeqCst)
    }

    pub fn subscription_calls(&self) -> usize {
        self.inner.subscription_calls.load(Ordering::SeqCst)
    }

    pub fn with_data<T>(&self, f: impl FnOnce(&Data) -> T) -> T {
        f(&self.inner.data.lock().unwrap())
    }
}

async fn create_project(State(s): State<Arc<Inner>>, Json(body): Json<Value>) -> Response {
    s.project_calls.fetch_add(1, Ordering::SeqCst);
    let external = body["external_id"].as_str().unwrap_or_default().to_owned();
    let mut data = s.data.lock().unwrap();
    if let Some((id, _)) = data.projects.iter().find(|(_, e)| *e == external) {
        return (StatusCode::OK, Json(json!({ "id": id }))).into_response();
    }
    let id = format!("p-{}", data.projects.len() + 1);
    data.projects.push((id.clone(), external));
    (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
}

async fn create_subscription(State(s): State<Arc<Inner>>, Json(body): Json<Value>) -> Response {
    s.subscription_calls.fetch_add(1, Ordering::SeqCst);
    let project = body["project_id"].as_str().unwrap_or_default().to_owned();
    let plan = body["plan"].as_str().unwrap_or_default().to_owned();
    let mut data = s.data.lock().unwrap();
    if let Some((id, _, _)) = data.subscriptions.iter().find(|(_, p, _)| *p == project) {
        return (StatusCode::OK, Json(json!({ "id": id }))).into_response();
    }
    let id = format!("s-{}", data.subscriptions.len() + 1);
    data.subscriptions.push((id.clone(), project, plan));
    (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
}

async fn put_member(
    State(s): State<Arc<Inner>>,
    Path((project_id, user_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let role = body["project_role"].as_str().unwrap_or_default().to_owned();
    let mut data = s.data.lock().unwrap();
    data.members
        .retain(|(p, u, _)| !(*p == project_id && *u == user_id));
    data.members.push((project_id, user_id, role));
    StatusCode::OK.into_response()
}
