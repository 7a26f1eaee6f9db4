//! The [`Store`] trait: everything the servers ask of the mail store, in six parts.
//!
//! - [`AccountStore`]: accounts, the certificate bindings that sign them in, aliases;
//! - [`MailboxStore`]: mailboxes and the messages in them;
//! - [`QueueStore`]: delivery of an accepted message and the outbound queue;
//! - [`AuditStore`]: the devices seen at sign-in and the audit log;
//! - [`ScriptStore`]: each account's Sieve scripts, one of them active;
//! - [`StoreOps`]: backup and group-commit counters.
//!
//! [`Store`] is their sum, implemented for every type that implements all six, and is
//! what the servers hold (`Arc<dyn Store>`: its parts' methods need no import). A backend
//! implements the six parts and passes the [`crate::conformance`] checks (feature
//! `conformance`). Callers using a concrete store type bring the parts into scope with
//! `use certmail_store::prelude::*`.
//!
//! Every mutating call (except the `set_message_summary` cache) returns only after its
//! change is durable on disk. Mailbox names are `/`-delimited; `INBOX` is matched
//! case-insensitively and always returned as `INBOX`. Addresses and account ids are matched
//! in lowercase.

use std::ops::RangeInclusive;

use crate::acl::{AclChange, AclEntry, AclUpdate, Rights, RightsChange, SharedMailbox};
use crate::devices::DeviceSeen;
use crate::error::StoreError;
use crate::model::{
    Account, Alias, AuditEvent, BlobId, CertBinding, CopyUid, Delivery, DeliveryReceipt, Device,
    FlagChange, MailQuota, Mailbox, MessageMeta, NewMessage, QueueEntry, ReplyMark, SpecialUse,
    StoreResult, StoreStats,
};
use crate::scripts::{ScriptQuota, SieveScript};

/// The mail store, used as `Arc<dyn Store>`: the sum of its parts, implemented for every
/// type that implements all of them.
pub trait Store:
    AccountStore + MailboxStore + QueueStore + AuditStore + ScriptStore + StoreOps
{
}

impl<T> Store for T where
    T: AccountStore + MailboxStore + QueueStore + AuditStore + ScriptStore + StoreOps + ?Sized
{
}

/// Accounts, their certificate bindings and aliases: who may sign in, and which addresses
/// belong to whom (account addresses and aliases share one namespace).
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync + 'static {
    // ----- accounts -----

    /// Creates an account and its INBOX. Fails with `AccountExists` if the id exists and
    /// `AddressTaken` if one of its addresses belongs to another account or an alias.
    async fn create_account(&self, account: Account) -> Result<(), StoreError>;
    /// The account with this id.
    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;
    /// The account owning this address (case-insensitive).
    async fn account_by_address(&self, address: &str) -> Result<Option<Account>, StoreError>;
    /// Replaces an existing account record (matched by id); the address index follows.
    async fn update_account(&self, account: Account) -> Result<(), StoreError>;
    /// All accounts, ordered by id.
    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Deletes an account with its addresses, certificate bindings, devices, mailboxes and
    /// messages.
    async fn delete_account(&self, id: &str) -> Result<(), StoreError>;

    // ----- certificate bindings -----

    /// Binds a certificate key to `binding.account`. Rebinding the same key to the same
    /// account updates the record; `CertBoundElsewhere` if another account holds it.
    async fn bind_cert(&self, binding: CertBinding) -> Result<(), StoreError>;
    /// Removes a binding of this account; `BindingNotFound` if it has no such binding.
    async fn unbind_cert(&self, account: &str, spki_sha256: &[u8; 32]) -> Result<(), StoreError>;
    /// All bindings of an account.
    async fn bindings_of(&self, account: &str) -> Result<Vec<CertBinding>, StoreError>;
    /// The binding of this certificate key.
    async fn binding_by_spki(
        &self,
        spki_sha256: &[u8; 32],
    ) -> Result<Option<CertBinding>, StoreError>;
    /// Bindings of certificates with this issuer and subject DN (e.g. after renewal).
    async fn bindings_by_dn(
        &self,
        issuer_dn: &str,
        subject_dn: &str,
    ) -> Result<Vec<CertBinding>, StoreError>;

    // ----- aliases -----

    /// Creates or replaces an alias; `AddressTaken` if an account owns the address.
    async fn set_alias(&self, alias: Alias) -> Result<(), StoreError>;
    /// The alias with this address.
    async fn alias(&self, address: &str) -> Result<Option<Alias>, StoreError>;
    /// Removes an alias; `AliasNotFound` if there is none.
    async fn remove_alias(&self, address: &str) -> Result<(), StoreError>;
    /// All aliases, ordered by address.
    async fn list_aliases(&self) -> Result<Vec<Alias>, StoreError>;
}

