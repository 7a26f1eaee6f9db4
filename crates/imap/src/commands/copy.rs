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
    // RFC 6851 §4 and RFC 4314 §4: MOVE also needs "t" and "e" on the source.
    let source_target = crate::shared::Target::selected(selected, s.account_id());
    if is_move
        && !(source_target.require('t', "mark messages deleted", out, &tag)
            && source_target.require('e', "expunge messages", out, &tag))
    {
        return Outcome::Done;
    }
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
    // Within one account the store checks the quota in the copy's transaction; across two,
    // message by message, so all of them are checked first.
    let across = source_target.owner != target.owner;
    if across && !within_quota(s, out, &tag, &source_target, &target, &uids).await {
        return Outcome::Done;
    }
    let result = perform(s, (&source_target, &target), &uids, is_move).await;
    let (uid_validity, pairs) = match result {
        Ok(r) => r,
        Err(e) => {
            store_error(out, tag, command, &e);
            return Outcome::Done;
        }
    };
    announce(s, (&source_target, &target), &pairs, command).await;
    let code = copy_uid(uid_validity, &pairs);
    if !is_move {
        out.ok(tag, code, "COPY completed");
        return Outcome::Done;
    }
    // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs.
    out.untagged_ok(code, "Moved");
    expunge_moved(s, out, &source_target, &pairs);
    out.ok(tag, None, "MOVE completed");
    Outcome::Done
}

/// The store's copy or move from `source` to `target` (across two owners, message by
/// message): the target's UIDVALIDITY and the (old, new) UID pairs.
async fn perform(
    s: &SignedIn,
    (source, target): (&crate::shared::Target, &crate::shared::Target),
    uids: &[u32],
    is_move: bool,
) -> Result<(u32, Vec<(u32, u32)>), certmail_store::StoreError> {
    let store = s.account.ctx.store.as_ref();
    let quota = s.account.ctx.quota();
    if source.owner != target.owner {
        copy_across(s, source, target, uids, is_move).await
    } else if is_move {
        store
            .move_messages(&target.owner, &source.name, uids, &target.name)
            .await
    } else {
        store
            .copy(&target.owner, &source.name, uids, &target.name, quota)
            .await
    }
}

/// After a copy or move: the filing observer (spam learning), the audit of shared
/// mailboxes, EXISTS for the target's readers, and our own view of the target.
async fn announce(
    s: &mut SignedIn,
    (source, target): (&crate::shared::Target, &crate::shared::Target),
    pairs: &[(u32, u32)],
    command: &str,
) {
    // The copies are the target owner's (another person's, in a shared mailbox).
    s.account
        .ctx
        .filed(&target.owner, &source.name, &target.name, pairs);
    for shared in [source, target].into_iter().filter(|t| t.shared) {
        crate::shared::audit_use(s, shared, command).await;
    }
    for &(_, new_uid) in pairs {
        let change = Change::Exists {
            mailbox: target.name.clone(),
            uid: new_uid,
        };
        s.publish_on(&target.owner, change);
    }
    if let Some(selected) = &mut s.selected
        && selected.name == target.name
        && selected.owner == target.owner
    {
        selected.note_own_append();
    }
}

/// Whether the copies fit in the account's quota; if not (or the store failed), the
/// answer is in `out`.
async fn within_quota(
    s: &SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    source: &crate::shared::Target,
    target: &crate::shared::Target,
    uids: &[u32],
) -> bool {
    let fits = match copied_size(s, source, uids).await {
        Ok(size) => s.account.ctx.within_quota(&target.owner, size).await,
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
fn expunge_moved(
    s: &mut SignedIn,
    out: &mut Out,
    source: &crate::shared::Target,
    pairs: &[(u32, u32)],
) {
    let moved: Vec<u32> = pairs.iter().map(|&(from, _)| from).collect();
    if let Some(selected) = &mut s.selected {
        for data in selected.remove(&moved, s.enabled.qresync) {
            out.data(data);
        }
    }
    let change = Change::Expunged {
        mailbox: source.name.clone(),
        uids: moved,
    };
    s.publish_on(&source.owner, change);
}

/// COPY or MOVE between two people's accounts (one of them shared the mailbox): each
/// message is read and appended to the target (flags kept where the target's rights allow
/// them, RFC 4314 §4); a MOVE then marks the originals `\Deleted` and expunges them. Not
/// one transaction: a failure part-way leaves the messages copied so far in the target
/// (and, for MOVE, still in the source).
async fn copy_across(
    s: &SignedIn,
    source: &crate::shared::Target,
    target: &crate::shared::Target,
    uids: &[u32],
    is_move: bool,
) -> Result<(u32, Vec<(u32, u32)>), certmail_store::StoreError> {
    let store = s.account.ctx.store.as_ref();
    let (Some(&first), Some(&last)) = (uids.first(), uids.last()) else {
        return Ok((0, Vec::new()));
    };
    let mut pairs = Vec::new();
    let mut validity = 0;
    let me = s.account_id();
    let reader = crate::mailbox::seen::reader_of(&source.owner, me);
    let metas =
        crate::mailbox::seen::messages_as(store, &source.owner, &source.name, reader, first..=last)
            .await?;
    for meta in metas {
        if uids.binary_search(&meta.uid).is_err() {
            continue;
        }
        let flags = crate::shared::allowed_flags(target.rights, meta.flags.clone());
        let (flags, seen) = crate::mailbox::seen::split_for(&target.owner, me, flags);
        let message = certmail_store::NewMessage {
            body: store.message_body(&source.owner, &meta.blob).await?,
            flags,
            internal_date: meta.internal_date,
        };
        let (uid_validity, new_uid) =
            super::append::append_as(s, &target.owner, &target.name, message, seen).await?;
        validity = uid_validity;
        pairs.push((meta.uid, new_uid));
    }
    if is_move {
        let moved: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        let deleted = vec!["\\Deleted".to_owned()];
        let change = certmail_store::FlagChange {
            uids: moved.clone(),
            op: certmail_store::FlagOp::Add,
            flags: deleted,
            unchanged_since: None,
        };
        store.set_flags(&source.owner, &source.name, change).await?;
        store
            .expunge(&source.owner, &source.name, Some(&moved))
            .await?;
    }
    Ok((validity, pairs))
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

/// The bytes a COPY or MOVE of `uids` adds to another account.
async fn copied_size(
    s: &SignedIn,
    mailbox: &crate::shared::Target,
    uids: &[u32],
) -> Result<u64, certmail_store::StoreError> {
    if !s.account.ctx.quota().is_limited() {
        return Ok(0);
    }
    let (Some(&first), Some(&last)) = (uids.first(), uids.last()) else {
        return Ok(0);
    };
    let metas = s
        .account
        .ctx
        .store
        .messages(&mailbox.owner, &mailbox.name, first..=last)
        .await?;
    Ok(metas
        .iter()
        .filter(|m| uids.binary_search(&m.uid).is_ok())
        .map(|m| m.size)
        .sum())
}
