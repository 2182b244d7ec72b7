//! Token signing keys, the key set and its JWKS, and JWT verification.
//!
//! - [`SigningKey`]: an ES256 (P-256) or RS256 (RSA 2048) private key, generated here or loaded
//!   from PKCS#8 DER bytes (sealing them at rest is the caller's job, with [`crate::Keyring`]).
//!   Its `kid` is the RFC 7638 SHA-256 thumbprint of its public JWK, so the same key always has the
//!   same id. The parsed key pair is kept, so signing costs one signature and nothing more.
//! - [`KeySet`]: the provider's keys, at most one [`KeyStatus::Active`] key per algorithm (the one
//!   that signs) and any number of [`KeyStatus::Retiring`] keys, which no longer sign but are still
//!   published so that tokens they signed keep verifying until they expire.
//! - [`Jwks`]: public keys only, as served at the JWKS endpoint or fetched from elsewhere, with
//!   [`Jwks::verify`] checking a compact JWT against [`JwtExpectations`] (issuer, audience,
//!   algorithms, type, leeway and the caller's `now`; the clock is never read here).
//!
//! Signing uses aws-lc-rs directly; JWK building, thumbprints and signature verification go through
//! jsonwebtoken (its `aws_lc_rs` backend). No RustCrypto or `rsa` crate types cross this API: keys
//! are bytes or JSON.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters, EllipticCurveKeyType,
    Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, RSAKeyParameters, RSAKeyType, ThumbprintHash,
};
use jsonwebtoken::{DecodingKey, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::CryptoError;

/// The signature algorithms Gatehouse signs and verifies tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SigningAlgorithm {
    /// ECDSA over P-256 with SHA-256: the default for every token.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for relying parties that cannot verify ES256.
    Rs256,
}

impl SigningAlgorithm {
    pub const ALL: [Self; 2] = [Self::Es256, Self::Rs256];

