//! AUTHENTICATE "PLAIN" (RFC 5804 §2.1, RFC 4616) decided as IMAP decides it: the
//! certificate identity, binding, account state, password and TOTP by
//! `certmail_auth::signin` (with its per-IP throttle and lockout), then the session
//! registry (one active session per account). A refusal is a `NO` with a sentence.

use std::net::IpAddr;

use base64::Engine as _;
use certmail_auth::Secret;
use certmail_auth::signin::{self, Attempt, Credentials, Protocol as AuthProtocol};
use certmail_session::{ConnectionGuard, DeviceKey, Protocol, SignInError};

use crate::ManageSieveContext;
use crate::proto::{Code, Response};

/// A signed-in connection's account.
#[derive(Debug)]
pub(crate) struct SignedIn {
    /// The canonical account id.
    pub(crate) account: String,
    /// The registry's hold on the session; dropped at LOGOUT or UNAUTHENTICATE.
    pub(crate) guard: ConnectionGuard,
}

/// What one PLAIN message carries (RFC 4616 §2: authzid NUL authcid NUL passwd).
struct Plain {
    authzid: String,
    user: String,
    password: Secret<String>,
}

fn parse_plain(base64: &[u8]) -> Option<Plain> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .ok()?;
    let mut parts = raw.split(|&b| b == 0);
    let (authzid, user, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Plain {
        authzid: String::from_utf8(authzid.to_vec()).ok()?,
        user: String::from_utf8(user.to_vec()).ok()?,
        password: Secret::new(String::from_utf8(password.to_vec()).ok()?),
    })
}

/// Signs in with the PLAIN message `base64` over a connection that presented `cert`.
pub(crate) async fn plain(
    ctx: &ManageSieveContext,
    pki: &certmail_pki::Pki,
    cert: Option<&[u8]>,
    ip: IpAddr,
    base64: &[u8],
) -> Result<SignedIn, Response> {
    let Some(plain) = parse_plain(base64) else {
        return Err(Response::no(
            "The PLAIN message is not valid base64 of user NUL user NUL password",
        ));
    };
    if !plain.authzid.is_empty() && !plain.authzid.eq_ignore_ascii_case(&plain.user) {
        return Err(Response::no(
            "Signing in on behalf of another user is not supported",
        ));
    }
    let attempt = Attempt {
        cert_der: cert,
        credentials: Credentials::Password {
            user: plain.user,
            password: plain.password,
        },
        ip,
        protocol: AuthProtocol::ManageSieve,
        now: certmail_auth::now(),
    };
    let store = ctx.store.as_ref();
    let signed = match signin::sign_in(store, pki, &ctx.settings.sign_in, attempt).await {
        Err(e) => {
            tracing::error!(error = %e, "managesieve sign-in failed on our side");
            return Err(try_later("Temporary problem signing in; try again shortly"));
        }
        // DESIGN.md "Identity": each reason has its sentence; what IMAP calls UNAVAILABLE
        // (a missing CRL, the per-IP throttle) is TRYLATER here.
        Ok(Err(refused)) => {
            let text = refused.text_7bit().to_owned();
            return Err(match refused.reason.imap_code() {
                "UNAVAILABLE" => try_later(&text),
                _ => Response::no(text),
            });
        }
        Ok(Ok(signed)) => signed,
    };
    let device = DeviceKey::new(signed.identity.spki_sha256, ip);
    let account = signed.account.id;
    let policy = ctx.settings.session_policy;
    // Every registry refusal (policy `reject`, the per-session connection cap, the
    // cluster's registry unreachable) passes with time: TRYLATER, with its sentence.
    let registry = ctx.registry.as_ref();
    let guard = registry
        .sign_in(&account, device, Protocol::ManageSieve, policy)
        .await
        .map_err(|e: SignInError| try_later(&capitalised(&e.to_string())))?;
    tracing::info!(%account, %ip, "managesieve sign-in");
    Ok(SignedIn { account, guard })
}

fn try_later(text: &str) -> Response {
    Response::no_code(Code::TryLater, text)
}

/// `text` with its first letter in upper case (error texts start lower-case).
pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_messages() {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let p = parse_plain(b64(b"\0hong\0\xeb\xb9\x84\xeb\xb0\x80").as_bytes()).expect("valid");
        assert_eq!((p.authzid.as_str(), p.user.as_str()), ("", "hong"));
        assert_eq!(p.password.expose(), "비밀");
        assert!(parse_plain(b64(b"hong\0pw").as_bytes()).is_none());
        assert!(parse_plain(b"not base64!").is_none());
    }
}
