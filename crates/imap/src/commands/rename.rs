//! RENAME (RFC 3501 §6.3.5).

use certmail_session::Change;
use imap_codec::imap_types::{core::Tag, mailbox::Mailbox};

use super::{Outcome, store_error};
use crate::proto::mailbox_name as name;
use crate::{account::SignedIn, out::Out};

/// RENAME: the mailbox and its children; renaming INBOX moves its messages.
pub async fn rename(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    from: &Mailbox<'static>,
    to: &Mailbox<'static>,
) -> Outcome {
    let (Some(from), Some(to)) = (
        name::decode_mailbox(from).ok(),
        name::decode_mailbox(to).ok(),
    ) else {
        out.no_code(tag, "CANNOT", "That is not a valid mailbox name");
        return Outcome::Done;
    };
    if to == certmail_store::INBOX {
        out.no_code(tag, "ALREADYEXISTS", "INBOX always exists");
        return Outcome::Done;
    }
    let store = s.account.ctx.store.as_ref();
    match store.rename_mailbox(s.account_id(), &from, &to).await {
        Ok(()) => {
            if let Some(sel) = &mut s.selected
                && sel.name == from
            {
                if from == certmail_store::INBOX {
                    // RFC 3501 §6.3.5: INBOX's messages moved out; tell the client.
                    sel.note(&Change::Resync);
                } else {
                    sel.name = to.clone();
                    s.account.changes.set_mailbox(Some(&to));
                }
            }
            s.publish(Change::MailboxRenamed { from, to });
            out.ok(tag, None, "RENAME completed");
        }
        Err(e) => store_error(out, tag, "RENAME", &e),
    }
    Outcome::Done
}
