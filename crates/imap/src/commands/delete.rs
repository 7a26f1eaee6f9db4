//! DELETE (RFC 3501 §6.3.4).

use certmail_session::Change;
use imap_codec::imap_types::{core::Tag, mailbox::Mailbox};

use super::{Outcome, store_error};
use crate::proto::mailbox_name as name;
use crate::{account::SignedIn, out::Out};

/// DELETE: the mailbox and its messages; children stay.
pub async fn delete(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
) -> Outcome {
    let Some(name) = name::decode_mailbox(mailbox).ok() else {
        out.no_code(tag, "NONEXISTENT", "No such mailbox");
        return Outcome::Done;
    };
    if name == certmail_store::INBOX {
        // RFC 3501 §6.3.4: deleting INBOX is an error.
        out.no_code(tag, "CANNOT", "INBOX cannot be deleted");
        return Outcome::Done;
    }
    let store = s.account.ctx.store.as_ref();
    let target = match crate::shared::resolve(store, &s.account.record, &name).await {
        Ok(target) => target,
        Err(e) => {
            store_error(out, tag, "DELETE", &e);
            return Outcome::Done;
        }
    };
    // RFC 4314 §4: DELETE needs "x".
    if !target.require('x', "delete the mailbox", out, &tag) {
        return Outcome::Done;
    }
    if s.selected
        .as_ref()
        .is_some_and(|sel| sel.name == target.name && sel.owner == target.owner)
    {
        s.set_selected(None);
    }
    let store = s.account.ctx.store.as_ref();
    match store.delete_mailbox(&target.owner, &target.name).await {
        Ok(()) => {
            if target.shared {
                crate::shared::audit_use(s, &target, "DELETE").await;
            }
            let change = Change::MailboxDeleted {
                mailbox: target.name,
            };
            s.publish_on(&target.owner, change);
            out.ok(tag, None, "DELETE completed");
        }
        Err(e) => store_error(out, tag, "DELETE", &e),
    }
    Outcome::Done
}
