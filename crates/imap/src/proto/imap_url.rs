//! IMAP URLs (RFC 5092) as CATENATE uses them (RFC 4469 §5): a message or a part of one
//! on this server, named relative to it:
//!
//! ```abnf
//! url   = "/" enc-mailbox [";UIDVALIDITY=" nz-number] "/;UID=" nz-number
//!         ["/;SECTION=" enc-section] ["/;PARTIAL=" number ["." nz-number]]
//! ```
//!
//! Parameter names are case-insensitive; the mailbox and section are %-encoded UTF-8.
//! An absolute `imap://` URL would name a server, which CATENATE cannot reach beyond
//! this one; it is refused with a sentence.

use percent_encoding::percent_decode_str;

/// A parsed message or part reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    /// The mailbox name, decoded (as the client names it: `Other Users/...` for shared).
    pub mailbox: String,
    /// The UIDVALIDITY the URL was made under, if it says.
    pub uid_validity: Option<u32>,
    /// The message.
    pub uid: u32,
    /// The section as FETCH writes it (`HEADER`, `1.MIME`, ...), decoded; `None`: all.
    pub section: Option<String>,
    /// `<origin.count>`; a missing count means to the end.
    pub partial: Option<(u32, Option<u32>)>,
}

/// Parses `url`; the error is a sentence for the user.
pub fn parse(url: &str) -> Result<MessageRef, &'static str> {
    if url
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("imap://"))
    {
        return Err("only URLs of this server's own mailboxes (starting with /) can be used");
    }
    let rest = url
        .strip_prefix('/')
        .ok_or("the URL must start with / and name a mailbox")?;
    let (mailbox_part, params) = rest
        .split_once("/;")
        .ok_or("the URL must name a message with /;UID=")?;
    let (mailbox, validity) = match find_param(mailbox_part, ";UIDVALIDITY=") {
        Some((name, value)) => (name, Some(number(value)?)),
        None => (mailbox_part, None),
    };
    let mailbox = decode(mailbox)?;
    if mailbox.is_empty() {
        return Err("the URL names no mailbox");
    }
    let mut found = MessageRef {
        mailbox,
        uid_validity: validity,
        uid: 0,
        section: None,
        partial: None,
    };
    for (i, param) in params.split("/;").enumerate() {
        let (name, value) = param.split_once('=').ok_or("a URL parameter lacks =")?;
        match (i, name.to_ascii_uppercase().as_str()) {
            (0, "UID") => found.uid = number(value)?,
            (1, "SECTION") if found.section.is_none() => found.section = Some(decode(value)?),
            (1 | 2, "PARTIAL") if found.partial.is_none() => found.partial = Some(partial(value)?),
            _ => return Err("the URL's parameters are not UID, SECTION and PARTIAL in that order"),
        }
    }
    if found.uid == 0 {
        return Err("the URL must name a message with /;UID=");
    }
    Ok(found)
}

/// Splits `text` at a case-insensitive `key`.
fn find_param<'a>(text: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
    let at = text.to_ascii_uppercase().find(key)?;
    Some((&text[..at], &text[at + key.len()..]))
}

fn decode(text: &str) -> Result<String, &'static str> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "the URL's %-encoding is not UTF-8")
}

fn number(text: &str) -> Result<u32, &'static str> {
    match text.parse::<u32>() {
        Ok(n) if n > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err("a number in the URL is not a positive number"),
    }
}

fn partial(text: &str) -> Result<(u32, Option<u32>), &'static str> {
    let bad = "PARTIAL must be origin or origin.length";
    match text.split_once('.') {
        Some((origin, length)) => Ok((
            origin.parse().map_err(|_| bad)?,
            Some(number(length).map_err(|_| bad)?),
        )),
        None => Ok((text.parse().map_err(|_| bad)?, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4469_and_rfc5092_forms() {
        let r = parse("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME").unwrap();
        assert_eq!(r.mailbox, "Drafts");
        assert_eq!((r.uid_validity, r.uid), (Some(385_759_045), 20));
        assert_eq!(r.section.as_deref(), Some("1.MIME"));
        let r = parse("/%EB%B3%B4%EA%B4%80%ED%95%A8/;uid=3/;PARTIAL=100000.1").unwrap();
        assert_eq!((r.mailbox.as_str(), r.uid), ("보관함", 3));
        assert_eq!(r.partial, Some((100_000, Some(1))));
        let r = parse("/Other%20Users/kim/Team/;UID=7").unwrap();
        assert_eq!(r.mailbox, "Other Users/kim/Team");
        assert_eq!((r.section, r.partial), (None, None));
    }

    #[test]
    fn what_is_not_a_message_here_is_refused() {
        assert!(parse("imap://hong@mail.example/INBOX/;UID=1").is_err());
        assert!(parse("INBOX/;UID=1").is_err());
        assert!(parse("/INBOX").is_err());
        assert!(parse("/INBOX/;UID=0").is_err());
        assert!(parse("/INBOX/;UID=x").is_err());
        assert!(parse("/INBOX/;SECTION=1").is_err());
        assert!(parse("/INBOX/;UID=1/;PARTIAL=1/;SECTION=1").is_err());
        assert!(parse("/%FF/;UID=1").is_err());
    }
}
