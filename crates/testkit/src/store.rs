//! One store wrapper for tests: [`Wrapped`] forwards every [`Store`] call to an inner store
//! through a [`Hook`], which may run the call its own way or fail it.
//!
//! [`Still`] runs each call to completion on the calling thread, for tests on tokio's
//! paused clock: the sled store waits for its flusher thread, and while a task waits a
//! paused runtime looks idle and jumps its clock to the next timer, so retry times would
//! drift. [`Failing`] makes chosen methods fail, for fault injection.
//!
//! The forwarding is written once, by the [`forward!`] macro from a list of the trait's
//! method signatures, because a wrapper is the one place that must name every method.
//! When `Store` is split into several traits, each gets its own `forward!` block listing
//! its methods (and `Wrapped` keeps one hook for all of them).

use std::collections::HashSet;
use std::future::Future;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use certmail_store::acl::{AclChange, AclUpdate};
use certmail_store::{
    Account, AccountStore, AclEntry, Alias, AuditEvent, AuditStore, BackupManifest, BlobId,
    CertBinding, CopyUid, Delivery, DeliveryReceipt, Device, DeviceSeen, FlagChange, MailQuota,
    Mailbox, MailboxStore, MessageMeta, NewMessage, QueueEntry, QueueStore, ScriptQuota,
    ScriptStore, SharedMailbox, SieveScript, SpecialUse, Store, StoreError, StoreOps, StoreResult,
    StoreStats,
};

/// A store call in flight.
pub type Call<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What [`Wrapped`] does around each call of the inner store.
pub trait Hook: Send + Sync + 'static {
    /// Runs `call`, the inner store's `method`, or answers in its place.
    fn around<'a, T: Send + 'a>(&'a self, method: &'static str, call: Call<'a, T>) -> Call<'a, T>;
}

/// A store whose every call goes through `hook`.
pub struct Wrapped<H> {
    /// The store that does the work.
    pub inner: Arc<dyn Store>,
    /// What happens around each call.
    pub hook: H,
}

impl<H: Hook> Wrapped<H> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, hook: H) -> Self {
        Wrapped { inner, hook }
    }
}

/// Runs each call to completion before returning, blocking the calling thread, so virtual
/// time stands still while the store works, as real time nearly does.
#[derive(Debug, Default, Clone, Copy)]
pub struct Still;

impl Hook for Still {
    fn around<'a, T: Send + 'a>(&'a self, _: &'static str, call: Call<'a, T>) -> Call<'a, T> {
        Box::pin(async move { futures::executor::block_on(call) })
    }
}

/// The inner store wrapped with [`Still`].
pub fn still(inner: Arc<dyn Store>) -> Wrapped<Still> {
    Wrapped::new(inner, Still)
}

/// Fails the methods named in `methods` (an I/O error on `path` "injected"); the others
/// go through. The set may change while the store is in use.
#[derive(Debug, Default, Clone)]
pub struct Failing {
    /// The method names (as in the `Store` trait) that fail.
    pub methods: Arc<Mutex<HashSet<&'static str>>>,
}

impl Hook for Failing {
    fn around<'a, T: Send + 'a>(&'a self, method: &'static str, call: Call<'a, T>) -> Call<'a, T> {
        let fail = self.methods.lock().expect("lock").contains(method);
        if fail {
            return Box::pin(async move {
                Err(StoreError::Io {
                    path: "injected".into(),
                    source: std::io::Error::other(format!("{method} fails (injected)")),
                })
            });
        }
        call
    }
}

/// Implements a store trait for [`Wrapped`] from its async methods' signatures: each
/// calls the inner store's method through the hook.
macro_rules! forward {
    ($trait:path { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> Result<$ok:ty, StoreError>;)* }
     $(sync { $(fn $sync:ident(&self) -> $sync_ret:ty;)* })?) => {
        #[async_trait::async_trait]
        impl<H: Hook> $trait for Wrapped<H> {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ok, StoreError> {
                    self.hook
                        .around(stringify!($name), self.inner.$name($($arg),*))
                        .await
                }
            )*
            $($(
                fn $sync(&self) -> $sync_ret {
                    self.inner.$sync()
                }
            )*)?
        }
    };
}

