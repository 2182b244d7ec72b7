//! Opaque tokens: claims sealed with AES-256-GCM instead of signed, for tokens that only the
//! issuer reads (access tokens a rule asks to be opaque, read back at userinfo, introspection and
//! revocation).
//!
//! A token is `ghat.<kid>.<base64url(salt ‖ ciphertext ‖ tag)>`. `kid` names the signing key of the
//! [`KeySet`] whose secret the sealing key derives from, so a token lives exactly as long as the
//! key that sealed it stays in the set (rotation retires keys as it does for JWTs) and every node
//! that shares the key set opens every token. Each token has its own AES key,
//! `HMAC-SHA256(base, salt)` for a random 128-bit salt, where `base` is
//! `HMAC-SHA256(PKCS#8 of the signing key, "gatehouse opaque token v1")`; with a fresh key per
//! token the all-zero nonce is never reused under one key, and there is no limit on how many
//! tokens one signing key seals (random 96-bit nonces under a single key would allow about 2³²).
//! The token's type (`at+jwt`) and `kid` are the associated data, so a token of one type never
//! opens as another. The claims are checked as a JWT's are ([`JwtExpectations`]: issuer,
//! audience, expiry, not-before), except the algorithm list, which does not apply.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::CryptoError;
use crate::signing::{Audience, JwtExpectations, KeySet, SigningAlgorithm, SigningKey, VerifiedJwt};

/// The first characters of every opaque token: what tells one from a JWT or a refresh token.
pub const OPAQUE_PREFIX: &str = "ghat.";
const SALT_LEN: usize = 16;
const TAG_LEN: usize = 16;
const BASE_LABEL: &[u8] = b"gatehouse opaque token v1";

/// Whether `token` has the shape of an opaque token (not whether it opens).
pub fn is_opaque(token: &str) -> bool {
    token.starts_with(OPAQUE_PREFIX)
}

/// The base key of a signing key's opaque tokens, ready to derive each token's key (kept with
/// the signing key, so a token costs one HMAC, not a key schedule as well).
pub(crate) fn base_key(pkcs8: &[u8]) -> hmac::Key {
    let base = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, pkcs8), BASE_LABEL);
    hmac::Key::new(hmac::HMAC_SHA256, base.as_ref())
}

/// The AEAD key of one token.
fn token_key(key: &SigningKey, salt: &[u8]) -> Result<LessSafeKey, CryptoError> {
    let tag = hmac::sign(key.opaque_base(), salt);
    let unbound = UnboundKey::new(&AES_256_GCM, tag.as_ref()).map_err(|_| CryptoError::SigningFailed)?;
    Ok(LessSafeKey::new(unbound))
}

fn aad(typ: &str, kid: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(typ.len() + kid.len() + 1);
    aad.extend_from_slice(typ.as_bytes());
    aad.push(b' ');
    aad.extend_from_slice(kid.as_bytes());
    aad
}

