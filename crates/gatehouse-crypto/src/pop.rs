//! Proof-of-possession checks for Gatehouse Verify: signatures made by a device's P-256 keys.
//!
//! A device registers its public keys as a JWK or as SEC1 bytes; both parse into a
//! [`P256PublicKey`] (validated to be a point on the curve, stored uncompressed). Two checks:
//! [`verify_es256_jws`] for a compact ES256 JWS (FastPass answers, signed push approvals, requests
//! signed by the proof-of-possession key), returning the verified header and payload, and
//! [`verify_p256_signature`] for a raw ECDSA P-256/SHA-256 signature over a message, in either the
//! 64-byte `r‖s` form or ASN.1 DER. Keys cross this API as bytes or JSON only.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToSec1Point as _;
use serde_json::{Map, Value, json};

use crate::CryptoError;

/// A P-256 public key, held as its 65-byte uncompressed SEC1 point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct P256PublicKey([u8; 65]);

impl P256PublicKey {
    /// Parses SEC1 bytes: uncompressed (65 bytes, `04‖x‖y`) or compressed (33 bytes). The point
    /// must lie on the curve.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, CryptoError> {
        let key = p256::PublicKey::from_sec1_bytes(bytes)
            .map_err(|_| CryptoError::BadPublicKey("not a P-256 point"))?;
        let point = key.as_affine().to_sec1_point(false);
        let raw: [u8; 65] = point
            .as_bytes()
            .try_into()
            .map_err(|_| CryptoError::BadPublicKey("not a P-256 point"))?;
        Ok(Self(raw))
    }

    /// Parses a public JWK (`{"kty": "EC", "crv": "P-256", "x", "y"}`; other members ignored, a
    /// private `d` refused so that private keys are never registered by mistake).
    pub fn from_jwk(jwk: &Value) -> Result<Self, CryptoError> {
        let member = |name: &str| jwk.get(name).and_then(Value::as_str);
        if member("kty") != Some("EC") {
            return Err(CryptoError::BadPublicKey("`kty` must be `EC`"));
        }
        if member("crv") != Some("P-256") {
            return Err(CryptoError::BadPublicKey("`crv` must be `P-256`"));
        }
        if jwk.get("d").is_some() {
            return Err(CryptoError::BadPublicKey("a private key (`d`) was given"));
        }
        let coordinate = |name: &str| -> Result<Vec<u8>, CryptoError> {
            member(name)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .filter(|b| b.len() == 32)
                .ok_or(CryptoError::BadPublicKey(
                    "`x` and `y` must be 32 bytes of base64url",
                ))
        };
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend(coordinate("x")?);
        sec1.extend(coordinate("y")?);
        Self::from_sec1(&sec1)
    }

    /// Parses a JWK given as JSON text.
    pub fn from_jwk_json(json: &str) -> Result<Self, CryptoError> {
        let value: Value = serde_json::from_str(json).map_err(|_| CryptoError::BadPublicKey("not JSON"))?;
        Self::from_jwk(&value)
    }

    /// The uncompressed SEC1 point (65 bytes).
    pub fn to_sec1(&self) -> Vec<u8> {
        self.0.to_vec()
    }

    /// The public JWK: `{"kty": "EC", "crv": "P-256", "x", "y"}`.
    pub fn to_jwk(&self) -> Value {
        let (x, y) = self.coordinates();
        json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
    }

    /// The RFC 7638 SHA-256 thumbprint of the key (a stable key id), base64url.
    pub fn thumbprint(&self) -> String {
        let (x, y) = self.coordinates();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(x),
            URL_SAFE_NO_PAD.encode(y)
        );
        URL_SAFE_NO_PAD.encode(crate::digest::sha256(canonical.as_bytes()))
    }

    fn coordinates(&self) -> (&[u8], &[u8]) {
        let (_, xy) = self.0.split_at(1);
        xy.split_at(32)
    }
}

/// The header and payload of a JWS whose signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJws {
    pub header: Map<String, Value>,
    pub payload: Vec<u8>,
}

impl VerifiedJws {
    /// The payload parsed as JSON.
    pub fn payload_json(&self) -> Result<Value, CryptoError> {
        serde_json::from_slice(&self.payload).map_err(|_| CryptoError::MalformedToken)
    }
}

/// Verifies a compact JWS signed with ES256 by `key` and returns its header and payload.
/// The header's `alg` must be `ES256` (never `none` or anything else), `crit` is refused, and when
/// `expected_type` is given the header's `typ` must match it. Claims inside the payload (challenge,
/// origin, nonce, expiry) are the caller's to check.
pub fn verify_es256_jws(
    jws: &str,
    key: &P256PublicKey,
    expected_type: Option<&str>,
) -> Result<VerifiedJws, CryptoError> {
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CryptoError::MalformedToken);
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| CryptoError::MalformedToken)?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header_bytes).map_err(|_| CryptoError::MalformedToken)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "ES256" {
        return Err(CryptoError::TokenAlgorithm(alg.to_owned()));
    }
    if header.contains_key("crit") {
        return Err(CryptoError::TokenCritical);
    }
    if let Some(wanted) = expected_type {
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
        if !crate::signing::same_media_type(typ, wanted) {
            return Err(CryptoError::TokenType(typ.to_owned()));
        }
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| CryptoError::MalformedToken)?;
    if signature.len() != 64 {
        return Err(CryptoError::BadSignature);
    }
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    let signing_input = jws.get(..signing_input_len).ok_or(CryptoError::MalformedToken)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.0)
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| CryptoError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| CryptoError::MalformedToken)?;
    Ok(VerifiedJws { header, payload })
}

