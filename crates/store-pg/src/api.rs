//! The parts of `Store` for `PgStore`: each call delegates to the inherent method of the
//! same name in its family's file (inherent methods take precedence over the trait's in
//! method calls). The delegation is written once, by `delegate!`, from a list of the
//! methods' signatures.

use std::ops::RangeInclusive;

use certmail_store::{
    Account, AclEntry, Alias, AuditEvent, BackupManifest, BlobId, CertBinding, CopyUid, Delivery,
    DeliveryReceipt, Device, DeviceSeen, FlagChange, MailQuota, Mailbox, MessageMeta, NewMessage,
    QueueEntry, ReplyMark, ScriptQuota, SharedMailbox, SieveScript, SpecialUse, StoreError,
    StoreResult, StoreStats,
};

use certmail_store::acl::{AclChange, AclUpdate, SeenMarks};
use certmail_store::shared::Transfer;
use certmail_store::{AccountStore, AuditStore, MailboxStore, QueueStore, ScriptStore, StoreOps};

use crate::PgStore;

type R<T> = Result<T, StoreError>;

/// Implements a store part for `PgStore`: each listed method (`fn name(&self, args) -> T;`,
/// returning `R<T>`) calls `PgStore::name`; items after `also` are written out as they are.
macro_rules! delegate {
    ($part:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ok:ty;)* } $(also { $($item:tt)* })?) => {
        #[async_trait::async_trait]
        impl $part for PgStore {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> R<$ok> {
                    PgStore::$name(self $(, $arg)*).await
                }
            )*
            $($($item)*)?
        }
    };
}

delegate! {
    AccountStore {
        fn create_account(&self, account: Account) -> ();
        fn account(&self, id: &str) -> Option<Account>;
        fn account_by_address(&self, address: &str) -> Option<Account>;
        fn update_account(&self, account: Account) -> ();
        fn list_accounts(&self) -> Vec<Account>;
        fn delete_account(&self, id: &str) -> ();
        fn bind_cert(&self, binding: CertBinding) -> ();
        fn unbind_cert(&self, account: &str, spki_sha256: &[u8; 32]) -> ();
        fn bindings_of(&self, account: &str) -> Vec<CertBinding>;
        fn binding_by_spki(&self, spki_sha256: &[u8; 32]) -> Option<CertBinding>;
        fn bindings_by_dn(&self, issuer_dn: &str, subject_dn: &str) -> Vec<CertBinding>;
        fn set_alias(&self, alias: Alias) -> ();
        fn alias(&self, address: &str) -> Option<Alias>;
        fn remove_alias(&self, address: &str) -> ();
        fn list_aliases(&self) -> Vec<Alias>;
    }
}

delegate! {
    MailboxStore {
        fn create_mailbox(&self, account: &str, name: &str, special_use: Option<SpecialUse>) -> Mailbox;
        fn mailbox(&self, account: &str, name: &str) -> Option<Mailbox>;
        fn list_mailboxes(&self, account: &str) -> Vec<Mailbox>;
        fn rename_mailbox(&self, account: &str, from: &str, to: &str) -> ();
        fn delete_mailbox(&self, account: &str, name: &str) -> ();
        fn set_subscribed(&self, account: &str, name: &str, subscribed: bool) -> ();
        fn subscriptions(&self, account: &str) -> Vec<String>;
        fn change_acl(&self, owner: &str, mailbox: &str, change: AclChange) -> AclUpdate;
        fn acl(&self, owner: &str, mailbox: &str) -> Vec<AclEntry>;
        fn shared_with(&self, identifiers: &[String]) -> Vec<SharedMailbox>;
        fn seen_by(&self, owner: &str, mailbox: &str, reader: &str) -> Vec<u32>;
        fn urlauth_key(&self, user: &str, owner: &str, mailbox: &str, fresh: Option<[u8; 32]>) -> Option<[u8; 32]>;
        fn reset_urlauth_keys(&self, user: &str, mailbox: Option<(&str, &str)>) -> u64;
        fn append(&self, account: &str, mailbox: &str, message: NewMessage) -> (u32, u32, u64);
        fn append_many(&self, account: &str, mailbox: &str, messages: Vec<NewMessage>, quota: MailQuota) -> Vec<(u32, u32, u64)>;
        fn messages(&self, account: &str, mailbox: &str, uids: RangeInclusive<u32>) -> Vec<MessageMeta>;
        fn message_body(&self, account: &str, blob: &BlobId) -> Vec<u8>;
        fn message_summary(&self, account: &str, blob: &BlobId) -> Option<Vec<u8>>;
        fn message_summaries(&self, account: &str, blobs: Vec<BlobId>) -> Vec<Option<Vec<u8>>>;
        fn set_message_summary(&self, account: &str, blob: &BlobId, summary: Vec<u8>) -> ();
        fn set_flags(&self, account: &str, mailbox: &str, change: FlagChange) -> StoreResult;
        fn expunge(&self, account: &str, mailbox: &str, uids: Option<&[u32]>) -> Vec<u32>;
        fn expunged_since(&self, account: &str, mailbox: &str, modseq: u64) -> Vec<u32>;
        fn changed_since(&self, account: &str, mailbox: &str, modseq: u64) -> Vec<MessageMeta>;
        fn account_usage(&self, account: &str) -> u64;
        fn search_candidates(&self, account: &str, blobs: Vec<BlobId>, needles: Vec<String>) -> Option<Vec<bool>>;
        fn reindex(&self) -> u64;
    }
    also {
        async fn set_seen_by(&self, owner: &str, mailbox: &str, reader: &str, uids: &[u32], seen: bool) -> R<()> {
            PgStore::set_seen_by(self, owner, mailbox, SeenMarks { reader, uids, seen }).await
        }

        async fn copy(&self, account: &str, from: &str, uids: &[u32], to: &str, quota: MailQuota) -> R<CopyUid> {
            let transfer = Transfer { quota, ..Transfer::new(account, from, uids, to, false)? };
            PgStore::copy(self, transfer).await
        }

        async fn move_messages(&self, account: &str, from: &str, uids: &[u32], to: &str) -> R<CopyUid> {
            PgStore::copy(self, Transfer::new(account, from, uids, to, true)?).await
        }
    }
}

