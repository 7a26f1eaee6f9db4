//! The records the store keeps: accounts, certificate bindings, aliases, mailboxes, messages,
//! outbound queue entries and audit events.
//!
//! Every type here is plain data (serde, `Clone`); the [`crate::Store`] trait moves them in and
//! out. Secrets (`password_hash`, `totp_secret`) are redacted from `Debug`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An account's login id: lowercase, unique, never reused for another person.
pub type AccountId = String;

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccountState {
    /// Created (e.g. by certificate self-registration) and waiting for an administrator.
    Pending,
    /// May sign in and receive mail.
    Active,
    /// Temporarily locked (too many failures, or by an administrator); receives mail.
    Locked,
    /// Switched off by an administrator: no sign-in, no delivery.
    Disabled,
}

/// One person's account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Login id, lowercase.
    pub id: AccountId,
    /// The person's name exactly as on the certificate, Unicode NFC (e.g. "홍길동").
    pub name: String,
    /// Mail addresses delivered to this account, lowercase; the first is the primary one.
    pub addresses: Vec<String>,
    /// Organisation (ministry, school, agency) as shown to administrators.
    pub organisation: String,
    /// Whether the account may sign in.
    pub state: AccountState,
    /// Argon2id password hash as a PHC string; `None` until a password is set.
    pub password_hash: Option<String>,
    /// When the password was set, unix seconds.
    pub password_set_at: Option<i64>,
    /// The password was set by an administrator and must be changed at next sign-in.
    pub password_temporary: bool,
    /// RFC 6238 TOTP shared secret (raw bytes), if enrolled.
    pub totp_secret: Option<Vec<u8>>,
    /// Free-form per-account settings (e.g. "lang" = "ko").
    pub settings: BTreeMap<String, String>,
    /// When the account was created, unix seconds.
    pub created_at: i64,
    /// Consecutive failed sign-ins since the last success.
    pub failed_logins: u32,
    /// While set and in the future, sign-ins are refused; unix seconds.
    pub locked_until: Option<i64>,
}

impl Account {
    /// A fresh active account with no password, no TOTP and no settings.
    pub fn new(id: &str, name: &str, addresses: Vec<String>, created_at: i64) -> Account {
        Account {
            id: id.to_lowercase(),
            name: name.to_owned(),
            addresses: addresses.into_iter().map(|a| a.to_lowercase()).collect(),
            organisation: String::new(),
            state: AccountState::Active,
            password_hash: None,
            password_set_at: None,
            password_temporary: false,
            totp_secret: None,
            settings: BTreeMap::new(),
            created_at,
            failed_logins: 0,
            locked_until: None,
        }
    }

    /// What the account is: a person's (the default) or an institution's.
    pub fn kind(&self) -> AccountKind {
        match self.settings.get(KIND_SETTING).map(String::as_str) {
            Some("institution") => AccountKind::Institution,
            _ => AccountKind::Person,
        }
    }

    /// Marks the account a person's or an institution's.
    pub fn set_kind(&mut self, kind: AccountKind) {
        match kind {
            AccountKind::Person => self.settings.remove(KIND_SETTING),
            AccountKind::Institution => self
                .settings
                .insert(KIND_SETTING.to_owned(), kind.as_str().to_owned()),
        };
    }
}

/// The `settings` key that holds an account's [`AccountKind`] (absent: a person). A
/// setting rather than a field, so the record's format (and both backends' schemas) stay
/// as they are.
pub const KIND_SETTING: &str = "kind";

/// Whose mailbox an account is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// One person's, signed in to with their personal certificate.
    #[default]
    Person,
    /// An institution's or department's (대표 메일): read by its staff through shared
    /// access with their own certificates; signed in to directly only with the
    /// institution's special-purpose (특수목적) certificate, where `[pki]
    /// allow_special_purpose` accepts those.
    Institution,
}

