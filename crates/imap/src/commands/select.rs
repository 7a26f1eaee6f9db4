//! SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2; RFC 7162 §3.1.2 HIGHESTMODSEQ): opens the
//! mailbox in the store; the responses come from `commands::select_reply`.

use std::num::{NonZeroU32, NonZeroU64};

use imap_codec::imap_types::{
    command::SelectParameter,
    core::{QuotedChar, Tag},
    mailbox::Mailbox,
    response::{Code, Data, Response},
};

use super::{Outcome, store_error};
use crate::commands::select_reply::SelectInfo;
use crate::mailbox::{Selected, flags_of};
use crate::proto::mailbox_name as name;
use crate::{account::SignedIn, out::Out};

/// SELECT (`read_only` false) or EXAMINE.
pub async fn select(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
    read_only: bool,
    parameters: &[SelectParameter],
) -> Outcome {
    leave_selected(s, out);
    if parameters
        .iter()
        .any(|p| matches!(p, SelectParameter::CondStore))
    {
        // RFC 7162 §3.1.8: SELECT (CONDSTORE) enables CONDSTORE.
        s.enabled.condstore = true;
    }
    let resync = super::qresync::ResyncRequest::from_parameters(parameters);
    if resync.is_some() && !s.enabled.qresync {
        // RFC 7162 §3.2.5: QRESYNC parameters without ENABLE QRESYNC are a BAD command.
        out.bad(tag, "ENABLE QRESYNC first");
        return Outcome::Bad;
    }
    let Some(name) = name::decode_mailbox(mailbox).ok() else {
        out.no_code(tag, "NONEXISTENT", "No such mailbox");
        return Outcome::Done;
    };
    let Some((record, mut selected)) = open(s, out, &tag, &name, read_only).await else {
        return Outcome::Done;
    };
    let info = select_info(&mut selected, &record);
    let command = if read_only { "EXAMINE" } else { "SELECT" };
    let mut responses =
        crate::commands::select_reply::responses(&info, tag.clone(), selected.read_only, command);
    // The tagged OK goes last, after what follows.
    let tagged = responses.pop();
    if let Some(request) = &resync {
        // RFC 7162 §3.2.5.1: VANISHED (EARLIER) and the changed FETCHes come before the
        // tagged OK.
        match super::qresync::select_resync(s, &selected, request).await {
            Ok(data) => responses.extend(data.into_iter().map(Response::Data)),
            Err(e) => {
                store_error(out, tag, command, &e);
                return Outcome::Done;
            }
        }
    }
    if s.enabled.imap4rev2 {
        // RFC 9051 §6.3.2: SELECT answers a LIST response with the mailbox's name.
        responses.push(Response::Data(Data::List {
            items: Vec::new(),
            delimiter: Some(QuotedChar::unvalidated(certmail_store::MAILBOX_DELIMITER)),
            mailbox: name::encode_mailbox(&name),
        }));
    }
    responses.extend(tagged);
    out.responses.extend(responses);
    s.set_selected(Some(selected));
    Outcome::Done
}

/// RFC 3501 §6.3.1: a SELECT (even a failed one) first leaves the selected mailbox.
fn leave_selected(s: &mut SignedIn, out: &mut Out) {
    let was_selected = s.selected.is_some();
    s.set_selected(None);
    // RFC 5182 §2.1: selecting a mailbox empties the saved search result.
    s.account.search_result.clear();
    if was_selected {
        // RFC 7162 §3.2.11 (we advertise CONDSTORE) and RFC 9051 §6.3.2: CLOSED marks
        // where the old mailbox's responses end.
        out.untagged_ok(Some(Code::Closed), "Previous mailbox closed");
    }
}

/// Reads the mailbox and its messages from the store; on failure the answer is in `out`.
async fn open(
    s: &SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    name: &str,
    read_only: bool,
) -> Option<(certmail_store::Mailbox, Selected)> {
    let store = s.account.ctx.store.as_ref();
    let command = if read_only { "EXAMINE" } else { "SELECT" };
    let target = match crate::shared::resolve(store, &s.account.record, name).await {
        Ok(target) => target,
        Err(e) => {
            store_error(out, tag.clone(), command, &e);
            return None;
        }
    };
    // RFC 4314 §4: SELECT and EXAMINE need "r"; without any right to change something the
    // mailbox opens read-only.
    if !target.require('r', "read messages", out, tag) {
        return None;
    }
    let read_only = read_only || !"swte".chars().any(|r| target.rights.has(r));
    let record = match store.mailbox(&target.owner, &target.name).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            out.no_code(tag.clone(), "NONEXISTENT", "No such mailbox");
            return None;
        }
        Err(e) => {
            store_error(out, tag.clone(), "SELECT", &e);
            return None;
        }
    };
    let recent = &s.account.ctx.recent;
    let reader = crate::mailbox::seen::reader_of(&target.owner, s.account_id());
    match Selected::load(store, &target.owner, reader, &record, read_only, recent).await {
        Ok(mut selected) => {
            selected.rights = target.rights;
            if target.shared {
                crate::shared::audit_use(s, &target, command).await;
            }
            Some((record, selected))
        }
        Err(e) => {
            store_error(out, tag.clone(), "SELECT", &e);
            None
        }
    }
}

/// The numbers SELECT reports; the keywords in use go into FLAGS (RFC 3501 §7.2.6) and
/// count as told.
fn select_info(selected: &mut Selected, record: &certmail_store::Mailbox) -> SelectInfo {
    let mut keywords: Vec<String> = Vec::new();
    for e in selected.entries() {
        for f in e.flags.iter().filter(|f| !f.starts_with('\\')) {
            if !keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
                keywords.push(f.clone());
            }
        }
    }
    for k in &keywords {
        selected.announce_keyword(k);
    }
    SelectInfo {
        exists: selected.len(),
        recent: selected.recent_count(),
        first_unseen: selected.first_unseen(),
        uid_validity: NonZeroU32::new(record.uid_validity).unwrap_or(NonZeroU32::MIN),
        uid_next: NonZeroU32::new(record.uid_next).unwrap_or(NonZeroU32::MIN),
        // RFC 7162 §3.1.2.1: every SELECT/EXAMINE of a server with CONDSTORE says it.
        highest_modseq: NonZeroU64::new(record.highest_modseq.max(1)),
        keywords: flags_of(&keywords),
    }
}
