//! What a failed sign-in tells the person in front of it: which side must act, what to do, and
//! the expected versus received values that show the mismatch.

/// Who has to do something for the sign-in to work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The administrator of the tenant's identity provider (Okta, Gatehouse, …).
    IdpAdmin,
    /// The operator of this gateway (us).
    Operator,
    /// The person signing in.
    User,
}

impl Actor {
    /// A stable code for API responses.
    pub fn code(self) -> &'static str {
        match self {
            Self::IdpAdmin => "idp_admin",
            Self::Operator => "operator",
            Self::User => "user",
        }
    }

    /// Who that is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::IdpAdmin => "your organisation's identity provider administrator",
            Self::Operator => "the operator of this sign-in service (us)",
            Self::User => "you",
        }
    }
}

/// One expected-versus-received comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub label: String,
    pub expected: String,
    pub received: String,
}

impl Detail {
    pub fn new(label: &str, expected: impl Into<String>, received: impl Into<String>) -> Self {
        Self {
            label: label.to_owned(),
            expected: expected.into(),
            received: received.into(),
        }
    }
}

/// Advice attached to an error: who acts, what to do, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub actor: Actor,
    pub text: String,
    pub details: Vec<Detail>,
}

/// What the gateway knows about the tenant when it advises.
#[derive(Debug, Clone, Copy)]
pub struct AdviceContext<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
}

/// The Okta/Gatehouse message for a request no access-policy rule covers.
pub const POLICY_EVALUATION_FAILED: &str = "Policy evaluation failed for this request.";

/// Advice for an `error` the IdP sent back to the callback (RFC 6749 section 4.1.2.1).
pub fn idp_error(error: &str, description: Option<&str>, ctx: AdviceContext<'_>) -> Advice {
    let received = match description {
        Some(d) if !d.is_empty() => format!("error={error}: {d}"),
        _ => format!("error={error}"),
    };
    let mentions_redirect = [Some(error), description].into_iter().flatten().any(|t| {
        let t = t.to_ascii_lowercase();
        t.contains("redirect_uri") || t.contains("redirect uri")
    });
    if mentions_redirect {
        return redirect_uri_mismatch(ctx, &received);
    }
    let outcome = Detail::new("sign-in result", "an authorization code", received);
    match error {
        "access_denied" => {
            let policy = description.is_some_and(|d| d.contains("Policy evaluation failed"));
            let text = if policy {
                format!(
                    "The identity provider found no access policy rule that lets you use this \
                     application. Its administrator must assign you (or one of your groups) to the \
                     application with client id `{}` and make sure an access policy rule of its \
                     authorization server covers it and the scopes `openid email profile`.",
                    ctx.client_id
                )
            } else {
                format!(
                    "The identity provider refused the sign-in. If you did not cancel it yourself, \
                     its administrator must check that you are assigned to the application with \
                     client id `{}`.",
                    ctx.client_id
                )
            };
            Advice {
                actor: Actor::IdpAdmin,
                text,
                details: vec![outcome],
            }
        }
        "login_required" | "interaction_required" | "consent_required" | "account_selection_required" => {
            Advice {
                actor: Actor::User,
                text: "The identity provider needs you to sign in or confirm. Start the sign-in again."
                    .into(),
                details: vec![outcome],
            }
        }
        "invalid_client" | "unauthorized_client" | "unsupported_response_type" => Advice {
            actor: Actor::IdpAdmin,
            text: format!(
                "The identity provider does not accept this gateway as client `{}` for the \
                 authorization-code flow. Its administrator must enable the authorization-code \
                 grant (with PKCE) for that client; if the client id is wrong, the operator of this \
                 service must update the tenant.",
                ctx.client_id
            ),
            details: vec![
                Detail::new("client id", ctx.client_id, "refused by the identity provider"),
                outcome,
            ],
        },
        "invalid_scope" => Advice {
            actor: Actor::IdpAdmin,
            text: "The identity provider refused the scopes `openid email profile`. Its \
                   administrator must allow them for this application."
                .into(),
            details: vec![outcome],
        },
        "temporarily_unavailable" | "server_error" => Advice {
            actor: Actor::IdpAdmin,
            text: "The identity provider had a problem of its own. Try again in a few minutes; if it \
                   persists, its administrator must look at its logs."
                .into(),
            details: vec![outcome],
        },
        _ => Advice {
            actor: Actor::IdpAdmin,
            text: format!(
                "The identity provider at `{}` refused the sign-in. Its administrator can find the \
                 reason in its system log.",
                ctx.issuer
            ),
            details: vec![outcome],
        },
    }
}

/// Advice for a redirect URI the IdP does not have registered. Shown on the error page when an
/// IdP says so, and in the tenant view, the connection test and the start page before any login.
pub fn redirect_uri_mismatch(ctx: AdviceContext<'_>, received: &str) -> Advice {
    Advice {
        actor: Actor::IdpAdmin,
        text: format!(
            "The identity provider must have this exact redirect URI registered for client `{}` \
             (same scheme, host, port and path, no trailing slash): {}",
            ctx.client_id, ctx.redirect_uri
        ),
        details: vec![Detail::new("redirect URI", ctx.redirect_uri, received)],
    }
}

/// The guidance shown before any login: the URI to register at the IdP.
pub fn redirect_uri_setup(redirect_uri: &str) -> String {
    format!(
        "Register this exact redirect URI (sign-in redirect / login redirect URI) in the application \
         at your identity provider: {redirect_uri}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: AdviceContext<'static> = AdviceContext {
        issuer: "https://idp.example",
        client_id: "sso-gateway",
        redirect_uri: "http://127.0.0.1:8090/okta-login/acme-corp",
    };

    #[test]
    fn policy_failure_tells_the_idp_admin_what_to_fix() {
        let a = idp_error("access_denied", Some(POLICY_EVALUATION_FAILED), CTX);
        assert_eq!(a.actor, Actor::IdpAdmin);
        assert!(a.text.contains("access policy rule"));
        assert!(a.text.contains("`sso-gateway`"));
        assert_eq!(
            a.details[0].received,
            "error=access_denied: Policy evaluation failed for this request."
        );
    }

    #[test]
    fn redirect_complaints_show_the_exact_uri() {
        let a = idp_error(
            "invalid_request",
            Some("The 'redirect_uri' parameter must be a Login redirect URI in the client app settings"),
            CTX,
        );
        assert_eq!(a.actor, Actor::IdpAdmin);
        assert!(a.text.contains("http://127.0.0.1:8090/okta-login/acme-corp"));
        assert_eq!(a.details[0].expected, CTX.redirect_uri);
    }

    #[test]
    fn user_side_errors_name_the_user() {
        assert_eq!(idp_error("login_required", None, CTX).actor, Actor::User);
        assert_eq!(idp_error("weird_error", None, CTX).actor, Actor::IdpAdmin);
    }
}
