//! STORE and UID STORE (RFC 3501 §6.4.6; UNCHANGEDSINCE and MODIFIED from RFC 7162 §3.1.3).

use std::num::{NonZeroU32, NonZeroU64};

use certmail_session::Change;
use certmail_store::{FlagChange, FlagOp, FlagUpdate};
use imap_codec::imap_types::{
    command::StoreModifier,
    core::{Tag, Vec1},
    fetch::MessageDataItem,
    flag::{Flag, StoreType},
    response::{Code, Data},
    sequence::SequenceSet,
};

use super::{Outcome, store_error};
use crate::mailbox::seen::set_flags_as;
use crate::mailbox::{flags_of, strings_of};
use crate::proto::flags::{client_flags, fetch_flags};
use crate::proto::sets;
use crate::{account::SignedIn, out::Out};

/// The arguments of one STORE.
#[derive(Debug)]
pub struct StoreRequest<'a> {
    /// The messages.
    pub set: &'a SequenceSet,
    /// FLAGS, +FLAGS or -FLAGS.
    pub kind: StoreType,
    /// `.SILENT`.
    pub silent: bool,
    /// The flags.
    pub flags: &'a [Flag<'static>],
    /// UID STORE.
    pub uid: bool,
    /// UNCHANGEDSINCE.
    pub modifiers: &'a [StoreModifier],
}

/// RFC 4314 §4: whether the user may change these flags: `\Seen` needs "s", `\Deleted`
/// "t", any other flag "w"; replacing the flags (FLAGS) changes every kind, so it needs all
/// three. Otherwise `NO [NOPERM]` is in `out`.
fn may_store(
    selected: &crate::mailbox::Selected,
    kind: StoreType,
    flags: &[String],
    out: &mut Out,
    tag: &Tag<'static>,
) -> bool {
    let needed: Vec<char> = match kind {
        StoreType::Replace => vec!['s', 'w', 't'],
        StoreType::Add | StoreType::Remove => {
            flags.iter().map(|f| crate::shared::flag_right(f)).collect()
        }
    };
    let target = crate::shared::Target::selected(selected, "");
    needed
        .into_iter()
        .all(|right| target.require(right, "change these flags", out, tag))
}

/// STORE: changes flags in the store, then tells the client (unless .SILENT).
pub async fn store(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    request: StoreRequest<'_>,
) -> Outcome {
    let unchanged_since = request
        .modifiers
        .iter()
        .map(|m| match m {
            StoreModifier::UnchangedSince(n) => *n,
        })
        .min();
    if unchanged_since.is_some() {
        // RFC 7162 §3.1.3: UNCHANGEDSINCE enables CONDSTORE.
        s.enable_condstore(out).await;
    }
    let Some(selected) = &s.selected else {
        out.bad(tag, "No mailbox selected");
        return Outcome::Bad;
    };
    if !request.uid && selected.seq_set_out_of_range(request.set) {
        out.bad(tag, "No such message sequence number");
        return Outcome::Bad;
    }
    if selected.read_only {
        out.no_code(tag, "READ-ONLY", "The mailbox is read-only (EXAMINE)");
        return Outcome::Done;
    }
    let flags = strings_of(&client_flags(request.flags));
    if !may_store(selected, request.kind, &flags, out, &tag) {
        return Outcome::Done;
    }
    let name = selected.name.clone();
    let reader = selected.reader().map(str::to_owned);
    let targets: Vec<(u32, u32)> = selected
        .resolve(request.set, request.uid)
        .iter()
        .map(|(seq, e)| (*seq, e.uid))
        .collect();
    let uids: Vec<u32> = targets.iter().map(|&(_, u)| u).collect();
    let store = s.account.ctx.store.as_ref();
    let change = FlagChange {
        uids,
        op: flag_op(request.kind),
        flags,
        unchanged_since,
    };
    let mailbox = (s.selected_owner(), name.as_str());
    let result = match set_flags_as(store, mailbox, reader.as_deref(), change).await {
        Ok(result) => result,
        Err(e) => {
            store_error(out, tag, "STORE", &e);
            return Outcome::Done;
        }
    };
    // RFC 7162 §3.1.3: with UNCHANGEDSINCE, .SILENT still reports the new MODSEQ.
    let report_modseq = s.enabled.condstore && (!request.silent || unchanged_since.is_some());
    for update in result.updated {
        let Some(&(seq, _)) = targets.iter().find(|(_, u)| *u == update.uid) else {
            continue;
        };
        let recent = apply_update(s, &name, seq, &update);
        if request.silent && !report_modseq {
            continue;
        }
        let items = fetch_items(&request, &update, recent, report_modseq);
        if let (Some(seq), Ok(items)) = (NonZeroU32::new(seq), Vec1::try_from(items)) {
            out.data(Data::Fetch { seq, items });
        }
    }
    let code = modified_code(&result.failed_modified, &targets, request.uid);
    let text = if code.is_some() {
        "Some messages were changed by someone else; they were not stored"
    } else {
        "STORE completed"
    };
    out.ok(tag, code, text);
    Outcome::Done
}

