//! Deciding and signing the device's answer to a verified challenge — the one place that runs
//! the user-verification provider and signs with a user-verification key.
//!
//! | challenge | device | answer |
//! |---|---|---|
//! | push / FastPass, `user_verification: none` | — | `approve`, proof-of-possession key only (FastPass with `user_presence` runs the provider first) |
//! | push / FastPass, `any`/`biometric` | has a user-verification key at that level or above, check passes | `approve`, signed by both keys |
//! | same | no such key, or the provider cannot reach the level | `user_verification_unavailable` (with `biometric_capable`) |
//! | same | the check fails | `user_verification_failed` |
//! | `enroll_user_verification` | capable, check passes | a new key, `register_user_verification_key`, signed by the proof-of-possession key and the new key |
//! | same | not capable / check unavailable / fails | `user_verification_unavailable` / `_failed` |
//! | any, user said no | — | `deny` |

use gatehouse_api::device::{AnswerSignatures, ChallengeAnswer};
use gatehouse_core::device::{
    AnswerResult, ChallengeKind, DeviceAnswer, EnrollmentId, KeyThumbprint, NewUserVerificationKey, Origin,
    Satisfies as _, UserVerification,
};

use crate::error::VerifyError;
use crate::home::{EnrollmentRecord, StoredUvKey};
use crate::keystore::{Keystore, encode_signature, user_verification_key};
use crate::protocol::{VerifiedChallenge, result_to_wire, uv_to_core, uv_to_wire};
use crate::uv::{UserVerifier, UvOutcome};

/// What the person at the device wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Approve (push), prove (FastPass), or add the key (user-verification enrollment); with the
    /// number the user typed for number matching.
    Approve {
        number: Option<u32>,
    },
    Deny,
}

/// An answer ready to send, and the new user-verification key it carries, if any.
#[derive(Debug)]
pub struct PreparedAnswer {
    pub answer: ChallengeAnswer,
    pub result: AnswerResult,
    /// Created in the keystore for a `register_user_verification_key` answer: keep it with
    /// [`commit_new_key`] once the server accepted it, else [`discard_new_key`].
    pub new_key: Option<StoredUvKey>,
    /// Why the answer is not an approval, for the person at the device.
    pub note: Option<String>,
}

/// Everything the responder needs about this device.
#[derive(Debug)]
pub struct Responder<'a> {
    pub record: &'a EnrollmentRecord,
    pub keystore: &'a dyn Keystore,
    pub verifier: &'a dyn UserVerifier,
}

enum Plan {
    Answer {
        result: AnswerResult,
        uv_key: Option<StoredUvKey>,
        user_presence: bool,
        note: Option<String>,
    },
    Register {
        level: UserVerification,
    },
}

