//! Challenges to devices (protocol 5): issued for a flow step or remediation, stored with their
//! binding, signed as a compact JWS with the server's ES256 key, and queued for the push
//! long-poll when delivered by push.

use gatehouse_api::device as wire;
use gatehouse_core::device::{
    CHALLENGE_LIFETIME_SECONDS, ChallengeAudience, ChallengeBinding, ChallengeId, ChallengeKind,
    IssuedChallenge, Nonce, Origin, UserVerification,
};
use gatehouse_crypto::{SigningAlgorithm, random};
use gatehouse_store::Tx;

use crate::{AppState, ServerError};

/// What to issue.
#[derive(Debug, Clone)]
pub struct ChallengeSpec {
    pub kind: ChallengeKind,
    pub audience: ChallengeAudience,
    pub user_verification: UserVerification,
    pub user_presence: bool,
    pub number_challenge: bool,
    /// The flow the challenge belongs to.
    pub flow_id: Option<String>,
    /// The user id, when the flow knows the user.
    pub sub: Option<String>,
    /// `(client_id, name)` of the app being signed in to, shown with a push.
    pub app: Option<(String, String)>,
    pub client_ip: Option<String>,
}

/// An issued challenge.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: String,
    /// The compact JWS.
    pub request: String,
    /// The number shown on the sign-in page (number matching).
    pub expected_number: Option<u32>,
    pub expires_at: u64,
}

fn unix(state: &AppState) -> u64 {
    u64::try_from(state.now().as_second()).unwrap_or(0)
}

/// The origin every challenge is bound to: the issuer's (the sign-in page's origin).
pub fn server_origin(state: &AppState) -> Result<Origin, ServerError> {
    Origin::of_url(state.issuer().as_str()).map_err(|e| ServerError::Config {
        what: "the issuer's origin".into(),
        reason: e.to_string(),
    })
}

fn kind_to_wire(kind: ChallengeKind) -> wire::ChallengeKind {
    match kind {
        ChallengeKind::Fastpass => wire::ChallengeKind::Fastpass,
        ChallengeKind::Push => wire::ChallengeKind::Push,
        ChallengeKind::EnrollUserVerification => wire::ChallengeKind::EnrollUserVerification,
    }
}

/// Issues a challenge inside `tx`: stores it and returns its signed JWS.
pub async fn issue(state: &AppState, tx: &mut Tx, spec: &ChallengeSpec) -> Result<Issued, ServerError> {
    let now = unix(state);
    let id = format!("ch_{}", random::token::<16>());
    let nonce = random::token::<18>();
    let origin = server_origin(state)?;
    let expires_at = now + CHALLENGE_LIFETIME_SECONDS;
    let corrupt = |e: gatehouse_core::CoreError| ServerError::Corrupt {
        what: "a new challenge".into(),
        reason: e.to_string(),
    };
    let binding = ChallengeBinding {
        id: ChallengeId::parse(&id).map_err(corrupt)?,
        kind: spec.kind,
        nonce: Nonce::parse(&nonce).map_err(corrupt)?,
        origin: origin.clone(),
        expires_at,
        user_verification: spec.user_verification,
        user_presence: spec.user_presence,
        number_challenge: spec.number_challenge,
    };
    let expected_number = spec.number_challenge.then(|| {
        let [a, b] = random::bytes::<2>();
        10 + u32::from(u16::from_be_bytes([a, b]) % 90)
    });
    let issued = IssuedChallenge {
        binding,
        audience: spec.audience.clone(),
        expected_number,
        answered: false,
    };
    tx.device_challenges()
        .insert(&issued, spec.flow_id.as_deref(), state.now())
        .await?;
    let enrollment_id = match &spec.audience {
        ChallengeAudience::Enrollment(e) => Some(e.as_str().to_owned()),
        _ => None,
    };
    let claims = wire::ChallengeClaims {
        iss: state.issuer().as_str().to_owned(),
        aud: wire::CHALLENGE_AUDIENCE.to_owned(),
        iat: now,
        exp: expires_at,
        jti: id.clone(),
        nonce,
        kind: kind_to_wire(spec.kind),
        origin: origin.as_str().to_owned(),
        user_verification: super::uv_to_wire(spec.user_verification),
        user_presence: spec.user_presence,
        number_challenge: spec.number_challenge,
        sub: spec.sub.clone(),
        enrollment_id,
        app: spec
            .app
            .clone()
            .map(|(client_id, name)| wire::ChallengeApp { client_id, name }),
        client_ip: spec.client_ip.clone(),
    };
    let request = super::keys(state)
        .await?
        .sign_typed(SigningAlgorithm::Es256, wire::jws_type::CHALLENGE, &claims)
        .map_err(ServerError::Crypto)?;
    Ok(Issued {
        id,
        request,
        expected_number,
        expires_at,
    })
}

/// Queues an issued challenge for an enrollment's push long-poll (inside `tx`); call
/// [`super::VerifyState::wake`] after the commit.
pub async fn queue_push(tx: &mut Tx, enrollment: &str, issued: &Issued) -> Result<(), ServerError> {
    tx.device_challenges()
        .queue_push(enrollment, &issued.id, &issued.request, issued.expires_at)
        .await?;
    Ok(())
}
