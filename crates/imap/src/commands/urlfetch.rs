//! URLFETCH (RFC 4467 §6.3) and its extended form (RFC 5524, `URLAUTH=BINARY`): what a
//! URLAUTH URL names, given to whoever its access identifier admits
//! ([`super::urlauth::authorized`]).
//!
//! ```text
//! C: a URLFETCH "imap://hong@…;urlauth=user+kim:internal:5f0e…"
//! S: * URLFETCH "imap://hong@…:internal:5f0e…" {1234}
//! C: b URLFETCH ("imap://hong@…/;section=2;urlauth=…" BINARY BODYPARTSTRUCTURE)
//! S: * URLFETCH "imap://hong@…" (BODYPARTSTRUCTURE ("text" "plain" … "7bit" 11 1 …)) (BINARY {11}
//! S: hello world)
//! ```
//!
//! RFC 5524 §3.2 and its examples: each item the client asked for is its own
//! parenthesised list after the URL, BODYPARTSTRUCTURE first. imaptest release-2.3's
//! `urlauth-binary` expects both in one list; imaptest's maintainer calls that a bug
//! (dovecot/imaptest pull request 3) and its later revision expects what we send.
//! BINARY is FETCH BINARY's decoding (RFC 3516) of the part the URL names: a message or
//! multipart part is sent as stored (its encoding is 7bit, 8bit or binary), a part in an
//! encoding we cannot undo gives `(BINARY NIL)`. With BINARY, BODYPARTSTRUCTURE describes
//! the decoded octets: their encoding domain, size and lines.
//!
//! A URL that is not served is `NIL` (RFC 4467 §6.3); the tagged OK then says why.

use std::num::NonZeroU32;

use certmail_store::{Account, Store};
use imap_codec::imap_types::{
    body::{BodyStructure, SpecificFields},
    core::{Tag, Vec1},
    fetch::{Part, Section},
};

use super::catenate::{part_of, section};
use super::dispatch::{Outcome, store_error};
use super::urlauth::{Denied, authorized, authorized_message};
use crate::account::SignedIn;
use crate::message::{
    Extensions, MessageView, binary,
    envelope::istring,
    section::{partial, resolve},
    structure::{self, count_lines},
};
use crate::out::Out;
use crate::proto::ext::encode::{body_structure, string};
use crate::proto::ext::urlauth::{FetchParts, FetchUrl};
use crate::proto::imap_url::MessageRef;

/// `URLFETCH url ...`: one `* URLFETCH` per URL, in the form the client asked for.
pub async fn urlfetch(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    urls: Vec<FetchUrl>,
) -> Outcome {
    let store = s.account.ctx.store.as_ref();
    let me = &s.account.record;
    let now = unix_now();
    let mut refused: Vec<&'static str> = Vec::new();
    for FetchUrl { url, extended } in urls {
        let served = match &extended {
            None => authorized(store, me, false, &url, now)
                .await
                .map(|content| literal_line(&url, &content)),
            Some(parts) => extended_line(store, me, &url, parts, now).await,
        };
        let line = match served {
            Ok(line) => line,
            Err(Denied::Why(why)) => {
                refused.push(why);
                format!("* URLFETCH {} NIL\r\n", string(&url)).into_bytes()
            }
            Err(Denied::Store(e)) => {
                store_error(out, tag, "URLFETCH", &e);
                return Outcome::Done;
            }
        };
        out.raw_line(line);
    }
    let text = match refused.as_slice() {
        [] => "URLFETCH completed".to_owned(),
        [why] => format!("URLFETCH completed; NIL for one URL: {why}"),
        [first, ..] => format!(
            "URLFETCH completed; NIL for {} URLs, the first because {first}",
            refused.len()
        ),
    };
    out.ok(tag, None, &text);
    Outcome::Done
}

/// Seconds since the Unix epoch (0 if the clock is before it: nothing then expires).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `* URLFETCH url {n}octets` (RFC 4467 §6.3).
fn literal_line(url: &str, content: &[u8]) -> Vec<u8> {
    let mut line = format!("* URLFETCH {} ", string(url)).into_bytes();
    line.extend(literal(content));
    line.extend_from_slice(b"\r\n");
    line
}

/// `{n}\r\n` and the octets, or `~{n}` (RFC 3516 literal8) when they hold NUL.
fn literal(octets: &[u8]) -> Vec<u8> {
    let eight = if octets.contains(&0) { "~" } else { "" };
    let mut out = format!("{eight}{{{}}}\r\n", octets.len()).into_bytes();
    out.extend_from_slice(octets);
    out
}

/// `* URLFETCH url (BODYPARTSTRUCTURE …) (BINARY …)` (RFC 5524 §3.2).
async fn extended_line(
    store: &dyn Store,
    fetcher: &Account,
    url: &str,
    parts: &FetchParts,
    now: i64,
) -> Result<Vec<u8>, Denied> {
    let (raw, r) = authorized_message(store, fetcher, false, url, now).await?;
    let mut line = format!("* URLFETCH {}", string(url)).into_bytes();
    for item in metadata(&raw, &r, parts)? {
        line.push(b' ');
        line.extend(item);
    }
    line.extend_from_slice(b"\r\n");
    Ok(line)
}