forward! {
    AccountStore {
        fn create_account(&self, account: Account) -> Result<(), StoreError>;
        fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;
        fn account_by_address(&self, address: &str) -> Result<Option<Account>, StoreError>;
        fn update_account(&self, account: Account) -> Result<(), StoreError>;
        fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;
        fn delete_account(&self, id: &str) -> Result<(), StoreError>;
        fn bind_cert(&self, binding: CertBinding) -> Result<(), StoreError>;
        fn unbind_cert(&self, account: &str, spki_sha256: &[u8; 32]) -> Result<(), StoreError>;
        fn bindings_of(&self, account: &str) -> Result<Vec<CertBinding>, StoreError>;
        fn binding_by_spki(&self, spki_sha256: &[u8; 32]) -> Result<Option<CertBinding>, StoreError>;
        fn bindings_by_dn(&self, issuer_dn: &str, subject_dn: &str) -> Result<Vec<CertBinding>, StoreError>;
        fn set_alias(&self, alias: Alias) -> Result<(), StoreError>;
        fn alias(&self, address: &str) -> Result<Option<Alias>, StoreError>;
        fn remove_alias(&self, address: &str) -> Result<(), StoreError>;
        fn list_aliases(&self) -> Result<Vec<Alias>, StoreError>;
    }
}

forward! {
    MailboxStore {
        fn create_mailbox(&self, account: &str, name: &str, special_use: Option<SpecialUse>) -> Result<Mailbox, StoreError>;
        fn mailbox(&self, account: &str, name: &str) -> Result<Option<Mailbox>, StoreError>;
        fn list_mailboxes(&self, account: &str) -> Result<Vec<Mailbox>, StoreError>;
        fn rename_mailbox(&self, account: &str, from: &str, to: &str) -> Result<(), StoreError>;
        fn delete_mailbox(&self, account: &str, name: &str) -> Result<(), StoreError>;
        fn set_subscribed(&self, account: &str, name: &str, subscribed: bool) -> Result<(), StoreError>;
        fn subscriptions(&self, account: &str) -> Result<Vec<String>, StoreError>;
        fn change_acl(&self, owner: &str, mailbox: &str, change: AclChange) -> Result<AclUpdate, StoreError>;
        fn acl(&self, owner: &str, mailbox: &str) -> Result<Vec<AclEntry>, StoreError>;
        fn shared_with(&self, identifiers: &[String]) -> Result<Vec<SharedMailbox>, StoreError>;
        fn seen_by(&self, owner: &str, mailbox: &str, reader: &str) -> Result<Vec<u32>, StoreError>;
        fn set_seen_by(&self, owner: &str, mailbox: &str, reader: &str, uids: &[u32], seen: bool) -> Result<(), StoreError>;
        fn urlauth_key(&self, user: &str, owner: &str, mailbox: &str, fresh: Option<[u8; 32]>) -> Result<Option<[u8; 32]>, StoreError>;
        fn reset_urlauth_keys(&self, user: &str, mailbox: Option<(&str, &str)>) -> Result<u64, StoreError>;
        fn append(&self, account: &str, mailbox: &str, message: NewMessage) -> Result<(u32, u32, u64), StoreError>;
        fn append_many(&self, account: &str, mailbox: &str, messages: Vec<NewMessage>, quota: MailQuota) -> Result<Vec<(u32, u32, u64)>, StoreError>;
        fn messages(&self, account: &str, mailbox: &str, uids: RangeInclusive<u32>) -> Result<Vec<MessageMeta>, StoreError>;
        fn message_body(&self, account: &str, blob: &BlobId) -> Result<Vec<u8>, StoreError>;
        fn message_summary(&self, account: &str, blob: &BlobId) -> Result<Option<Vec<u8>>, StoreError>;
        fn message_summaries(&self, account: &str, blobs: Vec<BlobId>) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
        fn set_message_summary(&self, account: &str, blob: &BlobId, summary: Vec<u8>) -> Result<(), StoreError>;
        fn set_flags(&self, account: &str, mailbox: &str, change: FlagChange) -> Result<StoreResult, StoreError>;
        fn copy(&self, account: &str, from: &str, uids: &[u32], to: &str, quota: MailQuota) -> Result<CopyUid, StoreError>;
        fn move_messages(&self, account: &str, from: &str, uids: &[u32], to: &str) -> Result<CopyUid, StoreError>;
        fn expunge(&self, account: &str, mailbox: &str, uids: Option<&[u32]>) -> Result<Vec<u32>, StoreError>;
        fn expunged_since(&self, account: &str, mailbox: &str, modseq: u64) -> Result<Vec<u32>, StoreError>;
        fn changed_since(&self, account: &str, mailbox: &str, modseq: u64) -> Result<Vec<MessageMeta>, StoreError>;
        fn account_usage(&self, account: &str) -> Result<u64, StoreError>;
        fn search_candidates(&self, account: &str, blobs: Vec<BlobId>, needles: Vec<String>) -> Result<Option<Vec<bool>>, StoreError>;
        fn reindex(&self) -> Result<u64, StoreError>;
    }
}