    /// The JOSE name: `ES256` or `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl FromStr for SigningAlgorithm {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ES256" => Ok(Self::Es256),
            "RS256" => Ok(Self::Rs256),
            other => Err(CryptoError::UnsupportedAlgorithm(other.to_owned())),
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum KeyPair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A private signing key with its key id and public JWK. Cloning is cheap (the parsed key pair is
/// shared).
#[derive(Clone)]
pub struct SigningKey {
    algorithm: SigningAlgorithm,
    kid: String,
    pkcs8: Zeroizing<Vec<u8>>,
    /// The key [`crate::opaque`] derives each opaque token's key from.
    opaque_base: aws_lc_rs::hmac::Key,
    pair: Arc<KeyPair>,
    public: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new key: P-256 for ES256, 2048-bit RSA for RS256 (which takes a while).
    pub fn generate(algorithm: SigningAlgorithm) -> Result<Self, CryptoError> {
        let der: Zeroizing<Vec<u8>> = match algorithm {
            SigningAlgorithm::Es256 => {
                let doc =
                    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                        .map_err(|_| CryptoError::KeyGeneration("ES256"))?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            SigningAlgorithm::Rs256 => {
                use aws_lc_rs::encoding::AsDer as _;
                let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| CryptoError::KeyGeneration("RS256"))?;
                let der = pair.as_der().map_err(|_| CryptoError::KeyGeneration("RS256"))?;
                Zeroizing::new(der.as_ref().to_vec())
            }
        };
        Self::from_pkcs8(algorithm, &der)
    }

    /// Loads a key from its PKCS#8 DER bytes (as returned by [`SigningKey::pkcs8_der`]).
    /// RSA keys must have at least 2048 bits.
    pub fn from_pkcs8(algorithm: SigningAlgorithm, der: &[u8]) -> Result<Self, CryptoError> {
        let name = algorithm.as_str();
        let (pair, params) = match algorithm {
            SigningAlgorithm::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| CryptoError::BadSigningKey(name))?;
                let point = pair.public_key().as_ref();
                let (x, y) = match point {
                    [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                    _ => return Err(CryptoError::BadSigningKey(name)),
                };
                let params = AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve: EllipticCurve::P256,
                    x: URL_SAFE_NO_PAD.encode(x),
                    y: URL_SAFE_NO_PAD.encode(y),
                });
                (KeyPair::Ec(pair), params)
            }
            SigningAlgorithm::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| CryptoError::BadSigningKey(name))?;
                if pair.public_modulus_len() < 256 {
                    return Err(CryptoError::BadSigningKey(name));
                }
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let params = AlgorithmParameters::RSA(RSAKeyParameters {
                    key_type: RSAKeyType::RSA,
                    n: URL_SAFE_NO_PAD.encode(&components.n),
                    e: URL_SAFE_NO_PAD.encode(&components.e),
                });
                (KeyPair::Rsa(pair), params)
            }
        };
        let mut public = Jwk {
            common: CommonParameters::default(),
            algorithm: params,
        };
        let kid = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| CryptoError::BadSigningKey(name))?;
        public.common = CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(match algorithm {
                SigningAlgorithm::Es256 => KeyAlgorithm::ES256,
                SigningAlgorithm::Rs256 => KeyAlgorithm::RS256,
            }),
            key_id: Some(kid.clone()),
            ..CommonParameters::default()
        };
        Ok(Self {
            algorithm,
            kid,
            pkcs8: Zeroizing::new(der.to_vec()),
            opaque_base: crate::opaque::base_key(der),
            pair: Arc::new(pair),
            public,
        })
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key, base64url.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#8 DER, to be sealed with the keyring before it is stored.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub(crate) fn opaque_base(&self) -> &aws_lc_rs::hmac::Key {
        &self.opaque_base
    }

    /// The public JWK (`kty`, `crv`/`x`/`y` or `n`/`e`, `kid`, `alg`, `use: sig`).
    pub fn public_jwk(&self) -> Value {
        serde_json::to_value(&self.public).unwrap_or(Value::Null)
    }

    /// Signs `claims` into a compact JWT with header `{"alg", "typ": "JWT", "kid"}`.
    pub fn sign_jwt<T: Serialize + ?Sized>(&self, claims: &T) -> Result<String, CryptoError> {
        self.sign_jwt_typed("JWT", claims)
    }

    /// Signs `claims` with an explicit `typ` header (`at+jwt` for access tokens per RFC 9068,
    /// `logout+jwt` for back-channel logout tokens, …).
    pub fn sign_jwt_typed<T: Serialize + ?Sized>(
        &self,
        typ: &str,
        claims: &T,
    ) -> Result<String, CryptoError> {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'static str,
            typ: &'a str,
            kid: &'a str,
        }
        let header = serde_json::to_vec(&Header {
            alg: self.algorithm.as_str(),
            typ,
            kid: &self.kid,
        })
        .map_err(|_| CryptoError::SigningFailed)?;
        let payload = serde_json::to_vec(claims).map_err(|_| CryptoError::SigningFailed)?;
        let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 400);
        URL_SAFE_NO_PAD.encode_string(&header, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.sign_bytes(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }

    /// A raw signature over `message` (ES256: the 64-byte `r‖s` form JWS uses).
    fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rng = SystemRandom::new();
        match self.pair.as_ref() {
            KeyPair::Ec(pair) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CryptoError::SigningFailed),
            KeyPair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| CryptoError::SigningFailed)?;
                Ok(signature)
            }
        }
    }
}

/// Whether a key in the set signs new tokens or is only still published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Retiring,
}

/// The provider's signing keys: one active key per algorithm, retiring keys still published.
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<(SigningKey, KeyStatus)>,
    jwks: Jwks,
}

impl KeySet {
    /// Builds the set. Refuses duplicate key ids and two active keys of one algorithm; an algorithm
    /// may have no active key (then it cannot sign, see [`KeySet::active`]).
    pub fn new(keys: Vec<(SigningKey, KeyStatus)>) -> Result<Self, CryptoError> {
        for (i, (key, status)) in keys.iter().enumerate() {
            for (other, other_status) in keys.iter().skip(i + 1) {
                if key.kid == other.kid {
                    return Err(CryptoError::DuplicateSigningKey(key.kid.clone()));
                }
                if key.algorithm == other.algorithm
                    && *status == KeyStatus::Active
                    && *other_status == KeyStatus::Active
                {
                    return Err(CryptoError::TwoActiveKeys(
                        key.algorithm.as_str(),
                        key.kid.clone(),
                        other.kid.clone(),
                    ));
                }
            }
        }
        let set = JwkSet {
            keys: keys.iter().map(|(k, _)| k.public.clone()).collect(),
        };
        let jwks = Jwks::from_set(set)?;
        Ok(Self { keys, jwks })
    }

