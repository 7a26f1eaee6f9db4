//! Copying a whole installation from one backend to another (`certmail store copy`).
//!
//! - [`RecordKind`]: every kind of record a store holds, the one list to extend when a
//!   backend gains a record kind (add the variant, count it in each backend's
//!   [`RecordCopy::record_counts`], carry it in [`AccountRecords`] or a step of
//!   [`copy_installation`]);
//! - [`RecordCopy`]: what a backend adds to [`Store`] so that it can be copied from and
//!   into: raw sealed bodies, the records the store traits do not expose (expunged UIDs
//!   with their MODSEQs, every reader's `\Seen` set), and imports that keep UIDs,
//!   UIDVALIDITY, MODSEQs, queue ids and audit times as they were;
//! - `run.rs`: [`copy_installation`], the copy itself, and its check of the result.
//!
//! Bodies travel sealed, as stored (`key id ‖ nonce ‖ ciphertext ‖ tag`, AAD
//! `blobs/<sha256>`, the same in every backend): the copy never decrypts them, so the
//! target must use the source's key file. Other records are read through the store and
//! sealed again by the target (accounts, scripts) with that same key.
//!
//! URLAUTH keys are copied last, once every account (owner and user) is in the target, so
//! the URLs people made keep working after the move.
//!
//! Atomicity: each account (with its bindings, devices, mailboxes, messages, ACLs, seen
//! sets, subscriptions and scripts) is written in one transaction; bodies, the queue and
//! the audit log are written in their own. A copy that stops half-way leaves a target that
//! holds some accounts completely and others not at all; it is not resumable: empty the
//! target and run it again. Bodies pass one at a time; an account's records (its message
//! metadata, not its bodies) are held in memory while its transaction is written.
//!
//! Not copied: state that belongs to running nodes (PostgreSQL's session leases, queue
//! claims and sign-in failure windows), id counters, which the target raises past the
//! copied UIDVALIDITYs and queue ids instead, and the day's Sieve redirect counters (why:
//! [`crate::redirects`]).

mod run;

use std::collections::BTreeMap;

use crate::acl::AclEntry;
use crate::error::StoreError;
use crate::model::{Account, AuditEvent, BlobId, CertBinding, Device, Mailbox, MessageMeta};
use crate::model::{QueueEntry, ReplyMark};
use crate::scripts::SieveScript;
use crate::store::Store;

pub use run::{CopyProgress, CopyReport, SilentProgress, copy_installation};

/// Every kind of record a store holds, in the order a copy writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// Message bodies, stored once per content.
    Bodies,
    /// References to bodies: one per message and per queue entry.
    BodyReferences,
    /// Accounts (with their password hashes, TOTP secrets, kinds and roles).
    Accounts,
    /// Addresses of accounts.
    Addresses,
    /// Certificate bindings.
    CertBindings,
    /// Devices seen at sign-in.
    Devices,
    /// Mailboxes (with UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ).
    Mailboxes,
    /// Names on subscription lists.
    Subscriptions,
    /// Messages (UID, MODSEQ, flags, internal date, body).
    Messages,
    /// Expunged UIDs remembered for QRESYNC.
    Expunged,
    /// Access control list entries of shared mailboxes.
    AclEntries,
    /// UIDs a reader other than the owner has seen in a shared mailbox.
    SharedSeen,
    /// Sieve scripts.
    SieveScripts,
    /// Active Sieve scripts (at most one per account).
    ActiveScripts,
    /// Aliases and distribution lists.
    Aliases,
    /// Outbound queue entries.
    Queue,
    /// Audit events.
    AuditEvents,
    /// Vacation reply marks (who was answered, until when).
    ReplyMarks,
    /// URLAUTH access keys (RFC 4467 §7), one per user and mailbox.
    UrlauthKeys,
}

