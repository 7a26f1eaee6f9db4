//! SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2; RFC 7162 §3.1.2 HIGHESTMODSEQ).

use std::num::{NonZeroU32, NonZeroU64};

use imap_codec::imap_types::{
    command::SelectParameter,
    core::Tag,
    mailbox::Mailbox,
    response::{Code, Data},
};

use super::{Outcome, store_error};
use crate::mailbox::{Selected, flags, name};
use crate::server::{Out, SignedIn};

/// SELECT (`read_only` false) or EXAMINE.
pub async fn select(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
    read_only: bool,
    parameters: &[SelectParameter],
) -> Outcome {
    // RFC 3501 §6.3.1: a SELECT (even a failed one) first leaves the selected mailbox.
    s.set_selected(None);
    if parameters
        .iter()
        .any(|p| matches!(p, SelectParameter::CondStore))
    {
        // RFC 7162 §3.1.8: SELECT (CONDSTORE) enables CONDSTORE.
        s.condstore = true;
    }
    let Some(name) = name::from_wire(mailbox) else {
        out.no_code(tag, "NONEXISTENT", "No such mailbox");
        return Outcome::Done;
    };
    let store = s.ctx.store.as_ref();
    let record = match store.mailbox(s.account_id(), &name).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            out.no_code(tag, "NONEXISTENT", "No such mailbox");
            return Outcome::Done;
        }
        Err(e) => {
            store_error(out, tag, "SELECT", &e);
            return Outcome::Done;
        }
    };
    let selected =
        match Selected::load(store, s.account_id(), &record, read_only, &s.ctx.recent).await {
            Ok(selected) => selected,
            Err(e) => {
                store_error(out, tag, "SELECT", &e);
                return Outcome::Done;
            }
        };
    out.data(Data::Flags(flags::system()));
    out.data(Data::Exists(selected.len()));
    out.data(Data::Recent(selected.recent_count()));
    if let Some(unseen) = selected.first_unseen().and_then(NonZeroU32::new) {
        out.untagged_ok(Some(Code::Unseen(unseen)), "First unseen message");
    }
    let permanent = if read_only {
        Vec::new()
    } else {
        flags::permanent()
    };
    out.untagged_ok(
        Some(Code::PermanentFlags(permanent)),
        "Flags the client may set",
    );
    if let Some(v) = NonZeroU32::new(record.uid_validity) {
        out.untagged_ok(Some(Code::UidValidity(v)), "UIDs valid");
    }
    if let Some(next) = NonZeroU32::new(record.uid_next) {
        out.untagged_ok(Some(Code::UidNext(next)), "Predicted next UID");
    }
    // RFC 7162 §3.1.2.1: every SELECT/EXAMINE of a server with CONDSTORE says it.
    let highest = NonZeroU64::new(record.highest_modseq.max(1)).unwrap_or(NonZeroU64::MIN);
    out.untagged_ok(Some(Code::HighestModSeq(highest)), "Highest");
    s.set_selected(Some(selected));
    let (code, text) = if read_only {
        (Code::ReadOnly, "EXAMINE completed")
    } else {
        (Code::ReadWrite, "SELECT completed")
    };
    out.ok(tag, Some(code), text);
    Outcome::Done
}