impl KeySet {
    /// Seals `claims` into an opaque token of type `typ` under the active ES256 key.
    pub fn seal_opaque<T: Serialize + ?Sized>(&self, typ: &str, claims: &T) -> Result<String, CryptoError> {
        let key = self.active(SigningAlgorithm::Es256)?;
        let salt = crate::random::bytes::<SALT_LEN>();
        let mut sealed = Vec::with_capacity(512);
        sealed.extend_from_slice(&salt);
        serde_json::to_writer(&mut sealed, claims).map_err(|_| CryptoError::SigningFailed)?;
        let (_, body) = sealed.split_at_mut(SALT_LEN);
        let tag = token_key(key, &salt)?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([0; NONCE_LEN]),
                Aad::from(aad(typ, key.kid())),
                body,
            )
            .map_err(|_| CryptoError::SigningFailed)?;
        sealed.extend_from_slice(tag.as_ref());
        let mut token =
            String::with_capacity(OPAQUE_PREFIX.len() + key.kid().len() + 1 + sealed.len() * 4 / 3 + 4);
        token.push_str(OPAQUE_PREFIX);
        token.push_str(key.kid());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&sealed, &mut token);
        Ok(token)
    }

    /// Verifies a token that may be either form: a JWT against the set's public keys, or an
    /// opaque token of `expect.token_type` (one with no expected type is refused as malformed).
    pub fn verify_any(&self, token: &str, expect: &JwtExpectations<'_>) -> Result<VerifiedJwt, CryptoError> {
        if !is_opaque(token) {
            return self.verify(token, expect);
        }
        let typ = expect.token_type.ok_or(CryptoError::MalformedToken)?;
        self.open_opaque(typ, token, expect)
    }

    /// Opens an opaque token of type `typ` sealed by any key of this set, and checks its claims
    /// against `expect` (issuer, audience, expiry, not-before).
    pub fn open_opaque(
        &self,
        typ: &str,
        token: &str,
        expect: &JwtExpectations<'_>,
    ) -> Result<VerifiedJwt, CryptoError> {
        let rest = token
            .strip_prefix(OPAQUE_PREFIX)
            .ok_or(CryptoError::MalformedToken)?;
        let (kid, body) = rest.split_once('.').ok_or(CryptoError::MalformedToken)?;
        let key = self
            .keys()
            .map(|(k, _)| k)
            .find(|k| k.kid() == kid && k.algorithm() == SigningAlgorithm::Es256)
            .ok_or_else(|| CryptoError::UnknownTokenKey(kid.to_owned()))?;
        let mut sealed = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::MalformedToken)?;
        if sealed.len() < SALT_LEN + TAG_LEN {
            return Err(CryptoError::MalformedToken);
        }
        let (salt, body) = sealed.split_at_mut(SALT_LEN);
        let plaintext = token_key(key, salt)?
            .open_in_place(
                Nonce::assume_unique_for_key([0; NONCE_LEN]),
                Aad::from(aad(typ, kid)),
                body,
            )
            .map_err(|_| CryptoError::BadSignature)?;
        let claims: Map<String, Value> =
            serde_json::from_slice(plaintext).map_err(|_| CryptoError::MalformedToken)?;
        check_claims(&claims, expect)?;
        Ok(VerifiedJwt {
            kid: Some(kid.to_owned()),
            algorithm: SigningAlgorithm::Es256,
            claims,
        })
    }
}

