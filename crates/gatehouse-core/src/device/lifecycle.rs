//! The device lifecycle of DESIGN.md section 7 as a state machine whose transitions list the
//! effects the server must apply, and the standing rules derived from a device's status.
//!
//! ```text
//!            suspend                 deactivate                 delete
//!   active ───────────▶ suspended ─────────────▶ deactivated ──────────▶ (deleted)
//!     ▲  ◀───────────       │                      │   ▲
//!     │     unsuspend       └──────────────────────┘   │ deactivate (from active)
//!     └──────────── activate (reactivation) ───────────┘
//! ```
//!
//! Asking for the state a device is already in is a no-op (`changed: false`, no effects), so
//! admin scripts may repeat a request. Deleting a device that is not deactivated is refused
//! (409): deactivate first.

use std::fmt;

use crate::CoreError;

/// The status of a registered device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceStatus {
    Active,
    Suspended,
    Deactivated,
}

impl DeviceStatus {
    pub const ALL: [Self; 3] = [Self::Active, Self::Suspended, Self::Deactivated];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deactivated => "deactivated",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CoreError> {
        Self::ALL.into_iter().find(|s| s.as_str() == text).ok_or_else(|| {
            CoreError::invalid(
                "device status",
                text,
                "it is not one of `active`, `suspended`, `deactivated`",
            )
        })
    }
}

impl fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a `device` authenticator enrollment (one Verify account on a device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnrollmentStatus {
    Active,
    /// Deactivated with its device (or removed by the user): unusable until the user enrolls
    /// again, even after the device is reactivated.
    Inactive,
}

impl EnrollmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CoreError> {
        match text {
            "active" => Ok(Self::Active),
            "inactive" => Ok(Self::Inactive),
            _ => Err(CoreError::invalid(
                "enrollment status",
                text,
                "it is not `active` or `inactive`",
            )),
        }
    }
}

/// An administrator's lifecycle operation (`POST /api/v1/devices/{id}/lifecycle/{action}`, or
/// `DELETE /api/v1/devices/{id}` for [`LifecycleAction::Delete`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleAction {
    /// Reactivate a deactivated device.
    Activate,
    Deactivate,
    Suspend,
    Unsuspend,
    Delete,
}

impl LifecycleAction {
    pub const ALL: [Self; 5] = [
        Self::Activate,
        Self::Deactivate,
        Self::Suspend,
        Self::Unsuspend,
        Self::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Deactivate => "deactivate",
            Self::Suspend => "suspend",
            Self::Unsuspend => "unsuspend",
            Self::Delete => "delete",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CoreError> {
        Self::ALL.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
            CoreError::invalid(
                "lifecycle action",
                text,
                "it is not one of `activate`, `deactivate`, `suspend`, `unsuspend`, `delete`",
            )
        })
    }

    /// The system log event type recorded for this action: `device.lifecycle.{action}`.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Activate => "device.lifecycle.activate",
            Self::Deactivate => "device.lifecycle.deactivate",
            Self::Suspend => "device.lifecycle.suspend",
            Self::Unsuspend => "device.lifecycle.unsuspend",
            Self::Delete => "device.lifecycle.delete",
        }
    }
}

impl fmt::Display for LifecycleAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something the server must do, in the same transaction as the status change, when a
/// transition happens. Effects are idempotent: applying one twice changes nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceEffect {
    /// End every global session established with this device's Verify — a session whose device
    /// is this device and whose verification records include a `device` authenticator record —
    /// and revoke the refresh tokens issued from them. Sessions made with password, email or
    /// WebAuthn on the same machine are left alone.
    EndVerifySessions,
    /// Cancel the device's pending push and FastPass challenges (they can no longer be answered)
    /// and drop its queued pushes.
    CancelPendingChallenges,
    /// Set every `device` authenticator enrollment on this device to `inactive`, with its keys
    /// and TOTP seed unusable; the user must enroll again after a reactivation.
    DeactivateEnrollments,
    /// Revoke the certificates issued to the device.
    RevokeCertificates,
    /// Remove the device's enrollments, keys and seeds.
    DeleteEnrollments,
    /// Remove the device record itself; a later enrollment from the same machine creates a new one.
    DeleteDevice,
}

/// A transition the server must apply: the new status (`None` when the device is deleted), its
/// effects in order, and the system log event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleTransition {
    pub action: LifecycleAction,
    pub from: DeviceStatus,
    pub to: Option<DeviceStatus>,
    /// `false` when the device was already in the requested state (no effects, nothing to log
    /// beyond the request itself).
    pub changed: bool,
    pub effects: Vec<DeviceEffect>,
    pub event_type: &'static str,
}

