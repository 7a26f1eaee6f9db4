//! `APPEND` (RFC 3501 §6.3.11) with several messages (RFC 3502 MULTIAPPEND) and messages
//! joined from texts and URLs (RFC 4469 CATENATE):
//!
//! ```abnf
//! append         = "APPEND" SP mailbox 1*append-message
//! append-message = [SP flag-list] [SP date-time] SP (literal / literal8 / catenate)
//! catenate       = "CATENATE" SP "(" cat-part *(SP cat-part) ")"      ; RFC 4469 §5
//! cat-part       = "TEXT" SP (literal / literal8) / "URL" SP astring
//! ```
//!
//! Every APPEND is collected by the driver (see [`super::claims`]): one message in the
//! standard form is handed to imap-codec whole, as before ([`super::ExtBody::Standard`]);
//! several, or CATENATE, become an [`AppendRequest`]. Each message's flags and date are read by
//! imap-codec too, from a one-message APPEND written with an empty stand-in literal.

use imap_codec::imap_types::{
    command::CommandBody, core::Tag, datetime::DateTime, flag::Flag, mailbox::Mailbox,
};

use super::{
    AppendContent, AppendMessage, AppendRequest, CatenatePart, Cursor, SyntaxError, decode_standard,
};

/// Parses from just after `APPEND`; the messages as they were sent.
pub(super) fn parse(c: &mut Cursor<'_>, tag: &Tag<'static>) -> Result<AppendRequest, SyntaxError> {
    c.sp()?;
    let start = c.position();
    c.astring()?;
    let mailbox_wire = c.since(start).to_vec();
    let mut mailbox = None;
    let mut messages = Vec::new();
    while c.rest() != b"\r\n" {
        c.sp()?;
        let start = c.position();
        if c.at(b'(') {
            c.paren_list(true, |c| c.flag_like().map(|_| ()))?;
            c.sp()?;
        }
        if c.at(b'"') {
            c.string()?;
            c.sp()?;
        }
        let options = c.since(start).to_vec();
        let content = match c.keyword("CATENATE") {
            true => {
                c.sp()?;
                AppendContent::Catenate(c.paren_list(false, catenate_part)?)
            }
            false => AppendContent::Literal(c.literal_or_literal8()?.0),
        };
        let (named, flags, date) = stand_in(tag, &mailbox_wire, &options)?;
        mailbox.get_or_insert(named);
        messages.push(AppendMessage {
            flags,
            date,
            content,
        });
    }
    c.end()?;
    let mailbox = mailbox.ok_or(SyntaxError("APPEND needs a message"))?;
    Ok(AppendRequest { mailbox, messages })
}

/// `TEXT literal` or `URL astring` (RFC 4469 §5, `literal8` with BINARY: RFC 4469 §7).
fn catenate_part(c: &mut Cursor<'_>) -> Result<CatenatePart, SyntaxError> {
    if c.keyword("TEXT") {
        c.sp()?;
        return Ok(CatenatePart::Text(c.literal_or_literal8()?.0));
    }
    if c.keyword("URL") {
        c.sp()?;
        let url = String::from_utf8(c.astring()?).map_err(|_| SyntaxError("a URL is ASCII"))?;
        return Ok(CatenatePart::Url(url));
    }
    Err(SyntaxError("a CATENATE part is TEXT or URL"))
}

/// The mailbox, flags and date of one message, as imap-codec reads them in `tag APPEND
/// mailbox options{1}` + CRLF + `x` + CRLF (`options`: `[flag-list SP] [date-time SP]`).
fn stand_in(
    tag: &Tag<'static>,
    mailbox: &[u8],
    options: &[u8],
) -> Result<(Mailbox<'static>, Vec<Flag<'static>>, Option<DateTime>), SyntaxError> {
    let mut command = Vec::with_capacity(mailbox.len() + options.len() + 32);
    command.extend_from_slice(tag.as_ref().as_bytes());
    command.extend_from_slice(b" APPEND ");
    command.extend_from_slice(mailbox);
    command.push(b' ');
    command.extend_from_slice(options);
    command.extend_from_slice(b"{1}\r\nx\r\n");
    match decode_standard(&command)? {
        CommandBody::Append {
            mailbox,
            flags,
            date,
            ..
        } => Ok((mailbox, flags, date)),
        _ => Err(SyntaxError("bad APPEND")),
    }
}
