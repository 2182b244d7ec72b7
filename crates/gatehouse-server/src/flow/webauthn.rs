//! WebAuthn in a flow (DESIGN sections 3 and 5, `docs/webauthn.md`): the ceremonies' options and
//! server-side state, checking a registration or an assertion, and what a credential proves.
//!
//! One ceremony at a time lives in the flow's data ([`Ceremony`]): a discoverable assertion on
//! the identify screen (passkey sign-in), an assertion for a `webauthn` challenge, or a
//! registration for an inline or self-service enrollment. Each is used once: any answer, right
//! or wrong, consumes it, and the next state carries a fresh challenge.
//!
//! The ceremonies use `webauthn-rs-core` directly with user verification `preferred`, so the
//! authenticator reports honestly whether it verified the user and the policy decides: an
//! assertion without the UV flag proves user verification `none`, and a step whose rule
//! demands `any` refuses it with a message that says why.

use std::time::Duration;

use gatehouse_core::model::{AuthenticatorKey, Enrollment, Method, User, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationCaList, AttestationConveyancePreference, AuthenticationResult, AuthenticationState,
    Credential, ParsedAttestationData, PublicKeyCredential, RegisterPublicKeyCredential, RegistrationState,
    UserVerificationPolicy,
};

use super::data::{Current, FlowData, Pending};
use crate::{AppState, ServerError};

/// How long the browser may take for one ceremony.
const TIMEOUT: Duration = Duration::from_secs(300);

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CeremonyKind {
    /// A discoverable-credential assertion on the identify screen (passkey sign-in).
    Discover,
    /// An assertion for the current `webauthn` challenge.
    Authenticate,
    /// A registration for the current `webauthn` enrollment.
    Register,
}

/// A ceremony in progress: the options the client gets and the relying party's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ceremony {
    pub kind: CeremonyKind,
    /// The user it was issued for (none for a discoverable assertion).
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// `PublicKeyCredentialCreationOptions` or `PublicKeyCredentialRequestOptions`, JSON form.
    pub options: Value,
    /// `webauthn-rs-core`'s `RegistrationState` or `AuthenticationState`.
    pub state: Value,
}

/// The method data of a `webauthn` enrollment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebauthnData {
    /// The credential id, base64url without padding (what `rawId` carries).
    pub credential_id: String,
    /// `webauthn-rs-core`'s credential: public key, flags, the registration's UV policy. Its
    /// signature counter is not authoritative: the enrollment's `counter` is.
    pub credential: Value,
    /// The attestation was verified as a hardware authenticator.
    #[serde(default)]
    pub attested: bool,
}

/// Why a WebAuthn answer was refused, for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub text: String,
}

impl Refusal {
    fn new(code: &'static str, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }
}

/// The message for an assertion without user verification where the rule demands it.
pub const UV_REQUIRED: (&str, &str) = (
    "user_verification_required",
    "This sign-in requires a security key or passkey that verifies you with a PIN or biometrics, \
     and yours did not verify you. Use one that does (set a PIN on it), or choose another way.",
);

/// Reads the trusted attestation roots (PEM files, one certificate each); `None` when there are
/// none.
pub fn attestation_roots(files: &[std::path::PathBuf]) -> Result<Option<AttestationCaList>, ServerError> {
    let mut roots: Option<AttestationCaList> = None;
    for file in files {
        let bad = |reason: String| ServerError::Config {
            what: format!("the WebAuthn attestation root {}", file.display()),
            reason,
        };
        let pem = std::fs::read(file).map_err(|e| bad(e.to_string()))?;
        let one = AttestationCaList::try_from(pem.as_slice())
            .map_err(|e| bad(format!("not a PEM certificate: {e:?}")))?;
        match &mut roots {
            Some(all) => all.union(&one),
            None => roots = Some(one),
        }
    }
    Ok(roots)
}

/// The relying party of this server: the issuer's host as RP ID, its origin as the only origin.
pub fn relying_party(state: &AppState) -> Result<WebauthnCore, ServerError> {
    let issuer = state.issuer().as_str();
    let bad = |reason: &str| ServerError::Config {
        what: format!("the issuer `{issuer}` as a WebAuthn relying party"),
        reason: reason.to_owned(),
    };
    let url = Url::parse(issuer).map_err(|e| bad(&e.to_string()))?;
    let host = url.host_str().ok_or_else(|| bad("it has no host"))?.to_owned();
    let origin = Url::parse(&url.origin().ascii_serialization()).map_err(|e| bad(&e.to_string()))?;
    Ok(WebauthnCore::new_unsafe_experts_only(
        "Gatehouse",
        &host,
        vec![origin],
        TIMEOUT,
        Some(false),
        Some(false),
    ))
}

fn corrupt(what: &str, reason: impl ToString) -> ServerError {
    ServerError::Corrupt {
        what: what.to_owned(),
        reason: reason.to_string(),
    }
}

/// The stored credential of a `webauthn` enrollment, with the enrollment's counter.
pub fn credential_of(enrollment: &Enrollment) -> Result<(WebauthnData, Credential), ServerError> {
    let data: WebauthnData = serde_json::from_value(enrollment.data.clone())
        .map_err(|e| corrupt(&format!("webauthn enrollment {}", enrollment.id), e))?;
    let mut credential: Credential = serde_json::from_value(data.credential.clone())
        .map_err(|e| corrupt(&format!("webauthn enrollment {}", enrollment.id), e))?;
    credential.counter = enrollment
        .counter
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0);
    Ok((data, credential))
}

