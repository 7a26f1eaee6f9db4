//! The selected mailbox as this connection's client knows it.
//!
//! The view holds the UID of each sequence number, with flags and MODSEQ, and the changes
//! other connections made (heard from the change hub) that the client has not been told
//! yet. [`Selected::sync`] tells them: new messages (EXISTS, RECENT) and flag changes
//! (FETCH FLAGS) after any command, expunges (EXPUNGE) only when the caller says RFC 3501
//! §7.4.1 allows it: never while answering FETCH, STORE or SEARCH, since the client's
//! sequence numbers would shift under it.

use std::collections::{BTreeSet, HashSet};
use std::num::{NonZeroU32, NonZeroU64};

use certmail_session::Change;
use certmail_store::{INBOX, MessageMeta, Store, StoreError};
use imap_codec::imap_types::{
    core::Vec1, fetch::MessageDataItem, response::Data, sequence::SequenceSet,
};

use super::flags_of;
use super::recent::RecentTracker;
use super::seen::messages_as;
use crate::proto::capability::Enabled;
use crate::proto::flags::fetch_flags;
use crate::search_eval::set_contains;

/// One message of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its UID.
    pub uid: u32,
    /// Its flags as the client was last told (store spelling).
    pub flags: Vec<String>,
    /// Its MODSEQ as the client was last told.
    pub modseq: u64,
}

/// The selected mailbox (SELECT or EXAMINE).
#[derive(Debug)]
pub struct Selected {
    /// The store name (in the owner's account).
    pub name: String,
    /// The account owning the mailbox: the user's own, or another's that shared it
    /// ([`crate::shared`]).
    pub owner: String,
    /// What the user may do in it (every right in their own mailboxes).
    pub rights: certmail_store::Rights,
    /// The signed-in user when the mailbox is someone else's: its `\Seen` is theirs
    /// ([`super::seen`]).
    reader: Option<String>,
    /// EXAMINE, or SELECT of a mailbox we may not change.
    pub read_only: bool,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// Messages in sequence order (sequence number = index + 1).
    entries: Vec<Entry>,
    /// UIDs this session sees as \Recent.
    recent: HashSet<u32>,
    /// Expunged by another connection, not yet announced (still in `entries`).
    expunged: BTreeSet<u32>,
    /// Flags changed by another connection, not yet announced.
    flag_changes: BTreeSet<u32>,
    /// Messages may have arrived above the view's highest UID.
    new_mail: bool,
    /// Another session reset the user's URLAUTH key for this mailbox: tell URLMECH.
    urlmech: bool,
    /// The hub lost changes: compare the whole mailbox with the store.
    resync: bool,
    /// The keywords the client was told of in FLAGS (RFC 3501 §7.2.6).
    announced_keywords: Vec<String>,
}

impl Selected {
    /// Reads `account`'s mailbox from the store, as `reader` sees it when it is someone
    /// else's. SELECT (`read_only` false) takes \Recent for this session; EXAMINE does not
    /// (RFC 3501 §6.3.2: EXAMINE must not clear it).
    pub async fn load(
        store: &dyn Store,
        account: &str,
        reader: Option<&str>,
        mailbox: &certmail_store::Mailbox,
        read_only: bool,
        recent: &RecentTracker,
    ) -> Result<Selected, StoreError> {
        let metas = messages_as(store, account, &mailbox.name, reader, 1..=u32::MAX).await?;
        let max_uid = metas.last().map_or(0, |m| m.uid);
        let before = if read_only {
            recent.peek(account, mailbox.uid_validity)
        } else {
            recent.claim(account, mailbox.uid_validity, max_uid)
        };
        Ok(Selected {
            name: mailbox.name.clone(),
            owner: account.to_owned(),
            rights: certmail_store::Rights::ALL,
            reader: reader.map(str::to_owned),
            read_only,
            uid_validity: mailbox.uid_validity,
            recent: metas
                .iter()
                .map(|m| m.uid)
                .filter(|&u| u > before)
                .collect(),
            entries: metas.into_iter().map(entry_of).collect(),
            expunged: BTreeSet::new(),
            flag_changes: BTreeSet::new(),
            new_mail: false,
            urlmech: false,
            resync: false,
            announced_keywords: Vec::new(),
        })
    }

