//! One-time codes reach people through real interfaces: email over SMTP (lettre) when a relay is
//! configured, SMS through an HTTP webhook when one is configured, and — always, unless turned
//! off — a file outbox: one JSON file per message, which development and tests read.

use std::path::PathBuf;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::json;

use crate::config::DeliveryConfig;
use crate::{Clock, ServerError};

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Email {
        to: String,
        subject: String,
        text: String,
    },
    Sms {
        to: String,
        text: String,
    },
}

/// The delivery channels.
#[derive(Debug, Clone)]
pub struct Delivery {
    outbox: Option<PathBuf>,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
    sms_webhook: Option<String>,
    http: reqwest::Client,
}

impl Delivery {
    pub fn new(config: &DeliveryConfig) -> Result<Self, ServerError> {
        let bad = |what: &str, reason: String| ServerError::Config {
            what: what.to_owned(),
            reason,
        };
        let smtp = config
            .smtp_url
            .as_deref()
            .map(|url| {
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map(|b| b.build())
                    .map_err(|e| bad("the SMTP URL", e.to_string()))
            })
            .transpose()?;
        let from = if smtp.is_some() {
            Some(
                config
                    .email_from
                    .parse::<Mailbox>()
                    .map_err(|e| bad("the email From address", e.to_string()))?,
            )
        } else {
            None
        };
        if let Some(dir) = &config.outbox_dir {
            std::fs::create_dir_all(dir)?;
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| bad("the SMS webhook client", e.to_string()))?;
        Ok(Self {
            outbox: config.outbox_dir.clone(),
            smtp,
            from,
            sms_webhook: config.sms_webhook.clone(),
            http,
        })
    }

    /// Sends a message on every configured channel. A failure of one channel is logged and does
    /// not stop the others; the error of the last failing channel is returned.
    pub async fn send(&self, message: &Outgoing, clock: &Clock) -> Result<(), ServerError> {
        let mut result = Ok(());
        if let Some(dir) = &self.outbox
            && let Err(e) = write_outbox(dir, message, clock).await
        {
            tracing::error!(error = %e, "writing to the outbox failed");
            result = Err(e);
        }
        match message {
            Outgoing::Email { to, subject, text } => {
                if let (Some(smtp), Some(from)) = (&self.smtp, &self.from) {
                    let sent = async {
                        let to: Mailbox = to
                            .parse()
                            .map_err(|e: lettre::address::AddressError| e.to_string())?;
                        let email = lettre::Message::builder()
                            .from(from.clone())
                            .to(to)
                            .subject(subject)
                            .body(text.clone())
                            .map_err(|e| e.to_string())?;
                        smtp.send(email).await.map(|_| ()).map_err(|e| e.to_string())
                    }
                    .await;
                    if let Err(reason) = sent {
                        tracing::error!(%reason, "sending email failed");
                        result = Err(ServerError::Config {
                            what: "the SMTP relay".to_owned(),
                            reason,
                        });
                    }
                }
            }
            Outgoing::Sms { to, text } => {
                if let Some(url) = &self.sms_webhook {
                    let sent = self
                        .http
                        .post(url)
                        .json(&json!({"to": to, "text": text}))
                        .send()
                        .await
                        .and_then(reqwest::Response::error_for_status);
                    if let Err(e) = sent {
                        tracing::error!(error = %e, "the SMS webhook failed");
                        result = Err(ServerError::Config {
                            what: "the SMS webhook".to_owned(),
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
        result
    }
}

async fn write_outbox(dir: &std::path::Path, message: &Outgoing, clock: &Clock) -> Result<(), ServerError> {
    let now = clock.now();
    let body = match message {
        Outgoing::Email { to, subject, text } => {
            json!({"channel": "email", "to": to, "subject": subject, "text": text, "at": now.to_string()})
        }
        Outgoing::Sms { to, text } => {
            json!({"channel": "sms", "to": to, "text": text, "at": now.to_string()})
        }
    };
    let name = format!(
        "{:020}-{}.json",
        now.as_millisecond(),
        uuid::Uuid::new_v4().simple()
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, body.to_string()).await?;
    tokio::fs::rename(&tmp, dir.join(name)).await?;
    Ok(())
}

/// `a•••@example.com`, `•••••••4567`: enough for a person to recognise, not to learn.
pub fn mask(address: &str) -> String {
    if let Some((local, domain)) = address.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}•••@{domain}");
    }
    let digits: Vec<char> = address.chars().collect();
    let keep = digits.len().saturating_sub(4);
    digits
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep && c.is_ascii_digit() { '•' } else { *c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask("alice@example.com"), "a•••@example.com");
        assert_eq!(mask("+15551234567"), "+•••••••4567");
    }

    #[tokio::test]
    async fn the_outbox_gets_one_json_file_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let delivery = Delivery::new(&DeliveryConfig {
            outbox_dir: Some(dir.path().to_path_buf()),
            ..DeliveryConfig::default()
        })
        .unwrap();
        let clock = Clock::System;
        delivery
            .send(
                &Outgoing::Sms {
                    to: "+15551234567".into(),
                    text: "code 123456".into(),
                },
                &clock,
            )
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["channel"], "sms");
        assert_eq!(json["text"], "code 123456");
    }

    /// A minimal SMTP server: accepts one message and hands back the envelope and the data.
    async fn smtp_sink() -> (String, tokio::task::JoinHandle<(Vec<String>, String)>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut envelope = Vec::new();
            let mut data = String::new();
            write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
            while let Some(line) = lines.next_line().await.unwrap() {
                let verb = line.split([' ', ':']).next().unwrap_or("").to_ascii_uppercase();
                match verb.as_str() {
                    "EHLO" | "HELO" => write.write_all(b"250 sink\r\n").await.unwrap(),
                    "MAIL" | "RCPT" => {
                        envelope.push(line.clone());
                        write.write_all(b"250 ok\r\n").await.unwrap();
                    }
                    "DATA" => {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        while let Some(body) = lines.next_line().await.unwrap() {
                            if body == "." {
                                break;
                            }
                            data.push_str(&body);
                            data.push('\n');
                        }
                        write.write_all(b"250 queued\r\n").await.unwrap();
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => write.write_all(b"250 ok\r\n").await.unwrap(),
                }
            }
            (envelope, data)
        });
        (url, task)
    }