/// Mailboxes and the messages in them (IMAP's view of an account).
#[async_trait::async_trait]
pub trait MailboxStore: Send + Sync + 'static {
    // ----- mailboxes -----

    /// Creates a mailbox with a fresh UIDVALIDITY, and any missing parents (RFC 3501 §6.3.3).
    async fn create_mailbox(
        &self,
        account: &str,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<Mailbox, StoreError>;
    /// The mailbox with this name (`None` also for a name that could not exist).
    async fn mailbox(&self, account: &str, name: &str) -> Result<Option<Mailbox>, StoreError>;
    /// All mailboxes of an account, ordered by name.
    async fn list_mailboxes(&self, account: &str) -> Result<Vec<Mailbox>, StoreError>;
    /// Renames a mailbox and its children. Renaming INBOX moves its messages to the new
    /// mailbox and leaves an empty INBOX; INBOX's children stay (RFC 3501 §6.3.5). Other
    /// people's subscriptions to a renamed mailbox (its [`crate::acl::other_users_name`])
    /// follow it, in the same transaction, as its access list does.
    async fn rename_mailbox(&self, account: &str, from: &str, to: &str) -> Result<(), StoreError>;
    /// Deletes a mailbox and its messages (not its children); INBOX cannot be deleted.
    async fn delete_mailbox(&self, account: &str, name: &str) -> Result<(), StoreError>;
    /// Adds a name to the account's subscription list (the mailbox must exist, which
    /// RFC 3501 §6.3.6 allows checking; a name of another person's mailbox,
    /// [`crate::acl::is_other_users_name`], is kept unchecked) or takes one off it (any
    /// name). The list is kept
    /// apart from the mailboxes: deleting a mailbox leaves its name subscribed (RFC 3501
    /// §6.3.6 MUST NOT remove it); renaming one carries its subscription along.
    async fn set_subscribed(
        &self,
        account: &str,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError>;
    /// The account's subscription list, ordered by name; a name may have no mailbox.
    async fn subscriptions(&self, account: &str) -> Result<Vec<String>, StoreError>;

    // ----- access control lists (RFC 4314) -----

    /// Sets what `identifier` (an account id, `org:ORG` or `anyone`; see
    /// [`crate::acl::normalize_identifier`]) may do on the owner's mailbox, replacing what
    /// it had; empty rights remove the entry. `MailboxNotFound` if there is no such
    /// mailbox, `InvalidAcl` for an identifier that names nobody. The entry follows the
    /// mailbox through renames and goes with it when it is deleted.
    async fn set_acl(
        &self,
        owner: &str,
        mailbox: &str,
        identifier: &str,
        rights: Rights,
    ) -> Result<(), StoreError> {
        let change = AclChange::new(identifier, RightsChange::Replace, rights, usize::MAX);
        self.change_acl(owner, mailbox, change).await.map(|_| ())
    }
    /// Changes `identifier`'s entry as one step against concurrent changes (on every node):
    /// reads the list, applies [`crate::acl::apply_change`] (the new rights, or
    /// [`AclUpdate::Full`] when a new identifier would pass `max_entries`) and writes.
    /// Errors as [`Self::set_acl`].
    async fn change_acl(
        &self,
        owner: &str,
        mailbox: &str,
        change: AclChange,
    ) -> Result<AclUpdate, StoreError>;
    /// The owner's mailbox's entries, ordered by identifier (the owner's own implicit
    /// rights are not listed). `MailboxNotFound` if there is no such mailbox.
    async fn acl(&self, owner: &str, mailbox: &str) -> Result<Vec<AclEntry>, StoreError>;
    /// Every entry naming one of `identifiers` (normalised as `set_acl` does), across all
    /// accounts, ordered by owner, mailbox and identifier.
    async fn shared_with(&self, identifiers: &[String]) -> Result<Vec<SharedMailbox>, StoreError>;
    /// The UIDs of the owner's mailbox that `reader` has marked `\Seen` for themself
    /// (per-user `\Seen` on a shared mailbox), ascending; UIDs since expunged may remain.
    async fn seen_by(
        &self,
        owner: &str,
        mailbox: &str,
        reader: &str,
    ) -> Result<Vec<u32>, StoreError>;
    /// Adds `uids` to (or takes them off) `reader`'s own `\Seen` set of the owner's
    /// mailbox, and gives the messages whose mark changed one new MODSEQ in the same
    /// transaction: the reader's other devices find the change through CHANGEDSINCE and
    /// QRESYNC (RFC 7162), and everyone else sees the MODSEQ move with no visible change,
    /// which RFC 7162 allows. `MailboxNotFound` if there is no such mailbox.
    async fn set_seen_by(
        &self,
        owner: &str,
        mailbox: &str,
        reader: &str,
        uids: &[u32],
        seen: bool,
    ) -> Result<(), StoreError>;

    // ----- URLAUTH access keys (RFC 4467 §7) -----

    /// `user`'s URLAUTH access key for the owner's mailbox: the stored one, else `fresh`
    /// stored and returned; with `fresh = None` only a read (`None` when there is none).
    /// Sealed at rest; it follows the mailbox through renames and goes with it, and with
    /// `user`'s account. `MailboxNotFound` if there is no such mailbox.
    async fn urlauth_key(
        &self,
        user: &str,
        owner: &str,
        mailbox: &str,
        fresh: Option<[u8; 32]>,
    ) -> Result<Option<[u8; 32]>, StoreError>;
    /// Forgets `user`'s URLAUTH keys (RFC 4467 §6.2 RESETKEY): the one for `(owner,
    /// mailbox)`, or every one of them (`None`); returns how many went, so every URL made
    /// with them stops working. `MailboxNotFound` for a named mailbox that does not exist.
    async fn reset_urlauth_keys(
        &self,
        user: &str,
        mailbox: Option<(&str, &str)>,
    ) -> Result<u64, StoreError>;

    // ----- messages -----

    /// Appends a message; returns (UIDVALIDITY, UID, MODSEQ).
    async fn append(
        &self,
        account: &str,
        mailbox: &str,
        message: NewMessage,
    ) -> Result<(u32, u32, u64), StoreError>;
    /// Appends several messages in one transaction, all or none (RFC 3502 MULTIAPPEND),
    /// with consecutive UIDs in the order given; returns (UIDVALIDITY, UID, MODSEQ) of each.
    /// All of them must fit `quota` ([`MailQuota::fits`]), checked in the transaction;
    /// else [`StoreError::OverQuota`] and nothing is stored. (`append` has no quota: it is
    /// the administrator's import.)
    async fn append_many(
        &self,
        account: &str,
        mailbox: &str,
        messages: Vec<NewMessage>,
        quota: MailQuota,
    ) -> Result<Vec<(u32, u32, u64)>, StoreError>;
    /// Messages with UIDs in the range, in UID order.
    async fn messages(
        &self,
        account: &str,
        mailbox: &str,
        uids: RangeInclusive<u32>,
    ) -> Result<Vec<MessageMeta>, StoreError>;
    /// The plaintext of a body this account holds; `MessageNotFound` otherwise.
    async fn message_body(&self, account: &str, blob: &BlobId) -> Result<Vec<u8>, StoreError>;
    /// The cached summary of a body this account holds (see `set_message_summary`), or
    /// `None` if none was stored yet; `MessageNotFound` if the account holds no such body.
    async fn message_summary(
        &self,
        account: &str,
        blob: &BlobId,
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// `message_summary` of many bodies in one call (SEARCH and SORT want one per message):
    /// in order, `None` where no summary was stored yet or the account no longer holds the
    /// body.
    async fn message_summaries(
        &self,
        account: &str,
        blobs: Vec<BlobId>,
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// Caches an opaque summary of a body (e.g. the IMAP layer's encoded ENVELOPE and
    /// BODYSTRUCTURE) so FETCH need not re-parse it; shared by every copy, encrypted, freed
    /// with the body. A cache: unlike other writes it does not wait for a flush.
    async fn set_message_summary(
        &self,
        account: &str,
        blob: &BlobId,
        summary: Vec<u8>,
    ) -> Result<(), StoreError>;
    /// Changes flags of the change's UIDs (missing UIDs are skipped). With
    /// `unchanged_since` (RFC 7162 §3.2), messages whose MODSEQ is higher are left alone
    /// and reported. All messages changed by one call share one new MODSEQ.
    async fn set_flags(
        &self,
        account: &str,
        mailbox: &str,
        change: FlagChange,
    ) -> Result<StoreResult, StoreError>;
    /// Copies messages (flags and internal date kept); returns the target's UIDVALIDITY and
    /// (source UID, new UID) pairs in source UID order (RFC 4315 COPYUID). The copies must
    /// fit `quota`, checked in the transaction; else [`StoreError::OverQuota`].
    async fn copy(
        &self,
        account: &str,
        from: &str,
        uids: &[u32],
        to: &str,
        quota: MailQuota,
    ) -> Result<CopyUid, StoreError>;
    /// Like `copy`, and removes the messages from the source in the same transaction
    /// (RFC 6851), recording them as expunged there.
    async fn move_messages(
        &self,
        account: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyUid, StoreError>;
    /// Removes messages flagged `\Deleted`: all of them (`None`), or those among `uids`
    /// (UID EXPUNGE). Returns the expunged UIDs, ascending.
    async fn expunge(
        &self,
        account: &str,
        mailbox: &str,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError>;
    /// UIDs expunged with a MODSEQ above `modseq` (RFC 7162 QRESYNC VANISHED), ascending.
    async fn expunged_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<u32>, StoreError>;
    /// Messages whose MODSEQ is above `modseq`, in UID order.
    async fn changed_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>, StoreError>;
    /// Total size of the account's messages, bytes (a message in two mailboxes counts twice).
    async fn account_usage(&self, account: &str) -> Result<u64, StoreError>;

    // ----- full-text search index (`crate::search_index`) -----

    /// Narrows SEARCH BODY/TEXT among `blobs` (bodies `account` holds): for each, in order,
    /// `false` when the index shows it cannot contain every one of `needles` (each the
    /// string SEARCH looks for, lowercased as it compares), `true` when it may; the caller
    /// confirms each `true` against the message. A body without postings (stored before
    /// the index existed, or too large to index) is always `true`. `None` when the index
    /// cannot narrow (no needle is as long as one n-gram): every body is a candidate.
    async fn search_candidates(
        &self,
        account: &str,
        blobs: Vec<BlobId>,
        needles: Vec<String>,
    ) -> Result<Option<Vec<bool>>, StoreError>;
    /// Gives postings to every body an account holds that has none yet (mail stored before
    /// the index existed, or brought by `store copy`), and drops the postings of bodies no
    /// longer held (`certmail store reindex`). Returns how many bodies it indexed.
    async fn reindex(&self) -> Result<u64, StoreError>;
}

/// Delivery of an accepted message (local copies and queue entries in one transaction) and
/// the outbound queue.
#[async_trait::async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Stores one message for local recipients and queues it for remote ones, in one
    /// transaction: the body once, one entry per recipient mailbox, the queue entries.
    async fn deliver(&self, delivery: Delivery) -> Result<DeliveryReceipt, StoreError>;
    /// All queue entries, ordered by id.
    async fn queue_list(&self) -> Result<Vec<QueueEntry>, StoreError>;
    /// One queue entry.
    async fn queue_get(&self, id: u64) -> Result<Option<QueueEntry>, StoreError>;
    /// The body of a queue entry.
    async fn queue_body(&self, id: u64) -> Result<Vec<u8>, StoreError>;
    /// Replaces a queue entry (status, attempts, next attempt); its `blob` must not change.
    async fn queue_update(&self, entry: QueueEntry) -> Result<(), StoreError>;
    /// Removes a queue entry, freeing its body if nothing else holds it.
    async fn queue_remove(&self, id: u64) -> Result<(), StoreError>;
    /// Claims the entries among `ids` that are due (`next_attempt <= now`) for this node's
    /// deliveries, for `lease`, and returns the ones claimed, ascending. An entry under
    /// another node's live claim is skipped; this node's own claims are taken again.
    ///
    /// A store shared by several processes (PostgreSQL) makes each entry one node's at a
    /// time, so it is delivered once; a claim not renewed ([`QueueStore::queue_renew`])
    /// lapses after `lease` and another node takes the entry over. The default, for a store
    /// that one process holds (sled), grants every id it is given: that process's runner
    /// already keeps one delivery per entry and passes only due ones.
    async fn queue_claim(
        &self,
        ids: &[u64],
        now: i64,
        lease: std::time::Duration,
    ) -> Result<Vec<u64>, StoreError> {
        let _ = (now, lease);
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        Ok(ids)
    }
    /// Extends this node's claims on `ids` to `lease` from now (deliveries still running);
    /// ids it no longer holds are left alone. Nothing to do by default (one process).
    async fn queue_renew(&self, ids: &[u64], lease: std::time::Duration) -> Result<(), StoreError> {
        let _ = (ids, lease);
        Ok(())
    }
}

/// The devices seen at sign-in and the audit log.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync + 'static {
    // ----- devices -----

    /// Creates or replaces a device record (keyed by account, SPKI hash and network).
    async fn put_device(&self, device: Device) -> Result<(), StoreError>;
    /// The devices of an account, in key order.
    async fn devices_of(&self, account: &str) -> Result<Vec<Device>, StoreError>;
    /// Records a successful sign-in from `seen`'s device ([`crate::devices::plan_sign_in`])
    /// in one step under the account's device lock, so the account never holds more than
    /// `cap` devices however many sign in at once, on any node.
    async fn sign_in_device(&self, seen: Device, cap: usize) -> Result<DeviceSeen, StoreError>;
    /// Removes a device record; returns whether it existed.
    async fn forget_device(
        &self,
        account: &str,
        spki_sha256: &[u8; 32],
        network: &str,
    ) -> Result<bool, StoreError>;

    // ----- audit -----

    /// Appends an audit event. Its texts may hold anything a client sent, NUL included (a
    /// backend that cannot store NUL, PostgreSQL, keeps U+FFFD in its place).
    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError>;
    /// Events with `from_ms <= time < to_ms`, oldest first, at most `limit`.
    async fn audit_range(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    /// Events with `from_ms <= time < to_ms`, newest first, at most `limit` (`audit tail`).
    async fn audit_newest(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    /// The newest `limit` events of an account, newest first.
    async fn audit_by_account(
        &self,
        account: &str,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    /// Deletes events older than `before_ms`; returns how many.
    async fn audit_prune(&self, before_ms: i64) -> Result<u64, StoreError>;
}

/// Each account's Sieve scripts (RFC 5804's model): named, case-sensitive names, at most one
/// active (the one run at delivery). Account ids are matched in lowercase.
#[async_trait::async_trait]
pub trait ScriptStore: Send + Sync + 'static {
    /// Creates the script `name` or replaces its text (an active script stays active).
    /// Refused with `AccountNotFound`, `InvalidScriptName`, `ScriptTooLarge` or
    /// `TooManyScripts` (a replacement does not count as a new script).
    async fn put_script(
        &self,
        account: &str,
        name: &str,
        content: &str,
        quota: ScriptQuota,
    ) -> Result<(), StoreError>;
    /// The script `name`.
    async fn script(&self, account: &str, name: &str) -> Result<Option<SieveScript>, StoreError>;
    /// All scripts of the account, ordered by name (bytewise).
    async fn list_scripts(&self, account: &str) -> Result<Vec<SieveScript>, StoreError>;
    /// The active script, if any.
    async fn active_script(&self, account: &str) -> Result<Option<SieveScript>, StoreError>;
    /// Makes `name` the active script, or (`None`) leaves no script active;
    /// `ScriptNotFound` if there is no such script.
    async fn set_active_script(&self, account: &str, name: Option<&str>) -> Result<(), StoreError>;
    /// Renames a script (the active one stays active); `ScriptNotFound`, `ScriptExists`,
    /// `InvalidScriptName`.
    async fn rename_script(&self, account: &str, from: &str, to: &str) -> Result<(), StoreError>;
    /// Deletes a script; `ScriptNotFound`, and `ScriptActive` for the active one (RFC 5804
    /// §2.10: deactivate it first).
    async fn delete_script(&self, account: &str, name: &str) -> Result<(), StoreError>;

    // ----- vacation reply marks (RFC 5230 §4.2) -----

    /// The account's vacation reply marks (live or not yet pruned), ordered by handle,
    /// then sender. [`QueueStore::deliver`] checks and writes them with the reply.
    async fn reply_marks(&self, account: &str) -> Result<Vec<ReplyMark>, StoreError>;
    /// Writes a mark as it is, replacing one with the same (account, handle, sender): for
    /// a store copy. `AccountNotFound` if there is no such account.
    async fn put_reply_mark(&self, mark: ReplyMark) -> Result<(), StoreError>;
    /// Deletes every mark that no longer holds a reply back at `now`; returns how many.
    async fn prune_reply_marks(&self, now: i64) -> Result<u64, StoreError>;
}

/// Operations on the whole store.
#[async_trait::async_trait]
pub trait StoreOps: Send + Sync + 'static {
    /// Writes a consistent snapshot of the whole store into `dir` (created; must be new or
    /// empty) while the store stays in use: writers wait for the copy, readers do not.
    /// Restore it with [`crate::SledStore::restore`] into a stopped installation.
    async fn backup(&self, dir: &std::path::Path) -> Result<crate::BackupManifest, StoreError>;

    /// Group-commit counters.
    fn stats(&self) -> StoreStats;

    /// Bytes the store takes: sled's files on disk, or the PostgreSQL database
    /// (`pg_database_size`), for `certmail stats` and `/metrics`.
    async fn size_bytes(&self) -> Result<u64, StoreError>;
}