    /// The signed-in user when the mailbox is someone else's (their `\Seen` is their own).
    pub fn reader(&self) -> Option<&str> {
        self.reader.as_deref()
    }

    /// The messages in `uids` as this view's user sees them (their own `\Seen` in a
    /// mailbox someone else owns).
    pub async fn messages(
        &self,
        store: &dyn Store,
        uids: std::ops::RangeInclusive<u32>,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        messages_as(store, &self.owner, &self.name, self.reader(), uids).await
    }

    /// The messages among `uids` (ascending) that still exist, as this view's user sees
    /// them: one store read per run of UIDs lying close together, not one per message
    /// (other sessions' flag changes arrive by the dozen under load).
    async fn messages_among(
        &self,
        store: &dyn Store,
        uids: &[u32],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let mut found = Vec::with_capacity(uids.len());
        for run in close_runs(uids) {
            let (Some(&first), Some(&last)) = (run.first(), run.last()) else {
                continue;
            };
            let metas = self.messages(store, first..=last).await?;
            found.extend(
                metas
                    .into_iter()
                    .filter(|m| run.binary_search(&m.uid).is_ok()),
            );
        }
        Ok(found)
    }

    /// The keywords the client was told of in FLAGS.
    pub fn announced_keywords(&self) -> &[String] {
        &self.announced_keywords
    }