/// Why a lifecycle operation was refused. Both answer HTTP 409.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleRefusal {
    /// `DELETE` of a device that is not deactivated.
    DeleteRequiresDeactivation { status: DeviceStatus },
    /// An operation that does not apply to the current status (e.g. `unsuspend` of an active
    /// device, `suspend` of a deactivated one, `activate` of a suspended one).
    NotAllowed {
        from: DeviceStatus,
        action: LifecycleAction,
    },
}

impl LifecycleRefusal {
    /// The machine code of the refusal (`error` in the JSON body).
    pub fn code(self) -> &'static str {
        match self {
            Self::DeleteRequiresDeactivation { .. } => "device_not_deactivated",
            Self::NotAllowed { .. } => "invalid_lifecycle_transition",
        }
    }

    pub fn http_status(self) -> u16 {
        409
    }
}

impl fmt::Display for LifecycleRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DeleteRequiresDeactivation { status } => {
                write!(f, "the device is {status}; deactivate it before deleting it")
            }
            Self::NotAllowed { from, action } => {
                write!(f, "a device that is {from} cannot be given `{action}`")
            }
        }
    }
}

/// The outcome of a lifecycle request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleDecision {
    Transition(LifecycleTransition),
    Refused(LifecycleRefusal),
}

/// Decides what `action` does to a device that is `from`.
pub fn transition(from: DeviceStatus, action: LifecycleAction) -> LifecycleDecision {
    use DeviceEffect::*;
    use DeviceStatus::*;
    use LifecycleAction as A;
    let to = match (from, action) {
        (Active, A::Suspend) => Some(Suspended),
        (Suspended, A::Unsuspend) => Some(Active),
        (Active | Suspended, A::Deactivate) => Some(Deactivated),
        (Deactivated, A::Activate) => Some(Active),
        (Deactivated, A::Delete) => None,
        (Active, A::Activate) | (Suspended, A::Suspend) | (Deactivated, A::Deactivate) => Some(from),
        (Active | Suspended, A::Delete) => {
            return LifecycleDecision::Refused(LifecycleRefusal::DeleteRequiresDeactivation { status: from });
        }
        (Active, A::Unsuspend) | (Suspended, A::Activate) | (Deactivated, A::Suspend | A::Unsuspend) => {
            return LifecycleDecision::Refused(LifecycleRefusal::NotAllowed { from, action });
        }
    };
    let changed = to != Some(from);
    let effects = if !changed {
        Vec::new()
    } else {
        match action {
            A::Suspend => vec![EndVerifySessions, CancelPendingChallenges],
            A::Deactivate => vec![
                EndVerifySessions,
                CancelPendingChallenges,
                DeactivateEnrollments,
                RevokeCertificates,
            ],
            A::Delete => vec![CancelPendingChallenges, DeleteEnrollments, DeleteDevice],
            A::Unsuspend | A::Activate => Vec::new(),
        }
    };
    LifecycleDecision::Transition(LifecycleTransition {
        action,
        from,
        to,
        changed,
        effects,
        event_type: action.event_type(),
    })
}

/// Why a device or enrollment may not be used right now. Answers HTTP 403 (a deleted device
/// answers 410 `device_deleted`, which the server decides by not finding the record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRefusal {
    DeviceSuspended,
    DeviceDeactivated,
    EnrollmentInactive,
}

impl DeviceRefusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::DeviceSuspended => "device_suspended",
            Self::DeviceDeactivated => "device_deactivated",
            Self::EnrollmentInactive => "enrollment_inactive",
        }
    }

    pub fn http_status(self) -> u16 {
        403
    }
}

impl fmt::Display for DeviceRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DeviceSuspended => "this device is suspended by an administrator",
            Self::DeviceDeactivated => "this device is deactivated by an administrator",
            Self::EnrollmentInactive => {
                "this Gatehouse Verify enrollment is no longer active; enroll the device again"
            }
        })
    }
}

/// A device's status together with the status of the enrollment that is being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub device: DeviceStatus,
    pub enrollment: EnrollmentStatus,
}

impl Standing {
    /// Whether the enrollment may authenticate (answer push, FastPass, accept its TOTP codes,
    /// start sessions): only an active enrollment on an active device.
    pub fn authentication_refusal(self) -> Option<DeviceRefusal> {
        match (self.device, self.enrollment) {
            (DeviceStatus::Deactivated, _) => Some(DeviceRefusal::DeviceDeactivated),
            (DeviceStatus::Suspended, _) => Some(DeviceRefusal::DeviceSuspended),
            (DeviceStatus::Active, EnrollmentStatus::Inactive) => Some(DeviceRefusal::EnrollmentInactive),
            (DeviceStatus::Active, EnrollmentStatus::Active) => None,
        }
    }

