//! The URLAUTH commands (RFC 4467 §6, RFC 5524 §3; imap-codec does not read them):
//!
//! ```abnf
//! genurlauth = "GENURLAUTH" 1*(SP url-rump SP mechanism)
//! resetkey   = "RESETKEY" [SP mailbox *(SP mechanism)]
//! urlfetch   = "URLFETCH" 1*(SP url-fetch-arg)                 ; RFC 5524 §4
//! url-fetch-arg   = url / "(" url *(SP url-fetch-param) ")"
//! url-fetch-param = "BODYPARTSTRUCTURE" / "BINARY" / "BODY"
//! ```
//!
//! URLs are astrings; an unquoted one is read up to the next space or `)` (a URL's `%`
//! is no ATOM-CHAR, and clients send them bare).

use super::{Cursor, SyntaxError};

type Parsed<T> = Result<T, SyntaxError>;

/// `RESETKEY [mailbox [mechanisms]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetKey {
    /// The mailbox, as sent; `None`: every mailbox of the user.
    pub mailbox: Option<Vec<u8>>,
    /// The mechanisms named (none: all).
    pub mechanisms: Vec<String>,
}

/// What one URLFETCH argument asks for (RFC 5524 §4): the plain form is `body` only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchParts {
    /// `BODYPARTSTRUCTURE`.
    pub structure: bool,
    /// `BINARY`: the content with its transfer encoding undone.
    pub binary: bool,
    /// `BODY`: the content as stored.
    pub body: bool,
}

/// One URLFETCH argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchUrl {
    /// The URL, as sent.
    pub url: String,
    /// `None`: the RFC 4467 form (`* URLFETCH url nstring`).
    pub extended: Option<FetchParts>,
}

/// The command names this module reads.
pub(super) const NAMES: [&str; 3] = ["GENURLAUTH", "RESETKEY", "URLFETCH"];

fn text(bytes: Vec<u8>) -> Parsed<String> {
    String::from_utf8(bytes).map_err(|_| SyntaxError("a URL or mechanism must be UTF-8"))
}

/// A URL: a quoted string or literal, or the bytes up to a space, `)` or CR.
fn url(c: &mut Cursor<'_>) -> Parsed<String> {
    if c.at(b'"') || c.at(b'{') || c.at(b'~') {
        return text(c.string()?);
    }
    let bare: Vec<u8> = c
        .rest()
        .iter()
        .copied()
        .take_while(|&b| b > b' ' && b != b')' && b != b'(' && b != 0x7f)
        .collect();
    if bare.is_empty() {
        return Err(SyntaxError("expected a URL"));
    }
    c.skip(bare.len());
    text(bare)
}

/// `GENURLAUTH` from just after its name: the (URL, mechanism) pairs.
pub(super) fn parse_genurlauth(c: &mut Cursor<'_>) -> Parsed<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    while c.rest() != b"\r\n" {
        c.sp()?;
        let rump = url(c)?;
        c.sp()?;
        let mechanism = text(c.astring()?)?;
        pairs.push((rump, mechanism));
    }
    c.end()?;
    if pairs.is_empty() {
        return Err(SyntaxError("GENURLAUTH needs a URL and a mechanism"));
    }
    Ok(pairs)
}

/// `RESETKEY` from just after its name.
pub(super) fn parse_resetkey(c: &mut Cursor<'_>) -> Parsed<ResetKey> {
    let mut reset = ResetKey {
        mailbox: None,
        mechanisms: Vec::new(),
    };
    if c.rest() != b"\r\n" {
        c.sp()?;
        reset.mailbox = Some(c.astring()?);
        while c.rest() != b"\r\n" {
            c.sp()?;
            reset.mechanisms.push(text(c.astring()?)?);
        }
    }
    c.end()?;
    Ok(reset)
}

/// `URLFETCH` from just after its name.
pub(super) fn parse_urlfetch(c: &mut Cursor<'_>) -> Parsed<Vec<FetchUrl>> {
    let mut urls = Vec::new();
    while c.rest() != b"\r\n" {
        c.sp()?;
        if !c.eat(b'(') {
            urls.push(FetchUrl {
                url: url(c)?,
                extended: None,
            });
            continue;
        }
        let url = url(c)?;
        let mut parts = FetchParts::default();
        while !c.eat(b')') {
            c.sp()?;
            if c.keyword("BODYPARTSTRUCTURE") {
                parts.structure = true;
            } else if c.keyword("BINARY") {
                parts.binary = true;
            } else if c.keyword("BODY") {
                parts.body = true;
            } else {
                return Err(SyntaxError(
                    "URLFETCH parameters are BODYPARTSTRUCTURE, BINARY and BODY",
                ));
            }
        }
        // RFC 5524 §4: BODY and BINARY are mutually exclusive.
        if parts.body && parts.binary {
            return Err(SyntaxError("URLFETCH takes BODY or BINARY, not both"));
        }
        urls.push(FetchUrl {
            url,
            extended: Some(parts),
        });
    }
    c.end()?;
    if urls.is_empty() {
        return Err(SyntaxError("URLFETCH needs a URL"));
    }
    Ok(urls)
}
