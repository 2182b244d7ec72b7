//! Checks of the claims in the device's own signed requests, once the caller has verified the
//! JWS signature: the registration proof (`gatehouse-device-registration+jwt`, bound to the
//! access token by `ath`) and the per-request proof (`gatehouse-device-request+jwt` in
//! `Authorization: Device …`, bound to method and URL by `htm`/`htu`, as DPoP does).

use std::fmt;

/// The longest `exp - iat` a device proof may carry.
pub const MAX_PROOF_LIFETIME_SECONDS: u64 = 120;
/// How far the device's clock may be ahead of the server's (`iat` in the future).
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 60;

/// The time claims of a proof, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofTimes {
    pub iat: u64,
    pub exp: u64,
}

/// The claims of a device proof that the server checks against the request it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofClaims<'a> {
    pub aud: &'a str,
    pub times: ProofTimes,
    /// Whether the proof's `jti` was already seen within its lifetime (the server keeps the
    /// `jti`s of unexpired proofs per enrollment, or per key for registrations).
    pub jti_seen: bool,
    pub htm: Option<&'a str>,
    pub htu: Option<&'a str>,
    pub ath: Option<&'a str>,
}

/// What the proof must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedProof<'a> {
    /// The server's issuer: the proof's `aud`.
    pub issuer: &'a str,
    /// For request proofs: the HTTP method and `issuer + path` (no query) of the request.
    pub method: Option<&'a str>,
    pub url: Option<&'a str>,
    /// For registration proofs: base64url(SHA-256(access token)).
    pub access_token_hash: Option<&'a str>,
}

/// Why a device proof was refused. All answer 401 `invalid_device_proof`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofRefusal {
    WrongAudience,
    Expired,
    IssuedInFuture,
    LifetimeTooLong,
    Replayed,
    WrongMethod,
    WrongUrl,
    WrongAccessToken,
}

impl ProofRefusal {
    pub fn code(self) -> &'static str {
        "invalid_device_proof"
    }

    pub fn http_status(self) -> u16 {
        401
    }
}

impl fmt::Display for ProofRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WrongAudience => "the device proof is meant for another server",
            Self::Expired => "the device proof has expired",
            Self::IssuedInFuture => "the device proof is issued in the future; check the device's clock",
            Self::LifetimeTooLong => "the device proof may live at most 120 seconds",
            Self::Replayed => "the device proof was already used",
            Self::WrongMethod => "the device proof was made for another HTTP method",
            Self::WrongUrl => "the device proof was made for another URL",
            Self::WrongAccessToken => "the registration proof is bound to another access token",
        })
    }
}

/// Checks the time claims alone: not expired (`now < exp`), not issued more than
/// [`MAX_CLOCK_SKEW_SECONDS`] in the future, and living at most [`MAX_PROOF_LIFETIME_SECONDS`].
pub fn check_proof_times(times: ProofTimes, now: u64) -> Result<(), ProofRefusal> {
    if times.exp <= times.iat || times.exp - times.iat > MAX_PROOF_LIFETIME_SECONDS {
        return Err(ProofRefusal::LifetimeTooLong);
    }
    if times.iat > now.saturating_add(MAX_CLOCK_SKEW_SECONDS) {
        return Err(ProofRefusal::IssuedInFuture);
    }
    if now >= times.exp {
        return Err(ProofRefusal::Expired);
    }
    Ok(())
}

