//! What the sign-in flow knows about device challenges (DESIGN 7, protocol 9): the context of the
//! user-verification key guards, and the notice sent when a key was added during a sign-in.

use gatehouse_core::device::ChallengeKind;
use gatehouse_core::model::{Device, Enrollment, FlowId};
use gatehouse_policy::{AuthenticatorKey, UserVerification};
use gatehouse_store::{StoredChallenge, Tx};

use super::data::{FlowData, Pending, Status};
use super::delivery::Outgoing;
use crate::{AppState, ServerError};

/// The flow facts [`gatehouse_core::device::UvKeyFlowContext`] is built from.
#[derive(Debug, Clone, Default)]
pub struct UvKeyContext {
    pub flow_live: bool,
    /// The challenge id of the flow's current `enroll-user-verification` remediation.
    pub requested: Option<String>,
    pub earlier_steps_passed: bool,
    pub keys_added: u32,
}

async fn flow_data(
    state: &AppState,
    tx: &mut Tx,
    flow_id: &str,
) -> Result<Option<(FlowData, bool)>, ServerError> {
    let Ok(id) = FlowId::parse(flow_id) else {
        return Ok(None);
    };
    let Some(flow) = tx.flows().get(id).await? else {
        return Ok(None);
    };
    let expired = flow.is_expired(state.now());
    let data: FlowData = serde_json::from_value(flow.state).map_err(|e| ServerError::Corrupt {
        what: format!("flow {flow_id}"),
        reason: e.to_string(),
    })?;
    Ok(Some((data, !expired)))
}

/// The guards' view of the flow an `enroll_user_verification` challenge belongs to.
pub async fn uv_key_context(
    state: &AppState,
    tx: &mut Tx,
    challenge: &StoredChallenge,
) -> Result<UvKeyContext, ServerError> {
    let Some(flow_id) = challenge.flow_id.as_deref() else {
        return Ok(UvKeyContext::default());
    };
    let Some((data, unexpired)) = flow_data(state, tx, flow_id).await? else {
        return Ok(UvKeyContext::default());
    };
    let challenges = tx.device_challenges().of_flow(flow_id).await?;
    // The newest enrollment challenge of the flow is the one its remediation shows.
    let requested = challenges
        .iter()
        .find(|c| c.issued.binding.kind == ChallengeKind::EnrollUserVerification)
        .map(|c| c.issued.binding.id.as_str().to_owned());
    let keys_added = challenges
        .iter()
        .filter(|c| {
            c.outcome
                .as_ref()
                .and_then(|o| o.get("result"))
                .and_then(serde_json::Value::as_str)
                == Some("user_verification_key_added")
        })
        .count();
    // The earlier steps passed when the user is identified, something was verified in this flow,
    // and what the policy still asks for is a device step only.
    let only_device_left = match &data.pending {
        Pending::Verify { options } => {
            !options.is_empty()
                && options
                    .iter()
                    .all(|o| o.authenticator == AuthenticatorKey::Device)
        }
        _ => false,
    };
    let earlier_steps_passed = data.identity.as_ref().is_some_and(|i| i.user_id.is_some())
        && !data.records.is_empty()
        && only_device_left;
    Ok(UvKeyContext {
        flow_live: unexpired && data.status == Status::InProgress,
        requested,
        earlier_steps_passed,
        keys_added: u32::try_from(keys_added).unwrap_or(u32::MAX),
    })
}

/// Notifies the user that a user-verification key was added to their Verify enrollment during a
/// sign-in (email outbox); returns whether a notice was sent.
pub async fn user_verification_key_added(
    state: &AppState,
    tx: &mut Tx,
    enrollment: &Enrollment,
    device: &Device,
    challenge: &StoredChallenge,
    level: UserVerification,
) -> Result<bool, ServerError> {
    let Some(user) = tx.users().get(enrollment.user_id).await? else {
        return Ok(false);
    };
    let (app, ip) = match challenge.flow_id.as_deref() {
        Some(flow_id) => match flow_data(state, tx, flow_id).await? {
            Some((data, _)) => (data.app.name, data.client_ip),
            None => ("an app".to_owned(), "an unknown address".to_owned()),
        },
        None => ("an app".to_owned(), "an unknown address".to_owned()),
    };
    let kind = if level == UserVerification::Biometric {
        "A biometric key"
    } else {
        "A user-verification key"
    };
    let text = format!(
        "{kind} was added to Gatehouse Verify on {} during a sign-in to {app} from {ip}. If this was not \
         you, contact your administrator and have the device deactivated.\n",
        device.display_name
    );
    let message = Outgoing::Email {
        to: user.email.as_str().to_owned(),
        subject: "A key was added to Gatehouse Verify".to_owned(),
        text,
    };
    match state.flow().delivery().send(&message, state.clock()).await {
        Ok(()) => Ok(true),
        Err(e) => {
            tracing::warn!(error = %e, "could not notify the user of a new user-verification key");
            Ok(false)
        }
    }
}
