//! Device challenges: the canonical messages a device signs, and the checks of its answer.
//!
//! The server issues a challenge ([`ChallengeBinding`]: id, kind, nonce, origin, expiry, the
//! user-verification level it asks for, whether it needs user presence and number matching) and
//! delivers it to Verify as a signed JWS. Verify answers with a [`DeviceAnswer`] and raw P-256
//! ECDSA signatures over [`DeviceAnswer::signed_message`]: the challenge's canonical message
//! followed by the answer's fields, one `name=value` per line. The server rebuilds the same bytes
//! from its stored challenge, verifies the signatures against the registered keys (that is
//! `gatehouse_crypto::pop`), and hands what verified to [`check_answer`], which decides — single
//! use, expiry, origin, which enrollment, which key signed, user verification, number matching —
//! and says whether the challenge is now used up.

use std::fmt;

use super::lifecycle::{DeviceRefusal, Standing};
use super::{ChallengeId, EnrollmentId, KeyThumbprint, Nonce, Origin, Satisfies as _, UserVerification};
use crate::CoreError;

/// How long a challenge may be answered after it is issued.
pub const CHALLENGE_LIFETIME_SECONDS: u64 = 120;

/// The first line of every canonical challenge message (a version tag).
const CHALLENGE_TAG: &str = "gatehouse-device-challenge/1";
/// The first line of the answer part of a signed answer.
const ANSWER_TAG: &str = "gatehouse-device-answer/1";

/// What a challenge asks the device to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    /// Prove the device is the one in front of the browser, relayed through the loopback daemon.
    Fastpass,
    /// Ask the user to approve a sign-in, delivered over the device's push channel.
    Push,
    /// Create and register a user-verification key (inline biometric remediation).
    EnrollUserVerification,
}

impl ChallengeKind {
    pub const ALL: [Self; 3] = [Self::Fastpass, Self::Push, Self::EnrollUserVerification];

    /// The wire name: `fastpass`, `push`, `enroll_user_verification`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fastpass => "fastpass",
            Self::Push => "push",
            Self::EnrollUserVerification => "enroll_user_verification",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CoreError> {
        Self::ALL.into_iter().find(|k| k.as_str() == text).ok_or_else(|| {
            CoreError::invalid(
                "challenge kind",
                text,
                "it is not one of `fastpass`, `push`, `enroll_user_verification`",
            )
        })
    }
}

impl fmt::Display for ChallengeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a device's signature binds it to, as issued by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeBinding {
    pub id: ChallengeId,
    pub kind: ChallengeKind,
    pub nonce: Nonce,
    /// The origin of the sign-in page the challenge belongs to (the issuer's origin).
    pub origin: Origin,
    /// Unix seconds after which no answer is accepted (issue time + [`CHALLENGE_LIFETIME_SECONDS`]).
    pub expires_at: u64,
    /// The level the answer must reach (for `enroll_user_verification`: the level of the key to
    /// create).
    pub user_verification: UserVerification,
    /// Whether the user must confirm a prompt (for FastPass; a push approval is always a prompt).
    pub user_presence: bool,
    /// Whether the user must give the number shown on the sign-in page (push).
    pub number_challenge: bool,
}

impl ChallengeBinding {
    /// The canonical challenge message: UTF-8, one `name=value` per line, each line ending in
    /// `\n`, in exactly this order:
    ///
    /// ```text
    /// gatehouse-device-challenge/1
    /// id=<challenge id>
    /// kind=<fastpass|push|enroll_user_verification>
    /// nonce=<nonce>
    /// origin=<origin>
    /// expires=<unix seconds, decimal>
    /// user-verification=<none|any|biometric>
    /// user-presence=<required|optional>
    /// number-challenge=<yes|no>
    /// ```
    pub fn canonical_message(&self) -> String {
        let mut m = String::with_capacity(256);
        line(&mut m, CHALLENGE_TAG);
        field(&mut m, "id", self.id.as_str());
        field(&mut m, "kind", self.kind.as_str());
        field(&mut m, "nonce", self.nonce.as_str());
        field(&mut m, "origin", self.origin.as_str());
        field(&mut m, "expires", &self.expires_at.to_string());
        field(&mut m, "user-verification", self.user_verification.as_str());
        field(
            &mut m,
            "user-presence",
            if self.user_presence {
                "required"
            } else {
                "optional"
            },
        );
        field(&mut m, "number-challenge", yes_no(self.number_challenge));
        m
    }
}

/// What the device answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerResult {
    /// The user approved (push) or the device proves itself (FastPass).
    Approve,
    /// The user refused the push (or the user-verification enrollment).
    Deny,
    /// The device has no key at the requested user-verification level, or its user-verification
    /// provider cannot run (no sensor, no enrolled finger).
    UserVerificationUnavailable,
    /// The local user verification ran and failed.
    UserVerificationFailed,
    /// A new user-verification key, created after a local check (only for
    /// [`ChallengeKind::EnrollUserVerification`]).
    RegisterUserVerificationKey,
}