impl AccountKind {
    /// `person` or `institution`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Person => "person",
            AccountKind::Institution => "institution",
        }
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |present: bool| if present { "<redacted>" } else { "None" };
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("addresses", &self.addresses)
            .field("organisation", &self.organisation)
            .field("state", &self.state)
            .field("password_hash", &redact(self.password_hash.is_some()))
            .field("password_set_at", &self.password_set_at)
            .field("password_temporary", &self.password_temporary)
            .field("totp_secret", &redact(self.totp_secret.is_some()))
            .field("settings", &self.settings)
            .field("created_at", &self.created_at)
            .field("failed_logins", &self.failed_logins)
            .field("locked_until", &self.locked_until)
            .finish()
    }
}

/// A client certificate key bound to an account. The SPKI hash is the binding; the DNs,
/// serial and expiry are kept for display and for lookups after certificate renewal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertBinding {
    /// The account this certificate signs in to.
    pub account: AccountId,
    /// SHA-256 of the certificate's DER SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// Issuer distinguished name, RFC 4514 string form.
    pub issuer_dn: String,
    /// Subject distinguished name, RFC 4514 string form.
    pub subject_dn: String,
    /// Certificate serial number, lowercase hex.
    pub serial_hex: String,
    /// Certificate notAfter, unix seconds.
    pub not_after: i64,
    /// When the binding was made, unix seconds.
    pub bound_at: i64,
}

/// RFC 6154 special-use attribute of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpecialUse {
    /// `\Sent`
    Sent,
    /// `\Drafts`
    Drafts,
    /// `\Trash`
    Trash,
    /// `\Junk`
    Junk,
    /// `\Archive`
    Archive,
    /// `\All`
    All,
    /// `\Flagged`
    Flagged,
}

impl SpecialUse {
    /// The IMAP attribute, e.g. `"\\Sent"`.
    pub fn as_attr(self) -> &'static str {
        match self {
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Trash => "\\Trash",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::All => "\\All",
            SpecialUse::Flagged => "\\Flagged",
        }
    }

    /// Parses an IMAP attribute (case-insensitive), e.g. `"\\sent"`.
    pub fn from_attr(attr: &str) -> Option<SpecialUse> {
        const ALL: [SpecialUse; 7] = [
            SpecialUse::Sent,
            SpecialUse::Drafts,
            SpecialUse::Trash,
            SpecialUse::Junk,
            SpecialUse::Archive,
            SpecialUse::All,
            SpecialUse::Flagged,
        ];
        ALL.into_iter()
            .find(|s| s.as_attr().eq_ignore_ascii_case(attr))
    }
}

/// The name of the inbox, always spelled this way in the store (RFC 3501 §5.1: case-insensitive).
pub const INBOX: &str = "INBOX";

/// The hierarchy delimiter of mailbox names.
pub const MAILBOX_DELIMITER: char = '/';

/// One mailbox of one account, with its IMAP counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    /// Store-internal id; messages are keyed by it, so a rename does not move them.
    pub id: u64,
    /// Full name, `/`-delimited; the inbox is always `INBOX`.
    pub name: String,
    /// RFC 3501 UIDVALIDITY; never reused by any mailbox of this store.
    pub uid_validity: u32,
    /// The UID the next message will get.
    pub uid_next: u32,
    /// RFC 7162 HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// RFC 6154 special use.
    pub special_use: Option<SpecialUse>,
    /// Whether the name is on the account's subscription list (LSUB / LIST (SUBSCRIBED)),
    /// which is kept apart from the mailboxes (see `MailboxStore::set_subscribed`).
    pub subscribed: bool,
    /// Number of messages.
    pub exists: u32,
    /// Sum of the message sizes, bytes.
    pub size: u64,
}

/// SHA-256 of a message's plaintext: the id of its stored body.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// The id of this body (SHA-256).
    pub fn of(body: &[u8]) -> BlobId {
        let digest = ring::digest::digest(&ring::digest::SHA256, body);
        let mut id = [0u8; 32];
        id.copy_from_slice(digest.as_ref());
        BlobId(id)
    }

    /// Lowercase hex form.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", &self.to_hex()[..16])
    }
}

