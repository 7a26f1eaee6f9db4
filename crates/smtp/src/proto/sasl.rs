//! SASL for SMTP AUTH (RFC 4954): the mechanisms we offer (EXTERNAL RFC 4422 App. A,
//! PLAIN RFC 4616, LOGIN), base64 decoding of responses, and the request handed to the
//! caller. Passwords live in [`Secret`], which never shows in Debug or Display.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fmt;

use super::reply::Reply;

/// A secret string (a password or a one-time code) that never appears in Debug or Display.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A sign-in request decoded from AUTH, for the caller to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRequest {
    /// `AUTH EXTERNAL`: sign in with the TLS client certificate.
    External {
        /// The authorization identity the client asked for, if any (`=` means none).
        authzid: Option<String>,
    },
    /// `AUTH PLAIN` (RFC 4616).
    Plain {
        /// The authorization identity, if not empty.
        authzid: Option<String>,
        /// The authentication identity (user name).
        username: String,
        /// The password.
        password: Secret,
    },
    /// `AUTH LOGIN` (the de-facto Username:/Password: exchange).
    Login {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
}

/// The SASL mechanism a client picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mechanism {
    External,
    Plain,
    Login,
}

impl Mechanism {
    /// The mechanisms we know, from smtp-proto's bit flag.
    pub(crate) fn from_flag(flag: u64) -> Option<Self> {
        match flag {
            smtp_proto::AUTH_EXTERNAL => Some(Self::External),
            smtp_proto::AUTH_PLAIN => Some(Self::Plain),
            smtp_proto::AUTH_LOGIN => Some(Self::Login),
            _ => None,
        }
    }
}

/// Where a SASL exchange stands while we wait for the client's next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SaslStep {
    /// Waiting for the EXTERNAL response (authzid or `=`).
    External,
    /// Waiting for the PLAIN response.
    Plain,
    /// Waiting for the LOGIN user name.
    LoginUsername,
    /// Waiting for the LOGIN password.
    LoginPassword {
        /// The user name already given.
        username: String,
    },
}

/// What one client response leads to.
pub(crate) enum SaslOutcome {
    /// Ask the caller to decide.
    Request(AuthRequest),
    /// Send this `334` challenge and wait for another line.
    Continue(SaslStep, Reply),
    /// Refuse the exchange with this reply.
    Refuse(Reply),
}

/// `334 VXNlcm5hbWU6` ("Username:").
fn login_username_prompt() -> Reply {
    Reply::plain(334, "VXNlcm5hbWU6")
}

/// `334 UGFzc3dvcmQ6` ("Password:").
fn login_password_prompt() -> Reply {
    Reply::plain(334, "UGFzc3dvcmQ6")
}

/// The reply to a response that is not valid base64 or not valid for the mechanism.
// RFC 4954 §4: "501 5.5.2 Cannot Base64-decode Client responses"
pub(crate) fn bad_response() -> Reply {
    Reply::new(501, (5, 5, 2), "Cannot decode the authentication response")
}

/// Starts an exchange: with an initial response (SASL-IR, RFC 4954 §4) decode it at once,
/// otherwise send the first challenge.
pub(crate) fn start(mechanism: Mechanism, initial_response: &str) -> SaslOutcome {
    let first_step = match mechanism {
        Mechanism::External => SaslStep::External,
        Mechanism::Plain => SaslStep::Plain,
        Mechanism::Login => SaslStep::LoginUsername,
    };
    if initial_response.is_empty() {
        let challenge = match mechanism {
            Mechanism::Login => login_username_prompt(),
            _ => Reply::plain(334, ""),
        };
        return SaslOutcome::Continue(first_step, challenge);
    }
    respond(first_step, initial_response)
}

