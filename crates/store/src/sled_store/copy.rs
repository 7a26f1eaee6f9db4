//! [`RecordCopy`] for the sled store: counts per kind, sealed bodies as stored, and
//! imports that keep UIDs, MODSEQs and queue ids. One account is one transaction over
//! every tree it touches (`ACCOUNT_TREES`).

use std::ops::Bound;

use ::sled::Transactional;
use ::sled::transaction::TransactionalTree;

use super::acl::{entry_key, who_of};
use super::chunks;
use super::devices::device_key;
use super::keys::{
    account_blob_key, cert_account_key, cert_dn_key, decode, decode_u64, encode, mailbox_key,
    message_key, uid_of,
};
use super::mailboxes::summary_key;
use super::tx::{TxResult, add_count, finish, lift, next_counter, put};
use super::{Inner, SledStore};
use crate::copy::{AccountRecords, RecordCopy, RecordCounts, RecordKind, SealedBody};
use crate::error::Result;
use crate::model::{AuditEvent, BlobId, Device, QueueEntry};
use crate::scripts::script_aad;
use crate::urlauth_keys::open_key;

/// Raises a `meta` counter so that the next value it hands out is above `used`.
fn raise_counter(meta: &TransactionalTree, key: &[u8], used: u64) -> TxResult<()> {
    let stored = match meta.get(key)? {
        Some(v) => lift(decode_u64(key, &v))?,
        None => 0,
    };
    if stored <= used {
        meta.insert(key, &(used + 1).to_be_bytes())?;
    }
    Ok(())
}

impl Inner {
    fn record_counts(&self) -> Result<RecordCounts> {
        let t = &self.t;
        let mut c = RecordCounts::default();
        let mut bodies = 0;
        for key in t.blobs.iter().keys() {
            // A body's own key is its 32-byte id; chunks and summaries have longer keys.
            bodies += u64::from(key?.len() == 32);
        }
        c.set(RecordKind::Bodies, bodies);
        let mut refs = 0;
        for entry in t.blob_refs.iter() {
            let (k, v) = entry?;
            refs += decode_u64(&k, &v)?;
        }
        c.set(RecordKind::BodyReferences, refs);
        let mut devices = 0;
        for entry in t.devices.iter() {
            let (k, v) = entry?;
            let device: Device = decode(&k, &v)?;
            devices += u64::from(t.accounts.contains_key(device.account.as_bytes())?);
        }
        c.set(RecordKind::Devices, devices);
        let mut seen = 0;
        for entry in t.seen.iter() {
            let (k, v) = entry?;
            seen += decode::<Vec<u32>>(&k, &v)?.len() as u64;
        }
        c.set(RecordKind::SharedSeen, seen);
        c.set(RecordKind::ReplyMarks, self.reply_mark_count()?);
        for (kind, tree) in [
            (RecordKind::Accounts, &t.accounts),
            (RecordKind::Addresses, &t.addresses),
            (RecordKind::CertBindings, &t.certs),
            (RecordKind::Mailboxes, &t.mailboxes),
            (RecordKind::Subscriptions, &t.subscriptions),
            (RecordKind::Messages, &t.messages),
            (RecordKind::Expunged, &t.expunged),
            (RecordKind::AclEntries, &t.acl),
            (RecordKind::SieveScripts, &t.scripts),
            (RecordKind::ActiveScripts, &t.active_scripts),
            (RecordKind::Aliases, &t.aliases),
            (RecordKind::Queue, &t.queue),
            (RecordKind::AuditEvents, &t.audit),
            (RecordKind::UrlauthKeys, &t.urlauth),
        ] {
            c.set(kind, tree.len() as u64);
        }
        Ok(c)
    }