/// A message's per-mailbox metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    /// IMAP UID in its mailbox.
    pub uid: u32,
    /// RFC 7162 MODSEQ of the last change.
    pub modseq: u64,
    /// System flags (`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`) and keywords;
    /// sorted, without duplicates (compared case-insensitively); never `\Recent`.
    pub flags: Vec<String>,
    /// IMAP INTERNALDATE, unix seconds.
    pub internal_date: i64,
    /// RFC822.SIZE, bytes.
    pub size: u64,
    /// The body's id; read it with [`crate::MailboxStore::message_body`].
    pub blob: BlobId,
}

impl MessageMeta {
    /// Whether the message has this flag (case-insensitive).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

/// A message to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The whole RFC 5322 message.
    pub body: Vec<u8>,
    /// Initial flags.
    pub flags: Vec<String>,
    /// IMAP INTERNALDATE, unix seconds.
    pub internal_date: i64,
}

/// How [`crate::MailboxStore::set_flags`] combines the given flags with the current ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
    /// `FLAGS`
    Replace,
}

/// What one [`crate::MailboxStore::set_flags`] call does (IMAP STORE, RFC 9051 §6.4.6):
/// `op` with `flags` on the messages `uids` of one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    /// The messages' UIDs; missing ones are skipped.
    pub uids: Vec<u32>,
    /// How `flags` combine with the current ones.
    pub op: FlagOp,
    /// System flags and keywords (normalised by the store).
    pub flags: Vec<String>,
    /// RFC 7162 §3.2 UNCHANGEDSINCE: messages whose MODSEQ is higher are left alone and
    /// reported in [`StoreResult::failed_modified`].
    pub unchanged_since: Option<u64>,
}

/// What [`crate::MailboxStore::copy`] and [`crate::MailboxStore::move_messages`] return
/// (RFC 4315 COPYUID): the target's UIDVALIDITY and (source UID, new UID) pairs in source
/// UID order.
pub type CopyUid = (u32, Vec<(u32, u32)>);

/// A message's flags after [`crate::MailboxStore::set_flags`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagUpdate {
    /// The message's UID.
    pub uid: u32,
    /// Its MODSEQ after the operation (unchanged if its flags did not change).
    pub modseq: u64,
    /// Its flags after the operation.
    pub flags: Vec<String>,
}

/// The outcome of [`crate::MailboxStore::set_flags`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreResult {
    /// Every existing message that passed the UNCHANGEDSINCE test, with its new state.
    pub updated: Vec<FlagUpdate>,
    /// RFC 7162 §3.2: UIDs whose MODSEQ was above UNCHANGEDSINCE, left untouched.
    pub failed_modified: Vec<u32>,
}

/// An account's mail quota as the store enforces it: inside the write transaction that
/// adds the mail, under a per-account lock (sled: in the process; PostgreSQL: an advisory
/// lock), so two connections, or two nodes of a cluster, adding at once cannot together
/// pass it. Usage is the sum of the sizes of the account's messages in all its mailboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailQuota {
    /// No limit: the administrator's import, the server's own notices and reports.
    #[default]
    Unlimited,
    /// At most this many bytes in all of the account's mailboxes.
    Bytes(u64),
}

impl MailQuota {
    /// The quota of `[smtp] quota_bytes`, where 0 means none.
    pub fn from_config(bytes: u64) -> Self {
        if bytes == 0 {
            MailQuota::Unlimited
        } else {
            MailQuota::Bytes(bytes)
        }
    }

    /// Whether messages of `adding` bytes fit an account holding `used` (APPEND and COPY:
    /// the whole of them must fit).
    pub fn fits(self, used: u64, adding: u64) -> bool {
        match self {
            MailQuota::Unlimited => true,
            MailQuota::Bytes(max) => used.saturating_add(adding) <= max,
        }
    }

    /// Whether a delivery from SMTP is taken for an account holding `used`: while it is
    /// below its quota. As at RCPT, where the size is not known yet, the message that
    /// fills the account is taken whole (Dovecot's `quota_grace` is the same idea).
    pub fn admits_delivery(self, used: u64) -> bool {
        match self {
            MailQuota::Unlimited => true,
            MailQuota::Bytes(max) => used < max,
        }
    }