    /// Adds `key` as the active key of its algorithm; the previous active key of that algorithm
    /// becomes retiring (still published, no longer signing).
    pub fn rotate(&self, key: SigningKey) -> Result<Self, CryptoError> {
        let algorithm = key.algorithm;
        let mut keys: Vec<(SigningKey, KeyStatus)> = self
            .keys
            .iter()
            .map(|(k, status)| {
                let status = if k.algorithm == algorithm {
                    KeyStatus::Retiring
                } else {
                    *status
                };
                (k.clone(), status)
            })
            .collect();
        keys.insert(0, (key, KeyStatus::Active));
        Self::new(keys)
    }

    /// Removes a key (once no unexpired token it signed can remain); its public part leaves the JWKS.
    pub fn remove(&self, kid: &str) -> Result<Self, CryptoError> {
        Self::new(self.keys.iter().filter(|(k, _)| k.kid != kid).cloned().collect())
    }

    /// The key that signs new tokens with `algorithm`.
    pub fn active(&self, algorithm: SigningAlgorithm) -> Result<&SigningKey, CryptoError> {
        self.keys
            .iter()
            .find(|(k, status)| k.algorithm == algorithm && *status == KeyStatus::Active)
            .map(|(k, _)| k)
            .ok_or(CryptoError::NoActiveKey(algorithm.as_str()))
    }

    /// Every key with its status, in the order given.
    pub fn keys(&self) -> impl Iterator<Item = (&SigningKey, KeyStatus)> {
        self.keys.iter().map(|(k, s)| (k, *s))
    }

    /// Signs `claims` with the active key of `algorithm` (`typ: JWT`).
    pub fn sign<T: Serialize + ?Sized>(
        &self,
        algorithm: SigningAlgorithm,
        claims: &T,
    ) -> Result<String, CryptoError> {
        self.active(algorithm)?.sign_jwt(claims)
    }

    /// Signs `claims` with the active key of `algorithm` and the given `typ`.
    pub fn sign_typed<T: Serialize + ?Sized>(
        &self,
        algorithm: SigningAlgorithm,
        typ: &str,
        claims: &T,
    ) -> Result<String, CryptoError> {
        self.active(algorithm)?.sign_jwt_typed(typ, claims)
    }

    /// The public keys of every key in the set, active and retiring.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// Verifies a token against this set's public keys (see [`Jwks::verify`]).
    pub fn verify(&self, token: &str, expect: &JwtExpectations<'_>) -> Result<VerifiedJwt, CryptoError> {
        self.jwks.verify(token, expect)
    }
}

/// Which audiences a token may carry.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// The `aud` claim must be present and contain one of these.
    OneOf(&'a [&'a str]),
    /// The `aud` claim must be present, whatever it names (the caller reads it afterwards, as for
    /// an `id_token_hint` whose client is not known in advance).
    Any,
}

/// What a token must satisfy besides its signature. `now` is Unix seconds from the caller.
#[derive(Debug, Clone, Copy)]
pub struct JwtExpectations<'a> {
    pub issuer: &'a str,
    pub audience: Audience<'a>,
    pub algorithms: &'a [SigningAlgorithm],
    /// When set, the header's `typ` must equal it (ASCII case-insensitive; an `application/`
    /// prefix is ignored, per RFC 7515 4.1.9).
    pub token_type: Option<&'a str>,
    pub leeway_seconds: u64,
    pub now: u64,
    /// Whether `exp` is required and enforced. Off only for tokens that may be presented after
    /// they expire (an `id_token_hint` at logout).
    pub check_expiry: bool,
}

impl<'a> JwtExpectations<'a> {
    /// Both algorithms, no type check, no leeway, expiry enforced.
    pub fn new(issuer: &'a str, audience: Audience<'a>, now: u64) -> Self {
        Self {
            issuer,
            audience,
            algorithms: &SigningAlgorithm::ALL,
            token_type: None,
            leeway_seconds: 0,
            now,
            check_expiry: true,
        }
    }

    pub fn with_algorithms(mut self, algorithms: &'a [SigningAlgorithm]) -> Self {
        self.algorithms = algorithms;
        self
    }

    pub fn with_type(mut self, typ: &'a str) -> Self {
        self.token_type = Some(typ);
        self
    }

    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway_seconds = seconds;
        self
    }

    pub fn allow_expired(mut self) -> Self {
        self.check_expiry = false;
        self
    }
}

