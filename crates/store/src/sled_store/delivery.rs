//! Delivery of one message to local mailboxes and the outbound queue, in one transaction.

use ::sled::Transactional;

use super::Inner;
use super::keys::mailbox_key;
use super::mailboxes::{MessageTrees, normalize_name};
use super::messages::{normalize_flags, store_unowned_blob};
use super::tx::{TxResult, abort, finish, get, next_counter, put};
use crate::error::{Result, StoreError};
use crate::model::{DeliveredCopy, Delivery, DeliveryReceipt, INBOX, Mailbox, MessageMeta};

/// One local copy to make, normalised.
struct Target {
    account: String,
    mailbox: String,
    flags: Vec<String>,
}

/// The mailbox a copy goes to: the requested one, else INBOX.
fn target_mailbox(mt: &MessageTrees<'_>, target: &Target) -> TxResult<Mailbox> {
    let wanted = get::<Mailbox>(mt.mailboxes, &mailbox_key(&target.account, &target.mailbox))?;
    if let Some(mailbox) = wanted {
        return Ok(mailbox);
    }
    match get::<Mailbox>(mt.mailboxes, &mailbox_key(&target.account, INBOX))? {
        Some(inbox) => Ok(inbox),
        None => abort(StoreError::MailboxNotFound(format!(
            "{}/{INBOX}",
            target.account
        ))),
    }
}

impl Inner {
    pub(crate) fn deliver(&self, delivery: Delivery) -> Result<DeliveryReceipt> {
        let (blob, sealed) = self.seal_body(&delivery.body)?;
        let targets: Vec<Target> = delivery
            .recipients
            .iter()
            .map(|(account, mailbox, flags)| Target {
                account: account.to_lowercase(),
                mailbox: normalize_name(mailbox).unwrap_or_else(|_| INBOX.to_owned()),
                flags: normalize_flags(flags),
            })
            .collect();
        let size = delivery.body.len() as u64;
        let t = &self.t;
        let trees = (
            &t.meta,
            &t.queue,
            &t.mailboxes,
            &t.messages,
            &t.expunged,
            &t.blobs,
            &t.blob_refs,
            &t.account_blobs,
        );
        finish(trees.transaction(
            |(meta, queue, mailboxes, messages, expunged, blobs, blob_refs, account_blobs)| {
                let mt = MessageTrees {
                    mailboxes,
                    messages,
                    expunged,
                    blobs,
                    blob_refs,
                    account_blobs,
                };
                let mut receipt = DeliveryReceipt {
                    blob,
                    ..DeliveryReceipt::default()
                };
                for target in &targets {
                    let mut mbox = target_mailbox(&mt, target)?;
                    mt.store_blob(&target.account, &blob, &sealed)?;
                    mbox.highest_modseq += 1;
                    let message = MessageMeta {
                        uid: 0,
                        modseq: mbox.highest_modseq,
                        flags: target.flags.clone(),
                        internal_date: delivery.internal_date,
                        size,
                        blob,
                    };
                    let uid = mt.add_message(&mut mbox, message)?;
                    put(
                        mt.mailboxes,
                        &mailbox_key(&target.account, &mbox.name),
                        &mbox,
                    )?;
                    receipt.stored.push(DeliveredCopy {
                        account: target.account.clone(),
                        mailbox: mbox.name.clone(),
                        uid_validity: mbox.uid_validity,
                        uid,
                    });
                }
                for entry in &delivery.queue {
                    let id = next_counter(meta, b"next_queue_id", 1)?;
                    store_unowned_blob(blobs, blob_refs, &blob, &sealed)?;
                    let entry = crate::model::QueueEntry {
                        id,
                        blob,
                        ..entry.clone()
                    };
                    put(queue, &id.to_be_bytes(), &entry)?;
                    receipt.queued.push(id);
                }
                Ok(receipt)
            },
        ))
    }
}
