//! The enrollment sign-in: Verify authenticates the user through a normal sign-in flow, as the
//! public OIDC client `gatehouse-verify` (authorization code with PKCE S256, redirect URI
//! `http://127.0.0.1/callback`, scope `openid device.enroll`), and ends with an access token that
//! may register a device.
//!
//! 1. `GET /oauth2/authorize?…&prompt=login&login_hint=L` → a redirect to `/signin/{flow_id}`.
//! 2. The flow JSON API of DESIGN.md section 5: `GET /api/v1/flows/{id}`, then
//!    `POST /api/v1/flows/{id}/{remediation}` until the state is `success` (or `denied`,
//!    `expired`). Remediations are answered as [`next_step`] says: `identify` with the login,
//!    passwords from `--password-stdin` (or a prompt), one-time codes from a prompt,
//!    `select-authenticator` choosing what Verify can answer, `poll` while a push is approved on
//!    another device, `skip` for optional enrollments.
//! 3. The `success` state's `redirect` (never dialled: Verify does not listen on 127.0.0.1) gives
//!    `code` and `state`; the code is exchanged at the token endpoint with the PKCE verifier.

use std::time::Duration;

use gatehouse_api::device::{DEVICE_ENROLL_SCOPE, VERIFY_CLIENT_ID, VERIFY_REDIRECT_URI};
use serde_json::{Value, json};

use crate::error::VerifyError;
use crate::server::{Discovery, ServerClient, checked};

/// Where the sign-in asks the person at the device.
pub trait Prompter: Send {
    /// Asks a question; `None` when there is nobody to answer (end of input).
    fn ask(&mut self, question: &str) -> Option<String>;
    /// Tells the person something (a message of the flow).
    fn say(&mut self, text: &str);
}

/// What the sign-in knows before it starts.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub login: String,
    /// From `--password-stdin`; asked for when absent and the flow wants one.
    pub password: Option<String>,
}

/// The access token for enrollment.
#[derive(Debug, Clone)]
pub struct EnrollmentToken {
    pub access_token: String,
}

/// How many flow steps the client takes before giving up (a flow that loops).
const MAX_STEPS: usize = 60;
/// Authenticators (`key`, `method`) the client can answer, in the order it prefers them.
const ANSWERABLE: [(&str, Option<&str>); 6] = [
    ("password", None),
    ("totp", None),
    ("email", Some("otp")),
    ("phone", Some("sms")),
    ("phone", Some("voice")),
    ("device", Some("otp")),
];

/// Signs in and returns an access token with the `device.enroll` scope.
pub async fn sign_in(
    client: &ServerClient,
    discovery: &Discovery,
    input: &SignIn,
    prompter: &mut dyn Prompter,
) -> Result<EnrollmentToken, VerifyError> {
    let verifier = gatehouse_crypto::random::token::<32>();
    let challenge = gatehouse_crypto::pkce::s256_challenge(&verifier);
    let state = gatehouse_crypto::random::token::<16>();
    let nonce = gatehouse_crypto::random::token::<16>();
    let authorize = client.rebase(&discovery.authorization_endpoint, &discovery.issuer);
    let scope = format!("openid {DEVICE_ENROLL_SCOPE}");
    let mut url = url::Url::parse(&authorize).map_err(|e| VerifyError::protocol(&authorize, e))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", VERIFY_CLIENT_ID)
        .append_pair("redirect_uri", VERIFY_REDIRECT_URI)
        .append_pair("scope", &scope)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "login")
        .append_pair("login_hint", &input.login);
    let response = client
        .http()
        .get(url.as_str())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| VerifyError::Unreachable {
            url: authorize.clone(),
            detail: e.to_string(),
        })?;
    let location = match response.headers().get(reqwest::header::LOCATION) {
        Some(location) if response.status().is_redirection() => {
            location.to_str().unwrap_or_default().to_owned()
        }
        _ => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(VerifyError::SignIn(format!(
                "the server did not start a sign-in ({status}): {}",
                summarize(&body)
            )));
        }
    };
    let location = url
        .join(&location)
        .map_err(|e| VerifyError::protocol(&authorize, e))?;
    if location.as_str().starts_with(VERIFY_REDIRECT_URI) {
        return Err(redirect_error(&location));
    }
    let flow_id = location
        .path()
        .rsplit_once("/signin/")
        .map(|(_, id)| id.trim_end_matches('/').to_owned())
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            VerifyError::SignIn(format!(
                "the server redirected to `{location}`, not to a sign-in page"
            ))
        })?;
    let redirect = drive_flow(client, &flow_id, input, prompter).await?;
    let redirect = url::Url::parse(&redirect).map_err(|e| VerifyError::protocol(&flow_id, e))?;
    if !redirect.as_str().starts_with(VERIFY_REDIRECT_URI) {
        return Err(VerifyError::SignIn(format!(
            "the sign-in redirected to `{redirect}` instead of Verify's redirect URI"
        )));
    }
    let param = |name: &str| {
        redirect
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if param("error").is_some() {
        return Err(redirect_error(&redirect));
    }
    if param("state").as_deref() != Some(state.as_str()) {
        return Err(VerifyError::SignIn(
            "the sign-in came back with another `state`".to_owned(),
        ));
    }
    if let Some(iss) = param("iss")
        && iss != discovery.issuer
    {
        return Err(VerifyError::SignIn(format!(
            "the sign-in came back from another issuer `{iss}`"
        )));
    }
    let code = param("code").ok_or_else(|| VerifyError::SignIn("the sign-in gave no code".to_owned()))?;
    exchange(client, discovery, &code, &verifier).await
}