fn active_webauthn(enrollments: &[Enrollment]) -> impl Iterator<Item = &Enrollment> {
    enrollments
        .iter()
        .filter(|e| e.is_active() && e.authenticator == AuthenticatorKey::Webauthn)
}

/// The ceremony the flow's current step needs: kept when it still fits, issued afresh when it
/// does not (or was consumed), dropped when the step needs none. Passkey sign-in is offered on
/// the identify screen only once someone has a passkey, so organisations without WebAuthn see
/// the plain identify step (as FastPass does for devices).
pub async fn ensure(
    state: &AppState,
    data: &mut FlowData,
    user: Option<&User>,
    enrollments: &[Enrollment],
) -> Result<(), ServerError> {
    if data.status != super::data::Status::InProgress {
        data.webauthn = None;
        return Ok(());
    }
    let wanted = match (&data.pending, &data.current) {
        (Pending::Identify, _) if data.identity.is_none() => Some(CeremonyKind::Discover),
        (
            Pending::Verify { .. },
            Some(Current::Challenge {
                authenticator: AuthenticatorKey::Webauthn,
                ..
            }),
        ) if user.is_some() => Some(CeremonyKind::Authenticate),
        (
            Pending::Enroll { .. },
            Some(Current::Enroll {
                authenticator: AuthenticatorKey::Webauthn,
                ..
            }),
        ) if user.is_some() => Some(CeremonyKind::Register),
        _ => None,
    };
    let user_id = user.map(|u| u.id);
    let Some(kind) = wanted else {
        data.webauthn = None;
        return Ok(());
    };
    if kind == CeremonyKind::Discover
        && data.webauthn.as_ref().is_none_or(|c| c.kind != kind)
        && !state
            .store()
            .enrollments()
            .any_active_of(AuthenticatorKey::Webauthn)
            .await?
    {
        data.webauthn = None;
        return Ok(());
    }
    let fits = data
        .webauthn
        .as_ref()
        .is_some_and(|c| c.kind == kind && (kind == CeremonyKind::Discover || c.user_id == user_id));
    if fits {
        return Ok(());
    }
    let rp = relying_party(state)?;
    let ceremony = match (kind, user) {
        (CeremonyKind::Discover, _) => {
            let builder = rp
                .new_challenge_authenticate_builder(Vec::new(), Some(UserVerificationPolicy::Preferred))
                .map_err(|e| corrupt("a webauthn challenge", e))?;
            let (options, rp_state) = rp
                .generate_challenge_authenticate(builder)
                .map_err(|e| corrupt("a webauthn challenge", e))?;
            ceremony(kind, None, &options.public_key, &rp_state)?
        }
        (CeremonyKind::Authenticate, Some(user)) => {
            let credentials = active_webauthn(enrollments)
                .map(|e| credential_of(e).map(|(_, c)| c))
                .collect::<Result<Vec<_>, _>>()?;
            if credentials.is_empty() {
                data.webauthn = None;
                return Ok(());
            }
            let builder = rp
                .new_challenge_authenticate_builder(credentials, Some(UserVerificationPolicy::Preferred))
                .map_err(|e| corrupt("a webauthn challenge", e))?
                .allow_backup_eligible_upgrade(true);
            let (options, rp_state) = rp
                .generate_challenge_authenticate(builder)
                .map_err(|e| corrupt("a webauthn challenge", e))?;
            ceremony(kind, Some(user.id), &options.public_key, &rp_state)?
        }
        (CeremonyKind::Register, Some(user)) => {
            let exclude = active_webauthn(enrollments)
                .map(|e| credential_of(e).map(|(_, c)| c.cred_id))
                .collect::<Result<Vec<_>, _>>()?;
            let name = user.login.as_str();
            let display = if user.display_name.as_str().is_empty() {
                name
            } else {
                user.display_name.as_str()
            };
            let builder = rp
                .new_challenge_register_builder(user.id.as_uuid().as_bytes(), name, display)
                .map_err(|e| corrupt("a webauthn registration", e))?
                .attestation(if state.flow().attestation_cas.is_some() {
                    AttestationConveyancePreference::Direct
                } else {
                    AttestationConveyancePreference::None
                })
                .user_verification_policy(UserVerificationPolicy::Preferred)
                .require_resident_key(true)
                .exclude_credentials(Some(exclude));
            let (options, rp_state) = rp
                .generate_challenge_register(builder)
                .map_err(|e| corrupt("a webauthn registration", e))?;
            ceremony(kind, Some(user.id), &options.public_key, &rp_state)?
        }
        _ => {
            data.webauthn = None;
            return Ok(());
        }
    };
    data.webauthn = Some(ceremony);
    Ok(())
}

