//! A store wrapper for tests on tokio's paused clock.
//!
//! The sled store waits for its flusher thread; while a task waits, a paused runtime looks
//! idle and jumps its clock to the next timer, so retry times would drift. This wrapper
//! runs each call to completion on the calling thread, so virtual time stands still while
//! the store works, as real time nearly does.
#![allow(dead_code)]

use std::ops::RangeInclusive;
use std::sync::Arc;

use certmail_store::prelude::*;
use certmail_store::{
    Account, Alias, AuditEvent, BlobId, CertBinding, Delivery, DeliveryReceipt, Device, FlagOp,
    Mailbox, MessageMeta, NewMessage, QueueEntry, SpecialUse, Store, StoreError, StoreResult,
    StoreStats,
};

/// Forwards every call to the inner store, blocking until it is done.
pub struct StillStore(pub Arc<dyn Store>);

#[async_trait::async_trait]
impl AccountStore for StillStore {
    async fn create_account(&self, account: Account) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.create_account(account))
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        futures::executor::block_on(self.0.account(id))
    }

    async fn account_by_address(&self, address: &str) -> Result<Option<Account>, StoreError> {
        futures::executor::block_on(self.0.account_by_address(address))
    }

    async fn update_account(&self, account: Account) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.update_account(account))
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        futures::executor::block_on(self.0.list_accounts())
    }

    async fn delete_account(&self, id: &str) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.delete_account(id))
    }

    async fn bind_cert(&self, binding: CertBinding) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.bind_cert(binding))
    }

    async fn unbind_cert(&self, account: &str, spki_sha256: &[u8; 32]) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.unbind_cert(account, spki_sha256))
    }

    async fn bindings_of(&self, account: &str) -> Result<Vec<CertBinding>, StoreError> {
        futures::executor::block_on(self.0.bindings_of(account))
    }

    async fn binding_by_spki(
        &self,
        spki_sha256: &[u8; 32],
    ) -> Result<Option<CertBinding>, StoreError> {
        futures::executor::block_on(self.0.binding_by_spki(spki_sha256))
    }

    async fn bindings_by_dn(
        &self,
        issuer_dn: &str,
        subject_dn: &str,
    ) -> Result<Vec<CertBinding>, StoreError> {
        futures::executor::block_on(self.0.bindings_by_dn(issuer_dn, subject_dn))
    }

    async fn set_alias(&self, alias: Alias) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.set_alias(alias))
    }

    async fn alias(&self, address: &str) -> Result<Option<Alias>, StoreError> {
        futures::executor::block_on(self.0.alias(address))
    }

    async fn remove_alias(&self, address: &str) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.remove_alias(address))
    }

    async fn list_aliases(&self) -> Result<Vec<Alias>, StoreError> {
        futures::executor::block_on(self.0.list_aliases())
    }
}

