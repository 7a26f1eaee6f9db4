//! SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6, §6.3.7).

use imap_codec::imap_types::{core::Tag, mailbox::Mailbox};

use super::{Outcome, store_error};
use crate::proto::mailbox_name as name;
use crate::{account::SignedIn, out::Out};

/// SUBSCRIBE (`subscribed` true) or UNSUBSCRIBE.
pub async fn subscribe(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
    subscribed: bool,
) -> Outcome {
    let Some(name) = name::decode_mailbox(mailbox).ok() else {
        out.no_code(tag, "NONEXISTENT", "No such mailbox");
        return Outcome::Done;
    };
    let store = s.account.ctx.store.as_ref();
    match store
        .set_subscribed(s.account_id(), &name, subscribed)
        .await
    {
        Ok(()) => {
            let text = if subscribed {
                "SUBSCRIBE completed"
            } else {
                "UNSUBSCRIBE completed"
            };
            out.ok(tag, None, text);
        }
        Err(e) => store_error(out, tag, "SUBSCRIBE", &e),
    }
    Outcome::Done
}