impl Responder<'_> {
    /// Decides the answer to `challenge` (which must already be verified and meant for this
    /// device), runs the local check if needed, and signs.
    pub fn respond(
        &self,
        challenge: &VerifiedChallenge,
        intent: Intent,
        observed_origin: &Origin,
    ) -> Result<PreparedAnswer, VerifyError> {
        let binding = &challenge.binding;
        let number = match intent {
            Intent::Approve { number } => number,
            Intent::Deny => None,
        };
        if intent != Intent::Deny
            && binding.kind == ChallengeKind::Push
            && binding.number_challenge
            && number.is_none()
        {
            return Err(VerifyError::Usage(
                "this push asks for the number shown on the sign-in page: run `gatehouse-verify approve --number N`"
                    .to_owned(),
            ));
        }
        let plan = match intent {
            Intent::Deny => Plan::Answer {
                result: AnswerResult::Deny,
                uv_key: None,
                user_presence: true,
                note: Some("denied".to_owned()),
            },
            Intent::Approve { .. } if binding.kind == ChallengeKind::EnrollUserVerification => {
                self.plan_enrollment(binding.user_verification)
            }
            Intent::Approve { .. } => self.plan_approval(challenge),
        };
        match plan {
            Plan::Answer {
                result,
                uv_key,
                user_presence,
                note,
            } => {
                let answer = self.sign(
                    challenge,
                    result,
                    observed_origin,
                    uv_key.as_ref(),
                    user_presence,
                    number,
                    None,
                )?;
                Ok(PreparedAnswer {
                    answer,
                    result,
                    new_key: None,
                    note,
                })
            }
            Plan::Register { level } => {
                let generated = self.keystore.generate()?;
                let stored = StoredUvKey {
                    key_ref: generated.key_ref.clone(),
                    kid: generated.public.thumbprint(),
                    level: uv_to_wire(level),
                };
                let wire_key =
                    user_verification_key(&generated.public, self.keystore.storage(), uv_to_wire(level));
                let signed = self.sign(
                    challenge,
                    AnswerResult::RegisterUserVerificationKey,
                    observed_origin,
                    None,
                    true,
                    None,
                    Some((&stored, wire_key)),
                );
                match signed {
                    Ok(answer) => Ok(PreparedAnswer {
                        answer,
                        result: AnswerResult::RegisterUserVerificationKey,
                        new_key: Some(stored),
                        note: None,
                    }),
                    Err(e) => {
                        let _ = self.keystore.delete(&stored.key_ref);
                        Err(e)
                    }
                }
            }
        }
    }

    fn unavailable(&self, why: String) -> Plan {
        Plan::Answer {
            result: AnswerResult::UserVerificationUnavailable,
            uv_key: None,
            user_presence: false,
            note: Some(why),
        }
    }

    fn failed(&self) -> Plan {
        Plan::Answer {
            result: AnswerResult::UserVerificationFailed,
            uv_key: None,
            user_presence: false,
            note: Some("user verification failed".to_owned()),
        }
    }

    fn plan_enrollment(&self, requested: UserVerification) -> Plan {
        let requested = requested.max(UserVerification::Any);
        if requested == UserVerification::Biometric && !self.record.biometric_capable {
            return self.unavailable("this device cannot verify biometrics".to_owned());
        }
        if !self.verifier.level().satisfies(requested) {
            return self.unavailable(format!(
                "the `{}` provider cannot verify at level `{requested}`",
                self.verifier.name()
            ));
        }
        match self
            .verifier
            .verify("Add a user-verification key to Gatehouse Verify")
        {
            UvOutcome::Verified(grant) if grant.level().satisfies(requested) => Plan::Register {
                level: self.verifier.level(),
            },
            UvOutcome::Verified(grant) => self.unavailable(format!(
                "the check reached `{}`, not `{requested}`",
                grant.level()
            )),
            UvOutcome::Failed => self.failed(),
            UvOutcome::Unavailable(why) => self.unavailable(why),
        }
    }

    fn plan_approval(&self, challenge: &VerifiedChallenge) -> Plan {
        let binding = &challenge.binding;
        let required = binding.user_verification;
        let silent = Plan::Answer {
            result: AnswerResult::Approve,
            uv_key: None,
            user_presence: binding.kind == ChallengeKind::Push,
            note: None,
        };
        if required == UserVerification::None {
            if !binding.user_presence || binding.kind == ChallengeKind::Push {
                return silent;
            }
            // FastPass asking for a confirmed prompt: the provider's check is the prompt.
            return match self.verifier.verify("Confirm the sign-in with Gatehouse Verify") {
                UvOutcome::Verified(_) => Plan::Answer {
                    result: AnswerResult::Approve,
                    uv_key: None,
                    user_presence: true,
                    note: None,
                },
                UvOutcome::Failed => self.failed(),
                UvOutcome::Unavailable(why) => self.unavailable(why),
            };
        }
        let Some(key) = self
            .record
            .user_verification
            .clone()
            .filter(|k| uv_to_core(k.level).satisfies(required))
        else {
            return self.unavailable(format!(
                "this device has no user-verification key at level `{required}`"
            ));
        };
        let key_level = uv_to_core(key.level);
        if !self.verifier.level().satisfies(key_level) {
            return self.unavailable(format!(
                "the `{}` provider cannot unlock a `{key_level}` key",
                self.verifier.name()
            ));
        }
        match self.verifier.verify("Approve the sign-in with Gatehouse Verify") {
            UvOutcome::Verified(grant) if grant.level().satisfies(key_level) => Plan::Answer {
                result: AnswerResult::Approve,
                uv_key: Some(key),
                user_presence: true,
                note: None,
            },
            UvOutcome::Verified(grant) => self.unavailable(format!(
                "the check reached `{}`, not `{key_level}`",
                grant.level()
            )),
            UvOutcome::Failed => self.failed(),
            UvOutcome::Unavailable(why) => self.unavailable(why),
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call per answer shape, all fields signed together"
    )]
    fn sign(
        &self,
        challenge: &VerifiedChallenge,
        result: AnswerResult,
        origin: &Origin,
        uv_key: Option<&StoredUvKey>,
        user_presence: bool,
        number: Option<u32>,
        new_key: Option<(&StoredUvKey, gatehouse_api::device::UserVerificationKey)>,
    ) -> Result<ChallengeAnswer, VerifyError> {
        let bad = |e: gatehouse_core::CoreError| VerifyError::corrupt("enrollment.json", e);
        let user_verification = uv_key.map_or(UserVerification::None, |k| uv_to_core(k.level));
        let core_answer = DeviceAnswer {
            challenge_id: challenge.binding.id.clone(),
            enrollment_id: EnrollmentId::parse(&self.record.enrollment_id).map_err(bad)?,
            result,
            origin: origin.clone(),
            user_verification,
            user_presence,
            number: if result == AnswerResult::Approve {
                number
            } else {
                None
            },
            biometric_capable: self.record.biometric_capable,
            new_key: match &new_key {
                Some((stored, _)) => Some(NewUserVerificationKey {
                    thumbprint: KeyThumbprint::parse(&stored.kid).map_err(bad)?,
                    level: uv_to_core(stored.level),
                }),
                None => None,
            },
        };
        let message = core_answer.signed_message(&challenge.binding);
        let pop = self
            .keystore
            .sign(&self.record.proof_of_possession.key_ref, message.as_bytes())?;
        let uv_signature = match uv_key {
            Some(key) => Some(encode_signature(
                &self.keystore.sign(&key.key_ref, message.as_bytes())?,
            )),
            None => None,
        };
        let new_key_signature = match &new_key {
            Some((stored, _)) => Some(encode_signature(
                &self.keystore.sign(&stored.key_ref, message.as_bytes())?,
            )),
            None => None,
        };
        Ok(ChallengeAnswer {
            challenge_id: core_answer.challenge_id.to_string(),
            enrollment_id: core_answer.enrollment_id.to_string(),
            result: result_to_wire(result),
            origin: core_answer.origin.to_string(),
            user_verification: uv_to_wire(user_verification),
            user_presence,
            number: core_answer.number,
            biometric_capable: core_answer.biometric_capable,
            new_key: new_key.map(|(_, wire)| wire),
            signatures: AnswerSignatures {
                proof_of_possession: encode_signature(&pop),
                user_verification: uv_signature,
                new_key: new_key_signature,
            },
        })
    }
}

/// Keeps a new user-verification key the server accepted: it replaces the previous one, whose
/// private key is destroyed.
pub fn commit_new_key(
    record: &mut EnrollmentRecord,
    keystore: &dyn Keystore,
    key: StoredUvKey,
) -> Result<(), VerifyError> {
    if let Some(old) = record.user_verification.replace(key) {
        keystore.delete(&old.key_ref)?;
    }
    Ok(())
}

/// Destroys a new user-verification key the server did not accept.
pub fn discard_new_key(keystore: &dyn Keystore, key: &StoredUvKey) {
    let _ = keystore.delete(&key.key_ref);
}
