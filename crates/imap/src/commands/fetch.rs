//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2; MODSEQ and CHANGEDSINCE from RFC 7162
//! §3.1.4). The data items come from [`crate::fetch`]; a body fetch without PEEK sets \Seen
//! (in the store first, so the FLAGS the client hears are the stored ones).

use std::collections::HashMap;
use std::num::NonZeroU32;

use certmail_session::Change;
use certmail_store::{FlagOp, MessageMeta};
use imap_codec::imap_types::{
    command::FetchModifier,
    core::{Tag, Vec1},
    fetch::{MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName},
    response::Data,
    sequence::SequenceSet,
};

use super::{Outcome, search::internal_date, store_error};
use crate::fetch::{FetchFacts, fetch_items, item_names, needs_content};
use crate::mailbox::flags_of;
use crate::message::MessageView;
use crate::proto::flags::fetch_flags;
use crate::server::{Out, SignedIn};

/// FETCH (`uid` false) or UID FETCH.
pub async fn fetch(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    set: &SequenceSet,
    names: MacroOrMessageDataItemNames<'static>,
    uid: bool,
    modifiers: &[FetchModifier],
) -> Outcome {
    let changed_since = modifiers.iter().find_map(|m| match m {
        FetchModifier::ChangedSince(n) => Some(n.get()),
        FetchModifier::Vanished => None,
    });
    let asks_modseq = matches!(&names, MacroOrMessageDataItemNames::MessageDataItemNames(list)
        if list.contains(&MessageDataItemName::ModSeq));
    // RFC 7162 §3.1.4: MODSEQ and CHANGEDSINCE enable CONDSTORE; once enabled, every FETCH
    // response carries MODSEQ (§3.2).
    if changed_since.is_some() || asks_modseq {
        s.condstore = true;
    }
    let items = item_names(&names, uid, s.condstore);
    if items.iter().any(|i| {
        matches!(
            i,
            MessageDataItemName::Binary { .. } | MessageDataItemName::BinarySize { .. }
        )
    }) {
        out.bad(tag, "BINARY is not supported");
        return Outcome::Bad;
    }
    let Some(selected) = &s.selected else {
        out.bad(tag, "No mailbox selected");
        return Outcome::Bad;
    };
    if !uid && selected.seq_set_out_of_range(set) {
        out.bad(tag, "No such message sequence number");
        return Outcome::Bad;
    }
    let targets: Vec<(u32, u32)> = selected
        .resolve(set, uid)
        .iter()
        .map(|(seq, e)| (*seq, e.uid))
        .collect();
    let (Some(&(_, first)), Some(&(_, last))) = (targets.first(), targets.last()) else {
        out.ok(tag, None, "FETCH completed");
        return Outcome::Done;
    };
    let name = selected.name.clone();
    let read_only = selected.read_only;
    let store = s.ctx.store.as_ref();
    let mut metas: HashMap<u32, MessageMeta> =
        match store.messages(s.account_id(), &name, first..=last).await {
            Ok(metas) => metas.into_iter().map(|m| (m.uid, m)).collect(),
            Err(e) => {
                store_error(out, tag, "FETCH", &e);
                return Outcome::Done;
            }
        };
    let sets_seen = !read_only && items.iter().any(sets_seen_flag);
    let mut flags_changed = Vec::new();
    if sets_seen {
        let unseen: Vec<u32> = targets
            .iter()
            .filter(|(_, u)| metas.get(u).is_some_and(|m| !m.has_flag("\\Seen")))
            .map(|&(_, u)| u)
            .collect();
        if !unseen.is_empty() {
            let seen = ["\\Seen".to_owned()];
            match store
                .set_flags(s.account_id(), &name, &unseen, FlagOp::Add, &seen, None)
                .await
            {
                Ok(result) => {
                    for update in result.updated {
                        if let Some(meta) = metas.get_mut(&update.uid) {
                            meta.flags = update.flags;
                            meta.modseq = update.modseq;
                            flags_changed.push(update.uid);
                        }
                    }
                }
                Err(e) => {
                    store_error(out, tag, "FETCH", &e);
                    return Outcome::Done;
                }
            }
        }
    }
    for &uid in &flags_changed {
        if let Some(meta) = metas.get(&uid) {
            if let Some(sel) = &mut s.selected {
                sel.set_entry_flags(uid, meta.flags.clone(), meta.modseq);
            }
            s.publish(Change::Flags {
                mailbox: name.clone(),
                uid,
                modseq: meta.modseq,
            });
        }
    }
    let needs_body = needs_content(&items);
    for (seq, uid) in targets {
        let Some(meta) = metas.get(&uid) else {
            continue; // expunged by another connection; RFC 3501 §7.4.1 lets us skip it
        };
        if changed_since.is_some_and(|since| meta.modseq <= since) {
            continue;
        }
        let raw = if needs_body {
            match store.message_body(s.account_id(), &meta.blob).await {
                Ok(raw) => raw,
                Err(e) => {
                    store_error(out, tag, "FETCH", &e);
                    return Outcome::Done;
                }
            }
        } else {
            Vec::new()
        };
        let view = needs_body.then(|| MessageView::parse(&raw));
        let message_flags = flags_of(&meta.flags);
        let facts = FetchFacts {
            uid,
            flags: &message_flags,
            recent: s.selected.as_ref().is_some_and(|sel| sel.is_recent(uid)),
            internal_date: internal_date(meta.internal_date),
            size: u32::try_from(meta.size).unwrap_or(u32::MAX),
            modseq: meta.modseq,
        };
        let mut data = match fetch_items(&items, &facts, view.as_ref()) {
            Ok(result) => result.items,
            Err(e) => {
                out.internal(tag, "FETCH", &e);
                return Outcome::Done;
            }
        };
        // RFC 3501 §6.4.5: when \Seen was set implicitly, FLAGS go with the response.
        if flags_changed.contains(&uid) && !items.contains(&MessageDataItemName::Flags) {
            data.push(MessageDataItem::Flags(fetch_flags(
                &message_flags,
                facts.recent,
            )));
        }
        if let (Some(seq), Ok(items)) = (NonZeroU32::new(seq), Vec1::try_from(data)) {
            out.data(Data::Fetch { seq, items });
        }
    }
    out.ok(tag, None, "FETCH completed");
    Outcome::Done
}

/// Whether fetching `item` marks the message \Seen (BODY[...] without PEEK, RFC822,
/// RFC822.TEXT).
fn sets_seen_flag(item: &MessageDataItemName<'_>) -> bool {
    matches!(
        item,
        MessageDataItemName::BodyExt { peek: false, .. }
            | MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Text
    )
}
