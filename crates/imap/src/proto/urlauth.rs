//! URLAUTH-authorized IMAP URLs (RFC 4467 §3, RFC 5092 §3): what GENURLAUTH signs and
//! URLFETCH checks, and the INTERNAL mechanism's token. No store, no clock: the caller
//! passes the key and the time.
//!
//! ```abnf
//! authimapurlrump = "imap://" enc-user [iauth] "@" hostport "/" imessagepart
//!                   [";EXPIRE=" date-time] ";URLAUTH=" access
//! authimapurlfull = authimapurlrump ":" mechanism ":" 32*HEXDIG
//! access          = ("submit+" enc-user) / ("user+" enc-user) / "authuser" / "anonymous"
//! ```
//!
//! The INTERNAL token is HMAC-SHA256, under the user's access key for the mailbox, of the
//! rump exactly as GENURLAUTH received it (RFC 4467 §7 leaves the algorithm to the
//! server), written as 64 lowercase hex digits. Neither `;` nor `:` can appear unencoded
//! in a mailbox, section or user name (RFC 5092 `bchar`, `achar`), so the first
//! `;URLAUTH=` ends the message part and the first `:` after it ends the access.

use percent_encoding::percent_decode_str;
use ring::hmac;

use super::imap_url::{self, MessageRef};

/// The only mechanism we offer (RFC 4467 §7: INTERNAL MUST be supported).
pub const INTERNAL: &str = "INTERNAL";

/// Who may URLFETCH a URL (RFC 4467 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `anonymous`: anyone (here: anyone signed in, as URLFETCH needs a session).
    Anonymous,
    /// `authuser`: any user signed in to this server.
    AuthUser,
    /// `submit+user`: only the submission server, sending for that user (BURL).
    Submit(String),
    /// `user+user`: only that user.
    User(String),
}

/// A parsed URLAUTH URL: its rump's parts and, for a full URL, its verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUrl {
    /// The user whose key signs it (the URL's `enc-user`, decoded).
    pub user: String,
    /// The message or part it names.
    pub message: MessageRef,
    /// `;EXPIRE=`, in Unix seconds.
    pub expire: Option<i64>,
    /// Who may fetch it.
    pub access: Access,
    /// The rump as received: what the token signs.
    pub rump: String,
    /// The verifier of a full URL: the mechanism (as sent) and the token's octets.
    pub verifier: Option<(String, Vec<u8>)>,
}

impl AuthUrl {
    /// Whether it has expired at `now` (Unix seconds).
    pub fn expired(&self, now: i64) -> bool {
        self.expire.is_some_and(|at| at <= now)
    }
}

/// Parses a URL GENURLAUTH is asked to sign (a rump: no verifier).
pub fn parse_rump(url: &str) -> Result<AuthUrl, &'static str> {
    let parsed = parse(url)?;
    if parsed.verifier.is_some() {
        return Err("the URL already carries a mechanism and a token; give it without them");
    }
    Ok(parsed)
}

/// Parses a URL URLFETCH is asked to read (with its verifier).
pub fn parse_full(url: &str) -> Result<AuthUrl, &'static str> {
    let parsed = parse(url)?;
    if parsed.verifier.is_none() {
        return Err("the URL has no :INTERNAL:token; make one with GENURLAUTH");
    }
    Ok(parsed)
}

fn parse(url: &str) -> Result<AuthUrl, &'static str> {
    if !url
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("imap://"))
    {
        return Err("a URLAUTH URL starts with imap://");
    }
    let upper = url.to_ascii_uppercase();
    let at_auth = upper
        .find(";URLAUTH=")
        .ok_or("the URL has no ;URLAUTH= access identifier")?;
    let after = &url[at_auth + ";URLAUTH=".len()..];
    let (access_text, verifier) = match after.split_once(':') {
        Some((access, rest)) => (access, Some(verifier(rest)?)),
        None => (after, None),
    };
    let rump = url[..at_auth + ";URLAUTH=".len() + access_text.len()].to_owned();
    let (located, expire) = match upper[..at_auth].find(";EXPIRE=") {
        Some(at) => (&url[..at], Some(expiry(&url[at + 8..at_auth])?)),
        None => (&url[..at_auth], None),
    };
    let rest = &located[7..];
    let slash = rest.find('/').ok_or("the URL names no mailbox")?;
    let (authority, path) = rest.split_at(slash);
    let (user, _host) = authority
        .rsplit_once('@')
        .ok_or("the URL must name its user, as imap://user@host/")?;
    let user = user
        .get(
            ..user
                .to_ascii_uppercase()
                .find(";AUTH=")
                .unwrap_or(user.len()),
        )
        .unwrap_or(user);
    Ok(AuthUrl {
        user: decoded(user)?,
        message: imap_url::parse(path)?,
        expire,
        access: access(access_text)?,
        rump,
        verifier,
    })
}

fn decoded(text: &str) -> Result<String, &'static str> {
    let text = percent_decode_str(text)
        .decode_utf8()
        .map_err(|_| "the URL's %-encoding is not UTF-8")?;
    if text.is_empty() {
        return Err("the URL names no user");
    }
    Ok(text.into_owned())
}

fn access(text: &str) -> Result<Access, &'static str> {
    let lower = text.to_ascii_lowercase();
    let user = |prefix: usize| decoded(&text[prefix..]);
    match lower.as_str() {
        "anonymous" => Ok(Access::Anonymous),
        "authuser" => Ok(Access::AuthUser),
        _ if lower.starts_with("submit+") => Ok(Access::Submit(user(7)?)),
        _ if lower.starts_with("user+") => Ok(Access::User(user(5)?)),
        _ => Err("the access identifier is not anonymous, authuser, submit+user or user+user"),
    }
}