    /// Notes `keyword` as told of in FLAGS; true if it was not yet (case-insensitive).
    pub fn announce_keyword(&mut self, keyword: &str) -> bool {
        let new = !self
            .announced_keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword));
        if new {
            self.announced_keywords.push(keyword.to_owned());
        }
        new
    }

    /// Number of messages the client knows (EXISTS).
    pub fn len(&self) -> u32 {
        u32::try_from(self.entries.len()).unwrap_or(u32::MAX)
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Messages this session sees as \Recent.
    pub fn recent_count(&self) -> u32 {
        u32::try_from(self.recent.len()).unwrap_or(u32::MAX)
    }

    /// Whether this session sees `uid` as \Recent.
    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.contains(&uid)
    }

    /// The highest UID in the view (0 when empty).
    pub fn max_uid(&self) -> u32 {
        self.entries.last().map_or(0, |e| e.uid)
    }

    /// The entries, in sequence order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The sequence number of `uid`.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.entries
            .binary_search_by_key(&uid, |e| e.uid)
            .ok()
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    /// The first unseen message's sequence number (SELECT's `[UNSEEN n]`).
    pub fn first_unseen(&self) -> Option<u32> {
        self.entries
            .iter()
            .position(|e| !e.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen")))
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    /// (sequence number, entry) of the messages `set` names, by sequence number or UID
    /// (RFC 3501 §6.4.8: in a UID set, `*` is the highest UID and UIDs that do not exist are
    /// ignored). Messages expunged elsewhere but not yet announced are still included.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<(u32, &Entry)> {
        let max = if uid { self.max_uid() } else { self.len() };
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let seq = u32::try_from(i + 1).ok()?;
                let value = if uid { e.uid } else { seq };
                set_contains(set, value, max).then_some((seq, e))
            })
            .collect()
    }

    /// Whether a sequence-number set names a message beyond the view (RFC 3501 §9: a
    /// sequence number above EXISTS is invalid and earns BAD). A range ending in `*` is
    /// let through (`1:*` on an empty mailbox names nothing; clients send it).
    pub fn seq_set_out_of_range(&self, set: &SequenceSet) -> bool {
        use imap_codec::imap_types::sequence::{SeqOrUid, Sequence};
        let too_big = |s: &SeqOrUid| matches!(s, SeqOrUid::Value(n) if n.get() > self.len());
        set.0.as_ref().iter().any(|seq| match seq {
            Sequence::Single(s) => too_big(s),
            Sequence::Range(SeqOrUid::Asterisk, _) | Sequence::Range(_, SeqOrUid::Asterisk) => {
                false
            }
            Sequence::Range(a, b) => too_big(a) || too_big(b),
        })
    }

    /// Records a change another connection made (from the hub). Changes of other
    /// mailboxes are ignored.
    pub fn note(&mut self, change: &Change) {
        match change {
            Change::Exists { mailbox, .. }
            | Change::Expunged { mailbox, .. }
            | Change::Flags { mailbox, .. }
                if *mailbox != self.name => {}
            Change::Exists { .. } => self.new_mail = true,
            Change::Expunged { uids, .. } => {
                for &uid in uids {
                    if self.seq_of(uid).is_some() {
                        self.expunged.insert(uid);
                    }
                }
            }
            Change::Flags { uid, .. } => {
                self.flag_changes.insert(*uid);
            }
            // RFC 3501 §6.3.5: renaming INBOX moves its messages out and leaves it empty.
            Change::MailboxRenamed { from, .. } if *from == self.name && from == INBOX => {
                self.resync = true;
            }
            Change::MailboxRenamed { from, to } if *from == self.name => self.name = to.clone(),
            Change::Resync => self.resync = true,
            Change::UrlAuthKeysReset { mailbox } => {
                self.urlmech |= mailbox.as_ref().is_none_or(|m| *m == self.name);
            }
            _ => {}
        }
    }

    /// Whether the user's URLAUTH key for this mailbox was reset since last asked
    /// (RFC 4467 §6.2: the session is told `OK [URLMECH INTERNAL]`).
    pub fn take_urlmech(&mut self) -> bool {
        std::mem::take(&mut self.urlmech)
    }

    /// Marks that this connection itself added messages (APPEND, COPY or MOVE into the
    /// selected mailbox): the next sync announces them.
    pub fn note_own_append(&mut self) {
        self.new_mail = true;
    }

    /// Updates one message after this connection changed its flags.
    pub fn set_entry_flags(&mut self, uid: u32, flags: Vec<String>, modseq: u64) {
        if let Ok(i) = self.entries.binary_search_by_key(&uid, |e| e.uid) {
            self.entries[i].flags = flags;
            self.entries[i].modseq = modseq;
        }
        self.flag_changes.remove(&uid);
    }

    /// Removes messages this connection expunged and returns `* n EXPUNGE` for each, in
    /// the order they must be sent (each number counts the removals before it), or one
    /// `* VANISHED uids` when `qresync` (RFC 7162 §3.2.10: QRESYNC is enabled).
    pub fn remove(&mut self, uids: &[u32], qresync: bool) -> Vec<Data<'static>> {
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for &uid in uids {
            if let Ok(i) = self.entries.binary_search_by_key(&uid, |e| e.uid) {
                gone.push(uid);
                self.entries.remove(i);
                self.recent.remove(&uid);
                self.expunged.remove(&uid);
                self.flag_changes.remove(&uid);
                if let Some(seq) = u32::try_from(i + 1).ok().and_then(NonZeroU32::new) {
                    out.push(Data::Expunge(seq));
                }
            }
        }
        if qresync {
            return crate::proto::sets::vanished(&gone, false)
                .into_iter()
                .collect();
        }
        out
    }

    /// Tells the client what changed since it last heard. `allow_expunge` is false while
    /// answering FETCH, STORE and SEARCH (RFC 3501 §7.4.1); CONDSTORE adds MODSEQ to the
    /// FETCH responses (RFC 7162 §3.2), QRESYNC tells removals as VANISHED. New messages get \Recent for this session unless the
    /// mailbox is read-only.
    pub async fn sync(
        &mut self,
        store: &dyn Store,
        account: &str,
        recent: &RecentTracker,
        allow_expunge: bool,
        enabled: Enabled,
    ) -> Result<Vec<Data<'static>>, StoreError> {
        let mut out = Vec::new();
        if std::mem::take(&mut self.resync) {
            self.compare_with_store(store).await?;
        }
        if allow_expunge && !self.expunged.is_empty() {
            let uids: Vec<u32> = std::mem::take(&mut self.expunged).into_iter().collect();
            out.extend(self.remove(&uids, enabled.qresync));
        }
        let changed: Vec<u32> = std::mem::take(&mut self.flag_changes)
            .into_iter()
            .filter(|uid| !self.expunged.contains(uid))
            .collect();
        for meta in self.messages_among(store, &changed).await? {
            let uid = meta.uid;
            let Some(seq) = self.seq_of(uid) else {
                continue;
            };
            let Some((flags_changed, modseq_moved)) = self
                .entries
                .get(seq as usize - 1)
                .map(|e| (e.flags != meta.flags, e.modseq != meta.modseq))
            else {
                continue;
            };
            if flags_changed || modseq_moved {
                self.set_entry_flags(uid, meta.flags.clone(), meta.modseq);
            }
            // A MODSEQ that moved with nothing this user sees changed (another reader's
            // own \Seen, crate::mailbox::seen) is news only to a CONDSTORE client.
            if flags_changed || (modseq_moved && enabled.condstore) {
                out.push(self.flags_response(seq, &meta, enabled.condstore));
            }
        }
        if std::mem::take(&mut self.new_mail) {
            self.add_new(store, account, recent, &mut out).await?;
        }
        Ok(out)
    }

    async fn add_new(
        &mut self,
        store: &dyn Store,
        account: &str,
        recent: &RecentTracker,
        out: &mut Vec<Data<'static>>,
    ) -> Result<(), StoreError> {
        let from = self.max_uid().saturating_add(1);
        let metas = self.messages(store, from..=u32::MAX).await?;
        let Some(last) = metas.last().map(|m| m.uid) else {
            return Ok(());
        };
        let before = if self.read_only {
            recent.peek(account, self.uid_validity)
        } else {
            recent.claim(account, self.uid_validity, last)
        };
        for meta in metas {
            if meta.uid > before {
                self.recent.insert(meta.uid);
            }
            self.entries.push(entry_of(meta));
        }
        // RFC 3501 §7.3.1/§7.3.2: EXISTS and RECENT give the new totals.
        out.push(Data::Exists(self.len()));
        out.push(Data::Recent(self.recent_count()));
        Ok(())
    }

    /// After the hub lost changes: finds what differs from the store.
    async fn compare_with_store(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        let metas = self.messages(store, 1..=u32::MAX).await?;
        let present: HashSet<u32> = metas.iter().map(|m| m.uid).collect();
        for e in &self.entries {
            if !present.contains(&e.uid) {
                self.expunged.insert(e.uid);
            }
        }
        for meta in &metas {
            if let Some(seq) = self.seq_of(meta.uid) {
                let e = &self.entries[seq as usize - 1];
                if e.flags != meta.flags || e.modseq != meta.modseq {
                    self.flag_changes.insert(meta.uid);
                }
            } else if meta.uid > self.max_uid() {
                self.new_mail = true;
            }
        }
        Ok(())
    }

    /// `* seq FETCH (UID u FLAGS (...) [MODSEQ (m)])` for an unsolicited flag change.
    pub fn flags_response(&self, seq: u32, meta: &MessageMeta, condstore: bool) -> Data<'static> {
        let mut items = Vec::new();
        if let Some(uid) = NonZeroU32::new(meta.uid) {
            items.push(MessageDataItem::Uid(uid));
        }
        items.push(MessageDataItem::Flags(fetch_flags(
            &flags_of(&meta.flags),
            self.is_recent(meta.uid),
        )));
        if condstore && let Some(modseq) = NonZeroU64::new(meta.modseq) {
            items.push(MessageDataItem::ModSeq(modseq));
        }
        Data::Fetch {
            seq: NonZeroU32::new(seq).unwrap_or(NonZeroU32::MIN),
            items: Vec1::try_from(items).expect("FLAGS is always there"),
        }
    }
}