#[async_trait::async_trait]
impl MailboxStore for StillStore {
    async fn create_mailbox(
        &self,
        account: &str,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<Mailbox, StoreError> {
        futures::executor::block_on(self.0.create_mailbox(account, name, special_use))
    }

    async fn mailbox(&self, account: &str, name: &str) -> Result<Option<Mailbox>, StoreError> {
        futures::executor::block_on(self.0.mailbox(account, name))
    }

    async fn list_mailboxes(&self, account: &str) -> Result<Vec<Mailbox>, StoreError> {
        futures::executor::block_on(self.0.list_mailboxes(account))
    }

    async fn rename_mailbox(&self, account: &str, from: &str, to: &str) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.rename_mailbox(account, from, to))
    }

    async fn delete_mailbox(&self, account: &str, name: &str) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.delete_mailbox(account, name))
    }

    async fn set_subscribed(
        &self,
        account: &str,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.set_subscribed(account, name, subscribed))
    }

    async fn append(
        &self,
        account: &str,
        mailbox: &str,
        message: NewMessage,
    ) -> Result<(u32, u32, u64), StoreError> {
        futures::executor::block_on(self.0.append(account, mailbox, message))
    }

    async fn messages(
        &self,
        account: &str,
        mailbox: &str,
        uids: RangeInclusive<u32>,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        futures::executor::block_on(self.0.messages(account, mailbox, uids))
    }

    async fn message_body(&self, account: &str, blob: &BlobId) -> Result<Vec<u8>, StoreError> {
        futures::executor::block_on(self.0.message_body(account, blob))
    }

    async fn message_summary(
        &self,
        account: &str,
        blob: &BlobId,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        futures::executor::block_on(self.0.message_summary(account, blob))
    }

    async fn message_summaries(
        &self,
        account: &str,
        blobs: Vec<BlobId>,
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        futures::executor::block_on(self.0.message_summaries(account, blobs))
    }

    async fn set_message_summary(
        &self,
        account: &str,
        blob: &BlobId,
        summary: Vec<u8>,
    ) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.set_message_summary(account, blob, summary))
    }

    async fn set_flags(
        &self,
        account: &str,
        mailbox: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<StoreResult, StoreError> {
        futures::executor::block_on(self.0.set_flags(
            account,
            mailbox,
            uids,
            op,
            flags,
            unchanged_since,
        ))
    }

    async fn copy(
        &self,
        account: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<(u32, Vec<(u32, u32)>), StoreError> {
        futures::executor::block_on(self.0.copy(account, from, uids, to))
    }

    async fn move_messages(
        &self,
        account: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<(u32, Vec<(u32, u32)>), StoreError> {
        futures::executor::block_on(self.0.move_messages(account, from, uids, to))
    }

    async fn expunge(
        &self,
        account: &str,
        mailbox: &str,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError> {
        futures::executor::block_on(self.0.expunge(account, mailbox, uids))
    }

    async fn expunged_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<u32>, StoreError> {
        futures::executor::block_on(self.0.expunged_since(account, mailbox, modseq))
    }

    async fn changed_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        futures::executor::block_on(self.0.changed_since(account, mailbox, modseq))
    }

    async fn account_usage(&self, account: &str) -> Result<u64, StoreError> {
        futures::executor::block_on(self.0.account_usage(account))
    }
}

#[async_trait::async_trait]
impl QueueStore for StillStore {
    async fn deliver(&self, delivery: Delivery) -> Result<DeliveryReceipt, StoreError> {
        futures::executor::block_on(self.0.deliver(delivery))
    }

    async fn queue_list(&self) -> Result<Vec<QueueEntry>, StoreError> {
        futures::executor::block_on(self.0.queue_list())
    }

    async fn queue_get(&self, id: u64) -> Result<Option<QueueEntry>, StoreError> {
        futures::executor::block_on(self.0.queue_get(id))
    }

    async fn queue_body(&self, id: u64) -> Result<Vec<u8>, StoreError> {
        futures::executor::block_on(self.0.queue_body(id))
    }

    async fn queue_update(&self, entry: QueueEntry) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.queue_update(entry))
    }

    async fn queue_remove(&self, id: u64) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.queue_remove(id))
    }
}

#[async_trait::async_trait]
impl AuditStore for StillStore {
    async fn put_device(&self, device: Device) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.put_device(device))
    }

    async fn devices_of(&self, account: &str) -> Result<Vec<Device>, StoreError> {
        futures::executor::block_on(self.0.devices_of(account))
    }

    async fn forget_device(
        &self,
        account: &str,
        spki_sha256: &[u8; 32],
        network: &str,
    ) -> Result<bool, StoreError> {
        futures::executor::block_on(self.0.forget_device(account, spki_sha256, network))
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        futures::executor::block_on(self.0.append_audit(event))
    }

    async fn audit_range(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        futures::executor::block_on(self.0.audit_range(from_ms, to_ms, limit))
    }

    async fn audit_by_account(
        &self,
        account: &str,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        futures::executor::block_on(self.0.audit_by_account(account, limit))
    }

    async fn audit_prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        futures::executor::block_on(self.0.audit_prune(before_ms))
    }

    async fn audit_newest(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        futures::executor::block_on(self.0.audit_newest(from_ms, to_ms, limit))
    }
}

#[async_trait::async_trait]
impl StoreOps for StillStore {
    async fn backup(
        &self,
        dir: &std::path::Path,
    ) -> Result<certmail_store::BackupManifest, StoreError> {
        futures::executor::block_on(self.0.backup(dir))
    }

    fn stats(&self) -> StoreStats {
        self.0.stats()
    }
}