impl AnswerResult {
    pub const ALL: [Self; 5] = [
        Self::Approve,
        Self::Deny,
        Self::UserVerificationUnavailable,
        Self::UserVerificationFailed,
        Self::RegisterUserVerificationKey,
    ];

    /// The wire name: `approve`, `deny`, `user_verification_unavailable`,
    /// `user_verification_failed`, `register_user_verification_key`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
            Self::UserVerificationUnavailable => "user_verification_unavailable",
            Self::UserVerificationFailed => "user_verification_failed",
            Self::RegisterUserVerificationKey => "register_user_verification_key",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CoreError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| CoreError::invalid(
                    "answer result",
                    text,
                    "it is not one of `approve`, `deny`, `user_verification_unavailable`, `user_verification_failed`, `register_user_verification_key`",
                ))
    }

    /// Whether a device may give this result to a challenge of `kind`.
    pub fn allowed_for(self, kind: ChallengeKind) -> bool {
        match self {
            Self::Approve => kind != ChallengeKind::EnrollUserVerification,
            Self::RegisterUserVerificationKey => kind == ChallengeKind::EnrollUserVerification,
            Self::Deny | Self::UserVerificationUnavailable | Self::UserVerificationFailed => true,
        }
    }
}

/// The new key of a [`AnswerResult::RegisterUserVerificationKey`] answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUserVerificationKey {
    /// The RFC 7638 thumbprint of the new public key (the key itself travels beside the answer).
    pub thumbprint: KeyThumbprint,
    /// The level the key is gated by on the device: `any` or `biometric`.
    pub level: UserVerification,
}

/// A device's answer to a challenge (without its signatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAnswer {
    pub challenge_id: ChallengeId,
    pub enrollment_id: EnrollmentId,
    pub result: AnswerResult,
    /// The origin the daemon saw the challenge come from (the browser's `Origin` header, or the
    /// challenge's own origin for pushes and for local clients that send no `Origin`).
    pub origin: Origin,
    /// The level the device claims it verified the user at: the level of the user-verification
    /// key that signed, or `none` when only the proof-of-possession key signed.
    pub user_verification: UserVerification,
    /// Whether the user confirmed a prompt on the device.
    pub user_presence: bool,
    /// The number the user picked (push with number matching).
    pub number: Option<u32>,
    /// Whether the device can do biometric verification at all (read with
    /// [`AnswerResult::UserVerificationUnavailable`]: remediation or explanatory denial).
    pub biometric_capable: bool,
    pub new_key: Option<NewUserVerificationKey>,
}

impl DeviceAnswer {
    /// The exact bytes every key signs for this answer: the challenge's
    /// [`ChallengeBinding::canonical_message`] followed by
    ///
    /// ```text
    /// gatehouse-device-answer/1
    /// enrollment=<enrollment id>
    /// result=<approve|deny|user_verification_unavailable|user_verification_failed|register_user_verification_key>
    /// origin=<origin the daemon saw>
    /// user-verification=<none|any|biometric>
    /// user-presence=<yes|no>
    /// number=<decimal, or ->
    /// biometric-capable=<yes|no>
    /// new-key=<thumbprint, or ->
    /// new-key-user-verification=<any|biometric, or ->
    /// ```
    pub fn signed_message(&self, challenge: &ChallengeBinding) -> String {
        let mut m = challenge.canonical_message();
        line(&mut m, ANSWER_TAG);
        field(&mut m, "enrollment", self.enrollment_id.as_str());
        field(&mut m, "result", self.result.as_str());
        field(&mut m, "origin", self.origin.as_str());
        field(&mut m, "user-verification", self.user_verification.as_str());
        field(&mut m, "user-presence", yes_no(self.user_presence));
        let number = self.number.map_or_else(|| "-".to_owned(), |n| n.to_string());
        field(&mut m, "number", &number);
        field(&mut m, "biometric-capable", yes_no(self.biometric_capable));
        match &self.new_key {
            Some(key) => {
                field(&mut m, "new-key", key.thumbprint.as_str());
                field(&mut m, "new-key-user-verification", key.level.as_str());
            }
            None => {
                field(&mut m, "new-key", "-");
                field(&mut m, "new-key-user-verification", "-");
            }
        }
        m
    }
}

fn line(m: &mut String, text: &str) {
    m.push_str(text);
    m.push('\n');
}

fn field(m: &mut String, name: &str, value: &str) {
    m.push_str(name);
    m.push('=');
    m.push_str(value);
    m.push('\n');
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// Which enrollments may answer a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeAudience {
    /// Only this enrollment (a push, a user-verification enrollment, a FastPass challenge for a
    /// user with one device).
    Enrollment(EnrollmentId),
    /// Any of the identified user's active device enrollments (FastPass after `identify`).
    AnyOf(Vec<EnrollmentId>),
    /// Any enrollment at all: FastPass before the user is known (passwordless); the answering
    /// enrollment identifies the user.
    AnyEnrollment,
}

