//! NAMESPACE (RFC 2342).

use imap_codec::imap_types::{
    core::{IString, QuotedChar, Tag},
    extensions::namespace::Namespace,
    response::Data,
};

use super::Outcome;
use crate::out::Out;

/// NAMESPACE (RFC 2342): the personal namespace, "" with "/" as delimiter, and the other
/// users namespace, `Other Users/`, where mailboxes others shared appear
/// (`Other Users/<owner>/<mailbox>`, see [`crate::shared`]).
pub fn namespace(out: &mut Out, tag: Tag<'static>) -> Outcome {
    let delimiter = Some(QuotedChar::unvalidated(certmail_store::MAILBOX_DELIMITER));
    let personal = vec![Namespace {
        prefix: IString::try_from("").expect("empty quoted string"),
        delimiter,
        extensions: Vec::new(),
    }];
    let prefix = format!(
        "{}{}",
        crate::shared::OTHER_USERS,
        certmail_store::MAILBOX_DELIMITER
    );
    let other = vec![Namespace {
        prefix: IString::try_from(prefix).expect("an ASCII quoted string"),
        delimiter,
        extensions: Vec::new(),
    }];
    out.data(Data::Namespace {
        personal,
        other,
        shared: Vec::new(),
    });
    out.ok(tag, None, "NAMESPACE completed");
    Outcome::Done
}