/// Checks a proof's claims against the request it came with.
pub fn check_proof(
    claims: &ProofClaims<'_>,
    expected: &ExpectedProof<'_>,
    now: u64,
) -> Result<(), ProofRefusal> {
    if claims.aud != expected.issuer {
        return Err(ProofRefusal::WrongAudience);
    }
    check_proof_times(claims.times, now)?;
    if claims.jti_seen {
        return Err(ProofRefusal::Replayed);
    }
    if let Some(method) = expected.method
        && claims.htm.is_none_or(|htm| !htm.eq_ignore_ascii_case(method))
    {
        return Err(ProofRefusal::WrongMethod);
    }
    if let Some(url) = expected.url
        && claims.htu != Some(url)
    {
        return Err(ProofRefusal::WrongUrl);
    }
    if let Some(hash) = expected.access_token_hash
        && claims.ath != Some(hash)
    {
        return Err(ProofRefusal::WrongAccessToken);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;
    const ISSUER: &str = "http://localhost:8080";
    const URL: &str = "http://localhost:8080/api/v1/verify/pushes";

    fn request_claims() -> ProofClaims<'static> {
        ProofClaims {
            aud: ISSUER,
            times: ProofTimes {
                iat: NOW,
                exp: NOW + 60,
            },
            jti_seen: false,
            htm: Some("GET"),
            htu: Some(URL),
            ath: None,
        }
    }

    const EXPECTED: ExpectedProof<'static> = ExpectedProof {
        issuer: ISSUER,
        method: Some("GET"),
        url: Some(URL),
        access_token_hash: None,
    };

    #[test]
    fn a_fresh_request_proof_for_this_request_passes() {
        assert_eq!(check_proof(&request_claims(), &EXPECTED, NOW + 5), Ok(()));
    }

    #[test]
    fn replayed_expired_or_misdirected_proofs_are_refused() {
        let replay = ProofClaims {
            jti_seen: true,
            ..request_claims()
        };
        assert_eq!(check_proof(&replay, &EXPECTED, NOW), Err(ProofRefusal::Replayed));
        assert_eq!(
            check_proof(&request_claims(), &EXPECTED, NOW + 60),
            Err(ProofRefusal::Expired)
        );
        let post = ProofClaims {
            htm: Some("POST"),
            ..request_claims()
        };
        assert_eq!(check_proof(&post, &EXPECTED, NOW), Err(ProofRefusal::WrongMethod));
        let other_url = ProofClaims {
            htu: Some("http://localhost:8080/api/v1/verify/enrollment"),
            ..request_claims()
        };
        assert_eq!(
            check_proof(&other_url, &EXPECTED, NOW),
            Err(ProofRefusal::WrongUrl)
        );
        let other_server = ProofClaims {
            aud: "https://other.example",
            ..request_claims()
        };
        assert_eq!(
            check_proof(&other_server, &EXPECTED, NOW),
            Err(ProofRefusal::WrongAudience)
        );
    }

    #[test]
    fn time_claims_bound_skew_and_lifetime() {
        assert_eq!(
            check_proof_times(
                ProofTimes {
                    iat: NOW + 61,
                    exp: NOW + 120
                },
                NOW
            ),
            Err(ProofRefusal::IssuedInFuture)
        );
        assert_eq!(
            check_proof_times(
                ProofTimes {
                    iat: NOW + 60,
                    exp: NOW + 120
                },
                NOW
            ),
            Ok(())
        );
        assert_eq!(
            check_proof_times(
                ProofTimes {
                    iat: NOW,
                    exp: NOW + 121
                },
                NOW
            ),
            Err(ProofRefusal::LifetimeTooLong)
        );
        assert_eq!(
            check_proof_times(ProofTimes { iat: NOW, exp: NOW }, NOW),
            Err(ProofRefusal::LifetimeTooLong)
        );
    }

    #[test]
    fn registration_proofs_are_bound_to_the_access_token() {
        let claims = ProofClaims {
            htm: None,
            htu: None,
            ath: Some("hash-of-token-a"),
            ..request_claims()
        };
        let expected = ExpectedProof {
            issuer: ISSUER,
            method: None,
            url: None,
            access_token_hash: Some("hash-of-token-b"),
        };
        assert_eq!(
            check_proof(&claims, &expected, NOW),
            Err(ProofRefusal::WrongAccessToken)
        );
        let same = ExpectedProof {
            access_token_hash: Some("hash-of-token-a"),
            ..expected
        };
        assert_eq!(check_proof(&claims, &same, NOW), Ok(()));
    }
}