fn check_claims(claims: &Map<String, Value>, expect: &JwtExpectations<'_>) -> Result<(), CryptoError> {
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == expect.issuer => {}
        Some(_) => return Err(CryptoError::TokenIssuer),
        None => return Err(CryptoError::TokenClaim("iss".into())),
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(CryptoError::TokenClaim("aud".into())),
    };
    if let Audience::OneOf(wanted) = expect.audience
        && !audiences.iter().any(|a| wanted.contains(a))
    {
        return Err(CryptoError::TokenAudience);
    }
    crate::signing::check_times(claims, expect)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::KeyStatus;
    use serde_json::json;

    const ISS: &str = "http://localhost:8080";
    const NOW: u64 = 1_800_000_000;
    const TYP: &str = "at+jwt";

    fn set() -> KeySet {
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        KeySet::new(vec![(key, KeyStatus::Active)]).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": ISS, "sub": "u1", "aud": ISS, "iat": NOW, "exp": NOW + 300, "scope": "openid"})
    }

    fn expect(now: u64) -> JwtExpectations<'static> {
        const AUD: &[&str] = &[ISS];
        JwtExpectations::new(ISS, Audience::OneOf(AUD), now)
    }

    #[test]
    fn sealed_claims_open_and_are_not_readable() {
        let set = set();
        let token = set.seal_opaque(TYP, &claims()).unwrap();
        assert!(is_opaque(&token));
        assert!(token.starts_with(&format!(
            "ghat.{}.",
            set.active(SigningAlgorithm::Es256).unwrap().kid()
        )));
        let body = token.rsplit('.').next().unwrap();
        let raw = URL_SAFE_NO_PAD.decode(body).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("openid"));
        let opened = set.open_opaque(TYP, &token, &expect(NOW)).unwrap();
        assert_eq!(opened.str_claim("sub"), Some("u1"));
        assert_eq!(opened.str_claim("scope"), Some("openid"));
        assert_ne!(
            token,
            set.seal_opaque(TYP, &claims()).unwrap(),
            "each token has its own salt"
        );
        let typed = expect(NOW).with_type(TYP);
        assert_eq!(set.verify_any(&token, &typed).unwrap(), opened);
        let jwt = set.sign_typed(SigningAlgorithm::Es256, TYP, &claims()).unwrap();
        assert_eq!(set.verify_any(&jwt, &typed).unwrap().str_claim("sub"), Some("u1"));
        assert_eq!(
            set.verify_any(&token, &expect(NOW)),
            Err(CryptoError::MalformedToken)
        );
    }

    #[test]
    fn a_flipped_bit_another_type_or_another_key_does_not_open() {
        let set = set();
        let token = set.seal_opaque(TYP, &claims()).unwrap();
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            set.open_opaque(TYP, &tampered, &expect(NOW)),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            set.open_opaque("logout+jwt", &token, &expect(NOW)),
            Err(CryptoError::BadSignature)
        );
        let other = set
            .rotate(SigningKey::generate(SigningAlgorithm::Es256).unwrap())
            .unwrap();
        let kid = set.active(SigningAlgorithm::Es256).unwrap().kid();
        let forged = token.replace(kid, other.active(SigningAlgorithm::Es256).unwrap().kid());
        assert_eq!(
            other.open_opaque(TYP, &forged, &expect(NOW)),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            set.open_opaque(TYP, "ghat.x", &expect(NOW)),
            Err(CryptoError::MalformedToken)
        );
        assert!(matches!(
            set.open_opaque(TYP, "ghat.nokey.AAAA", &expect(NOW)),
            Err(CryptoError::UnknownTokenKey(_))
        ));
    }

    #[test]
    fn a_retiring_key_still_opens_and_removal_ends_its_tokens() {
        let set = set();
        let token = set.seal_opaque(TYP, &claims()).unwrap();
        let rotated = set
            .rotate(SigningKey::generate(SigningAlgorithm::Es256).unwrap())
            .unwrap();
        assert!(rotated.open_opaque(TYP, &token, &expect(NOW)).is_ok());
        let old = set.active(SigningAlgorithm::Es256).unwrap().kid().to_owned();
        let removed = rotated.remove(&old).unwrap();
        assert!(matches!(
            removed.open_opaque(TYP, &token, &expect(NOW)),
            Err(CryptoError::UnknownTokenKey(_))
        ));
    }

    #[test]
    fn claims_are_checked_like_a_jwts() {
        let set = set();
        let token = set.seal_opaque(TYP, &claims()).unwrap();
        assert_eq!(
            set.open_opaque(TYP, &token, &expect(NOW + 301)),
            Err(CryptoError::TokenExpired)
        );
        assert_eq!(
            set.open_opaque(TYP, &token, &expect(NOW - 10)),
            Err(CryptoError::TokenNotYetValid)
        );
        let other_aud = JwtExpectations::new(ISS, Audience::OneOf(&["elsewhere"]), NOW);
        assert_eq!(
            set.open_opaque(TYP, &token, &other_aud),
            Err(CryptoError::TokenAudience)
        );
        let other_iss = JwtExpectations::new("https://evil.example", Audience::Any, NOW);
        assert_eq!(
            set.open_opaque(TYP, &token, &other_iss),
            Err(CryptoError::TokenIssuer)
        );
    }
}
