//! The sign-in boundary: what LOGIN and AUTHENTICATE hand to the daemon's identity check,
//! and how its answer goes on the wire (DESIGN.md "Identity", the IMAP column).

use std::{fmt, future::Future};

use imap_codec::imap_types::response::Code;

use crate::proto::response::code;

/// A password (or any SASL secret): never printed, in any build profile.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(secret: String) -> Password {
        Password(secret)
    }

    /// The secret itself, for the one place that checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// How the client signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMechanism {
    /// SASL EXTERNAL (RFC 4422 Appendix A): the TLS client certificate alone.
    External,
    /// SASL PLAIN (RFC 4616), with or without SASL-IR (RFC 4959).
    Plain,
    /// The LOGIN command (RFC 3501 §6.2.3).
    Login,
}

/// One sign-in attempt, for the [`Authenticator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRequest {
    /// The mechanism used.
    pub mechanism: SignInMechanism,
    /// The authorization identity, if the client gave one (EXTERNAL: Thunderbird sends the
    /// username here; PLAIN: the optional first field).
    pub authzid: Option<String>,
    /// The user name (PLAIN authcid, LOGIN user); `None` for EXTERNAL.
    pub username: Option<String>,
    /// The password (PLAIN, LOGIN); `None` for EXTERNAL.
    pub password: Option<Password>,
}

/// The refusal codes of DESIGN.md's table (IMAP column), RFC 5530.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// `AUTHENTICATIONFAILED`: the certificate or the credentials are not good enough.
    AuthenticationFailed,
    /// `EXPIRED`: certificate or password expired.
    Expired,
    /// `UNAVAILABLE`: revocation status unknown, or too many failures from this address.
    Unavailable,
    /// `CONTACTADMIN`: account pending approval, disabled or locked.
    ContactAdmin,
}

impl RefusalCode {
    /// The response code.
    pub fn code(self) -> Code<'static> {
        code(match self {
            RefusalCode::AuthenticationFailed => "AUTHENTICATIONFAILED",
            RefusalCode::Expired => "EXPIRED",
            RefusalCode::Unavailable => "UNAVAILABLE",
            RefusalCode::ContactAdmin => "CONTACTADMIN",
        })
    }
}

/// Why a sign-in was refused: sent as `<tag> NO [code] text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRefusal {
    /// The response code.
    pub code: RefusalCode,
    /// A sentence the user can act on (no secrets).
    pub text: String,
}

/// The daemon's identity check for one connection (it knows the connection's client
/// certificate and address). LOGIN and AUTHENTICATE call it once per attempt.
pub trait Authenticator: Send {
    /// What a successful sign-in yields (e.g. the account id).
    type Account: fmt::Debug + Send + Sync + 'static;

    /// Checks one attempt.
    fn sign_in(
        &mut self,
        request: SignInRequest,
    ) -> impl Future<Output = Result<Self::Account, SignInRefusal>> + Send;
}

/// Parses a SASL PLAIN message `[authzid] NUL authcid NUL passwd` (RFC 4616 §2).
pub fn parse_plain(message: &[u8]) -> Option<SignInRequest> {
    let mut fields = message.split(|&b| b == 0);
    let (authzid, authcid, passwd) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || authcid.is_empty() || passwd.is_empty() {
        return None;
    }
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
    Some(SignInRequest {
        mechanism: SignInMechanism::Plain,
        authzid: (!authzid.is_empty()).then(|| text(authzid)).flatten(),
        username: Some(text(authcid)?),
        password: Some(Password::new(text(passwd)?)),
    })
}

/// Parses a SASL EXTERNAL message: an optional authorization identity (RFC 4422 App. A).
pub fn parse_external(message: &[u8]) -> Option<SignInRequest> {
    let authzid = String::from_utf8(message.to_vec()).ok()?;
    if authzid.contains('\0') {
        return None;
    }
    Some(SignInRequest {
        mechanism: SignInMechanism::External,
        authzid: (!authzid.is_empty()).then_some(authzid),
        username: None,
        password: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_prints() {
        let request = parse_plain(b"\0hong\0s3cret-pw").expect("valid PLAIN");
        let printed = format!("{request:?} {:?}", request.password);
        assert!(!printed.contains("s3cret-pw"), "{printed}");
        assert!(printed.contains("hong"));
    }

    #[test]
    fn plain_messages() {
        let r = parse_plain("admin\0홍길동\0비밀번호".as_bytes()).expect("valid");
        assert_eq!(r.authzid.as_deref(), Some("admin"));
        assert_eq!(r.username.as_deref(), Some("홍길동"));
        assert_eq!(r.password.as_ref().map(Password::expose), Some("비밀번호"));
        assert!(parse_plain(b"\0user\0").is_none(), "empty password");
        assert!(parse_plain(b"user\0pass").is_none(), "two fields");
        assert!(parse_plain(b"a\0b\0c\0d").is_none(), "four fields");
        assert!(parse_plain(b"\0\xff\0pw").is_none(), "not UTF-8");
    }

    #[test]
    fn external_messages() {
        assert_eq!(parse_external(b"").map(|r| r.authzid), Some(None));
        assert_eq!(
            parse_external(b"hong@example.kr")
                .and_then(|r| r.authzid)
                .as_deref(),
            Some("hong@example.kr")
        );
        assert!(parse_external(b"a\0b").is_none());
    }
}
