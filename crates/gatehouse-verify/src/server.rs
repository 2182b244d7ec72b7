//! The HTTP client for the Gatehouse server: discovery and JWKS, the sign-in flow requests of
//! enrollment, and the device API of `docs/verify-protocol.md`.
//!
//! The client never follows redirects (the enrollment sign-in reads them itself) and keeps the
//! server's cookies, so a flow sees one consistent client. Endpoint URLs that discovery gives on
//! the issuer's origin are dialled on the origin Verify was given (`--server`), so a server whose
//! issuer is `http://localhost:8080` can be reached as `http://127.0.0.1:8080` and its cookies
//! stay on one host.

use std::time::Duration;

use gatehouse_api::device::{
    AnswerReceipt, ChallengeAnswer, ChallengeRequest, DEVICE_AUTH_SCHEME, DeviceApiError, EnrollmentRequest,
    EnrollmentResponse, EnrollmentState, paths,
};
use gatehouse_core::device::Origin;
use gatehouse_crypto::Jwks;
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::VerifyError;

/// The discovery fields Verify uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// A client of one Gatehouse server.
#[derive(Debug, Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
}

impl ServerClient {
    /// A client for the server at `base_url` (scheme, host, port and an optional path prefix).
    pub fn new(base_url: &str) -> Result<Self, VerifyError> {
        let base = base_url.trim_end_matches('/').to_owned();
        Origin::of_url(&base).map_err(|e| VerifyError::Usage(format!("`--server`: {e}")))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("gatehouse-verify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| VerifyError::Unreachable {
                url: base.clone(),
                detail: e.to_string(),
            })?;
        Ok(Self { http, base })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of a server path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Moves a URL on `issuer`'s origin to the origin Verify dials; other URLs are kept.
    pub fn rebase(&self, url: &str, issuer: &str) -> String {
        let (Ok(url_origin), Ok(issuer_origin)) = (Origin::of_url(url), Origin::of_url(issuer)) else {
            return url.to_owned();
        };
        let Ok(base_origin) = Origin::of_url(&self.base) else {
            return url.to_owned();
        };
        if url_origin != issuer_origin || url_origin == base_origin {
            return url.to_owned();
        }
        let rest = url
            .split_once("://")
            .and_then(|(_, r)| r.find('/').map(|i| r.get(i..).unwrap_or("")));
        format!("{}{}", base_origin.as_str(), rest.unwrap_or(""))
    }

    fn unreachable(url: &str, e: &reqwest::Error) -> VerifyError {
        VerifyError::Unreachable {
            url: url.to_owned(),
            detail: e.to_string(),
        }
    }

    /// The raw HTTP client (the sign-in flow uses it for the authorize redirect).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn discovery(&self) -> Result<Discovery, VerifyError> {
        let url = self.url("/.well-known/openid-configuration");
        let response = self
            .http
            .get(&url)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| Self::unreachable(&url, &e))?;
        read_json(&url, response).await
    }

    pub async fn jwks(&self, jwks_uri: &str) -> Result<Jwks, VerifyError> {
        let response = self
            .http
            .get(jwks_uri)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| Self::unreachable(jwks_uri, &e))?;
        let text = checked(jwks_uri, response)
            .await?
            .text()
            .await
            .map_err(|e| Self::unreachable(jwks_uri, &e))?;
        Jwks::from_json(&text).map_err(|e| VerifyError::protocol(jwks_uri, e))
    }

    /// `POST /api/v1/verify/enrollments` with the sign-in's access token.
    pub async fn register(
        &self,
        access_token: &str,
        request: &EnrollmentRequest,
    ) -> Result<EnrollmentResponse, VerifyError> {
        let url = self.url(paths::ENROLLMENTS);
        let response = self
            .http
            .post(&url)
            .bearer_auth(access_token)
            .json(request)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| Self::unreachable(&url, &e))?;
        read_json(&url, response).await
    }

    /// `POST /api/v1/verify/challenges/{id}/answer`.
    pub async fn answer(&self, answer: &ChallengeAnswer) -> Result<AnswerReceipt, VerifyError> {
        let url = self.url(&paths::answer(&answer.challenge_id));
        let response = self
            .http
            .post(&url)
            .json(answer)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| Self::unreachable(&url, &e))?;
        read_json(&url, response).await
    }

    fn device_request(&self, method: Method, path: &str, proof: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).header(
            reqwest::header::AUTHORIZATION,
            format!("{DEVICE_AUTH_SCHEME} {proof}"),
        )
    }

    /// `GET /api/v1/verify/enrollment` (device proof).
    pub async fn enrollment_state(&self, proof: &str) -> Result<EnrollmentState, VerifyError> {
        let url = self.url(paths::ENROLLMENT);
        let response = self
            .device_request(Method::GET, paths::ENROLLMENT, proof)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| Self::unreachable(&url, &e))?;
        read_json(&url, response).await
    }

    /// `DELETE /api/v1/verify/enrollment` (device proof).
    pub async fn unenroll(&self, proof: &str) -> Result<(), VerifyError> {
        let url = self.url(paths::ENROLLMENT);
        let response = self
            .device_request(Method::DELETE, paths::ENROLLMENT, proof)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| Self::unreachable(&url, &e))?;
        checked(&url, response).await.map(drop)
    }

    /// `GET /api/v1/verify/pushes?wait=N` (device proof): the next push, or `None` after the wait.
    pub async fn next_push(
        &self,
        proof: &str,
        wait_seconds: u64,
    ) -> Result<Option<ChallengeRequest>, VerifyError> {
        let url = format!("{}?wait={wait_seconds}", self.url(paths::PUSHES));
        let response = self
            .http
            .get(&url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("{DEVICE_AUTH_SCHEME} {proof}"),
            )
            .timeout(Duration::from_secs(wait_seconds + 15))
            .send()
            .await
            .map_err(|e| Self::unreachable(&url, &e))?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        read_json(&url, response).await.map(Some)
    }
}

/// The response when it is a success, else the server's refusal as an error.
pub async fn checked(url: &str, response: Response) -> Result<Response, VerifyError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    Err(match serde_json::from_str::<DeviceApiError>(&text) {
        Ok(error) => VerifyError::Refused {
            status: status.as_u16(),
            code: error.error,
            message: error.message,
        },
        Err(_) => VerifyError::Refused {
            status: status.as_u16(),
            code: format!("http_{}", status.as_u16()),
            message: format!("{url}: {}", text.chars().take(200).collect::<String>()),
        },
    })
}

/// A successful JSON response, parsed.
pub async fn read_json<T: DeserializeOwned>(url: &str, response: Response) -> Result<T, VerifyError> {
    let text = checked(url, response)
        .await?
        .text()
        .await
        .map_err(|e| ServerClient::unreachable(url, &e))?;
    serde_json::from_str(&text).map_err(|e| VerifyError::protocol(url, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls_are_dialled_on_the_given_origin() {
        let client = ServerClient::new("http://127.0.0.1:8080/").unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:8080");
        assert_eq!(
            client.rebase("http://localhost:8080/oauth2/token", "http://localhost:8080"),
            "http://127.0.0.1:8080/oauth2/token"
        );
        assert_eq!(
            client.rebase("https://elsewhere.example/jwks", "http://localhost:8080"),
            "https://elsewhere.example/jwks"
        );
        assert!(ServerClient::new("not a url").is_err());
    }
}