/// Most UIDs between two wanted ones that a single range read may also fetch (and
/// drop) rather than being split in two.
const MAX_RUN_GAP: u32 = 32;

/// `uids` (ascending) cut where two neighbours lie more than [`MAX_RUN_GAP`] apart.
fn close_runs(uids: &[u32]) -> impl Iterator<Item = &[u32]> {
    uids.chunk_by(|a, b| b.saturating_sub(*a) <= MAX_RUN_GAP)
}

fn entry_of(meta: MessageMeta) -> Entry {
    Entry {
        uid: meta.uid,
        flags: meta.flags,
        modseq: meta.modseq,
    }
}

#[cfg(test)]
mod tests {
    use super::close_runs;

    #[test]
    fn flag_changes_are_read_in_runs_of_close_uids() {
        let runs: Vec<&[u32]> = close_runs(&[3, 4, 36, 69, 200, 201]).collect();
        assert_eq!(runs, vec![&[3, 4, 36][..], &[69][..], &[200, 201][..]]);
        assert_eq!(close_runs(&[]).count(), 0);
        let top: Vec<&[u32]> = close_runs(&[u32::MAX - 1, u32::MAX]).collect();
        assert_eq!(top, vec![&[u32::MAX - 1, u32::MAX][..]]);
    }
}
