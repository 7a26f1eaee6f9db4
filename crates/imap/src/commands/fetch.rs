//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2; MODSEQ and CHANGEDSINCE from RFC 7162
//! §3.1.4). Body parts come from [`crate::message`]; a body fetch without PEEK sets \Seen
//! (in the store first, so the FLAGS the client hears are the stored ones).

use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroU64};

use certmail_session::Change;
use certmail_store::{FlagOp, MessageMeta};
use imap_codec::imap_types::{
    command::FetchModifier,
    core::{Tag, Vec1},
    datetime::DateTime,
    fetch::{MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName},
    response::Data,
    sequence::SequenceSet,
};

use super::{Outcome, search::internal_date, store_error};
use crate::mailbox::flags::fetch_list;
use crate::message::{Extensions, MessageView, envelope::nstring, section::partial};
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
    let mut items: Vec<MessageDataItemName<'static>> = match names {
        MacroOrMessageDataItemNames::Macro(m) => m
            .expand()
            .into_iter()
            .map(imap_codec::imap_types::IntoStatic::into_static)
            .collect(),
        MacroOrMessageDataItemNames::MessageDataItemNames(items) => items,
    };
    // RFC 3501 §6.4.8: UID FETCH always includes UID.
    if uid && !items.contains(&MessageDataItemName::Uid) {
        items.insert(0, MessageDataItemName::Uid);
    }
    let changed_since = modifiers.iter().find_map(|m| match m {
        FetchModifier::ChangedSince(n) => Some(n.get()),
        FetchModifier::Vanished => None,
    });
    // RFC 7162 §3.1.4: CHANGEDSINCE implies MODSEQ; both enable CONDSTORE.
    if changed_since.is_some() && !items.contains(&MessageDataItemName::ModSeq) {
        items.push(MessageDataItemName::ModSeq);
    }
    if items.contains(&MessageDataItemName::ModSeq) {
        s.condstore = true;
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
    let needs_body = items.iter().any(reads_body);
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
        let recent = s.selected.as_ref().is_some_and(|sel| sel.is_recent(uid));
        let mut data = build_items(&items, meta, &raw, recent);
        // RFC 3501 §6.4.5: when \Seen was set implicitly, FLAGS go with the response.
        if flags_changed.contains(&uid) && !items.contains(&MessageDataItemName::Flags) {
            data.push(MessageDataItem::Flags(fetch_list(&meta.flags, recent)));
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

fn reads_body(item: &MessageDataItemName<'_>) -> bool {
    !matches!(
        item,
        MessageDataItemName::Flags
            | MessageDataItemName::InternalDate
            | MessageDataItemName::Rfc822Size
            | MessageDataItemName::Uid
            | MessageDataItemName::ModSeq
    )
}

fn build_items(
    items: &[MessageDataItemName<'static>],
    meta: &MessageMeta,
    raw: &[u8],
    recent: bool,
) -> Vec<MessageDataItem<'static>> {
    let view = MessageView::parse(raw);
    let mut data = Vec::with_capacity(items.len());
    for item in items {
        let value = match item {
            MessageDataItemName::Uid => match NonZeroU32::new(meta.uid) {
                Some(uid) => MessageDataItem::Uid(uid),
                None => continue,
            },
            MessageDataItemName::Flags => MessageDataItem::Flags(fetch_list(&meta.flags, recent)),
            MessageDataItemName::InternalDate => MessageDataItem::InternalDate(
                DateTime::unvalidated(internal_date(meta.internal_date)),
            ),
            MessageDataItemName::Rfc822Size => {
                MessageDataItem::Rfc822Size(u32::try_from(meta.size).unwrap_or(u32::MAX))
            }
            MessageDataItemName::ModSeq => match NonZeroU64::new(meta.modseq) {
                Some(m) => MessageDataItem::ModSeq(m),
                None => MessageDataItem::ModSeq(NonZeroU64::MIN),
            },
            MessageDataItemName::Envelope => MessageDataItem::Envelope(view.envelope()),
            MessageDataItemName::Body => {
                MessageDataItem::Body(view.body_structure(Extensions::Without))
            }
            MessageDataItemName::BodyStructure => {
                MessageDataItem::BodyStructure(view.body_structure(Extensions::With))
            }
            MessageDataItemName::Rfc822 => MessageDataItem::Rfc822(nstring(Some(raw))),
            MessageDataItemName::Rfc822Header => {
                MessageDataItem::Rfc822Header(nstring(Some(view.header_bytes())))
            }
            MessageDataItemName::Rfc822Text => {
                MessageDataItem::Rfc822Text(nstring(Some(view.text_bytes())))
            }
            MessageDataItemName::BodyExt {
                section,
                partial: range,
                ..
            } => {
                let bytes = view.section(section.as_ref()).unwrap_or_default();
                let (origin, bytes) = match range {
                    Some((origin, count)) => (
                        Some(*origin),
                        partial(&bytes, *origin, count.get()).to_vec(),
                    ),
                    None => (None, bytes),
                };
                MessageDataItem::BodyExt {
                    section: section.clone(),
                    origin,
                    data: nstring(Some(&bytes)),
                }
            }
            // BINARY is not advertised; a client that asks anyway gets nothing for it.
            MessageDataItemName::Binary { .. } | MessageDataItemName::BinarySize { .. } => {
                continue;
            }
        };
        data.push(value);
    }
    data
}
