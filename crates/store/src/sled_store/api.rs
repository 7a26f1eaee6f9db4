//! The store parts for `SledStore`: each call runs its sync operation on the blocking pool
//! (writes then wait for the group commit), except those of a few keys, which run at once on
//! the calling task (`SledStore::read_now`, `SledStore::write_now`).

use std::ops::RangeInclusive;

use super::{Inner, READ_NOW_KEYS, SledStore};
use crate::acl::{AclChange, AclEntry, AclUpdate, SeenMarks, SharedMailbox};
use crate::devices::DeviceSeen;
use crate::error::StoreError;
use crate::model::{
    Account, Alias, AuditEvent, BlobId, CertBinding, CopyUid, Delivery, DeliveryReceipt, Device,
    FlagChange, MailQuota, Mailbox, MessageMeta, NewMessage, QueueEntry, SpecialUse, StoreResult,
    StoreStats,
};
use crate::rules::Transfer;
use crate::scripts::{ScriptQuota, SieveScript};
use crate::store::{AccountStore, AuditStore, MailboxStore, QueueStore, ScriptStore, StoreOps};

type R<T> = Result<T, StoreError>;

/// A `message_summaries` call for at most this many messages runs on the calling task
/// (each summary is a header block of a few KB to decrypt).
const READ_NOW_SUMMARIES: usize = 32;

#[async_trait::async_trait]
impl AccountStore for SledStore {
    async fn create_account(&self, account: Account) -> R<()> {
        self.write(move |i| i.create_account(account)).await
    }

    async fn account(&self, id: &str) -> R<Option<Account>> {
        let id = id.to_owned();
        self.read(move |i| i.account(&id)).await
    }

    async fn account_by_address(&self, address: &str) -> R<Option<Account>> {
        let address = address.to_owned();
        self.read(move |i| i.account_by_address(&address)).await
    }

    async fn update_account(&self, account: Account) -> R<()> {
        self.write(move |i| i.update_account(account)).await
    }

    async fn list_accounts(&self) -> R<Vec<Account>> {
        self.read(|i| i.list_accounts()).await
    }

    async fn delete_account(&self, id: &str) -> R<()> {
        let id = id.to_owned();
        self.write(move |i| i.delete_account(&id)).await
    }

    async fn bind_cert(&self, binding: CertBinding) -> R<()> {
        self.write(move |i| i.bind_cert(binding)).await
    }

    async fn unbind_cert(&self, account: &str, spki_sha256: &[u8; 32]) -> R<()> {
        let (account, spki) = (account.to_owned(), *spki_sha256);
        self.write(move |i| i.unbind_cert(&account, &spki)).await
    }

    async fn bindings_of(&self, account: &str) -> R<Vec<CertBinding>> {
        let account = account.to_owned();
        self.read(move |i| i.bindings_of(&account)).await
    }

    async fn binding_by_spki(&self, spki_sha256: &[u8; 32]) -> R<Option<CertBinding>> {
        let spki = *spki_sha256;
        self.read(move |i| i.binding_by_spki(&spki)).await
    }

    async fn bindings_by_dn(&self, issuer_dn: &str, subject_dn: &str) -> R<Vec<CertBinding>> {
        let (issuer, subject) = (issuer_dn.to_owned(), subject_dn.to_owned());
        self.read(move |i| i.bindings_by_dn(&issuer, &subject))
            .await
    }

    async fn set_alias(&self, alias: Alias) -> R<()> {
        self.write(move |i| i.set_alias(alias)).await
    }

    async fn alias(&self, address: &str) -> R<Option<Alias>> {
        let address = address.to_owned();
        self.read(move |i| i.alias(&address)).await
    }

    async fn remove_alias(&self, address: &str) -> R<()> {
        let address = address.to_owned();
        self.write(move |i| i.remove_alias(&address)).await
    }

    async fn list_aliases(&self) -> R<Vec<Alias>> {
        self.read(|i| i.list_aliases()).await
    }
}