fn verifier(text: &str) -> Result<(String, Vec<u8>), &'static str> {
    let (mechanism, token) = text
        .split_once(':')
        .ok_or("the URL's verifier is not :mechanism:token")?;
    if token.len() < 32 || token.len() % 2 != 0 {
        return Err("the URL's token is not 32 or more hex digits");
    }
    let hex = |pair: &[u8]| {
        std::str::from_utf8(pair)
            .ok()
            .and_then(|p| u8::from_str_radix(p, 16).ok())
    };
    let octets: Option<Vec<u8>> = token.as_bytes().chunks(2).map(hex).collect();
    Ok((
        mechanism.to_owned(),
        octets.ok_or("the URL's token is not hex digits")?,
    ))
}

/// `;EXPIRE=` is an RFC 3339 date-time.
fn expiry(text: &str) -> Result<i64, &'static str> {
    chrono::DateTime::parse_from_rfc3339(&decoded(text)?)
        .map(|t| t.timestamp())
        .map_err(|_| "the URL's EXPIRE is not a date-time such as 2026-12-31T18:00:00Z")
}

/// The full URL GENURLAUTH answers: the rump, the mechanism and the token under `key`.
pub fn authorize(rump: &str, key: &[u8; 32]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), rump.as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{rump}:internal:{hex}")
}

/// Whether a full URL's verifier is INTERNAL's token of its rump under `key`
/// (compared in constant time).
pub fn verify(url: &AuthUrl, key: &[u8; 32]) -> bool {
    let Some((mechanism, token)) = &url.verifier else {
        return false;
    };
    mechanism.eq_ignore_ascii_case(INTERNAL)
        && hmac::verify(
            &hmac::Key::new(hmac::HMAC_SHA256, key),
            url.rump.as_bytes(),
            token,
        )
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUMP: &str = "imap://hong@mail.example.kr/%EB%B3%B4%EA%B3%A0%EC%84%9C/;uid=20/;section=1.2;urlauth=submit+hong";

    #[test]
    fn rfc4467_rump_and_full_urls() {
        let url = parse_rump(RUMP).unwrap();
        assert_eq!(url.user, "hong");
        assert_eq!(url.message.mailbox, "보고서");
        assert_eq!(
            (url.message.uid, url.message.section.as_deref()),
            (20, Some("1.2"))
        );
        assert_eq!(url.access, Access::Submit("hong".into()));
        assert_eq!(url.rump, RUMP);
        let full = authorize(RUMP, &[7; 32]);
        assert!(full.starts_with(&format!("{RUMP}:internal:")));
        assert_eq!(full.len(), RUMP.len() + ":internal:".len() + 64);
        let parsed = parse_full(&full).unwrap();
        assert_eq!(parsed.rump, RUMP);
        assert!(verify(&parsed, &[7; 32]));
        assert!(!verify(&parsed, &[8; 32]), "another key");
        let upper = full.replace(":internal:", ":INTERNAL:");
        assert!(verify(&parse_full(&upper).unwrap(), &[7; 32]));
    }

    #[test]
    fn a_changed_url_does_not_verify() {
        let full = authorize(RUMP, &[7; 32]);
        for changed in [
            full.replace("uid=20", "uid=21"),
            full.replace("submit+hong", "submit+kim"),
            full.replace("section=1.2", "section=1"),
        ] {
            assert!(
                !verify(&parse_full(&changed).unwrap(), &[7; 32]),
                "{changed}"
            );
        }
    }

    #[test]
    fn access_identifiers_and_expiry() {
        let url = |access: &str| {
            parse_rump(&format!(
                "imap://kim;AUTH=*@h/INBOX;UIDVALIDITY=9/;UID=1;EXPIRE=2026-12-07T10:00:00Z;URLAUTH={access}"
            ))
        };
        assert_eq!(url("anonymous").unwrap().access, Access::Anonymous);
        assert_eq!(url("AuthUser").unwrap().access, Access::AuthUser);
        let user = url("user+%EA%B9%80").unwrap();
        assert_eq!(user.access, Access::User("김".into()));
        assert_eq!(user.user, "kim");
        assert_eq!(user.message.uid_validity, Some(9));
        assert_eq!(user.expire, Some(1_796_637_600));
        assert!(user.expired(1_796_637_600) && !user.expired(1_796_637_599));
        assert!(url("everyone").is_err());
    }

    #[test]
    fn what_is_not_a_urlauth_url_is_refused() {
        for bad in [
            "/INBOX/;UID=1;URLAUTH=anonymous",
            "imap://h/INBOX/;UID=1;URLAUTH=anonymous",
            "imap://hong@h/INBOX/;UID=1",
            "imap://hong@h/INBOX/;UID=1;EXPIRE=tomorrow;URLAUTH=anonymous",
            "imap://hong@h/INBOX;URLAUTH=anonymous",
        ] {
            assert!(parse_rump(bad).is_err(), "{bad}");
        }
        let rump = "imap://hong@h/INBOX/;UID=1;URLAUTH=anonymous";
        assert!(parse_full(rump).is_err(), "no verifier");
        assert!(
            parse_full(&format!("{rump}:internal:abc")).is_err(),
            "short token"
        );
        assert!(parse_full(&format!("{rump}:internal:{}", "zz".repeat(32))).is_err());
        assert!(
            parse_rump(&authorize(rump, &[1; 32])).is_err(),
            "already signed"
        );
    }
}
