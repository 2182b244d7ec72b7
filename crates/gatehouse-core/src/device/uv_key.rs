//! The guards on adding a user-verification key to a device enrollment: the inline biometric
//! remediation of DESIGN.md section 7.
//!
//! The proof-of-possession key signs silently, so malware running on the device can use it; if
//! a new user-verification key could be registered with that signature alone, the malware could
//! register its own "biometric" key and approve every future biometric challenge (the attack
//! known as Okta Terrify). So a new key is accepted only:
//!
//! 1. as an answer to an `enroll_user_verification` challenge, signed by the enrollment's
//!    proof-of-possession key *and* by the new key, with every answer check of
//!    [`super::challenge::check_answer`] (single use, 2-minute expiry, origin, enrollment);
//! 2. inside a flow that is live (in progress, not expired);
//! 3. when that flow's current remediation is `enroll-user-verification` and the challenge is the
//!    one it issued (so the key is bound to that flow's challenge);
//! 4. after the flow's earlier steps passed (only the user-verification requirement is left);
//! 5. at most once per flow.
//!
//! The server then stores the key, notifies the user (email/outbox) and writes the system log.

use std::fmt;

use super::challenge::{
    AnswerOutcome, AnswerRefusal, ChallengeKind, DeviceAnswer, IssuedChallenge, NewUserVerificationKey,
    VerifiedSignatures, check_answer,
};
use super::lifecycle::Standing;
use super::{ChallengeId, UserVerification};

/// What the server knows about the flow the registration claims to belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UvKeyFlowContext<'a> {
    /// The flow exists, is `in_progress` and not expired.
    pub flow_live: bool,
    /// The `enroll_user_verification` challenge the flow's current `enroll-user-verification`
    /// remediation issued, if it is at that remediation.
    pub requested_challenge: Option<&'a ChallengeId>,
    /// The flow's earlier steps passed: the policy decision is a remediation whose only missing
    /// piece is this user-verification key.
    pub earlier_steps_passed: bool,
    /// How many user-verification keys this flow already accepted.
    pub keys_added_in_flow: u32,
}

/// Why a new user-verification key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UvKeyRefusal {
    /// The answer itself was refused.
    Answer(AnswerRefusal),
    /// The challenge is not an `enroll_user_verification` challenge.
    NotAnEnrollmentChallenge,
    FlowNotLive,
    /// The flow is not asking for a user-verification key with this challenge.
    NotRequestedByFlow,
    EarlierStepsNotPassed,
    AlreadyAddedInFlow,
}

impl UvKeyRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Answer(refusal) => refusal.code(),
            Self::NotAnEnrollmentChallenge => "result_not_allowed",
            Self::FlowNotLive => "flow_not_live",
            Self::NotRequestedByFlow => "user_verification_key_not_requested",
            Self::EarlierStepsNotPassed => "earlier_steps_not_passed",
            Self::AlreadyAddedInFlow => "user_verification_key_already_added",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Self::Answer(refusal) => refusal.http_status(),
            Self::NotAnEnrollmentChallenge => 400,
            Self::FlowNotLive
            | Self::NotRequestedByFlow
            | Self::EarlierStepsNotPassed
            | Self::AlreadyAddedInFlow => 403,
        }
    }

    /// Whether the refusal uses the challenge up (see [`AnswerRefusal::consumes_challenge`]);
    /// a flow-guard refusal after a valid signature always does.
    pub fn consumes_challenge(&self) -> bool {
        match self {
            Self::Answer(refusal) => refusal.consumes_challenge(),
            _ => true,
        }
    }
}

impl fmt::Display for UvKeyRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Answer(refusal) => refusal.fmt(f),
            Self::NotAnEnrollmentChallenge => {
                f.write_str("a user-verification key can only answer an `enroll_user_verification` challenge")
            }
            Self::FlowNotLive => f.write_str("the sign-in that asked for this key is over"),
            Self::NotRequestedByFlow => f.write_str(
                "no sign-in is asking this device for a user-verification key with this challenge",
            ),
            Self::EarlierStepsNotPassed => {
                f.write_str("the sign-in's earlier steps have not passed; a new key cannot be added yet")
            }
            Self::AlreadyAddedInFlow => f.write_str("this sign-in already added a user-verification key"),
        }
    }
}