/// A token whose signature and claims checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJwt {
    pub kid: Option<String>,
    pub algorithm: SigningAlgorithm,
    pub claims: Map<String, Value>,
}

impl VerifiedJwt {
    /// The claims as the caller's own type.
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, CryptoError> {
        serde_json::from_value(Value::Object(self.claims.clone()))
            .map_err(|e| CryptoError::TokenClaim(e.to_string()))
    }

    /// A string claim, if present and a string.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

#[derive(Clone)]
struct PublicKey {
    kid: Option<String>,
    algorithm: SigningAlgorithm,
    key: DecodingKey,
}

/// A set of public keys (JWKS) that tokens are verified against.
#[derive(Clone)]
pub struct Jwks {
    set: JwkSet,
    keys: Vec<PublicKey>,
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (k.algorithm, k.kid.as_deref())))
            .finish()
    }
}

impl Jwks {
    /// Parses JWKS JSON (`{"keys": […]}`). Keys Gatehouse cannot verify with (other curves, HMAC,
    /// encryption keys, other algorithms) are kept in the JSON but never used.
    pub fn from_json(json: &str) -> Result<Self, CryptoError> {
        let set: JwkSet = serde_json::from_str(json).map_err(|e| CryptoError::BadJwks(e.to_string()))?;
        Self::from_set(set)
    }

    fn from_set(set: JwkSet) -> Result<Self, CryptoError> {
        let keys = set.keys.iter().filter_map(usable_key).collect();
        Ok(Self { set, keys })
    }

    /// The JWKS document, `{"keys": [...]}`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.set).unwrap_or(Value::Null)
    }

    /// The ids of the keys usable for verification.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref()).collect()
    }

    /// Verifies a compact JWT: the header's `alg` must be allowed and match the key's, `crit` is
    /// refused, `typ` is checked when expected, the key is found by `kid` (or, without one, every
    /// key of the algorithm is tried), the signature must verify, `iss` must equal the issuer,
    /// `aud` must be present (and match, unless [`Audience::Any`]), `exp` must be present and not
    /// past (`now > exp + leeway` is expired) unless expiry is off, and `nbf`/`iat` must not be in
    /// the future beyond the leeway.
    pub fn verify(&self, token: &str, expect: &JwtExpectations<'_>) -> Result<VerifiedJwt, CryptoError> {
        let header = parse_header(token)?;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let algorithm = alg_name
            .parse::<SigningAlgorithm>()
            .ok()
            .filter(|a| expect.algorithms.contains(a))
            .ok_or_else(|| CryptoError::TokenAlgorithm(alg_name.to_owned()))?;
        if header.contains_key("crit") {
            return Err(CryptoError::TokenCritical);
        }
        if let Some(wanted) = expect.token_type {
            let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
            if !same_media_type(typ, wanted) {
                return Err(CryptoError::TokenType(typ.to_owned()));
            }
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(CryptoError::MalformedToken),
        };
        let candidates: Vec<&PublicKey> = self
            .keys
            .iter()
            .filter(|k| k.algorithm == algorithm && (kid.is_none() || k.kid.as_deref() == kid))
            .collect();
        if candidates.is_empty() {
            return Err(CryptoError::UnknownTokenKey(kid.unwrap_or("none").to_owned()));
        }
        let validation = validation(algorithm, expect);
        let mut last = CryptoError::BadSignature;
        for candidate in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &candidate.key, &validation) {
                Ok(data) => {
                    check_times(&data.claims, expect)?;
                    return Ok(VerifiedJwt {
                        kid: kid.map(str::to_owned),
                        algorithm,
                        claims: data.claims,
                    });
                }
                Err(e) => {
                    last = map_jwt_error(&e);
                    if last != CryptoError::BadSignature {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }
}

fn usable_key(jwk: &Jwk) -> Option<PublicKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            SigningAlgorithm::Es256
        }
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => SigningAlgorithm::Rs256,
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(PublicKey {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key,
    })
}

fn parse_header(token: &str) -> Result<Map<String, Value>, CryptoError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CryptoError::MalformedToken);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| CryptoError::MalformedToken)?;
    serde_json::from_slice(&bytes).map_err(|_| CryptoError::MalformedToken)
}

