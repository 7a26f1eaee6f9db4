//! FETCH data items (RFC 3501 §6.4.5, §7.4.2; MODSEQ from RFC 7162 §3.1.4; BINARY from
//! RFC 3516) for one message,
//! from what the store knows about it plus, when an item needs the content, its
//! [`MessageView`].

use std::num::{NonZeroU32, NonZeroU64};

use chrono::{DateTime, FixedOffset, Timelike, Utc};
use imap_codec::imap_types::{
    core::NString,
    datetime::DateTime as ImapDateTime,
    fetch::{MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName},
    flag::Flag,
};

use crate::{
    message::{Extensions, MessageView, binary, envelope::istring, section::partial},
    proto::flags::fetch_flags,
};

/// What the store knows about a message, without its content.
#[derive(Debug, Clone, Copy)]
pub struct FetchFacts<'a> {
    /// The message's UID.
    pub uid: u32,
    /// Its flags (\Recent is `recent`).
    pub flags: &'a [Flag<'static>],
    /// \Recent for this session.
    pub recent: bool,
    /// INTERNALDATE.
    pub internal_date: DateTime<FixedOffset>,
    /// RFC822.SIZE (the stored size, so FAST needs no content).
    pub size: u32,
    /// MODSEQ (RFC 7162).
    pub modseq: u64,
}

/// Why a FETCH item cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// BINARY / BINARY.SIZE of a part whose transfer encoding we cannot undo (RFC 3516
    /// §4.3: `NO [UNKNOWN-CTE]`).
    #[error("unknown content-transfer-encoding")]
    UnknownCte,
    /// An item needs the message content but no view was given (a caller bug).
    #[error("message content needed but not loaded")]
    ContentNotLoaded,
}

/// The items of a FETCH response.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchResult {
    /// The data items, in the order asked.
    pub items: Vec<MessageDataItem<'static>>,
    /// True when a non-PEEK body item was fetched: the caller sets \Seen unless the mailbox
    /// is read-only, and adds FLAGS to the response if that changed them (RFC 3501 §6.4.5).
    pub sets_seen: bool,
}

/// The item names of a FETCH, macros expanded (RFC 3501 §6.4.5). `uid_fetch` adds UID
/// (RFC 3501 §6.4.8); `modseq` adds MODSEQ once CONDSTORE is enabled (RFC 7162 §3.2).
pub fn item_names(
    names: &MacroOrMessageDataItemNames<'static>,
    uid_fetch: bool,
    modseq: bool,
) -> Vec<MessageDataItemName<'static>> {
    let mut list = match names {
        MacroOrMessageDataItemNames::Macro(m) => {
            m.expand().into_iter().map(|n| to_static(&n)).collect()
        }
        MacroOrMessageDataItemNames::MessageDataItemNames(list) => list.clone(),
    };
    if uid_fetch && !list.contains(&MessageDataItemName::Uid) {
        list.insert(0, MessageDataItemName::Uid);
    }
    if modseq && !list.contains(&MessageDataItemName::ModSeq) {
        list.push(MessageDataItemName::ModSeq);
    }
    list
}