    /// Whether the store has to look at the account's usage at all.
    pub fn is_limited(self) -> bool {
        matches!(self, MailQuota::Bytes(_))
    }
}

/// Delivery of one message: local copies and remote queue entries in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The whole message, stored once.
    pub body: Vec<u8>,
    /// INTERNALDATE of the local copies, unix seconds.
    pub internal_date: i64,
    /// Local copies: (account, mailbox name, flags). A missing mailbox falls back to INBOX.
    pub recipients: Vec<(AccountId, String, Vec<String>)>,
    /// Remote recipients to send to. `id` and `blob` are assigned by the store.
    pub queue: Vec<QueueEntry>,
    /// Messages the delivery itself causes (a Sieve rejection notice, a vacation reply),
    /// stored in the same transaction so each is sent exactly once. Their own `outgoing`
    /// is ignored.
    pub outgoing: Vec<Outgoing>,
    /// The quota each local recipient of this message (not of `outgoing`) must be below
    /// ([`MailQuota::admits_delivery`]); over it, the whole delivery is refused with
    /// [`crate::StoreError::OverQuota`] and nothing is stored. The copies its redirects
    /// make or file instead count as its recipients.
    pub quota: MailQuota,
    /// Sieve redirects, each carried out only while its account is under its daily cap
    /// (decided in the delivery's transaction; see [`crate::redirects`]).
    pub redirects: Vec<crate::redirects::Redirect>,
}

impl Delivery {
    /// Whether the delivery has nothing to store: no local copy, queue entry, outgoing
    /// message or redirect (every copy discarded by its owner's filter).
    pub fn stores_nothing(&self) -> bool {
        self.recipients.is_empty()
            && self.queue.is_empty()
            && self.outgoing.is_empty()
            && self.redirects.is_empty()
    }
}

/// A message a delivery causes, stored with it: its local copies and queue entries, and
/// for a vacation reply the [`ReplyMark`] that makes it once per sender per period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The message, its local copies and queue entries (its `outgoing` is ignored).
    pub message: Delivery,
    /// Send only if no live mark of the same (account, handle, sender) exists, and record
    /// this one; `None`: always send.
    pub once: Option<ReplyMark>,
}

/// The memory of one vacation reply (RFC 5230 §4.1–§4.2): `account` answered `sender`
/// for `handle` at `sent_at`, and answers that sender again for that handle only from
/// `until` on. Kept by the store (sled and PostgreSQL alike), pruned once expired
/// ([`crate::ScriptStore::prune_reply_marks`]), and listed and written as records so a
/// store copy carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyMark {
    /// The replying account, lowercase.
    pub account: AccountId,
    /// The vacation's handle (`:handle`, or one derived from its arguments).
    pub handle: String,
    /// The address answered (the envelope sender), lowercase.
    pub sender: String,
    /// When the reply was sent, Unix seconds.
    pub sent_at: i64,
    /// From when a new reply may go to the same sender for the same handle, Unix seconds.
    pub until: i64,
}

impl ReplyMark {
    /// The mark normalised as every backend keys it (account and sender in lowercase).
    pub fn normalized(&self) -> ReplyMark {
        ReplyMark {
            account: self.account.to_lowercase(),
            sender: self.sender.to_lowercase(),
            ..self.clone()
        }
    }

    /// Whether this mark still holds back a reply at `now`.
    pub fn holds_at(&self, now: i64) -> bool {
        now < self.until
    }
}

/// One stored local copy, from [`crate::QueueStore::deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredCopy {
    /// The recipient account.
    pub account: AccountId,
    /// The mailbox the copy went to (INBOX if the requested one did not exist).
    pub mailbox: String,
    /// Its UIDVALIDITY.
    pub uid_validity: u32,
    /// Its UID.
    pub uid: u32,
}