/// Verifies an ECDSA P-256 / SHA-256 signature by `key` over `message`. The signature may be the
/// 64-byte `r‖s` form or ASN.1 DER (what most platform keystores return).
pub fn verify_p256_signature(
    key: &P256PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let result = if signature.len() == 64 {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.0).verify(message, signature)
    } else {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &key.0).verify(message, signature)
    };
    result.map_err(|_| CryptoError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};

    /// Signs with RustCrypto's p256, an implementation independent of the aws-lc verifier.
    fn device_key(seed: u8) -> (SigningKey, P256PublicKey) {
        let secret = [seed; 32];
        let signing = SigningKey::from_slice(&secret).unwrap();
        let point = signing.verifying_key().to_sec1_point(false);
        let public = P256PublicKey::from_sec1(point.as_bytes()).unwrap();
        (signing, public)
    }

    fn jws(signing: &SigningKey, header: &Value, payload: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig: Signature = signing.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    #[test]
    fn a_jws_from_the_device_verifies_and_returns_its_payload() {
        let (signing, public) = device_key(7);
        let payload = br#"{"challenge":"abc","origin":"http://localhost:8080"}"#;
        let token = jws(
            &signing,
            &json!({"alg": "ES256", "typ": "gatehouse-fastpass+jwt"}),
            payload,
        );
        let verified = verify_es256_jws(&token, &public, Some("gatehouse-fastpass+jwt")).unwrap();
        assert_eq!(verified.payload, payload);
        assert_eq!(verified.payload_json().unwrap()["challenge"], "abc");
        assert_eq!(
            verify_es256_jws(&token, &public, Some("other")).unwrap_err(),
            CryptoError::TokenType("gatehouse-fastpass+jwt".into())
        );
        // Another device's key does not verify it.
        let (_, other) = device_key(9);
        assert_eq!(
            verify_es256_jws(&token, &other, None).unwrap_err(),
            CryptoError::BadSignature
        );
    }

    #[test]
    fn a_tampered_or_unsigned_jws_is_refused() {
        let (signing, public) = device_key(7);
        let token = jws(&signing, &json!({"alg": "ES256"}), b"approve");
        let mut parts: Vec<&str> = token.split('.').collect();
        let deny = URL_SAFE_NO_PAD.encode("deny");
        parts[1] = &deny;
        assert_eq!(
            verify_es256_jws(&parts.join("."), &public, None).unwrap_err(),
            CryptoError::BadSignature
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode("approve")
        );
        assert_eq!(
            verify_es256_jws(&none, &public, None).unwrap_err(),
            CryptoError::TokenAlgorithm("none".into())
        );
        let crit = jws(
            &signing,
            &json!({"alg": "ES256", "crit": ["b64"], "b64": false}),
            b"x",
        );
        assert_eq!(
            verify_es256_jws(&crit, &public, None).unwrap_err(),
            CryptoError::TokenCritical
        );
        assert_eq!(
            verify_es256_jws("a.b", &public, None).unwrap_err(),
            CryptoError::MalformedToken
        );
    }

    #[test]
    fn raw_signatures_in_fixed_and_der_form() {
        let (signing, public) = device_key(3);
        let sig: Signature = signing.sign(b"register uv key");
        assert!(verify_p256_signature(&public, b"register uv key", &sig.to_bytes()).is_ok());
        assert!(verify_p256_signature(&public, b"register uv key", sig.to_der().as_bytes()).is_ok());
        assert_eq!(
            verify_p256_signature(&public, b"register other key", &sig.to_bytes()).unwrap_err(),
            CryptoError::BadSignature
        );
        assert_eq!(
            verify_p256_signature(&public, b"register uv key", b"short").unwrap_err(),
            CryptoError::BadSignature
        );
    }

    #[test]
    fn keys_parse_from_sec1_and_jwk_alike() {
        let (signing, public) = device_key(5);
        let compressed = signing.verifying_key().to_sec1_point(true);
        assert_eq!(P256PublicKey::from_sec1(compressed.as_bytes()).unwrap(), public);
        let jwk = public.to_jwk();
        assert_eq!(P256PublicKey::from_jwk(&jwk).unwrap(), public);
        assert_eq!(P256PublicKey::from_jwk_json(&jwk.to_string()).unwrap(), public);
        assert_eq!(public.to_sec1().len(), 65);
        // The thumbprint agrees with jsonwebtoken's RFC 7638 implementation.
        let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
        assert_eq!(
            parsed
                .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap(),
            public.thumbprint()
        );
        let mut off_curve = public.to_sec1();
        off_curve[64] ^= 1;
        assert!(P256PublicKey::from_sec1(&off_curve).is_err());
        assert!(P256PublicKey::from_sec1(&[4u8; 10]).is_err());
        let mut rsa = jwk.clone();
        rsa["kty"] = json!("RSA");
        assert!(P256PublicKey::from_jwk(&rsa).is_err());
        let mut p384 = jwk.clone();
        p384["crv"] = json!("P-384");
        assert!(P256PublicKey::from_jwk(&p384).is_err());
        let mut private = jwk;
        private["d"] = json!("AAAA");
        assert!(P256PublicKey::from_jwk(&private).is_err());
    }
}