#[async_trait::async_trait]
impl MailboxStore for SledStore {
    async fn create_mailbox(
        &self,
        account: &str,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> R<Mailbox> {
        let (account, name) = (account.to_lowercase(), name.to_owned());
        self.write(move |i| i.create_mailbox(&account, &name, special_use))
            .await
    }

    async fn mailbox(&self, account: &str, name: &str) -> R<Option<Mailbox>> {
        self.read_now(|i| i.mailbox(&account.to_lowercase(), name))
    }

    async fn list_mailboxes(&self, account: &str) -> R<Vec<Mailbox>> {
        let account = account.to_lowercase();
        self.read(move |i| i.list_mailboxes(&account)).await
    }

    async fn rename_mailbox(&self, account: &str, from: &str, to: &str) -> R<()> {
        let (account, from, to) = (account.to_lowercase(), from.to_owned(), to.to_owned());
        self.write(move |i| i.rename_mailbox(&account, &from, &to))
            .await
    }

    async fn delete_mailbox(&self, account: &str, name: &str) -> R<()> {
        let (account, name) = (account.to_lowercase(), name.to_owned());
        self.write(move |i| {
            i.delete_mailbox(&account, &name)?;
            i.purge_some_search_orphans()
        })
        .await
    }

    async fn set_subscribed(&self, account: &str, name: &str, subscribed: bool) -> R<()> {
        let (account, name) = (account.to_lowercase(), name.to_owned());
        self.write(move |i| i.set_subscribed(&account, &name, subscribed))
            .await
    }

    async fn subscriptions(&self, account: &str) -> R<Vec<String>> {
        let account = account.to_lowercase();
        self.read(move |i| i.subscriptions(&account)).await
    }

    async fn change_acl(&self, owner: &str, mailbox: &str, change: AclChange) -> R<AclUpdate> {
        let (owner, mailbox) = (owner.to_lowercase(), mailbox.to_owned());
        self.write(move |i| i.change_acl(&owner, &mailbox, &change))
            .await
    }

    async fn acl(&self, owner: &str, mailbox: &str) -> R<Vec<AclEntry>> {
        let (owner, mailbox) = (owner.to_lowercase(), mailbox.to_owned());
        self.read(move |i| i.acl(&owner, &mailbox)).await
    }

    async fn shared_with(&self, identifiers: &[String]) -> R<Vec<SharedMailbox>> {
        let identifiers = identifiers.to_vec();
        self.read(move |i| i.shared_with(&identifiers)).await
    }

    async fn seen_by(&self, owner: &str, mailbox: &str, reader: &str) -> R<Vec<u32>> {
        self.read_now(|i| i.seen_by(&owner.to_lowercase(), mailbox, reader))
    }

    async fn urlauth_key(
        &self,
        user: &str,
        owner: &str,
        mailbox: &str,
        fresh: Option<[u8; 32]>,
    ) -> R<Option<[u8; 32]>> {
        let (user, owner, mailbox) = (
            user.to_lowercase(),
            owner.to_lowercase(),
            mailbox.to_owned(),
        );
        let op = move |i: &Inner| i.urlauth_key(&user, &owner, &mailbox, fresh);
        match fresh {
            Some(_) => self.write(op).await,
            None => self.read(op).await,
        }
    }

    async fn reset_urlauth_keys(&self, user: &str, mailbox: Option<(&str, &str)>) -> R<u64> {
        let user = user.to_lowercase();
        let mailbox = mailbox.map(|(o, m)| (o.to_lowercase(), m.to_owned()));
        self.write(move |i| {
            let named = mailbox.as_ref().map(|(o, m)| (o.as_str(), m.as_str()));
            i.reset_urlauth_keys(&user, named)
        })
        .await
    }

    async fn set_seen_by(
        &self,
        owner: &str,
        mailbox: &str,
        reader: &str,
        uids: &[u32],
        seen: bool,
    ) -> R<()> {
        let (owner, mailbox, reader) =
            (owner.to_lowercase(), mailbox.to_owned(), reader.to_owned());
        let uids = uids.to_vec();
        self.write(move |i| {
            let marks = SeenMarks {
                reader: &reader,
                uids: &uids,
                seen,
            };
            i.set_seen_by(&owner, &mailbox, marks)
        })
        .await
    }

    async fn append(
        &self,
        account: &str,
        mailbox: &str,
        message: NewMessage,
    ) -> R<(u32, u32, u64)> {
        let (account, mailbox) = (account.to_lowercase(), mailbox.to_owned());
        self.write(move |i| i.append(&account, &mailbox, message))
            .await
    }

    async fn append_many(
        &self,
        account: &str,
        mailbox: &str,
        messages: Vec<NewMessage>,
        quota: MailQuota,
    ) -> R<Vec<(u32, u32, u64)>> {
        let (account, mailbox) = (account.to_lowercase(), mailbox.to_owned());
        self.write(move |i| i.append_many(&account, &mailbox, messages, quota))
            .await
    }

    async fn messages(
        &self,
        account: &str,
        mailbox: &str,
        uids: RangeInclusive<u32>,
    ) -> R<Vec<MessageMeta>> {
        let account = account.to_lowercase();
        let end = *uids.end();
        let (mut found, rest) =
            self.read_now(|i| i.messages_upto(&account, mailbox, uids, READ_NOW_KEYS))?;
        if let Some(next) = rest {
            let mailbox = mailbox.to_owned();
            found.extend(
                self.read(move |i| i.messages(&account, &mailbox, next..=end))
                    .await?,
            );
        }
        Ok(found)
    }

    async fn message_body(&self, account: &str, blob: &BlobId) -> R<Vec<u8>> {
        let (account, blob) = (account.to_lowercase(), *blob);
        self.read(move |i| i.message_body(&account, &blob)).await
    }

    async fn message_summary(&self, account: &str, blob: &BlobId) -> R<Option<Vec<u8>>> {
        self.read_now(|i| i.message_summary(&account.to_lowercase(), blob))
    }

    async fn message_summaries(
        &self,
        account: &str,
        blobs: Vec<BlobId>,
    ) -> R<Vec<Option<Vec<u8>>>> {
        let account = account.to_lowercase();
        if blobs.len() <= READ_NOW_SUMMARIES {
            return self.read_now(|i| i.message_summaries(&account, &blobs));
        }
        self.read(move |i| i.message_summaries(&account, &blobs))
            .await
    }

    async fn set_message_summary(&self, account: &str, blob: &BlobId, summary: Vec<u8>) -> R<()> {
        let (account, blob) = (account.to_lowercase(), *blob);
        self.read(move |i| i.set_message_summary(&account, &blob, &summary))
            .await
    }

    async fn set_flags(&self, account: &str, mailbox: &str, change: FlagChange) -> R<StoreResult> {
        let (account, mailbox) = (account.to_lowercase(), mailbox.to_owned());
        if change.uids.len() <= READ_NOW_KEYS {
            return self
                .write_now(move |i| i.set_flags(&account, &mailbox, change))
                .await;
        }
        self.write(move |i| i.set_flags(&account, &mailbox, change))
            .await
    }

    async fn copy(
        &self,
        account: &str,
        from: &str,
        uids: &[u32],
        to: &str,
        quota: MailQuota,
    ) -> R<CopyUid> {
        let copy = Transfer {
            quota,
            ..Transfer::new(account, from, uids, to, false)?
        };
        self.write(move |i| i.copy(&copy)).await
    }

    async fn move_messages(&self, account: &str, from: &str, uids: &[u32], to: &str) -> R<CopyUid> {
        let relocation = Transfer::new(account, from, uids, to, true)?;
        self.write(move |i| {
            let moved = i.copy(&relocation)?;
            i.purge_some_search_orphans()?;
            Ok(moved)
        })
        .await
    }

    async fn expunge(&self, account: &str, mailbox: &str, uids: Option<&[u32]>) -> R<Vec<u32>> {
        let (account, mailbox) = (account.to_lowercase(), mailbox.to_owned());
        let uids = uids.map(<[u32]>::to_vec);
        self.write(move |i| {
            let gone = i.expunge(&account, &mailbox, uids.as_deref())?;
            i.purge_some_search_orphans()?;
            Ok(gone)
        })
        .await
    }

    async fn expunged_since(&self, account: &str, mailbox: &str, modseq: u64) -> R<Vec<u32>> {
        let (account, mailbox) = (account.to_lowercase(), mailbox.to_owned());
        self.read(move |i| i.expunged_since(&account, &mailbox, modseq))
            .await
    }

    async fn changed_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> R<Vec<MessageMeta>> {
        let (account, mailbox) = (account.to_lowercase(), mailbox.to_owned());
        self.read(move |i| i.changed_since(&account, &mailbox, modseq))
            .await
    }

    async fn account_usage(&self, account: &str) -> R<u64> {
        let account = account.to_lowercase();
        self.read(move |i| i.account_usage(&account)).await
    }

    async fn search_candidates(
        &self,
        account: &str,
        blobs: Vec<BlobId>,
        needles: Vec<String>,
    ) -> R<Option<Vec<bool>>> {
        let account = account.to_lowercase();
        self.read(move |i| i.search_candidates(&account, &blobs, &needles))
            .await
    }

    async fn reindex(&self) -> R<u64> {
        self.write(|i| i.reindex()).await
    }
}

#[async_trait::async_trait]
impl QueueStore for SledStore {
    async fn deliver(&self, delivery: Delivery) -> R<DeliveryReceipt> {
        self.write(move |i| i.deliver(delivery)).await
    }

