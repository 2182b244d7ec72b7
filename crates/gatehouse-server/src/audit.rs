//! The system log writer (DESIGN section 10): every area records its events through
//! [`Event`], inside the transaction of the change it describes, so a change and its event
//! commit together (or neither does).

use gatehouse_core::model::{Actor, AppId, DeviceId, EventType, LogEvent, Outcome, UserId};
use gatehouse_store::{StoreError, Tx, new_id};
use jiff::Timestamp;
use serde_json::{Map, Value};

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
            request_id: None,
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

    /// Appends the event inside `tx`.
    pub async fn append(self, tx: &mut Tx, at: Timestamp) -> Result<(), StoreError> {
        tx.log().append(&self.build(at)).await
    }
}
