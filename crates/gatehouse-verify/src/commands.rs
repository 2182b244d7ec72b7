//! The commands of the `gatehouse-verify` binary, one function each.

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse_api::device::{EnrollmentRequest, KeyStorage, RegistrationClaims, UserVerificationLevel};
use gatehouse_core::device::{ChallengeKind, EnrollmentId, Origin, Satisfies as _, UserVerification};
use serde_json::json;

use crate::cli::{EnrollArgs, KeystoreKind, UvChoice};
use crate::daemon::{self, Daemon};
use crate::error::VerifyError;
use crate::facts::{self, FactOptions};
use crate::flow::{self, Prompter, SignIn};
use crate::home::{
    ENROLLMENT_FILE, EnrollmentRecord, Home, KEYS_FILE, PENDING_PUSH_FILE, PIN_FILE, PendingPush, StoredKey,
    StoredTotp, StoredUvKey,
};
use crate::keystore::pkcs11::{Pkcs11Keystore, TokenSelector};
use crate::keystore::software::SoftwareKeystore;
use crate::keystore::{GeneratedKey, Keystore, KeystoreConfig, Secret, device_key, encode_signature};
use crate::protocol::{
    PROOF_LIFETIME_SECONDS, access_token_hash, registration_proof, request_proof, unix_now, uv_to_wire,
};
use crate::responder::{Intent, Responder};
use crate::server::ServerClient;
use crate::uv::{self, PinProvider, PinSource, UvOutcome};

/// The provider used when neither `--uv-provider` nor the enrollment names one.
pub const DEFAULT_PROVIDER: &str = "pin";

fn read_stdin_line(what: &str) -> Result<String, VerifyError> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => Err(VerifyError::Usage(format!(
            "standard input ended before the {what}"
        ))),
        Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_owned()),
        Err(e) => Err(VerifyError::Stdin(e)),
    }
}

/// Questions on standard error, answers from standard input.
#[derive(Debug, Default)]
pub struct StdinPrompter;

impl Prompter for StdinPrompter {
    fn ask(&mut self, question: &str) -> Option<String> {
        #[expect(
            clippy::print_stderr,
            reason = "the question is for the person at the terminal"
        )]
        {
            eprint!("{question}: ");
        }
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
        }
    }

    fn say(&mut self, text: &str) {
        #[expect(
            clippy::print_stderr,
            reason = "flow messages are for the person at the terminal"
        )]
        {
            eprintln!("{text}");
        }
    }
}

fn core_level(choice: UvChoice) -> UserVerification {
    match choice {
        UvChoice::None => UserVerification::None,
        UvChoice::Any => UserVerification::Any,
        UvChoice::Biometric => UserVerification::Biometric,
    }
}

/// What `enroll` reads from standard input, given directly.
#[derive(Debug, Clone, Default)]
pub struct EnrollInputs {
    pub password: Option<String>,
    pub pkcs11_pin: Option<String>,
}

/// `enroll`: reads the password and PIN from standard input as asked, then [`enroll_with`].
pub async fn enroll(home: &Home, provider: Option<&str>, args: EnrollArgs) -> Result<(), VerifyError> {
    let inputs = EnrollInputs {
        password: if args.password_stdin {
            Some(read_stdin_line("password")?)
        } else {
            None
        },
        pkcs11_pin: if args.pkcs11_pin_stdin {
            Some(read_stdin_line("PKCS#11 PIN")?)
        } else {
            None
        },
    };
    let record = enroll_with(home, provider, args, inputs, &mut StdinPrompter).await?;
    println!(
        "enrolled {} at {} (device {}, enrollment {}; keystore: {}; user verification: {})",
        record.login,
        record.issuer,
        record.device_id,
        record.enrollment_id,
        record.keystore.kind(),
        level_name(record.user_verification.as_ref())
    );
    Ok(())
}