pub(crate) fn same_media_type(actual: &str, wanted: &str) -> bool {
    let strip = |s: &str| {
        let lower = s.to_ascii_lowercase();
        lower
            .strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(lower)
    };
    strip(actual) == strip(wanted)
}

fn validation(algorithm: SigningAlgorithm, expect: &JwtExpectations<'_>) -> Validation {
    let mut v = Validation::new(algorithm.jwt());
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = expect.leeway_seconds;
    v.set_issuer(&[expect.issuer]);
    v.set_required_spec_claims(&["iss", "aud"]);
    match expect.audience {
        Audience::OneOf(audiences) => v.set_audience(audiences),
        Audience::Any => v.validate_aud = false,
    }
    v
}

pub(crate) fn check_times(
    claims: &Map<String, Value>,
    expect: &JwtExpectations<'_>,
) -> Result<(), CryptoError> {
    let number = |name: &str| -> Result<Option<u64>, CryptoError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.is_finite() && *f >= 0.0)
                        .map(|f| f as u64)
                })
                .map(Some)
                .ok_or_else(|| CryptoError::TokenClaim(name.to_owned())),
        }
    };
    let exp = number("exp")?;
    let nbf = number("nbf")?;
    let iat = number("iat")?;
    let leeway = expect.leeway_seconds;
    if expect.check_expiry {
        let exp = exp.ok_or_else(|| CryptoError::TokenClaim("exp".into()))?;
        if expect.now > exp.saturating_add(leeway) {
            return Err(CryptoError::TokenExpired);
        }
    }
    let future = |t: Option<u64>| t.is_some_and(|t| t > expect.now.saturating_add(leeway));
    if future(nbf) || future(iat) {
        return Err(CryptoError::TokenNotYetValid);
    }
    Ok(())
}

