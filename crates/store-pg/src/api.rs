//! The parts of `Store` for `PgStore`: each call delegates to the inherent method of the same name in
//! its family's file (inherent methods take precedence over the trait's in method calls).

use std::ops::RangeInclusive;

use certmail_store::{
    Account, Alias, AuditEvent, BackupManifest, BlobId, CertBinding, Delivery, DeliveryReceipt,
    Device, FlagOp, Mailbox, MessageMeta, NewMessage, QueueEntry, SpecialUse, StoreError,
    StoreResult, StoreStats,
};

use certmail_store::{AccountStore, AuditStore, MailboxStore, QueueStore, StoreOps};

use crate::PgStore;

type R<T> = Result<T, StoreError>;

#[async_trait::async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, account: Account) -> R<()> {
        PgStore::create_account(self, account).await
    }

    async fn account(&self, id: &str) -> R<Option<Account>> {
        PgStore::account(self, id).await
    }

    async fn account_by_address(&self, address: &str) -> R<Option<Account>> {
        PgStore::account_by_address(self, address).await
    }

    async fn update_account(&self, account: Account) -> R<()> {
        PgStore::update_account(self, account).await
    }

    async fn list_accounts(&self) -> R<Vec<Account>> {
        PgStore::list_accounts(self).await
    }

    async fn delete_account(&self, id: &str) -> R<()> {
        PgStore::delete_account(self, id).await
    }

    async fn bind_cert(&self, binding: CertBinding) -> R<()> {
        PgStore::bind_cert(self, binding).await
    }

    async fn unbind_cert(&self, account: &str, spki_sha256: &[u8; 32]) -> R<()> {
        PgStore::unbind_cert(self, account, spki_sha256).await
    }

    async fn bindings_of(&self, account: &str) -> R<Vec<CertBinding>> {
        PgStore::bindings_of(self, account).await
    }

    async fn binding_by_spki(&self, spki_sha256: &[u8; 32]) -> R<Option<CertBinding>> {
        PgStore::binding_by_spki(self, spki_sha256).await
    }

    async fn bindings_by_dn(&self, issuer_dn: &str, subject_dn: &str) -> R<Vec<CertBinding>> {
        PgStore::bindings_by_dn(self, issuer_dn, subject_dn).await
    }

    async fn set_alias(&self, alias: Alias) -> R<()> {
        PgStore::set_alias(self, alias).await
    }

    async fn alias(&self, address: &str) -> R<Option<Alias>> {
        PgStore::alias(self, address).await
    }

    async fn remove_alias(&self, address: &str) -> R<()> {
        PgStore::remove_alias(self, address).await
    }

    async fn list_aliases(&self) -> R<Vec<Alias>> {
        PgStore::list_aliases(self).await
    }
}