/// Handles one client response line (without CRLF) at `step`.
pub(crate) fn respond(step: SaslStep, line: &str) -> SaslOutcome {
    let line = line.trim_end_matches(['\r', '\n']).trim();
    // RFC 4954 §4: a response of "*" cancels the exchange with 501.
    if line == "*" {
        return SaslOutcome::Refuse(Reply::new(501, (5, 7, 0), "Authentication cancelled"));
    }
    let Some(decoded) = decode(line) else {
        return SaslOutcome::Refuse(bad_response());
    };
    match step {
        SaslStep::External => {
            let authzid = (!decoded.is_empty()).then_some(decoded);
            SaslOutcome::Request(AuthRequest::External { authzid })
        }
        SaslStep::Plain => match split_plain(&decoded) {
            Some(request) => SaslOutcome::Request(request),
            None => SaslOutcome::Refuse(bad_response()),
        },
        SaslStep::LoginUsername => SaslOutcome::Continue(
            SaslStep::LoginPassword { username: decoded },
            login_password_prompt(),
        ),
        SaslStep::LoginPassword { username } => SaslOutcome::Request(AuthRequest::Login {
            username,
            password: Secret::new(decoded),
        }),
    }
}

/// Decodes a base64 response; `=` is the empty response (RFC 4954 §4). None when it is not
/// base64 or not UTF-8.
fn decode(line: &str) -> Option<String> {
    if line == "=" {
        return Some(String::new());
    }
    let bytes = STANDARD.decode(line.as_bytes()).ok()?;
    String::from_utf8(bytes).ok()
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`.
fn split_plain(decoded: &str) -> Option<AuthRequest> {
    let mut parts = decoded.split('\0');
    let authzid = parts.next()?;
    let username = parts.next()?;
    let password = parts.next()?;
    if parts.next().is_some() || username.is_empty() {
        return None;
    }
    Some(AuthRequest::Plain {
        authzid: (!authzid.is_empty()).then(|| authzid.to_string()),
        username: username.to_string(),
        password: Secret::new(password),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        STANDARD.encode(text)
    }

    #[test]
    fn secret_is_redacted_in_debug_and_display() {
        let secret = Secret::new("비밀번호123");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{secret}"), "<redacted>");
        let request = AuthRequest::Login {
            username: "hong".into(),
            password: secret,
        };
        assert!(!format!("{request:?}").contains("비밀번호"));
    }

    #[test]
    fn plain_initial_response_is_split() {
        let SaslOutcome::Request(request) = start(Mechanism::Plain, &b64("\0홍길동\0pw")) else {
            panic!("PLAIN with a valid initial response must ask the caller");
        };
        assert_eq!(
            request,
            AuthRequest::Plain {
                authzid: None,
                username: "홍길동".into(),
                password: Secret::new("pw"),
            }
        );
    }

    #[test]
    fn plain_without_two_nuls_is_refused() {
        let SaslOutcome::Refuse(reply) = start(Mechanism::Plain, &b64("user pw")) else {
            panic!("a PLAIN response without NULs must be refused");
        };
        assert_eq!((reply.code, reply.enhanced), (501, Some((5, 5, 2))));
    }

    #[test]
    fn external_equals_means_no_authzid() {
        let SaslOutcome::Request(request) = start(Mechanism::External, "=") else {
            panic!("EXTERNAL = must ask the caller");
        };
        assert_eq!(request, AuthRequest::External { authzid: None });
    }

    #[test]
    fn login_asks_username_then_password() {
        let SaslOutcome::Continue(step, challenge) = start(Mechanism::Login, "") else {
            panic!("LOGIN must prompt");
        };
        assert_eq!(challenge.to_bytes(), b"334 VXNlcm5hbWU6\r\n");
        let SaslOutcome::Continue(step, challenge) = respond(step, &b64("kim")) else {
            panic!("LOGIN must prompt for the password");
        };
        assert_eq!(challenge.to_bytes(), b"334 UGFzc3dvcmQ6\r\n");
        let SaslOutcome::Request(request) = respond(step, &b64("pw")) else {
            panic!("LOGIN must ask the caller after the password");
        };
        assert_eq!(
            request,
            AuthRequest::Login {
                username: "kim".into(),
                password: Secret::new("pw"),
            }
        );
    }

    #[test]
    fn star_cancels_and_garbage_is_refused() {
        let SaslOutcome::Refuse(cancel) = respond(SaslStep::Plain, "*") else {
            panic!("* must cancel");
        };
        assert_eq!(cancel.to_bytes(), b"501 5.7.0 Authentication cancelled\r\n");
        let SaslOutcome::Refuse(bad) = respond(SaslStep::Plain, "not base64!") else {
            panic!("garbage must be refused");
        };
        assert_eq!((bad.code, bad.enhanced), (501, Some((5, 5, 2))));
    }
}