/// Enrolls this device: local checks, the sign-in, key generation, registration, and the
/// enrollment file. Questions the sign-in asks go to `prompter`.
pub async fn enroll_with(
    home: &Home,
    provider: Option<&str>,
    args: EnrollArgs,
    inputs: EnrollInputs,
    prompter: &mut dyn Prompter,
) -> Result<EnrollmentRecord, VerifyError> {
    if let Some(existing) = home.read_json::<EnrollmentRecord>(ENROLLMENT_FILE)? {
        return Err(VerifyError::AlreadyEnrolled {
            login: existing.login,
            server: existing.server_url,
        });
    }
    let level = core_level(args.uv);
    if level == UserVerification::Biometric && !args.biometric_capable {
        return Err(VerifyError::Usage(
            "`--uv biometric` needs a device that can verify biometrics: add `--biometric-capable`"
                .to_owned(),
        ));
    }
    let password = inputs.password;
    let (config, keystore): (KeystoreConfig, Arc<dyn Keystore>) = match args.keystore {
        KeystoreKind::Software => (
            KeystoreConfig::Software,
            Arc::new(SoftwareKeystore::new(home.clone())),
        ),
        KeystoreKind::Pkcs11 => {
            let module = args.pkcs11_module.clone().ok_or_else(|| {
                VerifyError::Usage("`--keystore pkcs11` needs `--pkcs11-module PATH`".to_owned())
            })?;
            let pin = match inputs.pkcs11_pin {
                Some(pin) => pin,
                None => prompter
                    .ask("PKCS#11 token PIN")
                    .ok_or_else(|| VerifyError::Usage("no PKCS#11 PIN was given".to_owned()))?,
            };
            let selector = args
                .pkcs11_token
                .clone()
                .map_or(TokenSelector::First, TokenSelector::Label);
            let token = Pkcs11Keystore::open(&module, &selector, &pin)?;
            let config = KeystoreConfig::Pkcs11 {
                module,
                token_label: token.token_label().to_owned(),
                token_serial: token.token_serial().to_owned(),
                pin: Secret::new(pin),
            };
            (config, Arc::new(token))
        }
    };
    let provider_name = provider.unwrap_or(DEFAULT_PROVIDER).to_owned();
    let verifier = uv::provider(&provider_name, home)?;
    if level != UserVerification::None {
        if !verifier.level().satisfies(level) {
            return Err(VerifyError::Usage(format!(
                "the `{provider_name}` provider verifies at level `{}`; `--uv {level}` needs another `--uv-provider`",
                verifier.level()
            )));
        }
        if provider_name == "pin" {
            let pin = PinProvider::new(home.clone(), PinSource::Stdin);
            if !pin.is_set()? {
                pin.choose_pin()?;
            }
        }
        match verifier.verify("Create a user-verification key for Gatehouse Verify") {
            UvOutcome::Verified(grant) if grant.level().satisfies(level) => {}
            UvOutcome::Verified(_) | UvOutcome::Failed => return Err(VerifyError::UserVerificationFailed),
            UvOutcome::Unavailable(why) => return Err(VerifyError::UserVerificationUnavailable(why)),
        }
    }

    let client = ServerClient::new(&args.server)?;
    let discovery = client.discovery().await?;
    let sign_in = SignIn {
        login: args.login.clone(),
        password,
    };
    let token = flow::sign_in(&client, &discovery, &sign_in, prompter).await?;

    let pop = keystore.generate()?;
    let uv_key = if level == UserVerification::None {
        None
    } else {
        match keystore.generate() {
            Ok(key) => Some(key),
            Err(e) => {
                let _ = keystore.delete(&pop.key_ref);
                return Err(e);
            }
        }
    };
    let result = register(
        home,
        &client,
        &discovery.issuer,
        &token.access_token,
        keystore.as_ref(),
        &pop,
        uv_key.as_ref(),
        level,
        &args,
    )
    .await;
    let response = match result {
        Ok(response) => response,
        Err(e) => {
            let _ = keystore.delete(&pop.key_ref);
            if let Some(key) = &uv_key {
                let _ = keystore.delete(&key.key_ref);
            }
            return Err(e);
        }
    };
    EnrollmentId::parse(&response.enrollment_id).map_err(|e| VerifyError::protocol(client.base(), e))?;
    gatehouse_crypto::TotpSecret::from_base32(&response.totp.secret)
        .map_err(|e| VerifyError::protocol(client.base(), format!("the TOTP seed: {e}")))?;
    let origin = Origin::of_url(&response.issuer).map_err(|e| VerifyError::protocol(client.base(), e))?;
    let record = EnrollmentRecord {
        server_url: client.base().to_owned(),
        issuer: response.issuer.clone(),
        origin: origin.to_string(),
        enrollment_id: response.enrollment_id.clone(),
        device_id: response.device_id.clone(),
        user_id: response.user.id.clone(),
        login: response.user.login.clone(),
        keystore: config,
        proof_of_possession: StoredKey {
            key_ref: pop.key_ref.clone(),
            kid: pop.public.thumbprint(),
        },
        user_verification: uv_key.as_ref().map(|key| StoredUvKey {
            key_ref: key.key_ref.clone(),
            kid: key.public.thumbprint(),
            level: uv_to_wire(level),
        }),
        biometric_capable: args.biometric_capable,
        managed: args.managed || home.management_attestation()?.is_some(),
        totp: StoredTotp {
            secret: response.totp.secret.clone(),
            algorithm: response.totp.algorithm.clone(),
            digits: response.totp.digits,
            period: response.totp.period,
        },
        uv_provider: provider_name,
        enrolled_at: unix_now(),
    };
    home.write_json(ENROLLMENT_FILE, &record)?;
    Ok(record)
}