fn map_jwt_error(error: &jsonwebtoken::errors::Error) -> CryptoError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => CryptoError::BadSignature,
        ErrorKind::InvalidIssuer => CryptoError::TokenIssuer,
        ErrorKind::InvalidAudience => CryptoError::TokenAudience,
        ErrorKind::MissingRequiredClaim(claim) => CryptoError::TokenClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => CryptoError::TokenClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm => CryptoError::TokenAlgorithm(String::new()),
        // A key that cannot be used (wrong size, not on the curve) verifies nothing.
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            CryptoError::BadSignature
        }
        _ => CryptoError::MalformedToken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "http://localhost:8080";
    const NOW: u64 = 1_800_000_000;

    fn claims() -> Value {
        json!({"iss": ISS, "sub": "u1", "aud": "dashboard", "iat": NOW, "exp": NOW + 300})
    }

    fn expect<'a>(aud: &'a [&'a str]) -> JwtExpectations<'a> {
        JwtExpectations::new(ISS, Audience::OneOf(aud), NOW)
    }

    #[test]
    fn es256_sign_then_verify_and_reload_from_pkcs8() {
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let token = key.sign_jwt(&claims()).unwrap();
        let set = KeySet::new(vec![(key, KeyStatus::Active)]).unwrap();
        let verified = set.verify(&token, &expect(&["dashboard"])).unwrap();
        assert_eq!(verified.str_claim("sub"), Some("u1"));
        assert_eq!(verified.algorithm, SigningAlgorithm::Es256);
        let (key, _) = set.keys().next().unwrap();
        let reloaded = SigningKey::from_pkcs8(SigningAlgorithm::Es256, key.pkcs8_der()).unwrap();
        assert_eq!(reloaded.kid(), key.kid());
        assert_eq!(reloaded.public_jwk(), key.public_jwk());
    }

    #[test]
    fn header_names_alg_typ_and_kid() {
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let token = key.sign_jwt_typed("at+jwt", &claims()).unwrap();
        let header = parse_header(&token).unwrap();
        assert_eq!(header.get("alg"), Some(&json!("ES256")));
        assert_eq!(header.get("typ"), Some(&json!("at+jwt")));
        assert_eq!(header.get("kid"), Some(&json!(key.kid())));
        let set = KeySet::new(vec![(key, KeyStatus::Active)]).unwrap();
        assert!(
            set.verify(&token, &expect(&["dashboard"]).with_type("application/at+jwt"))
                .is_ok()
        );
        assert_eq!(
            set.verify(&token, &expect(&["dashboard"]).with_type("JWT"))
                .unwrap_err(),
            CryptoError::TokenType("at+jwt".into())
        );
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint() {
        // RFC 7638 section 3.1's example key and thumbprint.
        let jwk: Jwk = serde_json::from_value(json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint(ThumbprintHash::SHA256).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let public: Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        assert_eq!(public.thumbprint(ThumbprintHash::SHA256).unwrap(), key.kid());
    }

    #[test]
    fn rs256_keys_sign_and_verify() {
        let key = SigningKey::generate(SigningAlgorithm::Rs256).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        let reloaded = SigningKey::from_pkcs8(SigningAlgorithm::Rs256, key.pkcs8_der()).unwrap();
        assert_eq!(reloaded.kid(), key.kid());
        let set = KeySet::new(vec![(key, KeyStatus::Active)]).unwrap();
        let token = set.sign(SigningAlgorithm::Rs256, &claims()).unwrap();
        assert!(set.verify(&token, &expect(&["dashboard"])).is_ok());
        // ES256-only expectations refuse it.
        assert_eq!(
            set.verify(
                &token,
                &expect(&["dashboard"]).with_algorithms(&[SigningAlgorithm::Es256])
            )
            .unwrap_err(),
            CryptoError::TokenAlgorithm("RS256".into())
        );
        assert!(matches!(
            set.sign(SigningAlgorithm::Es256, &claims()),
            Err(CryptoError::NoActiveKey("ES256"))
        ));
    }

    #[test]
    fn bad_private_keys_are_refused() {
        assert_eq!(
            SigningKey::from_pkcs8(SigningAlgorithm::Es256, b"junk").unwrap_err(),
            CryptoError::BadSigningKey("ES256")
        );
        let ec = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        assert_eq!(
            SigningKey::from_pkcs8(SigningAlgorithm::Rs256, ec.pkcs8_der()).unwrap_err(),
            CryptoError::BadSigningKey("RS256")
        );
    }

    #[test]
    fn rotation_keeps_old_keys_published_but_not_signing() {
        let first = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let first_kid = first.kid().to_owned();
        let set = KeySet::new(vec![(first, KeyStatus::Active)]).unwrap();
        let old_token = set.sign(SigningAlgorithm::Es256, &claims()).unwrap();
        let set = set
            .rotate(SigningKey::generate(SigningAlgorithm::Es256).unwrap())
            .unwrap();
        assert_ne!(set.active(SigningAlgorithm::Es256).unwrap().kid(), first_kid);
        assert_eq!(set.jwks().kids().len(), 2);
        assert!(set.verify(&old_token, &expect(&["dashboard"])).is_ok());
        let new_token = set.sign(SigningAlgorithm::Es256, &claims()).unwrap();
        assert_ne!(parse_header(&new_token).unwrap()["kid"], json!(first_kid));
        let set = set.remove(&first_kid).unwrap();
        assert_eq!(
            set.verify(&old_token, &expect(&["dashboard"])).unwrap_err(),
            CryptoError::UnknownTokenKey(first_kid)
        );
    }

    #[test]
    fn key_set_rules() {
        let a = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let b = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        assert!(matches!(
            KeySet::new(vec![(a, KeyStatus::Active), (b, KeyStatus::Active)]),
            Err(CryptoError::TwoActiveKeys("ES256", _, _))
        ));
        let a = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let again = SigningKey::from_pkcs8(SigningAlgorithm::Es256, a.pkcs8_der()).unwrap();
        assert!(matches!(
            KeySet::new(vec![(a, KeyStatus::Active), (again, KeyStatus::Retiring)]),
            Err(CryptoError::DuplicateSigningKey(_))
        ));
    }

    #[test]
    fn claim_checks_use_the_callers_clock() {
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let set = KeySet::new(vec![(key, KeyStatus::Active)]).unwrap();
        let token = set.sign(SigningAlgorithm::Es256, &claims()).unwrap();
        let aud = ["dashboard"];
        let at = |now| JwtExpectations::new(ISS, Audience::OneOf(&aud), now);
        assert!(set.verify(&token, &at(NOW + 300)).is_ok());
        assert_eq!(
            set.verify(&token, &at(NOW + 301)).unwrap_err(),
            CryptoError::TokenExpired
        );
        assert!(set.verify(&token, &at(NOW + 330).with_leeway(30)).is_ok());
        assert!(set.verify(&token, &at(NOW + 10_000).allow_expired()).is_ok());
        assert_eq!(
            set.verify(&token, &at(NOW - 5)).unwrap_err(),
            CryptoError::TokenNotYetValid
        );
        assert_eq!(
            set.verify(
                &token,
                &JwtExpectations::new("https://evil", Audience::OneOf(&aud), NOW)
            )
            .unwrap_err(),
            CryptoError::TokenIssuer
        );
        assert_eq!(
            set.verify(&token, &expect(&["finance"])).unwrap_err(),
            CryptoError::TokenAudience
        );
        assert!(
            set.verify(&token, &JwtExpectations::new(ISS, Audience::Any, NOW))
                .is_ok()
        );
        let no_exp = set
            .sign(SigningAlgorithm::Es256, &json!({"iss": ISS, "aud": "dashboard"}))
            .unwrap();
        assert_eq!(
            set.verify(&no_exp, &expect(&aud)).unwrap_err(),
            CryptoError::TokenClaim("exp".into())
        );
        let no_aud = set
            .sign(SigningAlgorithm::Es256, &json!({"iss": ISS, "exp": NOW + 1}))
            .unwrap();
        assert_eq!(
            set.verify(&no_aud, &JwtExpectations::new(ISS, Audience::Any, NOW))
                .unwrap_err(),
            CryptoError::TokenClaim("aud".into())
        );
    }

    #[test]
    fn tampering_and_foreign_keys_fail() {
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let set = KeySet::new(vec![(key, KeyStatus::Active)]).unwrap();
        let token = set.sign(SigningAlgorithm::Es256, &claims()).unwrap();
        let (head_payload, _) = token.rsplit_once('.').unwrap();
        let (head, _) = head_payload.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&json!({"iss": ISS, "sub": "admin", "aud": "dashboard", "exp": NOW + 300}))
                .unwrap(),
        );
        let sig = token.rsplit_once('.').unwrap().1;
        let forged = format!("{head}.{forged_payload}.{sig}");
        assert_eq!(
            set.verify(&forged, &expect(&["dashboard"])).unwrap_err(),
            CryptoError::BadSignature
        );
        // A token signed by another key with the same kid header does not verify.
        let other = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let other_token = other.sign_jwt(&claims()).unwrap();
        let other_sig = other_token.rsplit_once('.').unwrap().1;
        let spliced = format!("{head_payload}.{other_sig}");
        assert_eq!(
            set.verify(&spliced, &expect(&["dashboard"])).unwrap_err(),
            CryptoError::BadSignature
        );
        assert!(matches!(
            set.verify(&other_token, &expect(&["dashboard"])).unwrap_err(),
            CryptoError::UnknownTokenKey(_)
        ));
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                set.verify(bad, &expect(&["dashboard"])).unwrap_err(),
                CryptoError::MalformedToken
            );
        }
    }

    #[test]
    fn none_and_hmac_algorithms_are_refused() {
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let set = KeySet::new(vec![(key, KeyStatus::Active)]).unwrap();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            let token = format!("{header}.{payload}.");
            assert_eq!(
                set.verify(&token, &expect(&["dashboard"])).unwrap_err(),
                CryptoError::TokenAlgorithm(alg.into())
            );
        }
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","crit":["exp"]}"#);
        assert_eq!(
            set.verify(&format!("{header}.{payload}.AAAA"), &expect(&["dashboard"]))
                .unwrap_err(),
            CryptoError::TokenCritical
        );
    }

    #[test]
    fn jwks_round_trips_and_ignores_keys_it_cannot_use() {
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let token = key.sign_jwt(&claims()).unwrap();
        let kid = key.kid().to_owned();
        let set = KeySet::new(vec![(key, KeyStatus::Active)]).unwrap();
        let mut doc = set.jwks().to_json();
        assert!(doc["keys"][0].get("d").is_none(), "no private part in the JWKS");
        doc["keys"]
            .as_array_mut()
            .unwrap()
            .push(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}));
        let parsed = Jwks::from_json(&doc.to_string()).unwrap();
        assert_eq!(parsed.kids(), vec![kid.as_str()]);
        assert!(parsed.verify(&token, &expect(&["dashboard"])).is_ok());
        assert!(matches!(
            Jwks::from_json("{\"nope\": 1}"),
            Err(CryptoError::BadJwks(_))
        ));
    }
}