fn summarize(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => {
            let field = |n: &str| v.get(n).and_then(Value::as_str).map(str::to_owned);
            match (
                field("error"),
                field("error_description").or_else(|| field("message")),
            ) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                (Some(e), None) => e,
                _ => body.chars().take(200).collect(),
            }
        }
        Err(_) => body.chars().take(200).collect(),
    }
}

fn redirect_error(url: &url::Url) -> VerifyError {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    VerifyError::SignIn(match (param("error"), param("error_description")) {
        (Some(e), Some(d)) => format!("{e}: {d}"),
        (Some(e), None) => e,
        _ => "the sign-in was refused".to_owned(),
    })
}

async fn exchange(
    client: &ServerClient,
    discovery: &Discovery,
    code: &str,
    verifier: &str,
) -> Result<EnrollmentToken, VerifyError> {
    let url = client.rebase(&discovery.token_endpoint, &discovery.issuer);
    let response = client
        .http()
        .post(&url)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", VERIFY_REDIRECT_URI),
            ("client_id", VERIFY_CLIENT_ID),
            ("code_verifier", verifier),
        ])
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| VerifyError::Unreachable {
            url: url.clone(),
            detail: e.to_string(),
        })?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(VerifyError::SignIn(format!(
            "the token endpoint refused the code ({status}): {}",
            summarize(&body.to_string())
        )));
    }
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| VerifyError::protocol(&url, "no `access_token` in the token response"))?
        .to_owned();
    if let Some(scope) = body.get("scope").and_then(Value::as_str)
        && !scope.split(' ').any(|s| s == DEVICE_ENROLL_SCOPE)
    {
        return Err(VerifyError::SignIn(format!(
            "the server did not grant the `{DEVICE_ENROLL_SCOPE}` scope (granted: `{scope}`)"
        )));
    }
    Ok(EnrollmentToken { access_token })
}

/// A step the client takes in the flow.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `POST /api/v1/flows/{id}/{name}` with `body`.
    Submit { name: String, body: Value },
    /// Ask the person, then submit `name` with `{field: answer}`.
    Ask {
        name: String,
        field: String,
        question: String,
    },
    /// Wait `delay`, then `POST …/poll`.
    Poll { delay: Duration },
    /// Nothing Verify can do: the reason.
    Stuck(String),
}

fn remediation<'a>(state: &'a Value, name: &str) -> Option<&'a Value> {
    state
        .get("remediation")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
        })
}

/// `(key, method)` of a remediation's or option's authenticator, which may be
/// `{"authenticator": {"key", "method"}}`, `{"authenticator": "key", "method": …}` or
/// `{"key", "method"}`.
fn authenticator_of(value: &Value) -> (Option<String>, Option<String>) {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    match value.get("authenticator") {
        Some(Value::Object(a)) => (
            text(a.get("key")),
            text(a.get("method")).or_else(|| text(value.get("method"))),
        ),
        Some(Value::String(key)) => (Some(key.clone()), text(value.get("method"))),
        _ => (text(value.get("key")), text(value.get("method"))),
    }
}

fn answerable(key: &str, method: Option<&str>) -> Option<usize> {
    ANSWERABLE
        .iter()
        .position(|(k, m)| *k == key && (m.is_none() || method.is_none() || *m == method))
}