impl ChallengeAudience {
    fn admits(&self, enrollment: &EnrollmentId) -> bool {
        match self {
            Self::Enrollment(only) => only == enrollment,
            Self::AnyOf(list) => list.contains(enrollment),
            Self::AnyEnrollment => true,
        }
    }
}

/// A challenge as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedChallenge {
    pub binding: ChallengeBinding,
    pub audience: ChallengeAudience,
    /// The number shown on the sign-in page, when `binding.number_challenge`.
    pub expected_number: Option<u32>,
    /// Whether an answer already used the challenge up.
    pub answered: bool,
}

/// Which of the answer's signatures the caller verified over
/// [`DeviceAnswer::signed_message`] (with `gatehouse_crypto::pop::verify_p256_signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifiedSignatures {
    /// The enrollment's registered proof-of-possession key signed.
    pub proof_of_possession: bool,
    /// The enrollment's registered user-verification key signed; the value is the level that
    /// key was registered with (never `none`).
    pub user_verification: Option<UserVerification>,
    /// The new key offered in a registration answer signed (proving the device holds it).
    pub new_key: bool,
}

/// What an accepted answer means for the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerOutcome {
    /// A verification record: method from the challenge kind, `user_verification` from the key
    /// that signed, phishing resistant only for FastPass (origin-bound through the loopback).
    Verified {
        kind: ChallengeKind,
        user_verification: UserVerification,
        user_presence: bool,
        phishing_resistant: bool,
    },
    /// The user refused.
    Denied,
    /// The device cannot reach the requested level: remediate (biometric-capable) or deny with
    /// an explanation of what the app requires.
    UserVerificationUnavailable { biometric_capable: bool },
    /// The local check failed: the flow may offer a new attempt.
    UserVerificationFailed,
    /// A new user-verification key, to be accepted only by the flow guards of
    /// [`super::uv_key::check_user_verification_key`].
    UserVerificationKeyOffered(NewUserVerificationKey),
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerRefusal {
    /// The answer names another challenge than the one it was posted to.
    WrongChallenge,
    /// The enrollment's proof-of-possession signature is missing or does not verify.
    NotSignedByDevice,
    /// The answering enrollment is not one the challenge was issued to.
    WrongEnrollment,
    /// The device or enrollment may not authenticate.
    Device(DeviceRefusal),
    /// The challenge was already answered (single use).
    AlreadyAnswered,
    /// The challenge is past its expiry.
    Expired,
    /// The device saw the challenge come from another origin than the one it was issued for.
    OriginMismatch { expected: Origin, actual: Origin },
    /// The result does not apply to this kind of challenge.
    ResultNotAllowed {
        kind: ChallengeKind,
        result: AnswerResult,
    },
    /// The claimed user-verification level does not match the key that signed.
    UserVerificationMismatch,
    /// The number is missing or is not the one shown on the sign-in page.
    NumberMismatch,
    /// The verification reached is below the challenge's requirement.
    InsufficientUserVerification {
        required: UserVerification,
        achieved: UserVerification,
    },
    /// The challenge needs a confirmed prompt and the device did not confirm one.
    UserPresenceMissing,
    /// A registration answer whose new key is missing or did not sign.
    NewKeyNotProven,
}

impl AnswerRefusal {
    /// The machine code (`error` in the JSON body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongChallenge => "wrong_challenge",
            Self::NotSignedByDevice => "invalid_signature",
            Self::WrongEnrollment => "wrong_enrollment",
            Self::Device(refusal) => refusal.code(),
            Self::AlreadyAnswered => "challenge_already_answered",
            Self::Expired => "challenge_expired",
            Self::OriginMismatch { .. } => "origin_mismatch",
            Self::ResultNotAllowed { .. } => "result_not_allowed",
            Self::UserVerificationMismatch => "user_verification_mismatch",
            Self::NumberMismatch => "number_mismatch",
            Self::InsufficientUserVerification { .. } => "insufficient_user_verification",
            Self::UserPresenceMissing => "user_presence_missing",
            Self::NewKeyNotProven => "new_key_not_proven",
        }
    }

    /// The HTTP status the answer endpoint replies with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::WrongChallenge
            | Self::ResultNotAllowed { .. }
            | Self::UserVerificationMismatch
            | Self::NewKeyNotProven => 400,
            Self::NotSignedByDevice => 401,
            Self::AlreadyAnswered => 409,
            Self::Expired => 410,
            Self::Device(refusal) => refusal.http_status(),
            Self::WrongEnrollment
            | Self::OriginMismatch { .. }
            | Self::NumberMismatch
            | Self::InsufficientUserVerification { .. }
            | Self::UserPresenceMissing => 403,
        }
    }

    /// Whether the refusal uses the challenge up. Refusals that depend on *who* answered (an
    /// unsigned answer, another enrollment, a device that may not authenticate) leave it open,
    /// so that nobody but the intended device can burn it; refusals of what the rightful device
    /// signed (another origin — a relay in progress —, a wrong number, too weak a
    /// verification) use it up, and the flow issues a new one if it goes on.
    pub fn consumes_challenge(&self) -> bool {
        match self {
            Self::WrongChallenge | Self::NotSignedByDevice | Self::WrongEnrollment | Self::Device(_) => false,
            Self::AlreadyAnswered | Self::Expired => false,
            Self::OriginMismatch { .. }
            | Self::ResultNotAllowed { .. }
            | Self::UserVerificationMismatch
            | Self::NumberMismatch
            | Self::InsufficientUserVerification { .. }
            | Self::UserPresenceMissing
            | Self::NewKeyNotProven => true,
        }
    }
}