#[async_trait::async_trait]
impl MailboxStore for PgStore {
    async fn create_mailbox(
        &self,
        account: &str,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> R<Mailbox> {
        PgStore::create_mailbox(self, account, name, special_use).await
    }

    async fn mailbox(&self, account: &str, name: &str) -> R<Option<Mailbox>> {
        PgStore::mailbox(self, account, name).await
    }

    async fn list_mailboxes(&self, account: &str) -> R<Vec<Mailbox>> {
        PgStore::list_mailboxes(self, account).await
    }

    async fn rename_mailbox(&self, account: &str, from: &str, to: &str) -> R<()> {
        PgStore::rename_mailbox(self, account, from, to).await
    }

    async fn delete_mailbox(&self, account: &str, name: &str) -> R<()> {
        PgStore::delete_mailbox(self, account, name).await
    }

    async fn set_subscribed(&self, account: &str, name: &str, subscribed: bool) -> R<()> {
        PgStore::set_subscribed(self, account, name, subscribed).await
    }

    async fn subscriptions(&self, account: &str) -> R<Vec<String>> {
        PgStore::subscriptions(self, account).await
    }

    async fn append(
        &self,
        account: &str,
        mailbox: &str,
        message: NewMessage,
    ) -> R<(u32, u32, u64)> {
        PgStore::append(self, account, mailbox, message).await
    }

    async fn messages(
        &self,
        account: &str,
        mailbox: &str,
        uids: RangeInclusive<u32>,
    ) -> R<Vec<MessageMeta>> {
        PgStore::messages(self, account, mailbox, uids).await
    }

    async fn message_body(&self, account: &str, blob: &BlobId) -> R<Vec<u8>> {
        PgStore::message_body(self, account, blob).await
    }

    async fn message_summary(&self, account: &str, blob: &BlobId) -> R<Option<Vec<u8>>> {
        PgStore::message_summary(self, account, blob).await
    }

    async fn message_summaries(
        &self,
        account: &str,
        blobs: Vec<BlobId>,
    ) -> R<Vec<Option<Vec<u8>>>> {
        PgStore::message_summaries(self, account, blobs).await
    }

    async fn set_message_summary(&self, account: &str, blob: &BlobId, summary: Vec<u8>) -> R<()> {
        PgStore::set_message_summary(self, account, blob, summary).await
    }

    async fn set_flags(
        &self,
        account: &str,
        mailbox: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> R<StoreResult> {
        PgStore::set_flags(self, account, mailbox, uids, op, flags, unchanged_since).await
    }

    async fn copy(
        &self,
        account: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> R<(u32, Vec<(u32, u32)>)> {
        PgStore::copy(self, account, from, uids, to, false).await
    }

    async fn move_messages(
        &self,
        account: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> R<(u32, Vec<(u32, u32)>)> {
        PgStore::copy(self, account, from, uids, to, true).await
    }

    async fn expunge(&self, account: &str, mailbox: &str, uids: Option<&[u32]>) -> R<Vec<u32>> {
        PgStore::expunge(self, account, mailbox, uids).await
    }

    async fn expunged_since(&self, account: &str, mailbox: &str, modseq: u64) -> R<Vec<u32>> {
        PgStore::expunged_since(self, account, mailbox, modseq).await
    }

    async fn changed_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> R<Vec<MessageMeta>> {
        PgStore::changed_since(self, account, mailbox, modseq).await
    }

    async fn account_usage(&self, account: &str) -> R<u64> {
        PgStore::account_usage(self, account).await
    }
}

#[async_trait::async_trait]
impl QueueStore for PgStore {
    async fn deliver(&self, delivery: Delivery) -> R<DeliveryReceipt> {
        PgStore::deliver(self, delivery).await
    }

    async fn queue_list(&self) -> R<Vec<QueueEntry>> {
        PgStore::queue_list(self).await
    }

    async fn queue_get(&self, id: u64) -> R<Option<QueueEntry>> {
        PgStore::queue_get(self, id).await
    }

    async fn queue_body(&self, id: u64) -> R<Vec<u8>> {
        PgStore::queue_body(self, id).await
    }

    async fn queue_update(&self, entry: QueueEntry) -> R<()> {
        PgStore::queue_update(self, entry).await
    }

    async fn queue_remove(&self, id: u64) -> R<()> {
        PgStore::queue_remove(self, id).await
    }
}

#[async_trait::async_trait]
impl AuditStore for PgStore {
    async fn put_device(&self, device: Device) -> R<()> {
        PgStore::put_device(self, device).await
    }

    async fn devices_of(&self, account: &str) -> R<Vec<Device>> {
        PgStore::devices_of(self, account).await
    }

    async fn forget_device(&self, account: &str, spki_sha256: &[u8; 32], network: &str) -> R<bool> {
        PgStore::forget_device(self, account, spki_sha256, network).await
    }

    async fn append_audit(&self, event: AuditEvent) -> R<()> {
        PgStore::append_audit(self, event).await
    }

    async fn audit_range(&self, from_ms: i64, to_ms: i64, limit: usize) -> R<Vec<AuditEvent>> {
        PgStore::audit_range(self, from_ms, to_ms, limit).await
    }

    async fn audit_newest(&self, from_ms: i64, to_ms: i64, limit: usize) -> R<Vec<AuditEvent>> {
        PgStore::audit_newest(self, from_ms, to_ms, limit).await
    }

    async fn audit_by_account(&self, account: &str, limit: usize) -> R<Vec<AuditEvent>> {
        PgStore::audit_by_account(self, account, limit).await
    }

    async fn audit_prune(&self, before_ms: i64) -> R<u64> {
        PgStore::audit_prune(self, before_ms).await
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
}
