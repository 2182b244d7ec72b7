//! The HTTP client the gateway uses towards identity providers and provisioning services:
//! reqwest 0.13, redirects never followed (an IdP must not bounce us elsewhere), bounded
//! timeouts and response sizes, and the `openidconnect` crate's `AsyncHttpClient` on top.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Largest response body read from an IdP or a provisioning service.
pub const MAX_BODY: usize = 1024 * 1024;

/// An HTTP client that does not follow redirects.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
}

impl Transport {
    /// A client with `timeout` for whole requests.
    pub fn new(timeout: Duration) -> Result<Self, crate::SsoError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("gatehouse-sso/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::SsoError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client })
    }

    /// The underlying reqwest client (still without redirects).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` and reads at most [`MAX_BODY`] bytes of the answer.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> io::Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>)> {
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(io::Error::other(format!("response larger than {MAX_BODY} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, body))
    }
}

/// A reqwest error with its causes, for messages people read.
fn describe(e: reqwest::Error) -> io::Error {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        io::Error::new(io::ErrorKind::TimedOut, text)
    } else {
        io::Error::other(text)
    }
}

impl<'c> AsyncHttpClient<'c> for Transport {
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, io::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(describe)?;
            let builder = reqwest::RequestBuilder::from_parts(self.client.clone(), request);
            let (status, headers, body) = self.send(builder).await?;
            let mut response = openidconnect::http::Response::builder().status(status.as_u16());
            for (name, value) in &headers {
                response = response.header(name.as_str(), value.as_bytes());
            }
            response.body(body).map_err(io::Error::other)
        })
    }
}