impl fmt::Display for AnswerRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongChallenge => f.write_str("the answer names another challenge"),
            Self::NotSignedByDevice => {
                f.write_str("the answer is not signed by the enrollment's proof-of-possession key")
            }
            Self::WrongEnrollment => f.write_str("this challenge was not issued to this enrollment"),
            Self::Device(refusal) => refusal.fmt(f),
            Self::AlreadyAnswered => f.write_str("the challenge was already answered"),
            Self::Expired => f.write_str("the challenge has expired"),
            Self::OriginMismatch { expected, actual } => write!(
                f,
                "the challenge was issued for `{expected}` but the device received it from `{actual}`"
            ),
            Self::ResultNotAllowed { kind, result } => write!(
                f,
                "a `{}` answer does not apply to a `{}` challenge",
                result.as_str(),
                kind.as_str()
            ),
            Self::UserVerificationMismatch => {
                f.write_str("the claimed user verification does not match the key that signed")
            }
            Self::NumberMismatch => {
                f.write_str("the number does not match the one shown on the sign-in page")
            }
            Self::InsufficientUserVerification { required, achieved } => write!(
                f,
                "user verification `{required}` is required but the device verified `{achieved}`"
            ),
            Self::UserPresenceMissing => f.write_str("the user did not confirm the prompt on the device"),
            Self::NewKeyNotProven => f.write_str("the new user-verification key did not sign the answer"),
        }
    }
}

/// One step of the answer check, in the order it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerCheck {
    pub name: &'static str,
    pub passed: bool,
}

/// The decision on an answer, with the checks that ran (the trace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerDecision {
    pub verdict: Result<AnswerOutcome, AnswerRefusal>,
    pub trace: Vec<AnswerCheck>,
}

impl AnswerDecision {
    /// Whether the server must mark the challenge used (atomically, with a conditional update
    /// from unused to used — two concurrent answers must not both be accepted).
    pub fn consumes_challenge(&self) -> bool {
        match &self.verdict {
            Ok(_) => true,
            Err(refusal) => refusal.consumes_challenge(),
        }
    }
}

struct Trace(Vec<AnswerCheck>);

impl Trace {
    fn check(&mut self, name: &'static str, passed: bool) -> bool {
        self.0.push(AnswerCheck { name, passed });
        passed
    }
}

/// Decides on `answer` to `challenge`, given which signatures verified, the standing of the
/// answering device and enrollment, and the time `now` (Unix seconds).
pub fn check_answer(
    challenge: &IssuedChallenge,
    answer: &DeviceAnswer,
    signatures: &VerifiedSignatures,
    standing: Standing,
    now: u64,
) -> AnswerDecision {
    let mut trace = Trace(Vec::new());
    let verdict = decide(challenge, answer, signatures, standing, now, &mut trace);
    AnswerDecision {
        verdict,
        trace: trace.0,
    }
}