fn to_static(name: &MessageDataItemName<'_>) -> MessageDataItemName<'static> {
    imap_codec::imap_types::ToStatic::to_static(name)
}

/// True when any item needs the message content (so the caller loads the blob only then).
pub fn needs_content(names: &[MessageDataItemName<'_>]) -> bool {
    names.iter().any(|n| {
        !matches!(
            n,
            MessageDataItemName::Flags
                | MessageDataItemName::InternalDate
                | MessageDataItemName::Rfc822Size
                | MessageDataItemName::Uid
                | MessageDataItemName::ModSeq
        )
    })
}

/// True when the message's header block (see [`crate::message::cache`]) answers every item
/// that needs content: ENVELOPE, RFC822.HEADER and the top-level `BODY[HEADER]`,
/// `BODY[HEADER.FIELDS (...)]` and `BODY[HEADER.FIELDS.NOT (...)]`, partial or not. A view
/// of the header block alone gives these the same bytes as a view of the whole message.
pub fn header_suffices(names: &[MessageDataItemName<'_>]) -> bool {
    use imap_codec::imap_types::fetch::Section;
    names.iter().all(|n| match n {
        MessageDataItemName::Envelope | MessageDataItemName::Rfc822Header => true,
        MessageDataItemName::BodyExt {
            section:
                Some(
                    Section::Header(None)
                    | Section::HeaderFields(None, _)
                    | Section::HeaderFieldsNot(None, _),
                ),
            ..
        } => true,
        other => !needs_content(std::slice::from_ref(other)),
    })
}

/// Builds the data items for `names`.
pub fn fetch_items(
    names: &[MessageDataItemName<'static>],
    facts: &FetchFacts<'_>,
    view: Option<&MessageView<'_>>,
) -> Result<FetchResult, FetchError> {
    let items = names
        .iter()
        .map(|name| fetch_item(name, facts, view))
        .collect::<Result<Vec<_>, _>>()?;
    let sets_seen = names.iter().any(sets_seen);
    Ok(FetchResult { items, sets_seen })
}

/// RFC 3501 §6.4.5 (and RFC 3516 §4.2 for BINARY): whether fetching `name` sets \Seen.
pub fn sets_seen(name: &MessageDataItemName<'_>) -> bool {
    matches!(
        name,
        MessageDataItemName::BodyExt { peek: false, .. }
            | MessageDataItemName::Binary { peek: false, .. }
            | MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Text
    )
}

/// One data item (a table from item name to its value).
fn fetch_item(
    name: &MessageDataItemName<'static>,
    facts: &FetchFacts<'_>,
    view: Option<&MessageView<'_>>,
) -> Result<MessageDataItem<'static>, FetchError> {
    let content = || view.ok_or(FetchError::ContentNotLoaded);
    Ok(match name {
        MessageDataItemName::Flags => {
            MessageDataItem::Flags(fetch_flags(facts.flags, facts.recent))
        }
        MessageDataItemName::InternalDate => {
            MessageDataItem::InternalDate(imap_date_time(facts.internal_date))
        }
        MessageDataItemName::Rfc822Size => MessageDataItem::Rfc822Size(facts.size),
        MessageDataItemName::Uid => {
            MessageDataItem::Uid(NonZeroU32::new(facts.uid).unwrap_or(NonZeroU32::MIN))
        }
        MessageDataItemName::ModSeq => {
            MessageDataItem::ModSeq(NonZeroU64::new(facts.modseq).unwrap_or(NonZeroU64::MIN))
        }
        MessageDataItemName::Envelope => MessageDataItem::Envelope(content()?.envelope()),
        MessageDataItemName::Body => {
            MessageDataItem::Body(content()?.body_structure(Extensions::Without))
        }
        MessageDataItemName::BodyStructure => {
            MessageDataItem::BodyStructure(content()?.body_structure(Extensions::With))
        }
        MessageDataItemName::Rfc822 => MessageDataItem::Rfc822(nstring(content()?.raw())),
        MessageDataItemName::Rfc822Header => {
            MessageDataItem::Rfc822Header(nstring(content()?.header_bytes()))
        }
        MessageDataItemName::Rfc822Text => {
            MessageDataItem::Rfc822Text(nstring(content()?.text_bytes()))
        }
        MessageDataItemName::BodyExt {
            section,
            partial: range,
            ..
        } => {
            let bytes = content()?.section(section.as_ref());
            // A section the message does not have is NIL; an origin past the end
            // gives the empty string (RFC 3501 §6.4.5).
            let data = match (&bytes, range) {
                (None, _) => NString::NIL,
                (Some(b), Some((origin, count))) => nstring(partial(b, *origin, count.get())),
                (Some(b), None) => nstring(b),
            };
            MessageDataItem::BodyExt {
                section: section.clone(),
                origin: range.map(|(o, _)| o),
                data,
            }
        }
        MessageDataItemName::Binary {
            section,
            partial: range,
            ..
        } => {
            let data = binary::decoded(content()?, section).map_err(|_| FetchError::UnknownCte)?;
            let data = match (data, range) {
                (Some(b), Some((origin, count))) => {
                    Some(partial(&b, *origin, count.get()).to_vec())
                }
                (data, _) => data,
            };
            MessageDataItem::Binary {
                section: section.clone(),
                value: binary::value(data),
            }
        }
        MessageDataItemName::BinarySize { section } => {
            let data = binary::decoded(content()?, section).map_err(|_| FetchError::UnknownCte)?;
            MessageDataItem::BinarySize {
                section: section.clone(),
                size: data.map_or(0, |d| u32::try_from(d.len()).unwrap_or(u32::MAX)),
            }
        }
    })
}

/// An INTERNALDATE IMAP can carry (RFC 3501 §9 date-time): whole seconds, a whole-minute
/// offset (else UTC), years 0–9999 (else the epoch).
pub fn imap_date_time(value: DateTime<FixedOffset>) -> ImapDateTime {
    let value = value.with_nanosecond(0).unwrap_or(value);
    ImapDateTime::try_from(value)
        .or_else(|_| ImapDateTime::try_from(value.with_timezone(&Utc).fixed_offset()))
        .unwrap_or_else(|_| ImapDateTime::unvalidated(DateTime::UNIX_EPOCH.fixed_offset()))
}

/// Message octets as an IMAP string (a literal unless it can be quoted). IMAP4rev1 strings
/// cannot carry NUL; it is dropped (BINARY would be needed).
fn nstring(bytes: &[u8]) -> NString<'static> {
    NString(Some(istring(bytes)))
}