#[expect(
    clippy::too_many_arguments,
    reason = "the registration's parts, gathered by `enroll`"
)]
async fn register(
    home: &Home,
    client: &ServerClient,
    issuer: &str,
    access_token: &str,
    keystore: &dyn Keystore,
    pop: &GeneratedKey,
    uv_key: Option<&GeneratedKey>,
    level: UserVerification,
    args: &EnrollArgs,
) -> Result<gatehouse_api::device::EnrollmentResponse, VerifyError> {
    let facts = facts::collect(
        home,
        FactOptions {
            biometric_capable: args.biometric_capable,
            managed: args.managed,
            hardware_keystore: keystore.storage() == KeyStorage::Hardware,
        },
    )?;
    let now = unix_now();
    let claims = RegistrationClaims {
        aud: issuer.to_owned(),
        iat: now,
        exp: now + PROOF_LIFETIME_SECONDS,
        jti: gatehouse_crypto::random::token::<16>(),
        ath: access_token_hash(access_token),
        device: facts,
        proof_of_possession_key: device_key(&pop.public, keystore.storage()),
        user_verification_key: uv_key.map(|key| {
            crate::keystore::user_verification_key(&key.public, keystore.storage(), uv_to_wire(level))
        }),
    };
    let registration = registration_proof(keystore, &pop.key_ref, &pop.public, &claims)?;
    let user_verification_signature = match uv_key {
        Some(key) => Some(encode_signature(
            &keystore.sign(&key.key_ref, registration.as_bytes())?,
        )),
        None => None,
    };
    let request = EnrollmentRequest {
        registration,
        user_verification_signature,
    };
    client.register(access_token, &request).await
}

/// The wire name of a wire enum (`active`, `deactivated`, …).
fn wire_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn storage_name(storage: KeyStorage) -> &'static str {
    match storage {
        KeyStorage::Software => "software",
        KeyStorage::Hardware => "hardware",
    }
}

fn level_name(level: Option<&StoredUvKey>) -> &'static str {
    match level.map(|k| k.level) {
        None | Some(UserVerificationLevel::None) => "none",
        Some(UserVerificationLevel::Any) => "any",
        Some(UserVerificationLevel::Biometric) => "biometric",
    }
}