fn ceremony<O: Serialize, S: Serialize>(
    kind: CeremonyKind,
    user_id: Option<UserId>,
    options: &O,
    rp_state: &S,
) -> Result<Ceremony, ServerError> {
    Ok(Ceremony {
        kind,
        user_id,
        options: serde_json::to_value(options).map_err(|e| corrupt("webauthn options", e))?,
        state: serde_json::to_value(rp_state).map_err(|e| corrupt("a webauthn state", e))?,
    })
}

/// Takes the flow's ceremony of `kind` out of it (single use).
pub fn take(data: &mut FlowData, kind: CeremonyKind) -> Option<Ceremony> {
    match data.webauthn.take() {
        Some(c) if c.kind == kind => Some(c),
        other => {
            data.webauthn = other;
            None
        }
    }
}

/// A checked registration: the enrollment's method data and what it can prove.
#[derive(Debug, Clone)]
pub struct Registered {
    pub data: WebauthnData,
    pub counter: u32,
    pub user_verified: bool,
    pub hardware_protected: bool,
}

/// Checks the answer to a registration ceremony.
pub fn finish_registration(
    state: &AppState,
    ceremony: &Ceremony,
    answer: &Value,
) -> Result<Result<Registered, Refusal>, ServerError> {
    let Ok(credential) = serde_json::from_value::<RegisterPublicKeyCredential>(answer.clone()) else {
        return Ok(Err(malformed()));
    };
    let rp_state: RegistrationState =
        serde_json::from_value(ceremony.state.clone()).map_err(|e| corrupt("a webauthn state", e))?;
    let rp = relying_party(state)?;
    // A credential is hardware protected only when its attestation chains to a configured root
    // (DESIGN 3; docs/webauthn.md). An attestation that does not is no reason to refuse the key:
    // it is registered as not hardware protected.
    let trusted = state
        .flow()
        .attestation_cas
        .as_ref()
        .and_then(|roots| rp.register_credential(&credential, &rp_state, Some(roots)).ok())
        .filter(|c| {
            matches!(
                c.attestation.data,
                ParsedAttestationData::Basic(_)
                    | ParsedAttestationData::AttCa(_)
                    | ParsedAttestationData::AnonCa(_)
            )
        });
    let hardware_protected = trusted.is_some();
    let checked = match trusted {
        Some(c) => Ok(c),
        None => rp.register_credential(&credential, &rp_state, None),
    };
    let registered = match checked {
        Ok(c) => c,
        Err(
            WebauthnError::CredentialAlteredAlgFromRequest | WebauthnError::CredentialExcludedFromRequest,
        ) => {
            return Ok(Err(Refusal::new(
                "already_registered",
                "That security key or passkey is already set up for your account.",
            )));
        }
        Err(e) => {
            tracing::info!(error = %e, "a webauthn registration was refused");
            return Ok(Err(Refusal::new(
                "invalid_credential",
                "The security key or passkey could not be set up. Try again.",
            )));
        }
    };
    let credential_id = base64url(registered.cred_id.as_slice());
    Ok(Ok(Registered {
        counter: registered.counter,
        user_verified: registered.user_verified,
        hardware_protected,
        data: WebauthnData {
            credential_id,
            credential: serde_json::to_value(&registered).map_err(|e| corrupt("a webauthn credential", e))?,
            attested: hardware_protected,
        },
    }))
}