    /// Whether accounts may be added to or removed from the device (enrollment, unenrollment,
    /// a new user-verification key): only while the device is active.
    pub fn account_change_refusal(device: DeviceStatus) -> Option<DeviceRefusal> {
        match device {
            DeviceStatus::Active => None,
            DeviceStatus::Suspended => Some(DeviceRefusal::DeviceSuspended),
            DeviceStatus::Deactivated => Some(DeviceRefusal::DeviceDeactivated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeviceEffect::*;
    use super::DeviceStatus::*;
    use super::LifecycleAction as A;
    use super::*;

    fn applied(from: DeviceStatus, action: LifecycleAction) -> LifecycleTransition {
        match transition(from, action) {
            LifecycleDecision::Transition(t) => t,
            LifecycleDecision::Refused(r) => panic!("{from} + {action} refused: {r}"),
        }
    }

    #[test]
    fn deactivation_ends_verify_sessions_and_enrollments_and_revokes_certificates() {
        for from in [Active, Suspended] {
            let t = applied(from, A::Deactivate);
            assert_eq!(t.to, Some(Deactivated));
            assert!(t.changed);
            assert_eq!(
                t.effects,
                vec![
                    EndVerifySessions,
                    CancelPendingChallenges,
                    DeactivateEnrollments,
                    RevokeCertificates
                ]
            );
            assert_eq!(t.event_type, "device.lifecycle.deactivate");
        }
    }

    #[test]
    fn suspension_ends_verify_sessions_but_keeps_enrollments() {
        let t = applied(Active, A::Suspend);
        assert_eq!(t.to, Some(Suspended));
        assert_eq!(t.effects, vec![EndVerifySessions, CancelPendingChallenges]);
        let back = applied(Suspended, A::Unsuspend);
        assert_eq!(back.to, Some(Active));
        assert!(back.effects.is_empty());
    }

    #[test]
    fn reactivation_does_not_revive_enrollments() {
        let t = applied(Deactivated, A::Activate);
        assert_eq!(t.to, Some(Active));
        assert!(
            t.effects.is_empty(),
            "enrollments stay inactive: the user re-enrolls"
        );
        let standing = Standing {
            device: Active,
            enrollment: EnrollmentStatus::Inactive,
        };
        assert_eq!(
            standing.authentication_refusal(),
            Some(DeviceRefusal::EnrollmentInactive)
        );
    }

    #[test]
    fn delete_is_refused_unless_deactivated() {
        for from in [Active, Suspended] {
            let LifecycleDecision::Refused(refusal) = transition(from, A::Delete) else {
                panic!("delete of a {from} device must be refused");
            };
            assert_eq!(refusal.http_status(), 409);
            assert_eq!(refusal.code(), "device_not_deactivated");
            assert_eq!(
                refusal.to_string(),
                format!("the device is {from}; deactivate it before deleting it")
            );
        }
        let t = applied(Deactivated, A::Delete);
        assert_eq!(t.to, None);
        assert_eq!(
            t.effects,
            vec![CancelPendingChallenges, DeleteEnrollments, DeleteDevice]
        );
    }

    #[test]
    fn inapplicable_operations_are_refused_and_repeats_are_no_ops() {
        for (from, action) in [
            (Active, A::Unsuspend),
            (Suspended, A::Activate),
            (Deactivated, A::Suspend),
            (Deactivated, A::Unsuspend),
        ] {
            assert_eq!(
                transition(from, action),
                LifecycleDecision::Refused(LifecycleRefusal::NotAllowed { from, action })
            );
        }
        for (from, action) in [
            (Active, A::Activate),
            (Suspended, A::Suspend),
            (Deactivated, A::Deactivate),
        ] {
            let t = applied(from, action);
            assert_eq!(t.to, Some(from));
            assert!(!t.changed && t.effects.is_empty());
        }
    }

    #[test]
    fn every_status_and_action_has_a_decision_and_statuses_stay_in_the_graph() {
        for from in DeviceStatus::ALL {
            for action in LifecycleAction::ALL {
                if let LifecycleDecision::Transition(t) = transition(from, action) {
                    // Only a deactivated device may disappear, and only by delete.
                    assert_eq!(t.to.is_none(), from == Deactivated && action == A::Delete);
                    // Every change away from active ends Verify sessions.
                    if from == Active && t.changed && t.to.is_some() {
                        assert!(t.effects.contains(&EndVerifySessions));
                    }
                }
            }
        }
    }

    #[test]
    fn only_active_devices_authenticate_or_change_accounts() {
        for device in DeviceStatus::ALL {
            for enrollment in [EnrollmentStatus::Active, EnrollmentStatus::Inactive] {
                let ok = device == Active && enrollment == EnrollmentStatus::Active;
                assert_eq!(
                    Standing { device, enrollment }.authentication_refusal().is_none(),
                    ok
                );
            }
            assert_eq!(
                Standing::account_change_refusal(device).is_none(),
                device == Active
            );
        }
        assert_eq!(
            Standing::account_change_refusal(Deactivated).map(DeviceRefusal::code),
            Some("device_deactivated")
        );
    }
}
