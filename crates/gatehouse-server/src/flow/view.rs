//! The state a client sees (DESIGN section 5): `flow_id`, `status`, `app`, `user`, the
//! `remediation` list with each remediation's fields, `messages` and `redirect`. Pure: a function
//! of the stored flow data.

use gatehouse_core::model::FlowId;
use gatehouse_policy::{AuthenticatorKey, Method, MethodConstraints, SignInFlow};
use serde_json::{Value, json};

use super::data::{Current, FlowData, Pending, Status};
use super::webauthn::CeremonyKind;

/// What the view needs besides the flow data.
#[derive(Debug, Clone, Copy)]
pub struct ViewOptions<'a> {
    pub flow: SignInFlow,
    pub keep_signed_in_allowed: bool,
    /// TOTP being enrolled: the seed in base32 and its `otpauth://` URI, to show once.
    pub totp_setup: Option<(&'a str, &'a str)>,
    /// The loopback ports listed in a FastPass challenge (`Config::fastpass_ports`).
    pub fastpass_ports: &'a [u16],
}

/// The JSON state of a flow.
pub fn render(id: FlowId, data: &FlowData, options: &ViewOptions<'_>) -> Value {
    let mut state = json!({
        "flow_id": id.to_string(),
        "status": data.status.as_str(),
        "app": {"client_id": data.app.client_id, "name": data.app.name},
        "remediation": remediation(data, options),
        "messages": data.messages,
    });
    if let Some(identity) = &data.identity {
        set(&mut state, "user", json!({"login": identity.login}));
    }
    if let Some(redirect) = &data.redirect
        && data.status != Status::InProgress
    {
        set(&mut state, "redirect", json!(redirect));
    }
    state
}

/// The state of an expired flow (answered with 410).
pub fn expired(id: FlowId) -> Value {
    json!({
        "flow_id": id.to_string(),
        "status": "expired",
        "remediation": [],
        "messages": [{"level": "error", "code": "flow_expired",
                      "text": "This sign-in has expired. Go back to the application and start again."}],
    })
}