fn decide(
    challenge: &IssuedChallenge,
    answer: &DeviceAnswer,
    signatures: &VerifiedSignatures,
    standing: Standing,
    now: u64,
    trace: &mut Trace,
) -> Result<AnswerOutcome, AnswerRefusal> {
    let binding = &challenge.binding;
    if !trace.check("challenge", answer.challenge_id == binding.id) {
        return Err(AnswerRefusal::WrongChallenge);
    }
    if !trace.check("proof_of_possession_signature", signatures.proof_of_possession) {
        return Err(AnswerRefusal::NotSignedByDevice);
    }
    if !trace.check("enrollment", challenge.audience.admits(&answer.enrollment_id)) {
        return Err(AnswerRefusal::WrongEnrollment);
    }
    let device_refusal = standing.authentication_refusal();
    trace.check("device_standing", device_refusal.is_none());
    if let Some(refusal) = device_refusal {
        return Err(AnswerRefusal::Device(refusal));
    }
    if !trace.check("single_use", !challenge.answered) {
        return Err(AnswerRefusal::AlreadyAnswered);
    }
    if !trace.check("expiry", now < binding.expires_at) {
        return Err(AnswerRefusal::Expired);
    }
    if !trace.check("origin", answer.origin == binding.origin) {
        return Err(AnswerRefusal::OriginMismatch {
            expected: binding.origin.clone(),
            actual: answer.origin.clone(),
        });
    }
    if !trace.check("result_for_kind", answer.result.allowed_for(binding.kind)) {
        return Err(AnswerRefusal::ResultNotAllowed {
            kind: binding.kind,
            result: answer.result,
        });
    }
    let achieved = signatures.user_verification.unwrap_or(UserVerification::None);
    let consistent =
        achieved == answer.user_verification && signatures.user_verification != Some(UserVerification::None);
    if !trace.check("user_verification_key", consistent) {
        return Err(AnswerRefusal::UserVerificationMismatch);
    }
    match answer.result {
        AnswerResult::Approve => {
            if binding.number_challenge {
                let matches =
                    challenge.expected_number.is_some() && answer.number == challenge.expected_number;
                if !trace.check("number", matches) {
                    return Err(AnswerRefusal::NumberMismatch);
                }
            }
            if !trace.check(
                "user_verification_level",
                achieved.satisfies(binding.user_verification),
            ) {
                return Err(AnswerRefusal::InsufficientUserVerification {
                    required: binding.user_verification,
                    achieved,
                });
            }
            // Approving a push is itself a confirmed prompt, and so is any user verification.
            let presence = answer.user_presence
                || binding.kind == ChallengeKind::Push
                || achieved > UserVerification::None;
            if binding.user_presence && !trace.check("user_presence", presence) {
                return Err(AnswerRefusal::UserPresenceMissing);
            }
            Ok(AnswerOutcome::Verified {
                kind: binding.kind,
                user_verification: achieved,
                user_presence: presence,
                phishing_resistant: binding.kind == ChallengeKind::Fastpass,
            })
        }
        AnswerResult::Deny => Ok(AnswerOutcome::Denied),
        AnswerResult::UserVerificationUnavailable => Ok(AnswerOutcome::UserVerificationUnavailable {
            biometric_capable: answer.biometric_capable,
        }),
        AnswerResult::UserVerificationFailed => Ok(AnswerOutcome::UserVerificationFailed),
        AnswerResult::RegisterUserVerificationKey => {
            let Some(key) = answer.new_key.as_ref().filter(|_| signatures.new_key) else {
                trace.check("new_key_signature", false);
                return Err(AnswerRefusal::NewKeyNotProven);
            };
            trace.check("new_key_signature", true);
            let level_ok =
                key.level > UserVerification::None && key.level.satisfies(binding.user_verification);
            if !trace.check("new_key_level", level_ok) {
                return Err(AnswerRefusal::InsufficientUserVerification {
                    required: binding.user_verification,
                    achieved: key.level,
                });
            }
            Ok(AnswerOutcome::UserVerificationKeyOffered(key.clone()))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::lifecycle::{DeviceStatus, EnrollmentStatus};
    use super::*;
    use proptest::prelude::*;

    pub(crate) const NOW: u64 = 1_800_000_000;

    pub(crate) fn binding(kind: ChallengeKind, uv: UserVerification) -> ChallengeBinding {
        ChallengeBinding {
            id: ChallengeId::parse("ch_1").unwrap(),
            kind,
            nonce: Nonce::parse("bm9uY2Utbm9uY2Utbm9uY2U").unwrap(),
            origin: Origin::parse("http://localhost:8080").unwrap(),
            expires_at: NOW + CHALLENGE_LIFETIME_SECONDS,
            user_verification: uv,
            user_presence: false,
            number_challenge: false,
        }
    }

    pub(crate) fn issued(binding: ChallengeBinding) -> IssuedChallenge {
        IssuedChallenge {
            binding,
            audience: ChallengeAudience::Enrollment(EnrollmentId::parse("enr_alice").unwrap()),
            expected_number: None,
            answered: false,
        }
    }

    pub(crate) fn answer(result: AnswerResult) -> DeviceAnswer {
        DeviceAnswer {
            challenge_id: ChallengeId::parse("ch_1").unwrap(),
            enrollment_id: EnrollmentId::parse("enr_alice").unwrap(),
            result,
            origin: Origin::parse("http://localhost:8080").unwrap(),
            user_verification: UserVerification::None,
            user_presence: false,
            number: None,
            biometric_capable: true,
            new_key: None,
        }
    }

    pub(crate) const ACTIVE: Standing = Standing {
        device: DeviceStatus::Active,
        enrollment: EnrollmentStatus::Active,
    };

    pub(crate) fn pop_only() -> VerifiedSignatures {
        VerifiedSignatures {
            proof_of_possession: true,
            ..VerifiedSignatures::default()
        }
    }

    fn refusal(decision: &AnswerDecision) -> AnswerRefusal {
        decision
            .verdict
            .clone()
            .expect_err("the answer should be refused")
    }

    #[test]
    fn the_canonical_message_is_exactly_specified() {
        let mut b = binding(ChallengeKind::Push, UserVerification::Biometric);
        b.number_challenge = true;
        assert_eq!(
            b.canonical_message(),
            "gatehouse-device-challenge/1\nid=ch_1\nkind=push\nnonce=bm9uY2Utbm9uY2Utbm9uY2U\n\
             origin=http://localhost:8080\nexpires=1800000120\nuser-verification=biometric\n\
             user-presence=optional\nnumber-challenge=yes\n"
        );
        let mut a = answer(AnswerResult::Approve);
        a.number = Some(42);
        a.user_verification = UserVerification::Biometric;
        assert_eq!(
            a.signed_message(&b).strip_prefix(&b.canonical_message()).unwrap(),
            "gatehouse-device-answer/1\nenrollment=enr_alice\nresult=approve\n\
             origin=http://localhost:8080\nuser-verification=biometric\nuser-presence=no\nnumber=42\n\
             biometric-capable=yes\nnew-key=-\nnew-key-user-verification=-\n"
        );
    }

    #[test]
    fn a_fastpass_answer_signed_by_the_device_is_a_phishing_resistant_record() {
        let decision = check_answer(
            &issued(binding(ChallengeKind::Fastpass, UserVerification::None)),
            &answer(AnswerResult::Approve),
            &pop_only(),
            ACTIVE,
            NOW,
        );
        assert_eq!(
            decision.verdict,
            Ok(AnswerOutcome::Verified {
                kind: ChallengeKind::Fastpass,
                user_verification: UserVerification::None,
                user_presence: false,
                phishing_resistant: true,
            })
        );
        assert!(decision.consumes_challenge());
        assert!(decision.trace.iter().all(|c| c.passed));
    }

    #[test]
    fn a_replayed_challenge_is_refused() {
        let mut challenge = issued(binding(ChallengeKind::Fastpass, UserVerification::None));
        challenge.answered = true;
        let decision = check_answer(
            &challenge,
            &answer(AnswerResult::Approve),
            &pop_only(),
            ACTIVE,
            NOW,
        );
        assert_eq!(refusal(&decision), AnswerRefusal::AlreadyAnswered);
        assert_eq!(refusal(&decision).http_status(), 409);
    }

    #[test]
    fn an_expired_challenge_is_refused_from_the_expiry_second_on() {
        let challenge = issued(binding(ChallengeKind::Fastpass, UserVerification::None));
        let ok = check_answer(
            &challenge,
            &answer(AnswerResult::Approve),
            &pop_only(),
            ACTIVE,
            NOW + 119,
        );
        assert!(ok.verdict.is_ok());
        let late = check_answer(
            &challenge,
            &answer(AnswerResult::Approve),
            &pop_only(),
            ACTIVE,
            NOW + 120,
        );
        assert_eq!(refusal(&late), AnswerRefusal::Expired);
        assert_eq!(refusal(&late).code(), "challenge_expired");
    }

    #[test]
    fn a_challenge_relayed_through_another_origin_is_refused_and_burnt() {
        let mut a = answer(AnswerResult::Approve);
        a.origin = Origin::parse("https://evil.example").unwrap();
        let decision = check_answer(
            &issued(binding(ChallengeKind::Fastpass, UserVerification::None)),
            &a,
            &pop_only(),
            ACTIVE,
            NOW,
        );
        assert_eq!(refusal(&decision).code(), "origin_mismatch");
        assert!(decision.consumes_challenge());
        assert_eq!(
            refusal(&decision).to_string(),
            "the challenge was issued for `http://localhost:8080` but the device received it from `https://evil.example`"
        );
    }

    #[test]
    fn unsigned_or_foreign_answers_do_not_burn_the_challenge() {
        let challenge = issued(binding(ChallengeKind::Push, UserVerification::None));
        let unsigned = check_answer(
            &challenge,
            &answer(AnswerResult::Approve),
            &VerifiedSignatures::default(),
            ACTIVE,
            NOW,
        );
        assert_eq!(refusal(&unsigned), AnswerRefusal::NotSignedByDevice);
        assert!(!unsigned.consumes_challenge());
        let mut other = answer(AnswerResult::Approve);
        other.enrollment_id = EnrollmentId::parse("enr_mallory").unwrap();
        let foreign = check_answer(&challenge, &other, &pop_only(), ACTIVE, NOW);
        assert_eq!(refusal(&foreign), AnswerRefusal::WrongEnrollment);
        assert!(!foreign.consumes_challenge());
    }

    #[test]
    fn a_deactivated_or_suspended_device_cannot_answer() {
        let challenge = issued(binding(ChallengeKind::Push, UserVerification::None));
        for (device, code) in [
            (DeviceStatus::Deactivated, "device_deactivated"),
            (DeviceStatus::Suspended, "device_suspended"),
        ] {
            let standing = Standing {
                device,
                enrollment: EnrollmentStatus::Active,
            };
            let decision = check_answer(
                &challenge,
                &answer(AnswerResult::Approve),
                &pop_only(),
                standing,
                NOW,
            );
            assert_eq!(refusal(&decision).code(), code);
        }
    }

    #[test]
    fn biometric_requirements_need_the_biometric_key() {
        let challenge = issued(binding(ChallengeKind::Push, UserVerification::Biometric));
        // Approved with the proof-of-possession key only.
        let weak = check_answer(
            &challenge,
            &answer(AnswerResult::Approve),
            &pop_only(),
            ACTIVE,
            NOW,
        );
        assert_eq!(
            refusal(&weak),
            AnswerRefusal::InsufficientUserVerification {
                required: UserVerification::Biometric,
                achieved: UserVerification::None
            }
        );
        // Signed by an `any` key (PIN).
        let mut a = answer(AnswerResult::Approve);
        a.user_verification = UserVerification::Any;
        let pin = VerifiedSignatures {
            user_verification: Some(UserVerification::Any),
            ..pop_only()
        };
        assert_eq!(
            refusal(&check_answer(&challenge, &a, &pin, ACTIVE, NOW)).code(),
            "insufficient_user_verification"
        );
        // Claiming biometric while the `any` key signed.
        a.user_verification = UserVerification::Biometric;
        assert_eq!(
            refusal(&check_answer(&challenge, &a, &pin, ACTIVE, NOW)),
            AnswerRefusal::UserVerificationMismatch
        );
        // The biometric key.
        let bio = VerifiedSignatures {
            user_verification: Some(UserVerification::Biometric),
            ..pop_only()
        };
        let ok = check_answer(&challenge, &a, &bio, ACTIVE, NOW);
        assert_eq!(
            ok.verdict,
            Ok(AnswerOutcome::Verified {
                kind: ChallengeKind::Push,
                user_verification: UserVerification::Biometric,
                user_presence: true,
                phishing_resistant: false,
            })
        );
    }

    #[test]
    fn no_biometric_key_is_answered_as_unavailable_with_the_capability() {
        let challenge = issued(binding(ChallengeKind::Push, UserVerification::Biometric));
        let mut a = answer(AnswerResult::UserVerificationUnavailable);
        a.biometric_capable = false;
        let decision = check_answer(&challenge, &a, &pop_only(), ACTIVE, NOW);
        assert_eq!(
            decision.verdict,
            Ok(AnswerOutcome::UserVerificationUnavailable {
                biometric_capable: false
            })
        );
        assert!(decision.consumes_challenge());
    }

    #[test]
    fn number_matching_needs_the_shown_number() {
        let mut b = binding(ChallengeKind::Push, UserVerification::None);
        b.number_challenge = true;
        let mut challenge = issued(b);
        challenge.expected_number = Some(37);
        let mut a = answer(AnswerResult::Approve);
        assert_eq!(
            refusal(&check_answer(&challenge, &a, &pop_only(), ACTIVE, NOW)),
            AnswerRefusal::NumberMismatch
        );
        a.number = Some(73);
        let wrong = check_answer(&challenge, &a, &pop_only(), ACTIVE, NOW);
        assert_eq!(refusal(&wrong), AnswerRefusal::NumberMismatch);
        assert!(wrong.consumes_challenge(), "a wrong guess uses the push up");
        a.number = Some(37);
        assert!(
            check_answer(&challenge, &a, &pop_only(), ACTIVE, NOW)
                .verdict
                .is_ok()
        );
        // A deny needs no number.
        assert_eq!(
            check_answer(&challenge, &answer(AnswerResult::Deny), &pop_only(), ACTIVE, NOW).verdict,
            Ok(AnswerOutcome::Denied)
        );
    }

    #[test]
    fn fastpass_with_user_presence_needs_a_confirmed_prompt() {
        let mut b = binding(ChallengeKind::Fastpass, UserVerification::None);
        b.user_presence = true;
        let challenge = issued(b);
        assert_eq!(
            refusal(&check_answer(
                &challenge,
                &answer(AnswerResult::Approve),
                &pop_only(),
                ACTIVE,
                NOW
            )),
            AnswerRefusal::UserPresenceMissing
        );
        let mut a = answer(AnswerResult::Approve);
        a.user_presence = true;
        assert!(
            check_answer(&challenge, &a, &pop_only(), ACTIVE, NOW)
                .verdict
                .is_ok()
        );
    }

    #[test]
    fn results_must_fit_the_challenge_kind() {
        let push = issued(binding(ChallengeKind::Push, UserVerification::None));
        let register = check_answer(
            &push,
            &answer(AnswerResult::RegisterUserVerificationKey),
            &pop_only(),
            ACTIVE,
            NOW,
        );
        assert_eq!(refusal(&register).code(), "result_not_allowed");
        let enroll = issued(binding(
            ChallengeKind::EnrollUserVerification,
            UserVerification::Biometric,
        ));
        assert_eq!(
            refusal(&check_answer(
                &enroll,
                &answer(AnswerResult::Approve),
                &pop_only(),
                ACTIVE,
                NOW
            ))
            .code(),
            "result_not_allowed"
        );
    }

    #[test]
    fn a_new_key_must_sign_and_reach_the_requested_level() {
        let enroll = issued(binding(
            ChallengeKind::EnrollUserVerification,
            UserVerification::Biometric,
        ));
        let mut a = answer(AnswerResult::RegisterUserVerificationKey);
        let key = NewUserVerificationKey {
            thumbprint: KeyThumbprint::parse(&"t".repeat(43)).unwrap(),
            level: UserVerification::Biometric,
        };
        a.new_key = Some(key.clone());
        assert_eq!(
            refusal(&check_answer(&enroll, &a, &pop_only(), ACTIVE, NOW)),
            AnswerRefusal::NewKeyNotProven
        );
        let both = VerifiedSignatures {
            new_key: true,
            ..pop_only()
        };
        assert_eq!(
            check_answer(&enroll, &a, &both, ACTIVE, NOW).verdict,
            Ok(AnswerOutcome::UserVerificationKeyOffered(key))
        );
        a.new_key = Some(NewUserVerificationKey {
            thumbprint: KeyThumbprint::parse(&"t".repeat(43)).unwrap(),
            level: UserVerification::Any,
        });
        assert_eq!(
            refusal(&check_answer(&enroll, &a, &both, ACTIVE, NOW)).code(),
            "insufficient_user_verification"
        );
    }

    fn any_level() -> impl Strategy<Value = UserVerification> {
        prop_oneof![
            Just(UserVerification::None),
            Just(UserVerification::Any),
            Just(UserVerification::Biometric)
        ]
    }

    proptest! {
        /// No answer is ever accepted at or after the challenge's expiry, whatever it says.
        #[test]
        fn nothing_is_accepted_after_expiry(late in 0u64..10_000, result_index in 0usize..5, uv in any_level()) {
            let challenge = issued(binding(ChallengeKind::Fastpass, uv));
            let mut a = answer(AnswerResult::ALL[result_index]);
            a.user_verification = uv;
            let sigs = VerifiedSignatures {
                proof_of_possession: true,
                user_verification: (uv != UserVerification::None).then_some(uv),
                new_key: true,
            };
            let decision = check_answer(&challenge, &a, &sigs, ACTIVE, NOW + CHALLENGE_LIFETIME_SECONDS + late);
            prop_assert_eq!(decision.verdict, Err(AnswerRefusal::Expired));
        }

        /// An approval is accepted only when the key that signed reaches the required level, and
        /// the record then carries exactly that key's level.
        #[test]
        fn approvals_carry_the_signing_keys_level(required in any_level(), signed in any_level()) {
            let challenge = issued(binding(ChallengeKind::Push, required));
            let mut a = answer(AnswerResult::Approve);
            a.user_verification = signed;
            let sigs = VerifiedSignatures {
                proof_of_possession: true,
                user_verification: (signed != UserVerification::None).then_some(signed),
                new_key: false,
            };
            let decision = check_answer(&challenge, &a, &sigs, ACTIVE, NOW);
            match decision.verdict {
                Ok(AnswerOutcome::Verified { user_verification, .. }) => {
                    prop_assert!(signed.satisfies(required));
                    prop_assert_eq!(user_verification, signed);
                }
                Ok(other) => prop_assert!(false, "unexpected outcome {:?}", other),
                Err(refusal) => {
                    prop_assert!(!signed.satisfies(required));
                    prop_assert_eq!(refusal.code(), "insufficient_user_verification");
                }
            }
        }

        /// The signed message changes whenever any bound field changes (no two different
        /// challenges or answers share the bytes a key signs).
        #[test]
        fn signed_messages_are_injective(
            expires in 0u64..u64::MAX,
            number in proptest::option::of(0u32..100),
            presence in any::<bool>(),
            uv in any_level(),
        ) {
            let mut b = binding(ChallengeKind::Push, uv);
            b.expires_at = expires;
            let mut a = answer(AnswerResult::Approve);
            a.number = number;
            a.user_presence = presence;
            let base = a.signed_message(&b);
            let mut b2 = b.clone();
            b2.expires_at = expires.wrapping_add(1);
            prop_assert_ne!(&base, &a.signed_message(&b2));
            let mut b3 = b.clone();
            b3.kind = ChallengeKind::Fastpass;
            prop_assert_ne!(&base, &a.signed_message(&b3));
            let mut a2 = a.clone();
            a2.number = number.map_or(Some(0), |n| Some(n + 1));
            prop_assert_ne!(&base, &a2.signed_message(&b));
            let mut a3 = a.clone();
            a3.user_presence = !presence;
            prop_assert_ne!(&base, &a3.signed_message(&b));
            let mut a4 = a.clone();
            a4.origin = Origin::parse("https://evil.example").unwrap();
            prop_assert_ne!(&base, &a4.signed_message(&b));
        }
    }
}