    async fn queue_list(&self) -> R<Vec<QueueEntry>> {
        self.read(|i| i.queue_list()).await
    }

    async fn queue_get(&self, id: u64) -> R<Option<QueueEntry>> {
        self.read(move |i| i.queue_get(id)).await
    }

    async fn queue_body(&self, id: u64) -> R<Vec<u8>> {
        self.read(move |i| i.queue_body(id)).await
    }

    async fn queue_update(&self, entry: QueueEntry) -> R<()> {
        self.write(move |i| i.queue_update(entry)).await
    }

    async fn queue_remove(&self, id: u64) -> R<()> {
        self.write(move |i| i.queue_remove(id)).await
    }
}

#[async_trait::async_trait]
impl AuditStore for SledStore {
    async fn put_device(&self, device: Device) -> R<()> {
        self.write(move |i| i.put_device(device)).await
    }

    async fn devices_of(&self, account: &str) -> R<Vec<Device>> {
        let account = account.to_owned();
        self.read(move |i| i.devices_of(&account)).await
    }

    async fn sign_in_device(&self, seen: Device, cap: usize) -> R<DeviceSeen> {
        self.write(move |i| i.sign_in_device(seen, cap)).await
    }

    async fn forget_device(&self, account: &str, spki_sha256: &[u8; 32], network: &str) -> R<bool> {
        let (account, spki, network) = (account.to_owned(), *spki_sha256, network.to_owned());
        self.write(move |i| i.forget_device(&account, &spki, &network))
            .await
    }

