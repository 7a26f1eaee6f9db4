//! QRESYNC (RFC 7162 §3.2): the resynchronisation a client asks for in SELECT/EXAMINE
//! (QRESYNC (uidvalidity modseq [known-uids [seq-match]])) and in UID FETCH (CHANGEDSINCE n
//! VANISHED), answered with `* VANISHED (EARLIER) uids` and FETCH responses.
//!
//! The store keeps every expunge with its MODSEQ, so the answers are exact: the
//! sequence-match data a client may send (§3.2.5.2, for servers that forget expunges) is
//! not needed and is ignored.

use std::num::{NonZeroU32, NonZeroU64};

use certmail_store::StoreError;
use imap_codec::imap_types::{
    command::SelectParameter, extensions::enable::CapabilityEnable, response::Data,
    sequence::SequenceSet,
};

use crate::account::SignedIn;
use crate::mailbox::Selected;
use crate::proto::sets::vanished;
use crate::search_eval::set_contains;

/// The QRESYNC parameter of a SELECT/EXAMINE, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResyncRequest {
    /// The UIDVALIDITY the client last knew.
    pub uid_validity: NonZeroU32,
    /// The HIGHESTMODSEQ the client last knew.
    pub modseq: NonZeroU64,
    /// The UIDs the client knows, if it said (else every UID).
    pub known_uids: Option<SequenceSet>,
}

impl ResyncRequest {
    /// Finds the QRESYNC parameter among SELECT's.
    pub fn from_parameters(parameters: &[SelectParameter]) -> Option<ResyncRequest> {
        parameters.iter().find_map(|p| match p {
            SelectParameter::QResync {
                uid_validity,
                mod_sequence_value,
                known_uids,
                ..
            } => Some(ResyncRequest {
                uid_validity: *uid_validity,
                modseq: *mod_sequence_value,
                known_uids: known_uids.clone(),
            }),
            SelectParameter::CondStore => None,
        })
    }

    fn knows(&self, uid: u32) -> bool {
        self.known_uids
            .as_ref()
            .is_none_or(|set| set_contains(set, uid, u32::MAX))
    }
}

/// What a SELECT (QRESYNC ...) tells after the usual responses (RFC 7162 §3.2.5): the
/// known UIDs expunged since the client's MODSEQ as `VANISHED (EARLIER)`, then a FETCH
/// (UID FLAGS MODSEQ) for each message changed since. Nothing when UIDVALIDITY changed
/// (the client must then forget the mailbox).
pub async fn select_resync(
    s: &SignedIn,
    selected: &Selected,
    request: &ResyncRequest,
) -> Result<Vec<Data<'static>>, StoreError> {
    let mut out = Vec::new();
    if request.uid_validity.get() != selected.uid_validity {
        return Ok(out);
    }
    let store = s.account.ctx.store.as_ref();
    let since = request.modseq.get();
    // Not `s.selected_owner()`: SELECT asks before `selected` becomes the session's.
    let (owner, reader) = (selected.owner.as_str(), selected.reader());
    let gone: Vec<u32> = store
        .expunged_since(owner, &selected.name, since)
        .await?
        .into_iter()
        .filter(|&u| request.knows(u))
        .collect();
    out.extend(vanished(&gone, true));
    let mut changed = store.changed_since(owner, &selected.name, since).await?;
    crate::mailbox::seen::overlay_all(store, owner, &selected.name, reader, &mut changed).await?;
    for meta in changed {
        if !request.knows(meta.uid) {
            continue;
        }
        if let Some(seq) = selected.seq_of(meta.uid) {
            out.push(selected.flags_response(seq, &meta, true));
        }
    }
    Ok(out)
}

/// UID FETCH ... (CHANGEDSINCE n VANISHED) (RFC 7162 §3.2.6): the UIDs of `set` expunged
/// since `since`, as `VANISHED (EARLIER)`.
pub async fn fetch_vanished(
    s: &SignedIn,
    set: &SequenceSet,
    since: u64,
) -> Result<Option<Data<'static>>, StoreError> {
    let Some(selected) = &s.selected else {
        return Ok(None);
    };
    let gone: Vec<u32> = s
        .account
        .ctx
        .store
        .expunged_since(s.selected_owner(), &selected.name, since)
        .await?
        .into_iter()
        .filter(|&u| set_contains(set, u, u32::MAX))
        .collect();
    Ok(vanished(&gone, true))
}

/// Whether an ENABLE argument names QRESYNC (imap-codec has no variant for it).
pub fn is_qresync(capability: &CapabilityEnable<'_>) -> bool {
    matches!(capability, CapabilityEnable::Other(_))
        && capability.to_string().eq_ignore_ascii_case("QRESYNC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::response::encode;
    use imap_codec::imap_types::response::Response;

    fn line(data: Data<'static>) -> String {
        String::from_utf8(encode(&Response::Data(data))).expect("ASCII")
    }

    #[test]
    fn uid_sets_are_compact_ranges() {
        assert_eq!(crate::proto::sets::compact_uid_set(&[]), None);
        let data = vanished(&[7, 1, 2, 3, 9, 10], true).expect("some");
        assert_eq!(line(data), "* VANISHED (EARLIER) 1:3,7,9:10\r\n");
        let data = vanished(&[405], false).expect("some");
        assert_eq!(line(data), "* VANISHED 405\r\n");
    }
}