    #[tokio::test]
    async fn email_goes_out_over_smtp_when_a_relay_is_configured() {
        let (url, sink) = smtp_sink().await;
        let delivery = Delivery::new(&DeliveryConfig {
            outbox_dir: None,
            smtp_url: Some(url),
            email_from: "Gatehouse <no-reply@gatehouse.test>".into(),
            sms_webhook: None,
        })
        .unwrap();
        delivery
            .send(
                &Outgoing::Email {
                    to: "alice@example.com".into(),
                    subject: "Your sign-in code".into(),
                    text: "Your code is 424242.".into(),
                },
                &Clock::System,
            )
            .await
            .unwrap();
        drop(delivery);
        let (envelope, data) = tokio::time::timeout(std::time::Duration::from_secs(10), sink)
            .await
            .unwrap()
            .unwrap();
        assert!(
            envelope.iter().any(|l| l.contains("<no-reply@gatehouse.test>")),
            "{envelope:?}"
        );
        assert!(
            envelope.iter().any(|l| l.contains("<alice@example.com>")),
            "{envelope:?}"
        );
        assert!(data.contains("Subject: Your sign-in code"), "{data}");
        assert!(data.contains("Your code is 424242."), "{data}");
    }

    #[tokio::test]
    async fn sms_is_posted_to_the_webhook_when_one_is_configured() {
        use axum::extract::State;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<serde_json::Value>(1);
        let app = axum::Router::new()
            .route(
                "/sms",
                axum::routing::post(
                    |State(tx): State<tokio::sync::mpsc::Sender<serde_json::Value>>,
                     axum::Json(body): axum::Json<serde_json::Value>| async move {
                        tx.send(body).await.unwrap();
                        "ok"
                    },
                ),
            )
            .with_state(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let delivery = Delivery::new(&DeliveryConfig {
            outbox_dir: None,
            smtp_url: None,
            email_from: String::new(),
            sms_webhook: Some(format!("http://{addr}/sms")),
        })
        .unwrap();
        delivery
            .send(
                &Outgoing::Sms {
                    to: "+15551234567".into(),
                    text: "Your code is 135790.".into(),
                },
                &Clock::System,
            )
            .await
            .unwrap();
        let body = rx.recv().await.unwrap();
        assert_eq!(
            body,
            json!({"to": "+15551234567", "text": "Your code is 135790."})
        );
    }

    #[tokio::test]
    async fn a_failing_webhook_is_reported() {
        let delivery = Delivery::new(&DeliveryConfig {
            outbox_dir: None,
            smtp_url: None,
            email_from: String::new(),
            sms_webhook: Some("http://127.0.0.1:9/unreachable".into()),
        })
        .unwrap();
        let sent = delivery
            .send(
                &Outgoing::Sms {
                    to: "+15551234567".into(),
                    text: "x".into(),
                },
                &Clock::System,
            )
            .await;
        assert!(sent.is_err());
    }
}