/// The outcome of [`crate::QueueStore::deliver`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryReceipt {
    /// Local copies, in the order of [`Delivery::recipients`], then those of the outgoing
    /// messages sent.
    pub stored: Vec<DeliveredCopy>,
    /// Ids of the queue entries, in the order of [`Delivery::queue`], then those of the
    /// outgoing messages sent.
    pub queued: Vec<u64>,
    /// Indexes into [`Delivery::outgoing`] of the messages held back by a live
    /// [`ReplyMark`] (not stored, not queued).
    pub held_back: Vec<usize>,
    /// What became of the redirects, those of [`Delivery::redirects`] in their order,
    /// then those of the outgoing messages sent.
    pub redirects: Vec<crate::redirects::RedirectOutcome>,
    /// The body's id.
    pub blob: BlobId,
}

/// Delivery status of one remote recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientStatus {
    /// Not yet delivered; retry at the entry's `next_attempt`.
    Pending,
    /// Accepted by the remote server.
    Delivered,
    /// Permanently failed (5xx or expired).
    Failed,
}

/// RFC 3461 NOTIFY bits of a [`QueueRecipient`].
pub mod notify {
    /// NOTIFY=SUCCESS
    pub const SUCCESS: u8 = 1;
    /// NOTIFY=FAILURE
    pub const FAILURE: u8 = 2;
    /// NOTIFY=DELAY
    pub const DELAY: u8 = 4;
    /// NOTIFY=NEVER (no other bit may be set)
    pub const NEVER: u8 = 8;
}

/// One remote recipient of a queue entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecipient {
    /// The recipient address.
    pub address: String,
    /// Its delivery status.
    pub status: RecipientStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last error (remote reply or local reason), if any.
    pub last_error: Option<String>,
    /// RFC 3461 NOTIFY bits, see [`notify`].
    pub notify: u8,
}

/// One outbound message waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Queue id, assigned by the store on delivery.
    pub id: u64,
    /// Envelope sender (MAIL FROM), empty for the null sender.
    pub from: String,
    /// Remote recipients.
    pub recipients: Vec<QueueRecipient>,
    /// The message body's id, assigned by the store on delivery.
    pub blob: BlobId,
    /// When it was queued, unix seconds.
    pub created_at: i64,
    /// When to try next, unix seconds.
    pub next_attempt: i64,
    /// Other envelope data (e.g. "envid", "ret", "auth") for DSNs and logs.
    pub envelope_meta: BTreeMap<String, String>,
}

/// A device an account signed in from: DESIGN.md's device-registry key (certificate SPKI
/// hash, network prefix: /24 for IPv4, /64 for IPv6), with when it was first and last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The account.
    pub account: AccountId,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// The network prefix, e.g. `192.0.2.0/24` or `2001:db8:1:2::/64`.
    pub network: String,
    /// First successful sign-in, unix seconds.
    pub first_seen: i64,
    /// Latest successful sign-in, unix seconds.
    pub last_seen: i64,
    /// Latest sign-in with a TOTP code from this device, unix seconds.
    pub totp_at: Option<i64>,
    /// The mail program as it named itself in IMAP ID (RFC 2971 `name`, then `version`),
    /// e.g. `Thunderbird 128.5.0`; `None` until a client of this device says. For people
    /// to recognise their devices only: it never changes the device key.
    pub client: Option<String>,
}

impl Device {
    /// A short stable id for the CLI: the first 8 hex digits of the SPKI hash and the
    /// network, e.g. `3fa81c02@192.0.2.0/24`.
    pub fn id(&self) -> String {
        let spki: String = self.spki_sha256[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{spki}@{}", self.network)
    }
}

/// One audit log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened, unix milliseconds.
    pub time: i64,
    /// The account concerned, if any.
    pub account: Option<AccountId>,
    /// What happened, e.g. "login.ok", "cert.bind".
    pub kind: String,
    /// The client IP, if any.
    pub ip: Option<String>,
    /// Details; never secrets.
    pub fields: BTreeMap<String, String>,
}

/// A local alias address expanding to accounts or other addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The alias address, lowercase.
    pub address: String,
    /// Account ids or addresses it expands to.
    pub members: Vec<String>,
}

/// Counters of the group commit, for tests, benchmarks and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Acknowledged write operations.
    pub writes: u64,
    /// Flushes to disk performed for them.
    pub flushes: u64,
    /// How long those flushes took.
    pub flush_latency: crate::FlushLatency,
}
