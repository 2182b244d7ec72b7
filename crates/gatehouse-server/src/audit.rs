//! The system log writer (DESIGN section 10): every area records its events through
//! [`Event`], inside the transaction of the change it describes, so a change and its event
//! commit together (or neither does): a code or refresh grant's event commits with the code's
//! redemption or the token's rotation. An event that describes no change of its own (a
//! client-credentials grant, a refused request) goes through the [`Appender`], which commits the
//! events of concurrent requests together.

use gatehouse_core::model::{Actor, AppId, DeviceId, EventType, LogEvent, Outcome, UserId};
use gatehouse_store::{Store, StoreError, Tx, new_id};
use jiff::Timestamp;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::ServerError;

/// The most events one group commit writes.
const BATCH: usize = 256;

/// Group commit for events that stand alone. Each caller still waits until its event is in the
/// database, but the events of concurrent callers share one transaction and one statement: under
/// load the log costs one write per batch instead of one per request.
#[derive(Debug, Clone)]
pub struct Appender {
    queue: mpsc::Sender<Job>,
}

/// An event to append, and where to answer: `Ok` once it is committed, or the event itself back
/// when the shared commit failed (the caller then writes it alone).
type Job = (LogEvent, oneshot::Sender<Result<(), LogEvent>>);

impl Appender {
    /// Starts the writer task (on the current Tokio runtime). It ends when every `Appender`
    /// clone is gone, after writing what is queued.
    pub fn start(store: Store) -> Self {
        let (queue, mut jobs) = mpsc::channel::<Job>(4 * BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while jobs.recv_many(&mut batch, BATCH).await > 0 {
                // Statements run on the calling thread, so without this the writer would commit
                // each event as soon as it arrives. Yielding lets the requests that are ready to
                // run queue theirs first; it stops as soon as a yield brings nothing new, so an
                // event that comes alone waits for one turn of the scheduler only.
                loop {
                    tokio::task::yield_now().await;
                    let before = batch.len();
                    while batch.len() < BATCH {
                        match jobs.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    if batch.len() == before || batch.len() >= BATCH {
                        break;
                    }
                }
                let (events, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                match write(&store, &events).await {
                    Ok(()) => {
                        for reply in replies {
                            let _ = reply.send(Ok(()));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, events = events.len(), "a group commit of the system log failed; each event is written alone");
                        for (event, reply) in events.into_iter().zip(replies) {
                            let _ = reply.send(Err(event));
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// Appends `event` and returns once it is committed. When the shared commit fails, the event
    /// is written alone, so the caller sees its own error.
    pub async fn append(&self, store: &Store, event: LogEvent) -> Result<(), ServerError> {
        let (reply, done) = oneshot::channel();
        let event = match self.queue.send((event, reply)).await {
            // The writer is gone (shutting down): write the event alone.
            Err(mpsc::error::SendError((event, _))) => event,
            Ok(()) => match done.await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(event)) => event,
                // The writer ended without answering: the event may or may not be in; an
                // error is the honest answer.
                Err(_) => return Err(StoreError::Closed.into()),
            },
        };
        write(store, std::slice::from_ref(&event)).await?;
        Ok(())
    }
}

async fn write(store: &Store, events: &[LogEvent]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    tx.log().append_all(events).await?;
    tx.commit().await
}

tokio::task_local! {
    /// The `x-request-id` of the request this task serves (set by [`scoped`]).
    static REQUEST_ID: String;
}

/// The `x-request-id` of the request the current task serves, if any.
pub(crate) fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `serving` with `id` as the `x-request-id` of every event built while it runs, so the
/// system log and the structured logs can be joined (see `app::around_request`).
pub(crate) async fn scoped<F: Future>(id: String, serving: F) -> F::Output {
    REQUEST_ID.scope(id, serving).await
}

/// An event being assembled: `Event::new(types::USER_CREATE, actor, Outcome::Success).user(id)
/// .detail("login", "alice").append(&mut tx, now)`.
#[derive(Debug, Clone)]
pub struct Event {
    event_type: EventType,
    actor: Actor,
    outcome: Outcome,
    user: Option<UserId>,
    app: Option<AppId>,
    device: Option<DeviceId>,
    request_id: Option<String>,
    client_ip: Option<String>,
    details: Map<String, Value>,
}

impl Event {
    pub fn new(event_type: impl Into<EventType>, actor: Actor, outcome: Outcome) -> Self {
        Self {
            event_type: event_type.into(),
            actor,
            outcome,
            user: None,
            app: None,
            device: None,
            request_id: request_id(),
            client_ip: None,
            details: Map::new(),
        }
    }

    pub fn user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    pub fn app(mut self, app: AppId) -> Self {
        self.app = Some(app);
        self
    }

    pub fn device(mut self, device: DeviceId) -> Self {
        self.device = Some(device);
        self
    }

    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    pub fn client_ip(mut self, ip: impl Into<String>) -> Self {
        self.client_ip = Some(ip.into());
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// The event as stored.
    pub fn build(self, at: Timestamp) -> LogEvent {
        LogEvent {
            id: new_id(),
            at,
            event_type: self.event_type,
            actor: self.actor,
            target_user: self.user,
            target_app: self.app,
            target_device: self.device,
            outcome: self.outcome,
            request_id: self.request_id,
            client_ip: self.client_ip,
            details: Value::Object(self.details),
        }
    }

    /// Appends the event inside `tx`: it is inserted with the transaction's commit, together
    /// with the transaction's other events.
    pub async fn append(self, tx: &mut Tx, at: Timestamp) -> Result<(), StoreError> {
        tx.log_at_commit(self.build(at));
        Ok(())
    }

    /// Commits the event on its own (through the group commit) and waits until it is stored.
    pub async fn commit_alone(self, state: &crate::AppState, at: Timestamp) -> Result<(), ServerError> {
        state.log().append(state.store(), self.build(at)).await
    }
}
