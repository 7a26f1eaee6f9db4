//! Per-user `\Seen` on shared mailboxes (RFC 4314 §4 leaves the choice to the server).
//!
//! In a mailbox someone else owns, the reader's `\Seen` is their own: the store keeps a
//! set of UIDs per reader ([`certmail_store::MailboxStore::seen_by`]) beside the message's
//! flags, which stay the owner's. Every place that shows or tests flags of another
//! person's mailbox reads the messages through [`messages_as`], which replaces the owner's
//! `\Seen` with the reader's; STORE and the implicit `\Seen` of a body FETCH write the
//! reader's set with [`store_seen`]. So FETCH FLAGS, SEARCH SEEN/UNSEEN, SELECT's UNSEEN,
//! STATUS UNSEEN and the unsolicited FETCH of a change all agree, for the owner and for
//! each reader, and none of them changes what the others see.
//!
//! A reader's own `\Seen` change gives the message a new MODSEQ (the store does it in the
//! same transaction), so the reader's other devices find it with CHANGEDSINCE or QRESYNC,
//! and their open connections hear of it through the change hub, as a flag change of that
//! message. The owner and the other readers see the MODSEQ move with no visible change,
//! which RFC 7162 allows; only their CONDSTORE connections are told (`Selected::sync`).

use std::ops::RangeInclusive;

use certmail_store::{FlagChange, FlagOp, FlagUpdate, MessageMeta, Store, StoreError, StoreResult};

/// The flag kept per reader.
pub const SEEN: &str = "\\Seen";

/// Whether `flag` is `\Seen` (flags are case-insensitive, RFC 3501 §2.3.2).
pub fn is_seen(flag: &str) -> bool {
    flag.eq_ignore_ascii_case(SEEN)
}

/// The messages of `owner`'s mailbox `name` in `uids`, as `reader` sees them: with the
/// reader's own `\Seen` in place of the owner's. `reader` is `None` for the owner.
pub async fn messages_as(
    store: &dyn Store,
    owner: &str,
    name: &str,
    reader: Option<&str>,
    uids: RangeInclusive<u32>,
) -> Result<Vec<MessageMeta>, StoreError> {
    let mut metas = store.messages(owner, name, uids).await?;
    overlay_all(store, owner, name, reader, &mut metas).await?;
    Ok(metas)
}

/// Gives `metas` (read from `owner`'s mailbox `name`) `reader`'s own `\Seen`; nothing
/// for the owner.
pub async fn overlay_all(
    store: &dyn Store,
    owner: &str,
    name: &str,
    reader: Option<&str>,
    metas: &mut [MessageMeta],
) -> Result<(), StoreError> {
    if let Some(reader) = reader {
        let seen = store.seen_by(owner, name, reader).await?;
        for meta in metas {
            overlay(meta, &seen);
        }
    }
    Ok(())
}

/// Replaces `meta`'s `\Seen` with whether its UID is in the reader's `seen` (ascending).
pub fn overlay(meta: &mut MessageMeta, seen: &[u32]) {
    meta.flags.retain(|f| !is_seen(f));
    if seen.binary_search(&meta.uid).is_ok() {
        meta.flags.push(SEEN.to_owned());
        // The store's order: sorted case-insensitively.
        meta.flags.sort_by_key(|f| f.to_ascii_lowercase());
    }
}

/// The reader of `owner`'s mailbox when `me` is someone else (`None` for the owner).
pub fn reader_of<'a>(owner: &str, me: &'a str) -> Option<&'a str> {
    (!owner.eq_ignore_ascii_case(me)).then_some(me)
}

/// The flags a message added to `owner`'s mailbox by `me` (APPEND, COPY) is stored with,
/// and whether `me` marks it `\Seen` for themself afterwards: in someone else's mailbox
/// the adder's `\Seen` is their own, not the owner's.
pub fn split_for(owner: &str, me: &str, mut flags: Vec<String>) -> (Vec<String>, bool) {
    if reader_of(owner, me).is_none() {
        return (flags, false);
    }
    let seen = flags.iter().any(|f| is_seen(f));
    flags.retain(|f| !is_seen(f));
    (flags, seen)
}

