//! certmail-store: the mail store behind one async trait.
//!
//! - [`acl`]: RFC 4314 access control lists ([`Rights`], [`AclEntry`]) and their rules.
//! - [`model`]: the records (accounts, certificate bindings, mailboxes, messages, queue
//!   entries, audit events).
//! - [`Store`] (in `store.rs`): what the servers use, as `Arc<dyn Store>`; the sum of six
//!   async traits ([`AccountStore`], [`MailboxStore`], [`QueueStore`], [`AuditStore`],
//!   [`ScriptStore`], [`StoreOps`]) that a backend implements. [`prelude`] brings them all into scope for
//!   code that calls them on a concrete type.
//! - `conformance` (feature `conformance`): the behaviour checks every backend passes,
//!   written once; the `conformance_tests!` macro turns them into tests of one backend.
//! - [`SledStore`]: the sled 0.34 implementation, with message bodies stored once
//!   (content-addressed, reference-counted) and encrypted with AES-256-GCM ([`KeyFile`]).
//! - [`flush_latency`]: [`FlushLatency`], the histogram of group-commit flush times.
//! - backups: [`StoreOps::backup`] writes a consistent snapshot of a live store,
//!   [`SledStore::restore`] brings it back into a stopped installation ([`BackupManifest`]).
//! - `rules.rs` (re-exported in [`shared`]): the checks and normalisation every backend
//!   applies (mailbox names, renames, flags and STORE, account ids, delivery targets).
//! - [`scripts`]: Sieve scripts as stored ([`SieveScript`], [`ScriptQuota`]) and the rules
//!   on their names.
//! - [`copy`]: copying a whole installation between backends (`certmail store copy`):
//!   [`copy::RecordKind`] lists every kind of record, [`copy::RecordCopy`] is what a
//!   backend adds to be copied from and into.
//! - [`search_index`]: the full-text index's rules (the text SEARCH reads, n-grams, keyed
//!   hashes); each backend keeps the postings in its own transactions.
//! - [`error`]: [`StoreError`] ([`CopyError`] for a copy); `is_user_error()` separates
//!   "no such mailbox" from disk or key failures.
//!
//! Wiring it in:
//!
//! ```no_run
//! # async fn start() -> Result<(), certmail_store::StoreError> {
//! use std::sync::Arc;
//! use certmail_store::{KeyFile, SledStore, Store};
//! let key = KeyFile::load_or_create("/var/lib/certmail/store.key".as_ref())?;
//! let store: Arc<dyn Store> = Arc::new(SledStore::open_async("/var/lib/certmail/db".as_ref(), key).await?);
//! # Ok(()) }
//! ```
//!
//! Rules:
//! - every mutating call returns only after its change is on disk; concurrent writers share
//!   one flush (group commit, `sled_store/commit.rs`);
//! - no blocking call on the async runtime: sled work runs on the blocking pool, except
//!   reads and writes of at most a few hundred keys (a point lookup, a short UID range, a
//!   flag change on a few messages), which cost less in sled's memory than the trip there; no
//!   lock or transaction is held across an `.await`;
//! - secrets never appear in `Debug` output; message bodies and account records are
//!   encrypted at rest with the record key as associated data;
//! - the on-disk format carries a version checked at open ([`FORMAT_VERSION`]).
#![forbid(unsafe_code)]

pub mod acl;
pub mod copy;
pub mod crypto;
pub mod devices;
pub mod error;
pub mod flush_latency;
pub mod model;
pub mod redirects;
mod rules;
pub mod scripts;
pub mod search_index;
mod sled_store;
mod store;
mod urlauth_keys;
pub mod web_sessions;

pub use acl::{AclEntry, Rights, SharedMailbox};
pub use crypto::KeyFile;
pub use devices::DeviceSeen;
pub use error::{CopyError, StoreError};
pub use flush_latency::{FLUSH_LATENCY_BOUNDS_SECS, FlushLatency};
pub use model::*;
pub use redirects::{Redirect, RedirectDay, RedirectOutcome};
pub use scripts::{ScriptQuota, SieveScript};
pub use sled_store::{
    BACKUP_VERSION, BackupCounts, BackupManifest, DEFAULT_CACHE_BYTES as SLED_DEFAULT_CACHE_BYTES,
    DUMP_FILE, FORMAT_VERSION, MANIFEST_FILE, SLED_SEGMENT_SIZE, SledStore, read_manifest,
};
pub use store::{AccountStore, AuditStore, MailboxStore, QueueStore, ScriptStore, Store, StoreOps};
pub use web_sessions::{WebSessionRecord, WebSessionStore};

#[cfg(feature = "conformance")]
pub mod conformance;

/// Every part of the store trait, for callers using a concrete store type
/// (`use certmail_store::prelude::*;`). Through `dyn Store` no import is needed.
pub mod prelude {
    pub use crate::store::{
        AccountStore, AuditStore, MailboxStore, QueueStore, ScriptStore, Store, StoreOps,
    };
}

/// Rules and record formats every backend shares, so that a name, a flag list or a sealed
/// record means the same in each (crates/store-pg reuses them): the rules from `rules.rs`,
/// and the record formats (nothing in them is sled-specific even though they live beside
/// the sled code today).
pub mod shared {
    pub use crate::crypto::{Sealer, printable};
    pub use crate::flush_latency::FlushLatencyRecorder;
    pub use crate::rules::{
        DeliveryTarget, SealedMessage, Settled, Transfer, ancestors, apply_flags, checked_account,
        delivery_targets, normalize_account, normalize_flags, normalize_name, rename_names,
        uid_validity_seed, validate_account,
    };
    pub use crate::sled_store::{account_aad, blob_aad, decode, encode, summary_aad};
    pub use crate::urlauth_keys::{open_key as open_urlauth_key, seal_key as seal_urlauth_key};
}