fn remediation(data: &FlowData, options: &ViewOptions<'_>) -> Value {
    if data.status != Status::InProgress {
        return json!([]);
    }
    let mut list = Vec::new();
    match &data.pending {
        Pending::Identify => {
            let mut fields = vec![field("login", "string", true, "Username")];
            let name = match options.flow {
                SignInFlow::IdentifierFirst => "identify",
                SignInFlow::PasswordFirst => {
                    fields.push(field("password", "secret", true, "Password"));
                    "identify-password"
                }
            };
            if options.keep_signed_in_allowed {
                fields.push(field("keep_signed_in", "boolean", false, "Keep me signed in"));
            }
            list.push(json!({"name": name, "fields": fields}));
            // Passwordless FastPass (protocol 7.1), beside the identify step.
            if let Some(Current::Challenge {
                authenticator: AuthenticatorKey::Device,
                method: Method::Fastpass,
                device: Some(d),
                ..
            }) = &data.current
            {
                list.push(json!({
                    "name": "challenge-authenticator",
                    "authenticator": authenticator_json(AuthenticatorKey::Device, Method::Fastpass),
                    "challenge": {"request": d.request, "ports": options.fastpass_ports},
                    "fields": [],
                }));
                list.push(poll(AuthenticatorKey::Device, Method::Fastpass, None));
            }
            // Passwordless passkey sign-in: a discoverable assertion, empty `allowCredentials`.
            if let Some(ceremony) = data
                .webauthn
                .as_ref()
                .filter(|c| c.kind == CeremonyKind::Discover)
            {
                list.push(json!({
                    "name": "challenge-authenticator",
                    "authenticator": authenticator_json(AuthenticatorKey::Webauthn, Method::Webauthn),
                    "label": "Sign in with a passkey",
                    "options": ceremony.options,
                    "fields": [],
                }));
            }
        }
        Pending::Verify {
            options: step_options,
        } => {
            if let Some(Current::Challenge {
                authenticator,
                method,
                enrollment_id,
                otp,
                device,
            }) = &data.current
            {
                let mut challenge = json!({
                    "name": "challenge-authenticator",
                    "authenticator": authenticator_json(*authenticator, *method),
                    "fields": answer_fields(*authenticator),
                });
                // A password has one enrollment per user, and an unknown login has none: naming
                // it would tell the two apart (DESIGN 4.4), so the password challenge never does.
                if let Some(id) = enrollment_id
                    && *authenticator != AuthenticatorKey::Password
                    && let Some(authenticator) = challenge.get_mut("authenticator")
                {
                    set(authenticator, "id", json!(id.to_string()));
                }
                if let Some(otp) = otp {
                    set(&mut challenge, "sent_to", json!(otp.sent_to));
                }
                if *authenticator == AuthenticatorKey::Webauthn {
                    set(&mut challenge, "fields", json!([]));
                    if let Some(ceremony) = data
                        .webauthn
                        .as_ref()
                        .filter(|c| c.kind == CeremonyKind::Authenticate)
                    {
                        set(&mut challenge, "options", ceremony.options.clone());
                    }
                }
                if let Some(constraints) = step_options
                    .iter()
                    .find(|o| o.authenticator == *authenticator && o.method == *method)
                    .map(|o| &o.constraints)
                    .filter(|c| **c != MethodConstraints::default())
                {
                    set(&mut challenge, "constraints", json!(constraints));
                }
                let uv_wanted = step_options
                    .iter()
                    .find(|o| o.authenticator == *authenticator && o.method == *method)
                    .map(|o| o.constraints.user_verification)
                    .unwrap_or_default();
                match (authenticator, method, device) {
                    (AuthenticatorKey::Device, Method::Push, Some(d)) if d.enroll_user_verification => {
                        list.push(json!({
                            "name": "enroll-user-verification",
                            "authenticator": authenticator_json(AuthenticatorKey::Device, Method::Push),
                            "user_verification": uv_wanted,
                            "challenge": {"request": d.request, "ports": options.fastpass_ports},
                        }));
                        list.push(poll(AuthenticatorKey::Device, Method::Push, None));
                    }
                    (AuthenticatorKey::Device, Method::Push, Some(d)) => {
                        list.push(poll(AuthenticatorKey::Device, Method::Push, d.number));
                    }
                    (AuthenticatorKey::Device, Method::Fastpass, Some(d)) => {
                        set(
                            &mut challenge,
                            "challenge",
                            json!({"request": d.request, "ports": options.fastpass_ports}),
                        );
                        set(&mut challenge, "fields", json!([]));
                        list.push(challenge);
                        list.push(poll(AuthenticatorKey::Device, Method::Fastpass, None));
                    }
                    _ => list.push(challenge),
                }
            }
            if step_options.len() > 1 || data.current.is_none() {
                let opts: Vec<Value> = step_options
                    .iter()
                    .map(|o| {
                        let mut v = json!({
                            "authenticator": authenticator_json(o.authenticator, o.method),
                            "label": label(o.authenticator, o.method),
                        });
                        if o.constraints != MethodConstraints::default() {
                            set(&mut v, "constraints", json!(o.constraints));
                        }
                        if let Some(id) = o.enrollment_ids.first() {
                            set(&mut v, "id", json!(id));
                        }
                        v
                    })
                    .collect();
                list.push(json!({"name": "select-authenticator", "options": opts}));
            }
        }
        Pending::Enroll { options: enroll } => {
            if let Some(Current::Challenge { device: Some(d), .. }) = &data.current
                && d.enroll_user_verification
            {
                let level = enroll
                    .iter()
                    .find(|o| o.authenticator == AuthenticatorKey::Device)
                    .map(|o| o.constraints.user_verification)
                    .filter(|l| *l != gatehouse_policy::UserVerification::None)
                    .unwrap_or(gatehouse_policy::UserVerification::Biometric);
                list.push(json!({
                    "name": "enroll-user-verification",
                    "authenticator": authenticator_json(AuthenticatorKey::Device, Method::Push),
                    "user_verification": level,
                    "challenge": {"request": d.request, "ports": options.fastpass_ports},
                }));
                list.push(poll(AuthenticatorKey::Device, Method::Push, None));
            }
            if let Some(Current::Enroll {
                authenticator,
                method,
                phone,
                otp,
                ..
            }) = &data.current
            {
                let mut fields = Vec::new();
                match authenticator {
                    AuthenticatorKey::Password => {
                        fields.push(field("password", "secret", true, "New password"));
                    }
                    AuthenticatorKey::Phone if phone.is_none() => {
                        fields.push(field(
                            "phone_number",
                            "string",
                            true,
                            "Mobile number (+15551234567)",
                        ));
                    }
                    _ => fields.push(field("code", "string", true, "Code")),
                }
                let mut enroll_state = json!({
                    "name": "enroll-authenticator",
                    "authenticator": authenticator_json(*authenticator, *method),
                    "fields": fields,
                });
                if let Some((secret, uri)) = options.totp_setup {
                    set(
                        &mut enroll_state,
                        "totp",
                        json!({"secret": secret, "otpauth_uri": uri, "qr_code": qr_code(uri)}),
                    );
                }
                if let Some(otp) = otp {
                    set(&mut enroll_state, "sent_to", json!(otp.sent_to));
                }
                if *authenticator == AuthenticatorKey::Webauthn {
                    set(&mut enroll_state, "fields", json!([]));
                    if let Some(ceremony) = data
                        .webauthn
                        .as_ref()
                        .filter(|c| c.kind == CeremonyKind::Register)
                    {
                        set(&mut enroll_state, "options", ceremony.options.clone());
                    }
                }
                list.push(enroll_state);
            }
            let opts: Vec<Value> = enroll
                .iter()
                .map(|o| {
                    let mut v = json!({
                        "authenticator": {"key": o.authenticator},
                        "label": label(o.authenticator, default_method(o.authenticator)),
                        "kind": o.kind,
                    });
                    if o.constraints != MethodConstraints::default() {
                        set(&mut v, "constraints", json!(o.constraints));
                    }
                    if let Some(id) = &o.enrollment_id {
                        set(&mut v, "id", json!(id));
                    }
                    v
                })
                .collect();
            list.push(json!({"name": "select-enroll", "options": opts}));
        }
        Pending::Done => {}
    }
    if data.identity.is_some() {
        list.push(json!({"name": "back"}));
    }
    list.push(json!({"name": "cancel"}));
    Value::Array(list)
}