/// STORE as `reader` sees the mailbox (`None`: the owner, a plain store call). For a
/// reader, `\Seen` goes to their own set and every other flag to the message; replacing
/// the flags (FLAGS) keeps the owner's `\Seen` as it was. UNCHANGEDSINCE is tested on
/// the messages' MODSEQ, and a message that fails it keeps the reader's `\Seen` too. The
/// updates give the flags as the reader now sees them.
pub async fn set_flags_as(
    store: &dyn Store,
    (owner, name): (&str, &str),
    reader: Option<&str>,
    change: FlagChange,
) -> Result<StoreResult, StoreError> {
    let Some(reader) = reader else {
        return store.set_flags(owner, name, change).await;
    };
    let (Some(&first), Some(&last)) = (change.uids.iter().min(), change.uids.iter().max()) else {
        return Ok(StoreResult::default());
    };
    let marks_seen = change.flags.iter().any(|f| is_seen(f));
    let rest: Vec<String> = change
        .flags
        .iter()
        .filter(|f| !is_seen(f))
        .cloned()
        .collect();
    let failed_modified = if change.op == FlagOp::Replace {
        replace_keeping_owners_seen(store, (owner, name), &change, rest).await?
    } else {
        let rest = FlagChange {
            flags: rest,
            ..change.clone()
        };
        store.set_flags(owner, name, rest).await?.failed_modified
    };
    let passed: Vec<u32> = change
        .uids
        .iter()
        .copied()
        .filter(|u| !failed_modified.contains(u))
        .collect();
    let seen = match change.op {
        FlagOp::Add => marks_seen.then_some(true),
        FlagOp::Remove => marks_seen.then_some(false),
        FlagOp::Replace => Some(marks_seen),
    };
    if let Some(seen) = seen {
        store_seen(store, owner, name, reader, &passed, seen).await?;
    }
    let updated = messages_as(store, owner, name, Some(reader), first..=last)
        .await?
        .into_iter()
        .filter(|m| passed.contains(&m.uid))
        .map(|m| FlagUpdate {
            uid: m.uid,
            modseq: m.modseq,
            flags: m.flags,
        })
        .collect();
    Ok(StoreResult {
        updated,
        failed_modified,
    })
}

/// A reader's FLAGS (replace) on the messages themselves: every flag but `\Seen` becomes
/// `rest`, and the owner's `\Seen` stays (one store call for the messages the owner has
/// seen, one for the others). Returns the UIDs that failed UNCHANGEDSINCE.
async fn replace_keeping_owners_seen(
    store: &dyn Store,
    (owner, name): (&str, &str),
    change: &FlagChange,
    rest: Vec<String>,
) -> Result<Vec<u32>, StoreError> {
    let (first, last) = (
        change.uids.iter().min().copied().unwrap_or(1),
        change.uids.iter().max().copied().unwrap_or(0),
    );
    let (seen_by_owner, unseen_by_owner): (Vec<MessageMeta>, Vec<MessageMeta>) = store
        .messages(owner, name, first..=last)
        .await?
        .into_iter()
        .filter(|m| change.uids.contains(&m.uid))
        .partition(|m| m.has_flag(SEEN));
    let mut failed = Vec::new();
    for (metas, keeps_seen) in [(seen_by_owner, true), (unseen_by_owner, false)] {
        if metas.is_empty() {
            continue;
        }
        let mut flags = rest.clone();
        if keeps_seen {
            flags.push(SEEN.to_owned());
        }
        let part = FlagChange {
            uids: metas.iter().map(|m| m.uid).collect(),
            flags,
            ..change.clone()
        };
        failed.extend(store.set_flags(owner, name, part).await?.failed_modified);
    }
    Ok(failed)
}

/// Marks (`seen`) or unmarks `uids` in `reader`'s own `\Seen` set of `owner`'s mailbox.
pub async fn store_seen(
    store: &dyn Store,
    owner: &str,
    name: &str,
    reader: &str,
    uids: &[u32],
    seen: bool,
) -> Result<(), StoreError> {
    if uids.is_empty() {
        return Ok(());
    }
    store.set_seen_by(owner, name, reader, uids, seen).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uid: u32, flags: &[&str]) -> MessageMeta {
        MessageMeta {
            uid,
            modseq: 1,
            flags: flags.iter().map(|f| (*f).to_owned()).collect(),
            internal_date: 0,
            size: 0,
            blob: certmail_store::BlobId([0; 32]),
        }
    }

    #[test]
    fn the_readers_seen_replaces_the_owners() {
        let mut read_by_owner = meta(1, &["\\Seen", "\\Flagged"]);
        overlay(&mut read_by_owner, &[2]);
        assert_eq!(read_by_owner.flags, ["\\Flagged"]);
        let mut read_by_reader = meta(2, &["$Label1"]);
        overlay(&mut read_by_reader, &[2]);
        assert_eq!(
            read_by_reader.flags,
            ["$Label1", "\\Seen"],
            "in the store's order"
        );
    }

    #[test]
    fn what_someone_else_adds_is_seen_only_by_them() {
        let flags = || vec!["\\seen".to_owned(), "\\Flagged".to_owned()];
        assert_eq!(
            split_for("hong", "kim", flags()),
            (vec!["\\Flagged".to_owned()], true)
        );
        assert_eq!(split_for("hong", "hong", flags()), (flags(), false));
    }

    #[test]
    fn only_someone_else_is_a_reader() {
        assert_eq!(reader_of("hong", "kim"), Some("kim"));
        assert_eq!(reader_of("hong", "HONG"), None);
    }
}