/// A checked assertion.
#[derive(Debug, Clone)]
pub struct Asserted {
    pub enrollment: Enrollment,
    pub user_verified: bool,
    /// The new signature counter, when the authenticator keeps one.
    pub counter: Option<i64>,
}

impl Asserted {
    /// What the assertion proves (DESIGN section 3): user verification `any` only with the UV
    /// flag, hardware protection as the enrollment's attestation said.
    pub fn facts(&self) -> gatehouse_policy::VerificationFacts {
        gatehouse_policy::VerificationFacts {
            hardware_protected: self.enrollment.hardware_protected,
            user_verification: if self.user_verified {
                gatehouse_policy::UserVerification::Any
            } else {
                gatehouse_policy::UserVerification::None
            },
            ..gatehouse_policy::VerificationFacts::default()
        }
    }
}

/// The answer to an assertion ceremony, parsed.
pub fn parse_assertion(answer: &Value) -> Result<PublicKeyCredential, Refusal> {
    serde_json::from_value::<PublicKeyCredential>(answer.clone()).map_err(|_| malformed())
}

/// The user a discoverable assertion names (its `userHandle`).
pub fn user_handle(assertion: &PublicKeyCredential) -> Option<UserId> {
    let handle = assertion.response.user_handle.as_deref()?;
    uuid::Uuid::from_slice(handle).ok().map(UserId::from_uuid)
}

/// Checks an assertion against the user's active `webauthn` enrollments.
pub fn finish_assertion(
    state: &AppState,
    ceremony: &Ceremony,
    assertion: &PublicKeyCredential,
    enrollments: &[Enrollment],
) -> Result<Result<Asserted, Refusal>, ServerError> {
    let raw_id = base64url(&assertion.raw_id);
    let Some(enrollment) = active_webauthn(enrollments)
        .find(|e| e.data.get("credential_id").and_then(Value::as_str) == Some(raw_id.as_str()))
    else {
        return Ok(Err(Refusal::new(
            "unknown_credential",
            "That security key or passkey is not set up for this account.",
        )));
    };
    let (_, credential) = credential_of(enrollment)?;
    let rp_state: AuthenticationState =
        serde_json::from_value(ceremony.state.clone()).map_err(|e| corrupt("a webauthn state", e))?;
    let rp = relying_party(state)?;
    let result: AuthenticationResult = match rp.authenticate_single_credential(
        assertion,
        &rp_state,
        &credential,
    ) {
        Ok(r) => r,
        Err(WebauthnError::UserNotVerified) => {
            let (code, text) = UV_REQUIRED;
            return Ok(Err(Refusal::new(code, text)));
        }
        Err(WebauthnError::CredentialPossibleCompromise) => {
            tracing::warn!(enrollment = %enrollment.id, "a webauthn signature counter went backwards: possible clone");
            return Ok(Err(Refusal::new(
                "possible_clone",
                "This security key's signature counter went backwards, which happens when a key has been \
                 copied. It was refused; ask your administrator.",
            )));
        }
        Err(e) => {
            tracing::info!(error = %e, "a webauthn assertion was refused");
            return Ok(Err(Refusal::new(
                "invalid_credential",
                "The security key or passkey could not be verified. Try again.",
            )));
        }
    };
    Ok(Ok(Asserted {
        enrollment: enrollment.clone(),
        user_verified: result.user_verified(),
        counter: (result.counter() > 0).then_some(i64::from(result.counter())),
    }))
}

fn malformed() -> Refusal {
    Refusal::new(
        "invalid_credential",
        "The answer is not a WebAuthn credential (`PublicKeyCredential.toJSON()`).",
    )
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The credential id of a `webauthn` enrollment (for listings).
pub fn credential_id(enrollment: &Enrollment) -> Option<&str> {
    (enrollment.authenticator == AuthenticatorKey::Webauthn)
        .then(|| enrollment.data.get("credential_id").and_then(Value::as_str))
        .flatten()
}

/// The method every `webauthn` verification uses.
pub const METHOD: Method = Method::Webauthn;
