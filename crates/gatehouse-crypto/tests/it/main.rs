//! Integration tests of `gatehouse-crypto` against independent implementations: pyotp for TOTP
//! and the JavaScript `jose` library for JWTs, JWKS and ES256 JWS.

mod external;
mod jose;
mod pyotp;
