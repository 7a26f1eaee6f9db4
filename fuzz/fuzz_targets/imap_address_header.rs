//! The header and address parsers on their own (`certmail_imap::message::{header,
//! address}`): the input as a header block (fields, unfolding, MIME parameter values) and
//! as an address list. Nothing may panic or loop (issue 18, F1: a stray `)` looped the
//! address tokenizer until memory ran out), and what comes out is bounded by what went in.
#![no_main]

use certmail_imap::message::address::{AddressItem, parse_address_list};
use certmail_imap::message::header::{HeaderBlock, MimeValue, trim, unfold, unquote};
use libfuzzer_sys::fuzz_target;

fn address_octets(item: &AddressItem) -> usize {
    format!("{item:?}").len()
}

fuzz_target!(|data: &[u8]| {
    // As an address list: every item comes from some of the input's octets.
    let items = parse_address_list(data);
    assert!(
        items.len() <= data.len() + 1,
        "{} items from {} octets",
        items.len(),
        data.len()
    );
    let shown: usize = items.iter().map(address_octets).sum();
    assert!(
        shown <= 64 * (data.len() + 1),
        "the items outgrow the input"
    );

    // As a header block: every field's value lies inside it.
    let block = HeaderBlock::parse(data, 0, data.len());
    for name in ["From", "To", "Cc", "Subject", "Content-Type", "Message-ID"] {
        if let Some(value) = block.first(data, name) {
            assert!(value.len() <= data.len());
            let unfolded = unfold(value);
            assert!(unfolded.len() <= value.len());
            let _ = parse_address_list(trim(&unfolded));
        }
        for value in block.all_unfolded(data, name) {
            assert!(value.len() <= data.len());
        }
    }

    // As a Content-Type value: type, subtype and parameters are pieces of the input.
    let mime = MimeValue::parse(data);
    if let Some((media, sub)) = mime.type_subtype() {
        assert!(media.len() + sub.len() <= data.len());
    }
    for name in ["charset", "boundary", "name"] {
        if let Some(value) = mime.param(name) {
            assert!(unquote(value).len() <= value.len());
        }
    }
});
