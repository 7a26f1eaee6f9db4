//! COPY (RFC 3501 §6.4.7) and MOVE (RFC 6851), with COPYUID (RFC 4315 §3).

use std::num::NonZeroU32;

use certmail_session::Change;
use imap_codec::imap_types::{core::Tag, mailbox::Mailbox, response::Code, sequence::SequenceSet};

use super::{Outcome, store_error};
use crate::proto::sets;
use crate::{account::SignedIn, out::Out};

/// COPY (`is_move` false) or MOVE the messages of `set` to `target`.
pub async fn copy(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    set: &SequenceSet,
    target: &Mailbox<'static>,
    uid: bool,
    is_move: bool,
) -> Outcome {
    let command = if is_move { "MOVE" } else { "COPY" };
    let Some(selected) = &s.selected else {
        out.bad(tag, "No mailbox selected");
        return Outcome::Bad;
    };
    if !uid && selected.seq_set_out_of_range(set) {
        out.bad(tag, "No such message sequence number");
        return Outcome::Bad;
    }
    if is_move && selected.read_only {
        out.no_code(tag, "READ-ONLY", "The mailbox is read-only (EXAMINE)");
        return Outcome::Done;
    }
    let source = selected.name.clone();
    let uids: Vec<u32> = selected
        .resolve(set, uid)
        .iter()
        .map(|(_, e)| e.uid)
        .collect();
    let Some(target) = super::existing_target(s, out, &tag, command, target).await else {
        return Outcome::Done;
    };
    if uids.is_empty() {
        out.ok(tag, None, &format!("{command} completed (no messages)"));
        return Outcome::Done;
    }
    if !is_move && !within_quota(s, out, &tag, &source, &uids).await {
        return Outcome::Done;
    }
    let store = s.account.ctx.store.as_ref();
    let result = if is_move {
        store
            .move_messages(s.account_id(), &source, &uids, &target)
            .await
    } else {
        store.copy(s.account_id(), &source, &uids, &target).await
    };
    let (uid_validity, pairs) = match result {
        Ok(r) => r,
        Err(e) => {
            store_error(out, tag, command, &e);
            return Outcome::Done;
        }
    };
    s.account
        .ctx
        .filed(s.account_id(), &source, &target, &pairs);
    for &(_, new_uid) in &pairs {
        s.publish(Change::Exists {
            mailbox: target.clone(),
            uid: new_uid,
        });
    }
    if let Some(selected) = &mut s.selected
        && selected.name == target
    {
        selected.note_own_append();
    }
    let code = copy_uid(uid_validity, &pairs);
    if !is_move {
        out.ok(tag, code, "COPY completed");
        return Outcome::Done;
    }
    // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs.
    out.untagged_ok(code, "Moved");
    expunge_moved(s, out, source, &pairs);
    out.ok(tag, None, "MOVE completed");
    Outcome::Done
}

/// Whether the copies fit in the account's quota; if not (or the store failed), the
/// answer is in `out`.
async fn within_quota(
    s: &SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    source: &str,
    uids: &[u32],
) -> bool {
    let fits = match copied_size(s, source, uids).await {
        Ok(size) => s.account.ctx.within_quota(s.account_id(), size).await,
        Err(e) => Err(e),
    };
    match fits {
        Ok(true) => true,
        Ok(false) => {
            out.no(
                tag.clone(),
                Some(Code::OverQuota),
                "Your mailbox is full; delete some mail first",
            );
            false
        }
        Err(e) => {
            store_error(out, tag.clone(), "COPY", &e);
            false
        }
    }
}

/// MOVE's second half: the moved messages leave the source mailbox (EXPUNGE or VANISHED
/// here, a change for the other connections).
fn expunge_moved(s: &mut SignedIn, out: &mut Out, source: String, pairs: &[(u32, u32)]) {
    let moved: Vec<u32> = pairs.iter().map(|&(from, _)| from).collect();
    if let Some(selected) = &mut s.selected {
        for data in selected.remove(&moved, s.enabled.qresync) {
            out.data(data);
        }
    }
    s.publish(Change::Expunged {
        mailbox: source,
        uids: moved,
    });
}

fn copy_uid(uid_validity: u32, pairs: &[(u32, u32)]) -> Option<Code<'static>> {
    let from: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    let to: Vec<u32> = pairs.iter().map(|p| p.1).collect();
    Some(Code::CopyUid {
        uid_validity: NonZeroU32::new(uid_validity)?,
        source: sets::uid_set(&from)?,
        destination: sets::uid_set(&to)?,
    })
}

/// The bytes a COPY of `uids` adds to the account (MOVE adds none).
async fn copied_size(
    s: &SignedIn,
    mailbox: &str,
    uids: &[u32],
) -> Result<u64, certmail_store::StoreError> {
    if s.account.ctx.settings.quota_bytes == 0 {
        return Ok(0);
    }
    let (Some(&first), Some(&last)) = (uids.first(), uids.last()) else {
        return Ok(0);
    };
    let metas = s
        .account
        .ctx
        .store
        .messages(s.account_id(), mailbox, first..=last)
        .await?;
    Ok(metas
        .iter()
        .filter(|m| uids.binary_search(&m.uid).is_ok())
        .map(|m| m.size)
        .sum())
}
