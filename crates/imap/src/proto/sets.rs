//! Number lists as IMAP sets: `1:3,7` for MODIFIED and VANISHED (RFC 7162) and COPYUID
//! (RFC 4315).

use std::num::NonZeroU32;

use imap_codec::imap_types::{
    core::Vec1,
    extensions::uidplus::{UidElement, UidSet},
    response::Data,
    sequence::{SeqOrUid, Sequence, SequenceSet},
};

/// Runs of consecutive numbers, in the given order (zeros skipped).
fn runs(numbers: &[u32]) -> Vec<(NonZeroU32, NonZeroU32)> {
    let mut runs: Vec<(NonZeroU32, NonZeroU32)> = Vec::new();
    for n in numbers.iter().filter_map(|&n| NonZeroU32::new(n)) {
        match runs.last_mut() {
            Some((_, end)) if end.get().checked_add(1) == Some(n.get()) => *end = n,
            _ => runs.push((n, n)),
        }
    }
    runs
}

/// A sequence set naming `numbers`; `None` when empty.
pub fn sequence_set(numbers: &[u32]) -> Option<SequenceSet> {
    let items: Vec<Sequence> = runs(numbers)
        .into_iter()
        .map(|(a, b)| {
            if a == b {
                Sequence::Single(SeqOrUid::Value(a))
            } else {
                Sequence::Range(SeqOrUid::Value(a), SeqOrUid::Value(b))
            }
        })
        .collect();
    Vec1::try_from(items).ok().map(SequenceSet)
}

/// A UID set naming `uids` in their order (COPYUID pairs the two sets by position).
pub fn uid_set(uids: &[u32]) -> Option<UidSet> {
    let items: Vec<UidElement> = runs(uids)
        .into_iter()
        .map(|(a, b)| {
            if a == b {
                UidElement::Single(a)
            } else {
                UidElement::Range(a, b)
            }
        })
        .collect();
    Vec1::try_from(items).ok().map(UidSet)
}

/// Any UIDs as a compact ascending set (`1:3,7`, sorted and deduplicated), or `None` when
/// empty.
pub fn compact_uid_set(uids: &[u32]) -> Option<SequenceSet> {
    let mut sorted: Vec<u32> = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sequence_set(&sorted)
}

/// `* VANISHED [(EARLIER)] uids` for `uids`, or `None` when there are none.
pub fn vanished(uids: &[u32], earlier: bool) -> Option<Data<'static>> {
    compact_uid_set(uids).map(|known_uids| Data::Vanished {
        earlier,
        known_uids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_joined() {
        let r = runs(&[1, 2, 3, 7, 9, 10]);
        let flat: Vec<(u32, u32)> = r.iter().map(|(a, b)| (a.get(), b.get())).collect();
        assert_eq!(flat, [(1, 3), (7, 7), (9, 10)]);
        assert!(sequence_set(&[]).is_none());
    }
}