/// Decides the next step from a flow state (`in_progress`).
pub fn next_step(state: &Value, input: &SignIn, identified: bool) -> Step {
    let names: Vec<&str> = state
        .get("remediation")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|r| r.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if remediation(state, "identify-password").is_some() {
        return match &input.password {
            Some(password) => Step::Submit {
                name: "identify-password".to_owned(),
                body: json!({"login": input.login, "password": password}),
            },
            None => Step::Ask {
                name: "identify-password".to_owned(),
                field: "password".to_owned(),
                question: format!("Password for {}", input.login),
            },
        };
    }
    if !identified && remediation(state, "identify").is_some() {
        return Step::Submit {
            name: "identify".to_owned(),
            body: json!({"login": input.login}),
        };
    }
    if let Some(challenge) = remediation(state, "challenge-authenticator") {
        let (key, method) = authenticator_of(challenge);
        match key.as_deref() {
            Some("password") => {
                return match &input.password {
                    Some(password) => Step::Submit {
                        name: "challenge-authenticator".to_owned(),
                        body: json!({"password": password}),
                    },
                    None => Step::Ask {
                        name: "challenge-authenticator".to_owned(),
                        field: "password".to_owned(),
                        question: format!("Password for {}", input.login),
                    },
                };
            }
            Some(key) if answerable(key, method.as_deref()).is_some() => {
                return Step::Ask {
                    name: "challenge-authenticator".to_owned(),
                    field: "code".to_owned(),
                    question: format!("One-time code ({key})"),
                };
            }
            _ => {}
        }
    }
    if remediation(state, "poll").is_some() {
        let refresh = remediation(state, "poll")
            .and_then(|p| p.get("refresh"))
            .and_then(Value::as_u64)
            .unwrap_or(2000)
            .clamp(500, 10_000);
        return Step::Poll {
            delay: Duration::from_millis(refresh),
        };
    }
    if let Some(select) = remediation(state, "select-authenticator") {
        let options = select
            .get("options")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let best = options
            .iter()
            .filter_map(|option| {
                let (key, method) = authenticator_of(option);
                let rank = answerable(key.as_deref()?, method.as_deref())?;
                Some((rank, key?, method, option))
            })
            .min_by_key(|(rank, ..)| *rank);
        if let Some((_, key, method, option)) = best {
            let mut body = serde_json::Map::new();
            body.insert("authenticator".to_owned(), json!(key));
            if let Some(method) = method {
                body.insert("method".to_owned(), json!(method));
            }
            if let Some(id) = option.get("id") {
                body.insert("id".to_owned(), id.clone());
            }
            return Step::Submit {
                name: "select-authenticator".to_owned(),
                body: Value::Object(body),
            };
        }
    }
    if remediation(state, "skip").is_some() {
        return Step::Submit {
            name: "skip".to_owned(),
            body: json!({}),
        };
    }
    Step::Stuck(format!(
        "the sign-in asks for {}, which gatehouse-verify cannot answer from a terminal",
        if names.is_empty() {
            "nothing Verify knows".to_owned()
        } else {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ))
}

fn messages(state: &Value) -> Vec<String> {
    state
        .get("messages")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|m| m.get("text").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn flow_request(
    client: &ServerClient,
    flow_id: &str,
    remediation: Option<(&str, &Value)>,
) -> Result<Value, VerifyError> {
    let url = match remediation {
        Some((name, _)) => client.url(&format!("/api/v1/flows/{flow_id}/{name}")),
        None => client.url(&format!("/api/v1/flows/{flow_id}")),
    };
    let request = match remediation {
        Some((_, body)) => client.http().post(&url).json(body),
        None => client.http().get(&url),
    };
    let response = request
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| VerifyError::Unreachable {
            url: url.clone(),
            detail: e.to_string(),
        })?;
    if response.status() == reqwest::StatusCode::GONE {
        return Err(VerifyError::SignIn("the sign-in expired; start again".to_owned()));
    }
    let response = checked(&url, response).await?;
    response.json().await.map_err(|e| VerifyError::protocol(&url, e))
}

async fn drive_flow(
    client: &ServerClient,
    flow_id: &str,
    input: &SignIn,
    prompter: &mut dyn Prompter,
) -> Result<String, VerifyError> {
    let mut input = input.clone();
    let mut state = flow_request(client, flow_id, None).await?;
    let mut identified = false;
    let mut last_submit: Option<(String, Value)> = None;
    let mut told_poll = false;
    for _ in 0..MAX_STEPS {
        let status = state
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("in_progress");
        let texts = messages(&state);
        match status {
            "success" => {
                return state
                    .get("redirect")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| VerifyError::protocol(flow_id, "a successful flow without `redirect`"));
            }
            "denied" => {
                let reason = texts.join(" ");
                let from_redirect = state
                    .get("redirect")
                    .and_then(Value::as_str)
                    .and_then(|r| url::Url::parse(r).ok())
                    .map(|u| redirect_error(&u).to_string());
                return Err(VerifyError::SignIn(if reason.is_empty() {
                    from_redirect.unwrap_or_else(|| "access denied".to_owned())
                } else {
                    reason
                }));
            }
            "expired" => return Err(VerifyError::SignIn("the sign-in expired; start again".to_owned())),
            _ => {}
        }
        for text in &texts {
            prompter.say(text);
        }
        let step = next_step(&state, &input, identified);
        // The same password twice with an error in between: it is wrong, and asking again from
        // a script would only lock the account.
        if let (Step::Submit { name, body }, Some((last_name, last_body))) = (&step, &last_submit)
            && name == last_name
            && body == last_body
            && !texts.is_empty()
        {
            return Err(VerifyError::SignIn(texts.join(" ")));
        }
        match step {
            Step::Submit { name, body } => {
                if name == "identify" {
                    identified = true;
                }
                state = flow_request(client, flow_id, Some((&name, &body))).await?;
                last_submit = Some((name, body));
            }
            Step::Ask {
                name,
                field,
                question,
            } => {
                let answer = prompter
                    .ask(&question)
                    .ok_or_else(|| VerifyError::SignIn(format!("no answer to `{question}`")))?;
                if field == "password" {
                    input.password = Some(answer.clone());
                }
                let body = if name == "identify-password" {
                    json!({"login": input.login, "password": answer})
                } else {
                    json!({ field: answer })
                };
                state = flow_request(client, flow_id, Some((&name, &body))).await?;
                last_submit = None;
            }
            Step::Poll { delay } => {
                if !told_poll {
                    prompter.say("Waiting for the push to be approved on your other device…");
                    told_poll = true;
                }
                tokio::time::sleep(delay).await;
                state = flow_request(client, flow_id, Some(("poll", &json!({})))).await?;
            }
            Step::Stuck(why) => return Err(VerifyError::SignIn(why)),
        }
    }
    Err(VerifyError::SignIn(format!(
        "the sign-in did not finish after {MAX_STEPS} steps"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SignIn {
        SignIn {
            login: "alice".into(),
            password: Some("pw".into()),
        }
    }

    #[test]
    fn identify_then_password_then_codes() {
        let identify = json!({"status": "in_progress", "remediation": [{"name": "identify", "fields": [{"name": "login"}]}]});
        assert_eq!(
            next_step(&identify, &input(), false),
            Step::Submit {
                name: "identify".into(),
                body: json!({"login": "alice"})
            }
        );
        let password = json!({"remediation": [{"name": "challenge-authenticator", "authenticator": {"key": "password", "method": "password"}}]});
        assert_eq!(
            next_step(&password, &input(), true),
            Step::Submit {
                name: "challenge-authenticator".into(),
                body: json!({"password": "pw"})
            }
        );
        let totp = json!({"remediation": [
            {"name": "challenge-authenticator", "authenticator": {"key": "totp", "method": "otp"}},
            {"name": "select-authenticator", "options": []}]});
        assert!(matches!(next_step(&totp, &input(), true), Step::Ask { field, .. } if field == "code"));
    }

    #[test]
    fn select_prefers_what_a_terminal_can_answer() {
        let state = json!({"remediation": [{"name": "select-authenticator", "options": [
            {"authenticator": {"key": "webauthn", "method": "webauthn"}},
            {"authenticator": {"key": "device", "method": "push"}},
            {"authenticator": {"key": "totp", "method": "otp"}, "id": "enr_1"},
            {"authenticator": {"key": "password", "method": "password"}}
        ]}]});
        assert_eq!(
            next_step(&state, &input(), true),
            Step::Submit {
                name: "select-authenticator".into(),
                body: json!({"authenticator": "password", "method": "password"})
            }
        );
        let only_keys = json!({"remediation": [{"name": "select-authenticator", "options": [
            {"authenticator": {"key": "webauthn", "method": "webauthn"}}]}]});
        let Step::Stuck(why) = next_step(&only_keys, &input(), true) else {
            panic!("a security key cannot be used from the terminal");
        };
        assert!(why.contains("`select-authenticator`"), "{why}");
    }
}