/// `status`.
pub async fn status(home: &Home, json_output: bool) -> Result<(), VerifyError> {
    let record = home.enrollment()?;
    let keystore = record.keystore.open(home);
    let server = match &keystore {
        Ok(keystore) => {
            let proof = request_proof(
                keystore.as_ref(),
                &record,
                "GET",
                gatehouse_api::device::paths::ENROLLMENT,
                unix_now(),
            )?;
            ServerClient::new(&record.server_url)?
                .enrollment_state(&proof)
                .await
        }
        Err(_) => Err(VerifyError::Usage("the keystore cannot be opened".to_owned())),
    };
    let pending = home.read_json::<PendingPush>(PENDING_PUSH_FILE)?.is_some();
    let storage = keystore
        .as_ref()
        .map(|k| storage_name(k.storage()))
        .unwrap_or("unavailable");
    if json_output {
        let server_json = match &server {
            Ok(state) => json!({
                "enrollment_status": state.status,
                "device_status": state.device_status,
                "user_verification": state.user_verification,
            }),
            Err(e) => json!({"error": e.refusal_code().unwrap_or("unreachable"), "message": e.to_string()}),
        };
        println!(
            "{}",
            json!({
                "login": record.login,
                "user_id": record.user_id,
                "issuer": record.issuer,
                "server_url": record.server_url,
                "enrollment_id": record.enrollment_id,
                "device_id": record.device_id,
                "keystore": record.keystore.kind(),
                "key_storage": storage,
                "user_verification": level_name(record.user_verification.as_ref()),
                "biometric_capable": record.biometric_capable,
                "managed": record.managed,
                "uv_provider": record.uv_provider,
                "pending_push": pending,
                "server": server_json,
            })
        );
        return Ok(());
    }
    println!(
        "enrolled: {} (user {}) at {}",
        record.login, record.user_id, record.issuer
    );
    println!(
        "enrollment: {}   device: {}",
        record.enrollment_id, record.device_id
    );
    println!(
        "keystore: {} ({storage})   user verification: {} (provider {})",
        record.keystore.kind(),
        level_name(record.user_verification.as_ref()),
        record.uv_provider
    );
    match &server {
        Ok(state) => println!(
            "server: enrollment {}, device {}",
            wire_name(&state.status),
            wire_name(&state.device_status)
        ),
        Err(e) => println!("server: {e}"),
    }
    println!("pending push: {}", if pending { "yes" } else { "none" });
    Ok(())
}

/// Which pending request a command answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answering {
    /// `approve`: a push, or a request to add biometrics.
    Approve { number: Option<u32> },
    /// `deny`: either.
    Deny,
    /// `enroll-biometrics`: only a request to add biometrics.
    EnrollBiometrics,
}

/// `approve`, `deny`, `enroll-biometrics`: answer the pending push.
pub async fn answer_pending(
    home: &Home,
    provider: Option<&str>,
    answering: Answering,
) -> Result<(), VerifyError> {
    let record = home.enrollment()?;
    let Some(pending) = home.read_json::<PendingPush>(PENDING_PUSH_FILE)? else {
        return Err(VerifyError::Usage(match answering {
            Answering::EnrollBiometrics => "no sign-in is asking to add biometrics: a biometric key is added when a sign-in to an app that requires it asks, while `gatehouse-verify daemon` runs".to_owned(),
            _ => "no push is waiting for this device (is `gatehouse-verify daemon` running?)".to_owned(),
        }));
    };
    let daemon = Daemon::new(home.clone(), provider.map(str::to_owned));
    let verified = match daemon.verify(&record, &pending.request).await {
        Ok(verified) => verified,
        Err(VerifyError::BadChallenge(why)) => {
            home.remove(PENDING_PUSH_FILE)?;
            return Err(VerifyError::BadChallenge(format!("{why}; the push was dropped")));
        }
        Err(e) => return Err(e),
    };
    if verified.binding.expires_at <= unix_now() {
        home.remove(PENDING_PUSH_FILE)?;
        return Err(VerifyError::Usage(
            "the push has expired; start the sign-in again".to_owned(),
        ));
    }
    daemon::check_addressee(&record, &verified).map_err(VerifyError::BadChallenge)?;
    let kind = verified.binding.kind;
    if answering == Answering::EnrollBiometrics && kind != ChallengeKind::EnrollUserVerification {
        return Err(VerifyError::Usage(
            "the waiting push is a sign-in approval: use `approve` or `deny`".to_owned(),
        ));
    }
    let intent = match answering {
        Answering::Approve { number } => Intent::Approve { number },
        Answering::EnrollBiometrics => Intent::Approve { number: None },
        Answering::Deny => Intent::Deny,
    };
    let keystore = record.keystore.open(home)?;
    let provider_name = provider.unwrap_or(&record.uv_provider).to_owned();
    let verifier = uv::provider(&provider_name, home)?;
    let responder = Responder {
        record: &record,
        keystore: keystore.as_ref(),
        verifier: verifier.as_ref(),
    };
    let prepared = responder.respond(&verified, intent, &verified.binding.origin)?;
    let result = prepared.result;
    let note = prepared.note.clone();
    let sent = daemon::send_answer(home, record.clone(), keystore.as_ref(), prepared).await;
    // The push is used up whatever the server decided (single use); only when the server could
    // not be reached is it kept, so the person can answer again.
    if !matches!(sent, Err(VerifyError::Unreachable { .. })) {
        home.remove(PENDING_PUSH_FILE)?;
    }
    sent?;
    use gatehouse_core::device::AnswerResult as R;
    match result {
        R::Approve => println!("approved"),
        R::Deny => println!("denied"),
        R::RegisterUserVerificationKey => println!("biometric key added; the sign-in continues"),
        R::UserVerificationUnavailable => {
            return Err(VerifyError::UserVerificationUnavailable(format!(
                "{} (the sign-in was told)",
                note.unwrap_or_default()
            )));
        }
        R::UserVerificationFailed => return Err(VerifyError::UserVerificationFailed),
    }
    Ok(())
}

