//! EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1).

use certmail_session::Change;
use imap_codec::imap_types::{core::Tag, sequence::SequenceSet};

use super::{Outcome, store_error};
use crate::{account::SignedIn, out::Out};

/// Removes the \Deleted messages (all, or those of `uid_set`), telling the client each
/// removal as it happens.
pub async fn expunge(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    uid_set: Option<&SequenceSet>,
) -> Outcome {
    let Some(selected) = &s.selected else {
        out.bad(tag, "No mailbox selected");
        return Outcome::Bad;
    };
    if selected.read_only {
        out.no_code(tag, "READ-ONLY", "The mailbox is read-only (EXAMINE)");
        return Outcome::Done;
    }
    // RFC 4314 §4: EXPUNGE needs "e".
    let target = crate::shared::Target::selected(selected, s.account_id());
    if !target.require('e', "expunge messages", out, &tag) {
        return Outcome::Done;
    }
    let name = selected.name.clone();
    let only: Option<Vec<u32>> = uid_set.map(|set| {
        selected
            .resolve(set, true)
            .iter()
            .map(|(_, e)| e.uid)
            .collect()
    });
    let store = s.account.ctx.store.as_ref();
    let uids = match store
        .expunge(s.selected_owner(), &name, only.as_deref())
        .await
    {
        Ok(uids) => uids,
        Err(e) => {
            store_error(out, tag, "EXPUNGE", &e);
            return Outcome::Done;
        }
    };
    if let Some(selected) = &mut s.selected {
        for data in selected.remove(&uids, s.enabled.qresync) {
            out.data(data);
        }
    }
    if !uids.is_empty() {
        s.publish_selected(Change::Expunged {
            mailbox: name,
            uids,
        });
    }
    out.ok(tag, None, "EXPUNGE completed");
    Outcome::Done
}