impl RecordKind {
    /// Every kind, in the order a copy writes them.
    pub const ALL: [RecordKind; 19] = [
        RecordKind::Bodies,
        RecordKind::BodyReferences,
        RecordKind::Accounts,
        RecordKind::Addresses,
        RecordKind::CertBindings,
        RecordKind::Devices,
        RecordKind::Mailboxes,
        RecordKind::Subscriptions,
        RecordKind::Messages,
        RecordKind::Expunged,
        RecordKind::AclEntries,
        RecordKind::SharedSeen,
        RecordKind::SieveScripts,
        RecordKind::ActiveScripts,
        RecordKind::Aliases,
        RecordKind::Queue,
        RecordKind::AuditEvents,
        RecordKind::ReplyMarks,
        RecordKind::UrlauthKeys,
    ];

    /// The name in the summary table and in JSON.
    pub fn label(self) -> &'static str {
        match self {
            RecordKind::Bodies => "bodies",
            RecordKind::BodyReferences => "body references",
            RecordKind::Accounts => "accounts",
            RecordKind::Addresses => "addresses",
            RecordKind::CertBindings => "certificate bindings",
            RecordKind::Devices => "devices",
            RecordKind::Mailboxes => "mailboxes",
            RecordKind::Subscriptions => "subscriptions",
            RecordKind::Messages => "messages",
            RecordKind::Expunged => "expunged UIDs",
            RecordKind::AclEntries => "ACL entries",
            RecordKind::SharedSeen => "shared \\Seen UIDs",
            RecordKind::SieveScripts => "Sieve scripts",
            RecordKind::ActiveScripts => "active Sieve scripts",
            RecordKind::Aliases => "aliases",
            RecordKind::Queue => "queue entries",
            RecordKind::AuditEvents => "audit events",
            RecordKind::ReplyMarks => "vacation reply marks",
            RecordKind::UrlauthKeys => "URLAUTH keys",
        }
    }
}

/// How many records of each kind a store holds (absent kinds count 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordCounts(pub BTreeMap<RecordKind, u64>);

impl RecordCounts {
    /// The count of one kind.
    pub fn get(&self, kind: RecordKind) -> u64 {
        self.0.get(&kind).copied().unwrap_or(0)
    }

    /// Sets the count of one kind.
    pub fn set(&mut self, kind: RecordKind, count: u64) {
        self.0.insert(kind, count);
    }

    /// Whether the store holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(|n| *n == 0)
    }

    /// The kinds with records, as "3 accounts, 12 messages" (for a refusal).
    pub fn describe(&self) -> String {
        let parts: Vec<String> = RecordKind::ALL
            .iter()
            .filter(|k| self.get(**k) > 0)
            .map(|k| format!("{} {}", self.get(*k), k.label()))
            .collect();
        parts.join(", ")
    }
}

/// A body as the store holds it: sealed, never decrypted by a copy.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBody {
    /// The body's id (SHA-256 of the plaintext).
    pub id: BlobId,
    /// The sealed body: key id, nonce, ciphertext, tag (AAD `blobs/<id>`).
    pub sealed: Vec<u8>,
    /// The sealed FETCH summary cache (AAD `summaries/<id>`), if one was stored.
    pub summary: Option<Vec<u8>>,
}

impl std::fmt::Debug for SealedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedBody")
            .field("id", &self.id)
            .field("sealed_len", &self.sealed.len())
            .field("summary", &self.summary.is_some())
            .finish()
    }
}

/// One mailbox with everything stored under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxRecords {
    /// The mailbox (its `id` is the source's; the target assigns its own).
    pub mailbox: Mailbox,
    /// Its messages, in UID order.
    pub messages: Vec<MessageMeta>,
    /// Expunged UIDs with the MODSEQ of their expunge, ascending.
    pub expunged: Vec<(u32, u64)>,
    /// Its ACL entries.
    pub acl: Vec<AclEntry>,
    /// Each reader's own `\Seen` UIDs (shared mailboxes), by reader.
    pub seen: Vec<(String, Vec<u32>)>,
}