/// `totp`.
pub fn totp(home: &Home) -> Result<(), VerifyError> {
    let record = home.enrollment()?;
    let bad = |e: gatehouse_crypto::CryptoError| VerifyError::corrupt(home.path(ENROLLMENT_FILE), e);
    let secret = gatehouse_crypto::TotpSecret::from_base32(&record.totp.secret).map_err(bad)?;
    let params = gatehouse_crypto::TotpParams {
        algorithm: record.totp.algorithm.parse().map_err(bad)?,
        digits: gatehouse_crypto::TotpDigits::from_count(record.totp.digits).map_err(bad)?,
    };
    let totp = gatehouse_crypto::Totp::new(&secret, params).map_err(bad)?;
    println!("{}", totp.generate(unix_now()));
    Ok(())
}

/// `unenroll`.
pub async fn unenroll(home: &Home) -> Result<(), VerifyError> {
    let record = home.enrollment()?;
    let keystore = record.keystore.open(home);
    match &keystore {
        Ok(keystore) => {
            let proof = request_proof(
                keystore.as_ref(),
                &record,
                "DELETE",
                gatehouse_api::device::paths::ENROLLMENT,
                unix_now(),
            )?;
            match ServerClient::new(&record.server_url)?.unenroll(&proof).await {
                Ok(()) => println!("the server removed the enrollment"),
                Err(VerifyError::Refused { status: 410, .. }) => {
                    println!("the server no longer knows this device")
                }
                Err(e) => println!("warning: the server keeps the enrollment: {e}"),
            }
            for key in [
                Some(&record.proof_of_possession.key_ref),
                record.user_verification.as_ref().map(|k| &k.key_ref),
            ]
            .into_iter()
            .flatten()
            {
                if let Err(e) = keystore.delete(key) {
                    println!("warning: {e}");
                }
            }
        }
        Err(e) => println!("warning: the keystore cannot be opened, its keys stay: {e}"),
    }
    for file in [ENROLLMENT_FILE, PENDING_PUSH_FILE, PIN_FILE] {
        home.remove(file)?;
    }
    if matches!(record.keystore, KeystoreConfig::Software) {
        home.remove(KEYS_FILE)?;
    }
    println!("unenrolled {} from {}", record.login, record.issuer);
    Ok(())
}

/// `daemon`.
pub async fn run_daemon(
    home: &Home,
    provider: Option<&str>,
    listen: SocketAddr,
    push: bool,
) -> Result<(), VerifyError> {
    let listener = daemon::bind(listen).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| VerifyError::Usage(format!("cannot read the listening address: {e}")))?;
    let daemon = Arc::new(Daemon::new(home.clone(), provider.map(str::to_owned)));
    match home.enrollment() {
        Ok(record) => println!(
            "gatehouse-verify daemon listening on http://{addr} for {} at {}",
            record.login, record.origin
        ),
        Err(_) => println!("gatehouse-verify daemon listening on http://{addr} (not enrolled yet)"),
    }
    let _ = std::io::stdout().flush();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop.send(true);
    });
    if push {
        let daemon = daemon.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(daemon::push_loop(daemon, shutdown, |notice| {
            println!("{notice}");
            let _ = std::io::stdout().flush();
        }));
    }
    daemon::serve(listener, daemon, shutdown).await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