forward! {
    QueueStore {
        fn deliver(&self, delivery: Delivery) -> Result<DeliveryReceipt, StoreError>;
        fn queue_list(&self) -> Result<Vec<QueueEntry>, StoreError>;
        fn queue_get(&self, id: u64) -> Result<Option<QueueEntry>, StoreError>;
        fn queue_body(&self, id: u64) -> Result<Vec<u8>, StoreError>;
        fn queue_update(&self, entry: QueueEntry) -> Result<(), StoreError>;
        fn queue_remove(&self, id: u64) -> Result<(), StoreError>;
        fn queue_claim(&self, ids: &[u64], now: i64, lease: std::time::Duration) -> Result<Vec<u64>, StoreError>;
        fn queue_renew(&self, ids: &[u64], lease: std::time::Duration) -> Result<(), StoreError>;
    }
}

forward! {
    AuditStore {
        fn put_device(&self, device: Device) -> Result<(), StoreError>;
        fn devices_of(&self, account: &str) -> Result<Vec<Device>, StoreError>;
        fn sign_in_device(&self, seen: Device, cap: usize) -> Result<DeviceSeen, StoreError>;
        fn forget_device(&self, account: &str, spki_sha256: &[u8; 32], network: &str) -> Result<bool, StoreError>;
        fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError>;
        fn audit_range(&self, from_ms: i64, to_ms: i64, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
        fn audit_newest(&self, from_ms: i64, to_ms: i64, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
        fn audit_by_account(&self, account: &str, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
        fn audit_prune(&self, before_ms: i64) -> Result<u64, StoreError>;
    }
}

forward! {
    ScriptStore {
        fn put_script(&self, account: &str, name: &str, content: &str, quota: ScriptQuota) -> Result<(), StoreError>;
        fn script(&self, account: &str, name: &str) -> Result<Option<SieveScript>, StoreError>;
        fn list_scripts(&self, account: &str) -> Result<Vec<SieveScript>, StoreError>;
        fn active_script(&self, account: &str) -> Result<Option<SieveScript>, StoreError>;
        fn set_active_script(&self, account: &str, name: Option<&str>) -> Result<(), StoreError>;
        fn rename_script(&self, account: &str, from: &str, to: &str) -> Result<(), StoreError>;
        fn delete_script(&self, account: &str, name: &str) -> Result<(), StoreError>;
        fn reply_marks(&self, account: &str) -> Result<Vec<certmail_store::ReplyMark>, StoreError>;
        fn put_reply_mark(&self, mark: certmail_store::ReplyMark) -> Result<(), StoreError>;
        fn prune_reply_marks(&self, now: i64) -> Result<u64, StoreError>;
    }
}

forward! {
    StoreOps {
        fn backup(&self, dir: &std::path::Path) -> Result<BackupManifest, StoreError>;
        fn size_bytes(&self) -> Result<u64, StoreError>;
    }
    sync {
        fn stats(&self) -> StoreStats;
    }
}