/// The items `parts` asks for of the part `r` names in `raw`, each in its parentheses.
/// No parameter at all asks for the content as stored, as BODY does.
fn metadata(raw: &[u8], r: &MessageRef, parts: &FetchParts) -> Result<Vec<Vec<u8>>, Denied> {
    let view = MessageView::parse(raw);
    let binary = match parts.binary {
        true => Some(binary_of(&view, r)?),
        false => None,
    };
    let mut items = Vec::new();
    if parts.structure {
        let mut structure = structure_of(&view, r)?;
        if let Some(Some(decoded)) = &binary {
            describe_decoded(&mut structure, decoded);
        }
        let mut item = b"(BODYPARTSTRUCTURE ".to_vec();
        item.extend(body_structure(&structure));
        item.push(b')');
        items.push(item);
    }
    if parts.body || !(parts.binary || parts.structure) {
        let content = part_of(raw, r)?.ok_or(Denied::Why("the part it names does not exist"))?;
        items.push([&b"(BODY "[..], &literal(&content), b")"].concat());
    }
    if let Some(decoded) = binary {
        let value = decoded.map_or_else(|| b"NIL".to_vec(), |octets| literal(&octets));
        items.push([&b"(BINARY "[..], &value, b")"].concat());
    }
    Ok(items)
}

/// The part numbers of the body part `r` names (none: the whole message). BINARY and
/// BODYPARTSTRUCTURE name body parts, not a header or a text.
fn part_path(r: &MessageRef) -> Result<Vec<NonZeroU32>, Denied> {
    let Some(text) = &r.section else {
        return Ok(Vec::new());
    };
    match section(text) {
        Some(None) => Ok(Vec::new()),
        Some(Some(Section::Part(part))) => Ok(part.0.into_inner()),
        Some(Some(_)) => Err(Denied::Why(
            "BINARY and BODYPARTSTRUCTURE take a body part, and its SECTION is a header or text",
        )),
        None => Err(Denied::Why("its SECTION is not a section FETCH knows")),
    }
}

/// The decoded octets (with the URL's PARTIAL, which counts decoded octets), or `None`
/// for a transfer encoding we cannot undo (RFC 5524: `BINARY NIL`).
fn binary_of(view: &MessageView<'_>, r: &MessageRef) -> Result<Option<Vec<u8>>, Denied> {
    let Ok(decoded) = binary::decoded(view, &part_path(r)?) else {
        return Ok(None);
    };
    let octets = decoded.ok_or(Denied::Why("the part it names does not exist"))?;
    Ok(Some(match r.partial {
        None => octets,
        Some((origin, count)) => partial(&octets, origin, count.unwrap_or(u32::MAX)).to_vec(),
    }))
}

/// The BODYSTRUCTURE of the part `r` names (of the message for none).
fn structure_of(view: &MessageView<'_>, r: &MessageRef) -> Result<BodyStructure<'static>, Denied> {
    let Ok(path) = Vec1::try_from(part_path(r)?) else {
        return Ok(view.body_structure(Extensions::With));
    };
    let part =
        resolve(view.root(), &Part(path)).ok_or(Denied::Why("the part it names does not exist"))?;
    Ok(structure::body_structure(
        view.raw(),
        part,
        Extensions::With,
    ))
}

/// A single part's structure after BINARY: the decoded octets' encoding domain (RFC 2045
/// §2.7–2.9), size and lines. Messages and multiparts are sent as stored, so unchanged.
fn describe_decoded(structure: &mut BodyStructure<'static>, decoded: &[u8]) {
    let BodyStructure::Single { body, .. } = structure else {
        return;
    };
    if matches!(body.specific, SpecificFields::Message { .. }) {
        return;
    }
    body.basic.content_transfer_encoding = istring(domain(decoded).as_bytes());
    body.basic.size = u32::try_from(decoded.len()).unwrap_or(u32::MAX);
    if let SpecificFields::Text {
        number_of_lines, ..
    } = &mut body.specific
    {
        *number_of_lines = count_lines(decoded);
    }
}

/// `7bit`, `8bit` or `binary`: the narrowest domain the octets fit (RFC 2045 §2.7–2.9).
fn domain(octets: &[u8]) -> &'static str {
    let lines_fit = octets
        .split(|&b| b == b'\n')
        .all(|line| line.strip_suffix(b"\r").unwrap_or(line).len() <= 998);
    let bare_breaks = octets.iter().enumerate().any(|(i, &b)| {
        (b == b'\r' && octets.get(i + 1) != Some(&b'\n'))
            || (b == b'\n' && (i == 0 || octets[i - 1] != b'\r'))
    });
    if octets.contains(&0) || bare_breaks || !lines_fit {
        "binary"
    } else if octets.is_ascii() {
        "7bit"
    } else {
        "8bit"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_octets_get_the_narrowest_domain() {
        assert_eq!(domain(b"hello world"), "7bit");
        assert_eq!(domain(b"line\r\nline\r\n"), "7bit");
        assert_eq!(domain("홍길동\r\n".as_bytes()), "8bit");
        assert_eq!(domain(b"a\0b"), "binary");
        // A bare LF or CR, or a line over 998 octets, is no 7bit or 8bit text.
        assert_eq!(domain(b"unix\nline"), "binary");
        assert_eq!(domain(b"old\rmac"), "binary");
        assert_eq!(domain(&[b'x'; 999]), "binary");
        assert_eq!(domain(&[b'x'; 998]), "7bit");
    }

    #[test]
    fn literals_carry_nul_as_literal8() {
        assert_eq!(literal(b"ab"), b"{2}\r\nab");
        assert_eq!(literal(b"a\0"), b"~{2}\r\na\0");
    }
}