    fn body_ids_after(&self, after: Option<BlobId>, limit: usize) -> Result<Vec<BlobId>> {
        let start = match after {
            Some(id) => Bound::Excluded(id.0.to_vec()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for key in self.t.blobs.range((start, Bound::Unbounded)).keys() {
            let key = key?;
            if let Ok(id) = <[u8; 32]>::try_from(key.as_ref()) {
                out.push(BlobId(id));
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn sealed_body(&self, id: BlobId) -> Result<Option<SealedBody>> {
        let Some(sealed) = chunks::read(&self.t.blobs, &id)? else {
            return Ok(None);
        };
        let summary = self.t.blobs.get(summary_key(&id))?.map(|v| v.to_vec());
        Ok(Some(SealedBody {
            id,
            sealed,
            summary,
        }))
    }

    fn expunged_in(&self, mailbox_id: u64) -> Result<Vec<(u32, u64)>> {
        let mut out = Vec::new();
        for entry in self.t.expunged.scan_prefix(mailbox_id.to_be_bytes()) {
            let (k, v) = entry?;
            out.push((uid_of(&k)?, decode_u64(&k, &v)?));
        }
        Ok(out)
    }

    fn seen_sets_in(&self, mailbox_id: u64) -> Result<Vec<(String, Vec<u32>)>> {
        let mut out = Vec::new();
        for entry in self.t.seen.scan_prefix(mailbox_id.to_be_bytes()) {
            let (k, v) = entry?;
            out.push((who_of(&k), decode(&k, &v)?));
        }
        Ok(out)
    }

    fn urlauth_keys_in(&self, mailbox_id: u64) -> Result<Vec<(String, [u8; 32])>> {
        let mut out = Vec::new();
        for entry in self.t.urlauth.scan_prefix(mailbox_id.to_be_bytes()) {
            let (k, v) = entry?;
            let user = who_of(&k);
            let key = open_key(&self.sealer, mailbox_id, &user, &v)?;
            out.push((user, key));
        }
        Ok(out)
    }

    fn import_body(&self, body: &SealedBody) -> Result<()> {
        finish(self.t.blobs.transaction(|blobs| {
            chunks::write(blobs, &body.id, &body.sealed)?;
            if let Some(summary) = &body.summary {
                blobs.insert(&summary_key(&body.id)[..], summary.as_slice())?;
            }
            Ok(())
        }))
    }

    fn import_queue_entry(&self, entry: &QueueEntry) -> Result<()> {
        self.with_message_trees(|mt| {
            put(mt.queue, &entry.id.to_be_bytes(), entry)?;
            add_count(mt.blob_refs, &entry.blob.0, 1)?;
            raise_counter(mt.meta, b"next_queue_id", entry.id)
        })
    }

    fn import_account(&self, records: &AccountRecords) -> Result<()> {
        let sealed_account = self.seal_account(&records.account)?;
        let mut sealed_scripts = Vec::new();
        for script in &records.scripts {
            let aad = script_aad(&records.account.id, &script.name);
            sealed_scripts.push(self.sealer.seal(&aad, script.content.as_bytes())?);
        }
        let t = &self.t;
        let trees = [
            &t.meta,
            &t.accounts,
            &t.addresses,
            &t.certs,
            &t.cert_idx,
            &t.devices,
            &t.mailboxes,
            &t.subscriptions,
            &t.messages,
            &t.expunged,
            &t.blob_refs,
            &t.account_blobs,
            &t.acl,
            &t.seen,
            &t.scripts,
            &t.active_scripts,
        ];
        finish(trees[..].transaction(|v| {
            let w = AccountTrees {
                meta: &v[0],
                accounts: &v[1],
                addresses: &v[2],
                certs: &v[3],
                cert_idx: &v[4],
                devices: &v[5],
                mailboxes: &v[6],
                subscriptions: &v[7],
                messages: &v[8],
                expunged: &v[9],
                blob_refs: &v[10],
                account_blobs: &v[11],
                acl: &v[12],
                seen: &v[13],
                scripts: &v[14],
                active_scripts: &v[15],
            };
            w.write_account(records, &sealed_account)?;
            w.write_mailboxes(records)?;
            w.write_scripts(records, &sealed_scripts)
        }))
    }
}

/// The trees one account's import writes, inside its transaction.
struct AccountTrees<'a> {
    meta: &'a TransactionalTree,
    accounts: &'a TransactionalTree,
    addresses: &'a TransactionalTree,
    certs: &'a TransactionalTree,
    cert_idx: &'a TransactionalTree,
    devices: &'a TransactionalTree,
    mailboxes: &'a TransactionalTree,
    subscriptions: &'a TransactionalTree,
    messages: &'a TransactionalTree,
    expunged: &'a TransactionalTree,
    blob_refs: &'a TransactionalTree,
    account_blobs: &'a TransactionalTree,
    acl: &'a TransactionalTree,
    seen: &'a TransactionalTree,
    scripts: &'a TransactionalTree,
    active_scripts: &'a TransactionalTree,
}

impl AccountTrees<'_> {
    fn write_account(&self, r: &AccountRecords, sealed: &[u8]) -> TxResult<()> {
        let id = r.account.id.as_str();
        self.accounts.insert(id, sealed)?;
        for address in &r.account.addresses {
            self.addresses.insert(address.as_str(), id)?;
        }
        for b in &r.bindings {
            put(self.certs, &b.spki_sha256, b)?;
            self.cert_idx
                .insert(cert_account_key(&b.account, &b.spki_sha256), &[])?;
            let dn_key = cert_dn_key(&b.issuer_dn, &b.subject_dn, &b.spki_sha256);
            self.cert_idx.insert(dn_key, &[])?;
        }
        for d in &r.devices {
            put(self.devices, &device_key(id, &d.spki_sha256, &d.network), d)?;
        }
        for name in &r.subscriptions {
            self.subscriptions
                .insert(mailbox_key(id, name), &[] as &[u8])?;
        }
        Ok(())
    }

    fn write_mailboxes(&self, r: &AccountRecords) -> TxResult<()> {
        let account = r.account.id.as_str();
        // The bodies come without postings: searches read them in full until the copy's
        // closing `reindex` indexes them (and marks the index complete again).
        self.meta.remove(super::search::COMPLETE)?;
        for m in &r.mailboxes {
            let id = next_counter(self.meta, b"next_mailbox_id", 1)?;
            let validity = u64::from(m.mailbox.uid_validity);
            raise_counter(self.meta, b"next_uid_validity", validity)?;
            let mailbox = crate::model::Mailbox {
                id,
                subscribed: false,
                ..m.mailbox.clone()
            };
            put(
                self.mailboxes,
                &mailbox_key(account, &mailbox.name),
                &mailbox,
            )?;
            for message in &m.messages {
                put(self.messages, &message_key(id, message.uid), message)?;
                add_count(self.blob_refs, &message.blob.0, 1)?;
                add_count(
                    self.account_blobs,
                    &account_blob_key(account, &message.blob),
                    1,
                )?;
            }
            for (uid, modseq) in &m.expunged {
                self.expunged
                    .insert(&message_key(id, *uid), &modseq.to_be_bytes())?;
            }
            for entry in &m.acl {
                let value = encode(&(account, entry.rights));
                self.acl.insert(entry_key(id, &entry.identifier), value)?;
            }
            for (reader, uids) in &m.seen {
                put(self.seen, &entry_key(id, reader), uids)?;
            }
        }
        Ok(())
    }

    fn write_scripts(&self, r: &AccountRecords, sealed: &[Vec<u8>]) -> TxResult<()> {
        let account = r.account.id.as_str();
        for (script, sealed) in r.scripts.iter().zip(sealed) {
            let key = mailbox_key(account, &script.name);
            self.scripts.insert(key, sealed.as_slice())?;
            if script.active {
                self.active_scripts
                    .insert(account, script.name.as_bytes())?;
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl RecordCopy for SledStore {
    async fn record_counts(&self) -> Result<RecordCounts> {
        self.read(|i| i.record_counts()).await
    }

    async fn body_ids_after(&self, after: Option<BlobId>, limit: usize) -> Result<Vec<BlobId>> {
        self.read(move |i| i.body_ids_after(after, limit)).await
    }

    async fn sealed_body(&self, id: BlobId) -> Result<Option<SealedBody>> {
        self.read(move |i| i.sealed_body(id)).await
    }

    async fn expunged_in(&self, mailbox_id: u64) -> Result<Vec<(u32, u64)>> {
        self.read(move |i| i.expunged_in(mailbox_id)).await
    }

    async fn seen_sets_in(&self, mailbox_id: u64) -> Result<Vec<(String, Vec<u32>)>> {
        self.read(move |i| i.seen_sets_in(mailbox_id)).await
    }

    async fn urlauth_keys_in(&self, mailbox_id: u64) -> Result<Vec<(String, [u8; 32])>> {
        self.read(move |i| i.urlauth_keys_in(mailbox_id)).await
    }

    async fn import_body(&self, body: SealedBody) -> Result<()> {
        self.write(move |i| i.import_body(&body)).await
    }

    async fn import_account(&self, records: AccountRecords) -> Result<()> {
        self.write(move |i| i.import_account(&records)).await
    }

    async fn import_queue_entry(&self, entry: QueueEntry) -> Result<()> {
        self.write(move |i| i.import_queue_entry(&entry)).await
    }

    async fn import_audit(&self, events: Vec<AuditEvent>) -> Result<()> {
        self.write(move |i| events.into_iter().try_for_each(|e| i.append_audit(e)))
            .await
    }
}