    async fn append_audit(&self, event: AuditEvent) -> R<()> {
        self.write(move |i| i.append_audit(event)).await
    }

    async fn audit_range(&self, from_ms: i64, to_ms: i64, limit: usize) -> R<Vec<AuditEvent>> {
        self.read(move |i| i.audit_range(from_ms, to_ms, limit))
            .await
    }

    async fn audit_by_account(&self, account: &str, limit: usize) -> R<Vec<AuditEvent>> {
        let account = account.to_lowercase();
        self.read(move |i| i.audit_by_account(&account, limit))
            .await
    }

    async fn audit_prune(&self, before_ms: i64) -> R<u64> {
        self.write(move |i| i.audit_prune(before_ms)).await
    }

    async fn audit_newest(&self, from_ms: i64, to_ms: i64, limit: usize) -> R<Vec<AuditEvent>> {
        self.read(move |i| i.audit_newest(from_ms, to_ms, limit))
            .await
    }
}

#[async_trait::async_trait]
impl ScriptStore for SledStore {
    async fn put_script(
        &self,
        account: &str,
        name: &str,
        content: &str,
        quota: ScriptQuota,
    ) -> R<()> {
        let (account, name, content) = (account.to_owned(), name.to_owned(), content.to_owned());
        self.write(move |i| i.put_script(&account, &name, &content, quota))
            .await
    }

    async fn script(&self, account: &str, name: &str) -> R<Option<SieveScript>> {
        let (account, name) = (account.to_owned(), name.to_owned());
        self.read(move |i| i.script(&account, &name)).await
    }

    async fn list_scripts(&self, account: &str) -> R<Vec<SieveScript>> {
        let account = account.to_owned();
        self.read(move |i| i.list_scripts(&account)).await
    }

    async fn active_script(&self, account: &str) -> R<Option<SieveScript>> {
        let account = account.to_owned();
        self.read(move |i| i.active_script(&account)).await
    }

    async fn set_active_script(&self, account: &str, name: Option<&str>) -> R<()> {
        let (account, name) = (account.to_owned(), name.map(str::to_owned));
        self.write(move |i| i.set_active_script(&account, name.as_deref()))
            .await
    }

    async fn rename_script(&self, account: &str, from: &str, to: &str) -> R<()> {
        let (account, from, to) = (account.to_owned(), from.to_owned(), to.to_owned());
        self.write(move |i| i.rename_script(&account, &from, &to))
            .await
    }

    async fn delete_script(&self, account: &str, name: &str) -> R<()> {
        let (account, name) = (account.to_owned(), name.to_owned());
        self.write(move |i| i.delete_script(&account, &name)).await
    }

    async fn reply_marks(&self, account: &str) -> R<Vec<crate::ReplyMark>> {
        let account = account.to_owned();
        self.read(move |i| i.reply_marks(&account)).await
    }

    async fn put_reply_mark(&self, mark: crate::ReplyMark) -> R<()> {
        self.write(move |i| i.put_reply_mark(&mark)).await
    }

    async fn prune_reply_marks(&self, now: i64) -> R<u64> {
        self.write(move |i| i.prune_reply_marks(now)).await
    }
}

#[async_trait::async_trait]
impl StoreOps for SledStore {
    async fn backup(&self, dir: &std::path::Path) -> Result<crate::BackupManifest, StoreError> {
        let dir = dir.to_owned();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.read(move |i| i.backup(&dir, now)).await
    }

    fn stats(&self) -> StoreStats {
        self.inner.commit.stats()
    }

    async fn size_bytes(&self) -> Result<u64, StoreError> {
        self.read(|i| Ok(i.db.size_on_disk()?)).await
    }
}
