//! What changes on the wire once a client has sent `ENABLE IMAP4rev2`, applied to the
//! responses a command produced (so no command file needs to know):
//! RFC 9051 Appendix E (the \Recent flag, the RECENT response and the UNSEEN response code
//! are gone; mailbox names are UTF-8, RFC 9051 §5.1).

use imap_codec::imap_types::{
    core::Vec1,
    fetch::MessageDataItem,
    flag::FlagFetch,
    mailbox::Mailbox,
    response::{Code, Data, Response},
};

/// The response as an IMAP4rev2 client gets it: `None` for an untagged RECENT, and FETCH
/// FLAGS without `\Recent`.
pub fn for_imap4rev2(response: Response<'static>) -> Option<Response<'static>> {
    match response {
        // RFC 9051 §7.4 lists no RECENT response.
        Response::Data(Data::Recent(_)) => None,
        // RFC 9051 §7.1 has no UNSEEN response code (SELECT no longer sends it).
        Response::Status(status)
            if status.tag().is_none() && matches!(status.code(), Some(Code::Unseen(_))) =>
        {
            None
        }
        Response::Data(Data::Fetch { seq, items }) => {
            let items = items.into_inner().into_iter().map(|item| match item {
                MessageDataItem::Flags(flags) => MessageDataItem::Flags(
                    flags
                        .into_iter()
                        .filter(|f| !matches!(f, FlagFetch::Recent))
                        .collect(),
                ),
                other => other,
            });
            // The same number of items as before: never empty.
            let items = Vec1::unvalidated(items.collect());
            Some(Response::Data(Data::Fetch { seq, items }))
        }
        Response::Data(Data::List {
            items,
            delimiter,
            mailbox,
        }) => Some(Response::Data(Data::List {
            items,
            delimiter,
            mailbox: utf8_name(mailbox),
        })),
        Response::Data(Data::Lsub {
            items,
            delimiter,
            mailbox,
        }) => Some(Response::Data(Data::Lsub {
            items,
            delimiter,
            mailbox: utf8_name(mailbox),
        })),
        Response::Data(Data::Status { mailbox, items }) => Some(Response::Data(Data::Status {
            mailbox: utf8_name(mailbox),
            items,
        })),
        other => Some(other),
    }
}

/// A mailbox name in modified UTF-7 as UTF-8.
fn utf8_name(mailbox: Mailbox<'static>) -> Mailbox<'static> {
    match &mailbox {
        Mailbox::Other(other) if other.as_ref().contains(&b'&') => {
            match crate::proto::mailbox_name::decode_utf7(other.as_ref()) {
                Ok(name) => crate::proto::mailbox_name::encode_mailbox_utf8(&name),
                Err(_) => mailbox,
            }
        }
        _ => mailbox,
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use imap_codec::imap_types::flag::Flag;

    use super::*;
    use crate::proto::response::encode;

    #[test]
    fn recent_disappears() {
        assert_eq!(for_imap4rev2(Response::Data(Data::Recent(3))), None);
        let fetch = Response::Data(Data::Fetch {
            seq: NonZeroU32::MIN,
            items: Vec1::from(MessageDataItem::Flags(vec![
                FlagFetch::Flag(Flag::Seen),
                FlagFetch::Recent,
            ])),
        });
        let out = for_imap4rev2(fetch).expect("FETCH stays");
        assert_eq!(encode(&out), b"* 1 FETCH (FLAGS (\\Seen))\r\n");
    }
}