delegate! {
    QueueStore {
        fn deliver(&self, delivery: Delivery) -> DeliveryReceipt;
        fn queue_list(&self) -> Vec<QueueEntry>;
        fn queue_get(&self, id: u64) -> Option<QueueEntry>;
        fn queue_body(&self, id: u64) -> Vec<u8>;
        fn queue_update(&self, entry: QueueEntry) -> ();
        fn queue_remove(&self, id: u64) -> ();
        fn queue_claim(&self, ids: &[u64], now: i64, lease: std::time::Duration) -> Vec<u64>;
        fn queue_renew(&self, ids: &[u64], lease: std::time::Duration) -> ();
    }
}

delegate! {
    AuditStore {
        fn put_device(&self, device: Device) -> ();
        fn devices_of(&self, account: &str) -> Vec<Device>;
        fn sign_in_device(&self, seen: Device, cap: usize) -> DeviceSeen;
        fn forget_device(&self, account: &str, spki_sha256: &[u8; 32], network: &str) -> bool;
        fn append_audit(&self, event: AuditEvent) -> ();
        fn audit_range(&self, from_ms: i64, to_ms: i64, limit: usize) -> Vec<AuditEvent>;
        fn audit_newest(&self, from_ms: i64, to_ms: i64, limit: usize) -> Vec<AuditEvent>;
        fn audit_by_account(&self, account: &str, limit: usize) -> Vec<AuditEvent>;
        fn audit_prune(&self, before_ms: i64) -> u64;
    }
}

delegate! {
    ScriptStore {
        fn put_script(&self, account: &str, name: &str, content: &str, quota: ScriptQuota) -> ();
        fn script(&self, account: &str, name: &str) -> Option<SieveScript>;
        fn list_scripts(&self, account: &str) -> Vec<SieveScript>;
        fn active_script(&self, account: &str) -> Option<SieveScript>;
        fn set_active_script(&self, account: &str, name: Option<&str>) -> ();
        fn rename_script(&self, account: &str, from: &str, to: &str) -> ();
        fn delete_script(&self, account: &str, name: &str) -> ();
        fn reply_marks(&self, account: &str) -> Vec<ReplyMark>;
        fn put_reply_mark(&self, mark: ReplyMark) -> ();
        fn prune_reply_marks(&self, now: i64) -> u64;
    }
}

#[async_trait::async_trait]
impl StoreOps for PgStore {
    /// Not offered on PostgreSQL: back it up with the database's own tools.
    async fn backup(&self, _dir: &std::path::Path) -> R<BackupManifest> {
        Err(StoreError::Backup(
            "the PostgreSQL store is backed up with PostgreSQL's tools (pg_dump, or base \
             backups with WAL archiving for point-in-time recovery), not certmail backup"
                .into(),
        ))
    }

    fn stats(&self) -> StoreStats {
        PgStore::stats(self)
    }

    async fn size_bytes(&self) -> R<u64> {
        PgStore::size_bytes(self).await
    }
}
