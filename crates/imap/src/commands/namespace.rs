//! NAMESPACE (RFC 2342).

use imap_codec::imap_types::{
    core::{IString, QuotedChar, Tag},
    extensions::namespace::Namespace,
    response::Data,
};

use super::Outcome;
use crate::out::Out;

/// NAMESPACE (RFC 2342): one personal namespace, "" with "/" as delimiter.
pub fn namespace(out: &mut Out, tag: Tag<'static>) -> Outcome {
    let personal = vec![Namespace {
        prefix: IString::try_from("").expect("empty quoted string"),
        delimiter: Some(QuotedChar::unvalidated(certmail_store::MAILBOX_DELIMITER)),
        extensions: Vec::new(),
    }];
    out.data(Data::Namespace {
        personal,
        other: Vec::new(),
        shared: Vec::new(),
    });
    out.ok(tag, None, "NAMESPACE completed");
    Outcome::Done
}
