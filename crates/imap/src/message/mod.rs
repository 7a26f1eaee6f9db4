//! The views of a stored message that FETCH needs, computed from its raw RFC 5322 bytes:
//! ENVELOPE, BODY / BODYSTRUCTURE, `BODY[section]<partial>` and RFC822.SIZE, produced as
//! imap-codec types so the encoder writes the wire format.
//!
//! - `header`: raw header blocks and MIME parameter values;
//! - `address`: RFC 5322 address lists with groups;
//! - `mime`: the MIME tree as byte ranges;
//! - `envelope`, `structure`, `section`: the three FETCH views;
//! - `base_subject`: RFC 5256 base subjects for SORT and THREAD;
//! - `binary`: `BINARY[section]` with the transfer encoding undone (RFC 3516).
//!
//! Strings go out as the message has them (RFC 3501 §7.4.2: no RFC 2047 / RFC 2231
//! decoding); decoding for SEARCH is mail-parser's job (see `search`).

pub mod address;
pub mod base_subject;
pub mod binary;
pub mod cache;
pub mod envelope;
pub mod header;
pub mod mime;
pub mod section;
pub mod structure;

use imap_codec::imap_types::{body::BodyStructure, envelope::Envelope, fetch::Section};

use self::mime::MimePart;
pub use self::structure::Extensions;

/// A raw message with its MIME tree: everything FETCH derives from the bytes.
#[derive(Debug, Clone)]
pub struct MessageView<'a> {
    raw: &'a [u8],
    root: MimePart,
}

impl<'a> MessageView<'a> {
    /// Parses `raw` (never fails: broken MIME gives the best structure we can read).
    pub fn parse(raw: &'a [u8]) -> MessageView<'a> {
        MessageView {
            raw,
            root: MimePart::parse(raw, 0..raw.len(), false),
        }
    }

    /// The raw message bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The root MIME entity.
    pub fn root(&self) -> &MimePart {
        &self.root
    }

    /// FETCH RFC822.SIZE: the message's octets (RFC 3501 §7.4.2).
    pub fn rfc822_size(&self) -> u32 {
        u32::try_from(self.raw.len()).unwrap_or(u32::MAX)
    }

    /// FETCH ENVELOPE.
    pub fn envelope(&self) -> Envelope<'static> {
        envelope::envelope(self.raw, &self.root.header)
    }

    /// FETCH BODY (`Extensions::Without`) or BODYSTRUCTURE (`Extensions::With`).
    pub fn body_structure(&self, ext: Extensions) -> BodyStructure<'static> {
        structure::body_structure(self.raw, &self.root, ext)
    }

    /// FETCH `BODY[section]`: `None` for `BODY[]` gives the whole message; returns `None`
    /// when the section does not exist (the caller then sends an empty string or NIL).
    pub fn section(&self, section: Option<&Section<'_>>) -> Option<Vec<u8>> {
        section::extract(self.raw, &self.root, section)
    }

    /// FETCH RFC822.HEADER: the message header with its empty line.
    pub fn header_bytes(&self) -> &'a [u8] {
        &self.raw[self.root.header.range.clone()]
    }

    /// FETCH RFC822.TEXT: the message body.
    pub fn text_bytes(&self) -> &'a [u8] {
        &self.raw[self.root.body.clone()]
    }
}