/// The decision on a user-verification key registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UvKeyDecision {
    /// Store the key (replacing the enrollment's previous user-verification key), notify the user,
    /// log it, and re-evaluate the flow.
    Accept(NewUserVerificationKey),
    /// The device declined instead of registering (deny, unavailable, failed check): the flow
    /// explains what the app requires.
    Declined(AnswerOutcome),
    Refused(UvKeyRefusal),
}

impl UvKeyDecision {
    /// The level of the accepted key, if any.
    pub fn accepted_level(&self) -> Option<UserVerification> {
        match self {
            Self::Accept(key) => Some(key.level),
            _ => None,
        }
    }

    /// Whether the server must mark the challenge used.
    pub fn consumes_challenge(&self) -> bool {
        match self {
            Self::Accept(_) | Self::Declined(_) => true,
            Self::Refused(refusal) => refusal.consumes_challenge(),
        }
    }
}

/// Decides on an answer to an `enroll_user_verification` challenge.
pub fn check_user_verification_key(
    flow: &UvKeyFlowContext<'_>,
    challenge: &IssuedChallenge,
    answer: &DeviceAnswer,
    signatures: &VerifiedSignatures,
    standing: Standing,
    now: u64,
) -> UvKeyDecision {
    if challenge.binding.kind != ChallengeKind::EnrollUserVerification {
        return UvKeyDecision::Refused(UvKeyRefusal::NotAnEnrollmentChallenge);
    }
    let outcome = match check_answer(challenge, answer, signatures, standing, now).verdict {
        Ok(outcome) => outcome,
        Err(refusal) => return UvKeyDecision::Refused(UvKeyRefusal::Answer(refusal)),
    };
    let key = match outcome {
        AnswerOutcome::UserVerificationKeyOffered(key) => key,
        declined => return UvKeyDecision::Declined(declined),
    };
    let refusal = if !flow.flow_live {
        Some(UvKeyRefusal::FlowNotLive)
    } else if flow.requested_challenge != Some(&challenge.binding.id) {
        Some(UvKeyRefusal::NotRequestedByFlow)
    } else if !flow.earlier_steps_passed {
        Some(UvKeyRefusal::EarlierStepsNotPassed)
    } else if flow.keys_added_in_flow > 0 {
        Some(UvKeyRefusal::AlreadyAddedInFlow)
    } else {
        None
    };
    match refusal {
        Some(refusal) => UvKeyDecision::Refused(refusal),
        None => UvKeyDecision::Accept(key),
    }
}

#[cfg(test)]
mod tests {
    use super::super::challenge::tests::{ACTIVE, NOW, answer, binding, issued, pop_only};
    use super::super::challenge::{AnswerResult, ChallengeAudience};
    use super::super::lifecycle::{DeviceStatus, EnrollmentStatus};
    use super::super::{EnrollmentId, KeyThumbprint, Origin};
    use super::*;

    fn enroll_challenge() -> IssuedChallenge {
        issued(binding(
            ChallengeKind::EnrollUserVerification,
            UserVerification::Biometric,
        ))
    }

    fn registration() -> DeviceAnswer {
        let mut a = answer(AnswerResult::RegisterUserVerificationKey);
        a.new_key = Some(NewUserVerificationKey {
            thumbprint: KeyThumbprint::parse(&"b".repeat(43)).unwrap(),
            level: UserVerification::Biometric,
        });
        a
    }

    fn both() -> VerifiedSignatures {
        VerifiedSignatures {
            new_key: true,
            ..pop_only()
        }
    }

