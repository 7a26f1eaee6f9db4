//! A session's view of the selected mailbox as sequence numbers ↔ UIDs (RFC 3501 §2.3.1).
//!
//! Sequence number n is the n-th UID in ascending order. The map changes only when the
//! session tells its client: a new message is appended (`EXISTS`) or a message is expunged
//! (`EXPUNGE n`, which shifts every later number down by one).

use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

/// Why a message set cannot be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SeqMapError {
    /// A sequence number beyond the last message (or any number in an empty mailbox).
    /// RFC 3501 §9 says sequence numbers must be in range; the client gets BAD.
    #[error("no message with sequence number {0}")]
    NoSuchSequenceNumber(u32),
    /// A UID added out of order (a bug in the caller: UIDs only grow).
    #[error("UID {0} is not above the last UID")]
    UidNotAscending(u32),
}

/// The UIDs of the selected mailbox, in sequence order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqMap {
    uids: Vec<u32>,
}

impl SeqMap {
    /// A map from the mailbox's UIDs (sorted here; duplicates dropped).
    pub fn new(mut uids: Vec<u32>) -> SeqMap {
        uids.sort_unstable();
        uids.dedup();
        SeqMap { uids }
    }

    /// The number of messages (EXISTS).
    pub fn len(&self) -> u32 {
        u32::try_from(self.uids.len()).unwrap_or(u32::MAX)
    }