/// The store's operation for FLAGS, +FLAGS and -FLAGS.
fn flag_op(kind: StoreType) -> FlagOp {
    match kind {
        StoreType::Add => FlagOp::Add,
        StoreType::Remove => FlagOp::Remove,
        StoreType::Replace => FlagOp::Replace,
    }
}

/// Takes one stored update into the selected view, telling other connections when it
/// changed something (the MODSEQ moved, or a reader's own `\Seen` changed); returns
/// whether the message is \Recent for this session.
fn apply_update(s: &mut SignedIn, mailbox: &str, seq: u32, update: &FlagUpdate) -> bool {
    let before = s
        .selected
        .as_ref()
        .and_then(|sel| sel.entries().get(seq as usize - 1))
        .map(|e| (e.modseq, e.flags.clone()));
    if before != Some((update.modseq, update.flags.clone())) {
        s.publish_selected(Change::Flags {
            mailbox: mailbox.to_owned(),
            uid: update.uid,
            modseq: update.modseq,
        });
    }
    let recent = s
        .selected
        .as_ref()
        .is_some_and(|sel| sel.is_recent(update.uid));
    if let Some(sel) = &mut s.selected {
        sel.set_entry_flags(update.uid, update.flags.clone(), update.modseq);
    }
    recent
}

/// The FETCH items STORE reports for one message: UID (UID STORE, or any STORE once
/// CONDSTORE is on), FLAGS (unless .SILENT) and MODSEQ (CONDSTORE). RFC 7162 §3.1: once
/// CONDSTORE is enabled the server "MUST automatically include both UID and mod-sequence
/// data in all subsequent untagged FETCH responses", those of a plain STORE included.
fn fetch_items(
    request: &StoreRequest<'_>,
    update: &FlagUpdate,
    recent: bool,
    report_modseq: bool,
) -> Vec<MessageDataItem<'static>> {
    let mut items = Vec::new();
    if (request.uid || report_modseq)
        && let Some(uid) = NonZeroU32::new(update.uid)
    {
        items.push(MessageDataItem::Uid(uid));
    }
    if !request.silent {
        items.push(MessageDataItem::Flags(fetch_flags(
            &flags_of(&update.flags),
            recent,
        )));
    }
    if report_modseq && let Some(modseq) = NonZeroU64::new(update.modseq) {
        items.push(MessageDataItem::ModSeq(modseq));
    }
    items
}

/// RFC 7162 §3.1.3: messages changed since UNCHANGEDSINCE are named in MODIFIED (UIDs for
/// UID STORE, sequence numbers otherwise).
fn modified_code(failed: &[u32], targets: &[(u32, u32)], uid: bool) -> Option<Code<'static>> {
    let failed: Vec<u32> = failed
        .iter()
        .filter_map(|u| {
            if uid {
                Some(*u)
            } else {
                targets.iter().find(|(_, x)| x == u).map(|&(seq, _)| seq)
            }
        })
        .collect();
    sets::sequence_set(&failed).map(Code::Modified)
}