/// One account with everything stored under it: what one import transaction writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecords {
    /// The account record.
    pub account: Account,
    /// Its certificate bindings.
    pub bindings: Vec<CertBinding>,
    /// Its devices.
    pub devices: Vec<Device>,
    /// Its subscription list (names; a name may have no mailbox).
    pub subscriptions: Vec<String>,
    /// Its Sieve scripts (`active` marks the active one).
    pub scripts: Vec<SieveScript>,
    /// Its mailboxes, INBOX included.
    pub mailboxes: Vec<MailboxRecords>,
    /// Its vacation reply marks (written after the account, through the store).
    pub reply_marks: Vec<ReplyMark>,
}

/// What a backend adds to [`Store`] to be the source or the target of a copy.
///
/// The imports expect an empty target (the copy checks it first) and keep identities as
/// they were: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, UIDs, MODSEQs, queue ids, audit times.
#[async_trait::async_trait]
pub trait RecordCopy: Store {
    /// How many records of each kind the store holds.
    async fn record_counts(&self) -> Result<RecordCounts, StoreError>;
    /// Up to `limit` ids of stored bodies greater than `after`, ascending.
    async fn body_ids_after(
        &self,
        after: Option<BlobId>,
        limit: usize,
    ) -> Result<Vec<BlobId>, StoreError>;
    /// A stored body as sealed; `None` if there is none.
    async fn sealed_body(&self, id: BlobId) -> Result<Option<SealedBody>, StoreError>;
    /// The expunged UIDs of a mailbox (by the mailbox's id) with their MODSEQs, ascending.
    async fn expunged_in(&self, mailbox_id: u64) -> Result<Vec<(u32, u64)>, StoreError>;
    /// Every reader's `\Seen` set of a mailbox (by the mailbox's id), ordered by reader.
    async fn seen_sets_in(&self, mailbox_id: u64) -> Result<Vec<(String, Vec<u32>)>, StoreError>;
    /// The URLAUTH access keys of a mailbox (by the mailbox's id), opened, by user: a
    /// key is sealed with its mailbox's id, which the target assigns anew, so the copy
    /// seals each again through [`crate::MailboxStore::urlauth_key`].
    async fn urlauth_keys_in(&self, mailbox_id: u64)
    -> Result<Vec<(String, [u8; 32])>, StoreError>;

    /// Stores a sealed body with no references yet (the messages and queue entries
    /// imported after it add theirs).
    async fn import_body(&self, body: SealedBody) -> Result<(), StoreError>;
    /// Writes one account and everything under it in one transaction; each message adds a
    /// reference to its (already imported) body.
    async fn import_account(&self, records: AccountRecords) -> Result<(), StoreError>;
    /// Writes a queue entry under its own id, adding a reference to its body.
    async fn import_queue_entry(&self, entry: QueueEntry) -> Result<(), StoreError>;
    /// Appends audit events as they are (times and fields kept).
    async fn import_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError>;

    /// One account and everything under it, read through the store.
    async fn export_account(&self, id: &str) -> Result<Option<AccountRecords>, StoreError> {
        let Some(account) = self.account(id).await? else {
            return Ok(None);
        };
        let mut mailboxes = Vec::new();
        for mailbox in self.list_mailboxes(id).await? {
            let messages = self.messages(id, &mailbox.name, 1..=u32::MAX).await?;
            let acl = self.acl(id, &mailbox.name).await?;
            mailboxes.push(MailboxRecords {
                expunged: self.expunged_in(mailbox.id).await?,
                seen: self.seen_sets_in(mailbox.id).await?,
                mailbox,
                messages,
                acl,
            });
        }
        Ok(Some(AccountRecords {
            bindings: self.bindings_of(id).await?,
            devices: self.devices_of(id).await?,
            subscriptions: self.subscriptions(id).await?,
            scripts: self.list_scripts(id).await?,
            reply_marks: self.reply_marks(id).await?,
            mailboxes,
            account,
        }))
    }
}