/// How often a page or client polls a device step, milliseconds.
const POLL_REFRESH_MS: u64 = 2000;

/// The `poll` remediation of a device step (`number` with number matching).
fn poll(key: AuthenticatorKey, method: Method, number: Option<u32>) -> Value {
    let mut v =
        json!({"name": "poll", "authenticator": authenticator_json(key, method), "refresh": POLL_REFRESH_MS});
    if let Some(n) = number {
        set(&mut v, "number", json!(n));
    }
    v
}

fn field(name: &str, kind: &str, required: bool, label: &str) -> Value {
    json!({"name": name, "type": kind, "required": required, "label": label})
}

fn answer_fields(authenticator: AuthenticatorKey) -> Value {
    match authenticator {
        AuthenticatorKey::Password => json!([field("password", "secret", true, "Password")]),
        _ => json!([field("code", "string", true, "Code")]),
    }
}

pub fn authenticator_json(key: AuthenticatorKey, method: Method) -> Value {
    json!({"key": key, "method": method})
}

/// The method a new enrollment of `key` is verified with.
pub fn default_method(key: AuthenticatorKey) -> Method {
    match key {
        AuthenticatorKey::Password => Method::Password,
        AuthenticatorKey::Email | AuthenticatorKey::Totp => Method::Otp,
        AuthenticatorKey::Phone => Method::Sms,
        AuthenticatorKey::Webauthn => Method::Webauthn,
        AuthenticatorKey::Device => Method::Push,
        AuthenticatorKey::SmartCard => Method::Piv,
        AuthenticatorKey::Idp => Method::Federated,
    }
}

/// How an authenticator and method are named to people.
pub fn label(key: AuthenticatorKey, method: Method) -> &'static str {
    match (key, method) {
        (AuthenticatorKey::Password, _) => "Password",
        (AuthenticatorKey::Email, Method::MagicLink) => "Email link",
        (AuthenticatorKey::Email, _) => "Email code",
        (AuthenticatorKey::Phone, Method::Voice) => "Voice call",
        (AuthenticatorKey::Phone, _) => "Text message code",
        (AuthenticatorKey::Totp, _) => "Authenticator app code",
        (AuthenticatorKey::Webauthn, _) => "Security key or passkey",
        (AuthenticatorKey::Device, Method::Push) => "Gatehouse Verify push",
        (AuthenticatorKey::Device, Method::Fastpass) => "Gatehouse Verify FastPass",
        (AuthenticatorKey::Device, _) => "Gatehouse Verify code",
        (AuthenticatorKey::SmartCard, _) => "Smart card",
        (AuthenticatorKey::Idp, _) => "Identity provider",
    }
}

/// The QR code of an `otpauth://` URI as an SVG `data:` URI, for authenticator apps to scan (the
/// page's CSP allows `data:` images; nothing is fetched from elsewhere).
fn qr_code(uri: &str) -> Option<String> {
    use base64::Engine as _;
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// Sets `key` on a JSON object (no-op on anything else).
fn set(target: &mut Value, key: &str, value: Value) {
    if let Some(map) = target.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
}
