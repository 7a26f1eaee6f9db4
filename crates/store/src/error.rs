//! The store's one error type.

use std::path::PathBuf;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database engine failed (I/O, corruption detected by sled).
    #[error("database error: {0}")]
    Db(#[from] ::sled::Error),
    /// A file other than the database could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store on disk was written by a different format version.
    #[error(
        "store format version {found} on disk, this build reads version {expected}; \
         migrate the store or run the matching certmail version"
    )]
    FormatVersion {
        /// The version found on disk.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },
    /// The key file is malformed.
    #[error("key file {path}: {reason}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `keygen` refuses to overwrite an existing key file.
    #[error("key file {0} already exists; refusing to overwrite it")]
    KeyFileExists(PathBuf),
    /// The key file does not hold the key this store was encrypted with.
    #[error("the key file does not match this store (key id {key_id}): wrong key")]
    WrongKey {
        /// The key id whose check value failed.
        key_id: u8,
    },
    /// A record needs a key id the key file does not have.
    #[error("no key with id {0} in the key file")]
    UnknownKeyId(u8),
    /// An encrypted record failed authentication: it is corrupted or was moved.
    #[error("record {record} failed decryption: corrupted or tampered with")]
    Decrypt {
        /// Which record (tree and key, printable).
        record: String,
    },
    /// A record could not be decoded or is inconsistent.
    #[error("corrupt record {record}: {reason}")]
    Corrupt {
        /// Which record.
        record: String,
        /// What is wrong.
        reason: String,
    },
    /// A flush to disk failed; the store no longer acknowledges writes.
    #[error("flush to disk failed: {0}")]
    Flush(String),
    /// A backup could not be written, or a backup directory is incomplete or damaged.
    #[error("backup: {0}")]
    Backup(String),
    /// A background task panicked or the runtime shut down.
    #[error("store task failed: {0}")]
    Task(String),
    /// `create_account` with an id that already exists.
    #[error("account {0} already exists")]
    AccountExists(String),
    /// The account id or one of its addresses is not acceptable.
    #[error("account {id:?}: {reason}")]
    InvalidAccount {
        /// The account id given.
        id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// No account with this id.
    #[error("no account {0}")]
    AccountNotFound(String),
    /// An address is already used by an account or alias.
    #[error("address {0} is already taken")]
    AddressTaken(String),
    /// The certificate key is bound to another account.
    #[error("this certificate key is already bound to account {account}")]
    CertBoundElsewhere {
        /// The account holding the binding.
        account: String,
    },
    /// No such certificate binding.
    #[error("no such certificate binding")]
    BindingNotFound,
    /// No such alias.
    #[error("no alias {0}")]
    AliasNotFound(String),
    /// No such mailbox.
    #[error("no mailbox {0}")]
    MailboxNotFound(String),
    /// A mailbox with this name already exists.
    #[error("mailbox {0} already exists")]
    MailboxExists(String),
    /// The mailbox name is not allowed, or the operation is not allowed on it.
    #[error("mailbox name {name:?}: {reason}")]
    InvalidMailbox {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An access control list change names an identifier or right that cannot be stored
    /// (RFC 4314); the text says which and why.
    #[error("access control list: {0}")]
    InvalidAcl(String),
    /// The account does not own this message body.
    #[error("no such message")]
    MessageNotFound,
    /// The mailbox has used every UID; it must be recreated (new UIDVALIDITY).
    #[error("mailbox {0} has no UIDs left")]
    UidsExhausted(String),
    /// No queue entry with this id.
    #[error("no queue entry {0}")]
    QueueEntryNotFound(u64),
    /// No Sieve script of this name (RFC 5804 `NONEXISTENT`).
    #[error("no script named {0:?}")]
    ScriptNotFound(String),
    /// A Sieve script of this name already exists (RFC 5804 `ALREADYEXISTS`).
    #[error("a script named {0:?} already exists")]
    ScriptExists(String),
    /// The active script cannot be deleted (RFC 5804 §2.10 `ACTIVE`).
    #[error("script {0:?} is active; activate another script or none before deleting it")]
    ScriptActive(String),
    /// The script name is not allowed (RFC 5804 §1.6).
    #[error("script name {name:?}: {reason}")]
    InvalidScriptName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The script is larger than `[sieve] max_script_size` allows (RFC 5804 `QUOTA/MAXSIZE`).
    #[error("the script has {bytes} bytes; scripts may have at most {max} bytes")]
    ScriptTooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// The mail would take the account past its mail quota ([`crate::MailQuota`]).
    #[error("account {account} has no room for this mail under its quota")]
    OverQuota {
        /// The account that is full.
        account: String,
    },
    /// The account already holds `[sieve] max_scripts` scripts (RFC 5804 `QUOTA/MAXSCRIPTS`).
    #[error("you already have {max} scripts, the most allowed; delete one first")]
    TooManyScripts {
        /// The limit.
        max: u32,
    },
}

impl StoreError {
    /// True for errors caused by the caller's request (not found, exists, invalid), false for
    /// failures of the store itself (disk, corruption, key).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            StoreError::AccountExists(_)
                | StoreError::InvalidAccount { .. }
                | StoreError::AccountNotFound(_)
                | StoreError::AddressTaken(_)
                | StoreError::CertBoundElsewhere { .. }
                | StoreError::BindingNotFound
                | StoreError::AliasNotFound(_)
                | StoreError::MailboxNotFound(_)
                | StoreError::MailboxExists(_)
                | StoreError::InvalidMailbox { .. }
                | StoreError::InvalidAcl(_)
                | StoreError::MessageNotFound
                | StoreError::QueueEntryNotFound(_)
                | StoreError::ScriptNotFound(_)
                | StoreError::ScriptExists(_)
                | StoreError::ScriptActive(_)
                | StoreError::InvalidScriptName { .. }
                | StoreError::ScriptTooLarge { .. }
                | StoreError::TooManyScripts { .. }
                | StoreError::OverQuota { .. }
        )
    }
}

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why `certmail store copy` ([`crate::copy::copy_installation`]) stopped or failed its
/// check. The target is unusable after any of them but [`CopyError::TargetNotEmpty`]:
/// empty it and copy again.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target already holds records: a copy writes only into an empty store.
    #[error(
        "the target store is not empty (it holds {holds}); copy only into a new, empty \
         store: create a new PostgreSQL database (or give a new sled directory) and run \
         the copy again"
    )]
    TargetNotEmpty {
        /// What it holds, as "2 accounts, 5 messages".
        holds: String,
    },
    /// Reading the source or writing the target failed.
    #[error("{during}: {source}")]
    Store {
        /// What the copy was doing ("copying account 김민준").
        during: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// After the copy, the target's counts differ from the source's.
    #[error(
        "the copy does not match the source ({differences}); the target is incomplete: \
         do not start certmail on it, empty it and copy again"
    )]
    CountMismatch {
        /// Each differing kind, as "messages: source 12, target 11".
        differences: String,
    },
    /// A sampled body read back from the target is not the one the source holds.
    #[error(
        "body {blob} of account {account} reads back differently from the target; the \
         target is damaged: do not start certmail on it, empty it and copy again"
    )]
    BodyMismatch {
        /// The body's id (hex).
        blob: String,
        /// The account holding it.
        account: String,
    },
}

impl CopyError {
    /// A [`CopyError::Store`] for a failure while doing `during`.
    pub fn store(during: impl Into<String>) -> impl FnOnce(StoreError) -> CopyError {
        let during = during.into();
        move |source| CopyError::Store { during, source }
    }
}