    fn live_flow(requested: &ChallengeId) -> UvKeyFlowContext<'_> {
        UvKeyFlowContext {
            flow_live: true,
            requested_challenge: Some(requested),
            earlier_steps_passed: true,
            keys_added_in_flow: 0,
        }
    }

    #[test]
    fn a_key_requested_by_the_live_flow_is_accepted_once() {
        let challenge = enroll_challenge();
        let id = challenge.binding.id.clone();
        let decision =
            check_user_verification_key(&live_flow(&id), &challenge, &registration(), &both(), ACTIVE, NOW);
        assert_eq!(decision.accepted_level(), Some(UserVerification::Biometric));
        let again = UvKeyFlowContext {
            keys_added_in_flow: 1,
            ..live_flow(&id)
        };
        let second = check_user_verification_key(&again, &challenge, &registration(), &both(), ACTIVE, NOW);
        assert_eq!(second, UvKeyDecision::Refused(UvKeyRefusal::AlreadyAddedInFlow));
        assert!(second.consumes_challenge());
    }

    #[test]
    fn malware_with_the_silent_key_cannot_add_a_key_outside_a_flow_that_asked() {
        let challenge = enroll_challenge();
        let other = ChallengeId::parse("ch_other").unwrap();
        let cases = [
            (
                UvKeyFlowContext {
                    flow_live: false,
                    ..live_flow(&challenge.binding.id)
                },
                "flow_not_live",
            ),
            (
                UvKeyFlowContext {
                    requested_challenge: None,
                    ..live_flow(&challenge.binding.id)
                },
                "user_verification_key_not_requested",
            ),
            (live_flow(&other), "user_verification_key_not_requested"),
            (
                UvKeyFlowContext {
                    earlier_steps_passed: false,
                    ..live_flow(&challenge.binding.id)
                },
                "earlier_steps_not_passed",
            ),
        ];
        for (flow, code) in cases {
            let decision =
                check_user_verification_key(&flow, &challenge, &registration(), &both(), ACTIVE, NOW);
            let UvKeyDecision::Refused(refusal) = decision else {
                panic!("expected a refusal with {code}");
            };
            assert_eq!(refusal.code(), code);
            assert_eq!(refusal.http_status(), 403);
        }
    }

    #[test]
    fn the_new_key_must_prove_itself_and_the_device_must_be_usable() {
        let challenge = enroll_challenge();
        let flow = live_flow(&challenge.binding.id);
        let unproven =
            check_user_verification_key(&flow, &challenge, &registration(), &pop_only(), ACTIVE, NOW);
        assert_eq!(
            unproven,
            UvKeyDecision::Refused(UvKeyRefusal::Answer(AnswerRefusal::NewKeyNotProven))
        );
        let suspended = Standing {
            device: DeviceStatus::Suspended,
            enrollment: EnrollmentStatus::Active,
        };
        let decision =
            check_user_verification_key(&flow, &challenge, &registration(), &both(), suspended, NOW);
        let UvKeyDecision::Refused(refusal) = decision else {
            panic!("a suspended device cannot add keys");
        };
        assert_eq!(refusal.code(), "device_suspended");
        let expired =
            check_user_verification_key(&flow, &challenge, &registration(), &both(), ACTIVE, NOW + 500);
        assert_eq!(
            expired,
            UvKeyDecision::Refused(UvKeyRefusal::Answer(AnswerRefusal::Expired))
        );
        let mut relayed = registration();
        relayed.origin = Origin::parse("https://evil.example").unwrap();
        let decision = check_user_verification_key(&flow, &challenge, &relayed, &both(), ACTIVE, NOW);
        assert!(matches!(
            decision,
            UvKeyDecision::Refused(UvKeyRefusal::Answer(AnswerRefusal::OriginMismatch { .. }))
        ));
    }

    #[test]
    fn a_push_challenge_cannot_carry_a_new_key() {
        let mut challenge = issued(binding(ChallengeKind::Push, UserVerification::Biometric));
        challenge.audience = ChallengeAudience::Enrollment(EnrollmentId::parse("enr_alice").unwrap());
        let id = challenge.binding.id.clone();
        let decision =
            check_user_verification_key(&live_flow(&id), &challenge, &registration(), &both(), ACTIVE, NOW);
        assert_eq!(
            decision,
            UvKeyDecision::Refused(UvKeyRefusal::NotAnEnrollmentChallenge)
        );
    }

    #[test]
    fn a_device_without_biometrics_declines_and_the_flow_explains() {
        let challenge = enroll_challenge();
        let mut a = answer(AnswerResult::UserVerificationUnavailable);
        a.biometric_capable = false;
        let decision = check_user_verification_key(
            &live_flow(&challenge.binding.id),
            &challenge,
            &a,
            &pop_only(),
            ACTIVE,
            NOW,
        );
        assert_eq!(
            decision,
            UvKeyDecision::Declined(AnswerOutcome::UserVerificationUnavailable {
                biometric_capable: false
            })
        );
        assert!(decision.consumes_challenge());
    }
}
