//! CLOSE (RFC 3501 §6.4.2) and UNSELECT (RFC 3691).

use imap_codec::imap_types::core::Tag;

use super::{Outcome, store_error};
use crate::{account::SignedIn, out::Out};

/// CLOSE (`expunge` true: removes \Deleted messages silently unless read-only) or UNSELECT.
pub async fn close(s: &mut SignedIn, out: &mut Out, tag: Tag<'static>, expunge: bool) -> Outcome {
    let Some(selected) = s.selected.take() else {
        out.bad(tag, "No mailbox selected");
        return Outcome::Bad;
    };
    s.set_selected(None);
    // RFC 4314 §4: CLOSE expunges only with "e" (silently skipped without it).
    if expunge && !selected.read_only && selected.rights.has('e') {
        // RFC 3501 §6.4.2: no untagged EXPUNGE responses are sent.
        let store = s.account.ctx.store.as_ref();
        match store.expunge(&selected.owner, &selected.name, None).await {
            Ok(uids) if !uids.is_empty() => {
                let change = certmail_session::Change::Expunged {
                    mailbox: selected.name.clone(),
                    uids,
                };
                s.publish_on(&selected.owner, change);
            }
            Ok(_) => {}
            Err(e) => {
                store_error(out, tag, "CLOSE", &e);
                return Outcome::Done;
            }
        }
    }
    let text = if expunge {
        "CLOSE completed"
    } else {
        "UNSELECT completed"
    };
    out.ok(tag, None, text);
    Outcome::Done
}
