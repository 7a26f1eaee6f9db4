//! FETCH ENVELOPE (RFC 3501 §7.4.2) as imap-codec's [`Envelope`].

use imap_codec::imap_types::{
    core::{IString, NString},
    envelope::{Address, Envelope},
};

use super::{
    address::{AddressItem, parse_address_list},
    header::HeaderBlock,
};

/// Makes an IMAP string from arbitrary header bytes: a quoted string when it can be one,
/// a literal otherwise (8-bit, CR/LF). NUL, which IMAP strings cannot carry, is dropped.
pub fn istring(bytes: &[u8]) -> IString<'static> {
    let clean: Vec<u8> = bytes.iter().copied().filter(|&b| b != 0).collect();
    IString::try_from(clean)
        .unwrap_or_else(|_| IString::try_from("").expect("empty string is a valid quoted"))
}

/// `NIL` for `None`, an IMAP string otherwise.
pub fn nstring(bytes: Option<&[u8]>) -> NString<'static> {
    NString(bytes.map(istring))
}

/// Builds the envelope of the message whose header block is `header`.
pub fn envelope(raw: &[u8], header: &HeaderBlock) -> Envelope<'static> {
    let text = |name: &str| nstring(header.first_unfolded(raw, name).as_deref());
    let addresses = |name: &str| -> Vec<Address<'static>> {
        header
            .first_unfolded(raw, name)
            .map(|v| parse_address_list(&v).iter().map(to_imap_address).collect())
            .unwrap_or_default()
    };
    let from = addresses("From");
    // RFC 3501 §7.4.2: absent or empty Sender / Reply-To take the value of From.
    let or_from = |list: Vec<Address<'static>>| if list.is_empty() { from.clone() } else { list };
    Envelope {
        date: text("Date"),
        subject: text("Subject"),
        sender: or_from(addresses("Sender")),
        reply_to: or_from(addresses("Reply-To")),
        from: from.clone(),
        to: addresses("To"),
        cc: addresses("Cc"),
        bcc: addresses("Bcc"),
        in_reply_to: text("In-Reply-To"),
        message_id: text("Message-ID"),
    }
}

fn to_imap_address(item: &AddressItem) -> Address<'static> {
    match item {
        AddressItem::Mailbox {
            name,
            adl,
            mailbox,
            host,
        } => Address {
            name: nstring(name.as_deref()),
            adl: nstring(adl.as_deref()),
            mailbox: nstring(Some(mailbox)),
            host: nstring(Some(host)),
        },
        // RFC 3501 §7.4.2: group syntax is a NIL host; the start carries the group name in
        // the mailbox field, the end has NIL mailbox too.
        AddressItem::GroupStart(name) => Address {
            name: NString::NIL,
            adl: NString::NIL,
            mailbox: nstring(Some(name)),
            host: NString::NIL,
        },
        AddressItem::GroupEnd => Address {
            name: NString::NIL,
            adl: NString::NIL,
            mailbox: NString::NIL,
            host: NString::NIL,
        },
    }
}
