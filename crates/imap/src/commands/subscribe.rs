//! SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6, §6.3.7). Another person's mailbox is
//! subscribed by its name in the other users namespace (`Other Users/<owner>/<name>`),
//! when the user may see it ("l", RFC 4314 §4 for LSUB); one they hold no right on does
//! not exist for them. UNSUBSCRIBE takes any name off the list.

use certmail_session::Change;
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
    let mut name = name;
    if subscribed && crate::shared::split_other_users(&name).is_some() {
        let target = match crate::shared::resolve(store, &s.account.record, &name).await {
            Ok(target) => target,
            Err(e) => {
                store_error(out, tag, "SUBSCRIBE", &e);
                return Outcome::Done;
            }
        };
        if !target.require('l', "subscribe to it", out, &tag) {
            return Outcome::Done;
        }
        // The owner's id as the store spells it, as LIST shows the name.
        name = target.client_name();
    }
    match store
        .set_subscribed(s.account_id(), &name, subscribed)
        .await
    {
        Ok(()) => {
            // RFC 5465 SubscriptionChange, for this person's other connections.
            let owner = s.account_id().to_owned();
            let change = Change::SubscriptionChanged {
                mailbox: name.clone(),
                subscribed,
            };
            s.publish_on(&owner, change);
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
