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
    let (source, target) = match targets(s, &from, &to).await {
        Ok(pair) => pair,
        Err(e) => {
            store_error(out, tag, "RENAME", &e);
            return Outcome::Done;
        }
    };
    // RFC 4314 §4: RENAME needs "x" on the mailbox and "k" on the new parent.
    if !source.require('x', "rename the mailbox", out, &tag)
        || !target.require('k', "create mailboxes", out, &tag)
    {
        return Outcome::Done;
    }
    if source.owner != target.owner {
        let why = "A mailbox cannot move between two people's accounts; copy its messages instead";
        out.no_code(tag, "CANNOT", why);
        return Outcome::Done;
    }
    let (owner, from, to) = (source.owner.clone(), source.name.clone(), target.name);
    match store.rename_mailbox(&owner, &from, &to).await {
        Ok(()) => {
            if source.shared {
                crate::shared::audit_use(s, &source, "RENAME").await;
            }
            if let Some(sel) = &mut s.selected
                && sel.name == from
                && sel.owner == owner
            {
                if from == certmail_store::INBOX {
                    // RFC 3501 §6.3.5: INBOX's messages moved out; tell the client.
                    sel.note(&Change::Resync);
                } else {
                    sel.name = to.clone();
                    s.account.changes.set_mailbox(Some(&to));
                }
            }
            s.publish_on(&owner, Change::MailboxRenamed { from, to });
            out.ok(tag, None, "RENAME completed");
        }
        Err(e) => store_error(out, tag, "RENAME", &e),
    }
    Outcome::Done
}

/// The mailbox to rename and its new name, each with the user's rights.
async fn targets(
    s: &SignedIn,
    from: &str,
    to: &str,
) -> Result<(crate::shared::Target, crate::shared::Target), certmail_store::StoreError> {
    let store = s.account.ctx.store.as_ref();
    let source = crate::shared::resolve(store, &s.account.record, from).await?;
    let target = crate::shared::resolve_new(store, &s.account.record, to).await?;
    Ok((source, target))
}
