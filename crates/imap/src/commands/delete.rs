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
    if s.selected.as_ref().is_some_and(|sel| sel.name == name) {
        s.set_selected(None);
    }
    let store = s.account.ctx.store.as_ref();
    match store.delete_mailbox(s.account_id(), &name).await {
        Ok(()) => {
            s.publish(Change::MailboxDeleted { mailbox: name });
            out.ok(tag, None, "DELETE completed");
        }
        Err(e) => store_error(out, tag, "DELETE", &e),
    }
    Outcome::Done
}