    /// True when the mailbox is empty.
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }

    /// The UIDs in sequence order.
    pub fn uids(&self) -> &[u32] {
        &self.uids
    }

    /// The largest UID, 0 for an empty mailbox.
    pub fn max_uid(&self) -> u32 {
        self.uids.last().copied().unwrap_or(0)
    }

    /// The UID of sequence number `seq`.
    pub fn uid(&self, seq: u32) -> Option<u32> {
        let index = usize::try_from(seq).ok()?.checked_sub(1)?;
        self.uids.get(index).copied()
    }

    /// The sequence number of `uid`.
    pub fn seq(&self, uid: u32) -> Option<u32> {
        let index = self.uids.binary_search(&uid).ok()?;
        u32::try_from(index + 1).ok()
    }

    /// Appends a new message; returns its sequence number (the new EXISTS count).
    pub fn push(&mut self, uid: u32) -> Result<u32, SeqMapError> {
        if uid <= self.max_uid() {
            return Err(SeqMapError::UidNotAscending(uid));
        }
        self.uids.push(uid);
        Ok(self.len())
    }

    /// Removes `uid`; returns the sequence number to send in `* n EXPUNGE` (RFC 3501
    /// §7.4.1), after which every later message's number is one lower.
    pub fn expunge(&mut self, uid: u32) -> Option<u32> {
        let seq = self.seq(uid)?;
        self.uids.remove(seq as usize - 1);
        Some(seq)
    }

    /// Resolves a sequence-number set into (seq, uid) pairs, ascending, without duplicates.
    /// `*` is the last message.
    pub fn resolve_seq_set(&self, set: &SequenceSet) -> Result<Vec<(u32, u32)>, SeqMapError> {
        let max = self.len();
        let value = |s: &SeqOrUid| match s {
            SeqOrUid::Value(n) => n.get(),
            SeqOrUid::Asterisk => max,
        };
        let mut seqs: Vec<u32> = Vec::new();
        for sequence in set.0.as_ref() {
            let (low, high) = match sequence {
                Sequence::Single(s) => (value(s), value(s)),
                Sequence::Range(a, b) => (value(a).min(value(b)), value(a).max(value(b))),
            };
            if high > max || low == 0 {
                return Err(SeqMapError::NoSuchSequenceNumber(if low == 0 {
                    0
                } else {
                    high
                }));
            }
            seqs.extend(low..=high);
        }
        seqs.sort_unstable();
        seqs.dedup();
        Ok(seqs
            .into_iter()
            .map(|s| (s, self.uids[s as usize - 1]))
            .collect())
    }

    /// Resolves a UID set into (seq, uid) pairs of existing messages, ascending. UIDs that
    /// do not exist are skipped (RFC 3501 §6.4.8); `n:*` always includes the last message,
    /// even when n is above it.
    pub fn resolve_uid_set(&self, set: &SequenceSet) -> Vec<(u32, u32)> {
        let max = self.max_uid();
        let value = |s: &SeqOrUid| match s {
            SeqOrUid::Value(n) => n.get(),
            SeqOrUid::Asterisk => max,
        };
        let mut indexes: Vec<usize> = Vec::new();
        for sequence in set.0.as_ref() {
            let (low, high) = match sequence {
                Sequence::Single(s) => (value(s), value(s)),
                Sequence::Range(a, b) => (value(a).min(value(b)), value(a).max(value(b))),
            };
            let start = self.uids.partition_point(|&u| u < low);
            let end = self.uids.partition_point(|&u| u <= high);
            indexes.extend(start..end);
        }
        indexes.sort_unstable();
        indexes.dedup();
        indexes
            .into_iter()
            .map(|i| (i as u32 + 1, self.uids[i]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> SequenceSet {
        SequenceSet::try_from(s).expect("valid sequence set")
    }

    fn map() -> SeqMap {
        SeqMap::new(vec![10, 3, 7, 20, 11])
    }

    #[test]
    fn seq_and_uid_lookups() {
        let m = map();
        assert_eq!(m.uids(), &[3, 7, 10, 11, 20]);
        assert_eq!(
            (m.uid(1), m.uid(5), m.uid(0), m.uid(6)),
            (Some(3), Some(20), None, None)
        );
        assert_eq!((m.seq(10), m.seq(4)), (Some(3), None));
        assert_eq!(m.max_uid(), 20);
    }

    #[test]
    fn sequence_sets_resolve_star_and_reject_out_of_range() {
        let m = map();
        assert_eq!(
            m.resolve_seq_set(&set("2,4:*")),
            Ok(vec![(2, 7), (4, 11), (5, 20)])
        );
        assert_eq!(
            m.resolve_seq_set(&set("*:4,1")),
            Ok(vec![(1, 3), (4, 11), (5, 20)])
        );
        assert_eq!(
            m.resolve_seq_set(&set("3:6")),
            Err(SeqMapError::NoSuchSequenceNumber(6))
        );
        assert_eq!(
            SeqMap::default().resolve_seq_set(&set("*")),
            Err(SeqMapError::NoSuchSequenceNumber(0))
        );
    }

    #[test]
    fn uid_sets_skip_missing_and_star_includes_last() {
        let m = map();
        assert_eq!(m.resolve_uid_set(&set("1:8")), vec![(1, 3), (2, 7)]);
        assert_eq!(m.resolve_uid_set(&set("12")), vec![]);
        // RFC 3501 §6.4.8: 559:* includes the last message even if 559 is higher.
        assert_eq!(m.resolve_uid_set(&set("559:*")), vec![(5, 20)]);
        assert_eq!(m.resolve_uid_set(&set("11,3,11")), vec![(1, 3), (4, 11)]);
        assert_eq!(SeqMap::default().resolve_uid_set(&set("1:*")), vec![]);
    }

    #[test]
    fn expunge_shifts_later_numbers() {
        // RFC 3501 §7.4.1 example: expunging messages 3, 4, 7 and 11 of 11 in a row gives
        // "* 3 EXPUNGE" "* 3 EXPUNGE" "* 5 EXPUNGE" "* 8 EXPUNGE".
        let mut m = SeqMap::new((1..=11).collect());
        let sent: Vec<u32> = [3, 4, 7, 11]
            .iter()
            .map(|&uid| m.expunge(uid).expect("present"))
            .collect();
        assert_eq!(sent, vec![3, 3, 5, 8]);
        assert_eq!(m.len(), 7);
        assert_eq!(m.expunge(3), None);
    }

    #[test]
    fn push_requires_ascending_uids() {
        let mut m = map();
        assert_eq!(m.push(21), Ok(6));
        assert_eq!(m.push(21), Err(SeqMapError::UidNotAscending(21)));
    }
}
