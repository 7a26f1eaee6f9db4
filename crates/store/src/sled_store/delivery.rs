//! Delivery of one message to local mailboxes and the outbound queue, in one transaction,
//! with the messages the delivery causes (a rejection notice, a vacation reply held back
//! by a live reply mark or recorded with one) and its Sieve redirects, each counted
//! against its account's daily cap in that transaction (`redirects.rs`).

use std::collections::HashMap;

use super::Inner;
use super::keys::mailbox_key;
use super::mailboxes::MessageTrees;
use super::messages::store_unowned_blob;
use super::tx::{TxResult, abort, get, next_counter, put};
use crate::error::{Result, StoreError};
use crate::model::{DeliveredCopy, Delivery, DeliveryReceipt, INBOX, Mailbox};
use crate::rules::{DeliveryTarget, SealedMessage, Settled};

/// The mailbox a copy goes to: the requested one, else INBOX.
fn target_mailbox(mt: &MessageTrees<'_>, target: &DeliveryTarget) -> TxResult<Mailbox> {
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
        let main = SealedMessage::seal(&self.sealer, &delivery)?;
        let outgoing = delivery
            .outgoing
            .iter()
            .map(|o| SealedMessage::seal(&self.sealer, &o.message))
            .collect::<Result<Vec<_>>>()?;
        // Every account a copy of the message may go to, whichever way its redirects go:
        // their usage is read here, under their quota locks, since the transaction cannot.
        let mut accounts: Vec<String> = (main.possible_targets().into_iter())
            .map(|t| t.account)
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        let recipients: Vec<&str> = accounts.iter().map(String::as_str).collect();
        let _quota = self.lock_quota(delivery.quota, &recipients);
        let usage = (recipients.iter())
            .map(|a| Ok((a.to_string(), self.usage_for(delivery.quota, a)?)))
            .collect::<Result<HashMap<String, u64>>>()?;
        let main_postings = self.gram_key.message_postings(&delivery.body);
        let outgoing_postings: Vec<_> = (delivery.outgoing.iter())
            .map(|o| self.gram_key.message_postings(&o.message.body))
            .collect();
        self.with_message_trees(|mt| {
            let mut receipt = DeliveryReceipt {
                blob: main.blob,
                ..DeliveryReceipt::default()
            };
            let settled = settle(mt, &main, &mut receipt)?;
            for t in &settled.targets {
                if !delivery
                    .quota
                    .admits_delivery(usage.get(&t.account).copied().unwrap_or(0))
                {
                    return abort(StoreError::OverQuota {
                        account: t.account.clone(),
                    });
                }
            }
            store_message(mt, &main, &settled, main_postings.as_deref(), &mut receipt)?;
            let outgoing = outgoing.iter().zip(&outgoing_postings);
            for (i, (out, (sealed, postings))) in delivery.outgoing.iter().zip(outgoing).enumerate()
            {
                if let Some(mark) = &out.once
                    && !super::replies::claim(mt.meta, mark)?
                {
                    receipt.held_back.push(i);
                    continue;
                }
                let settled = settle(mt, sealed, &mut receipt)?;
                store_message(mt, sealed, &settled, postings.as_deref(), &mut receipt)?;
            }
            Ok(receipt)
        })
    }
}

/// Counts `m`'s redirects against their accounts' caps (their outcomes into `receipt`);
/// what `m` then stores.
fn settle<'d>(
    mt: &MessageTrees<'_>,
    m: &SealedMessage<'d>,
    receipt: &mut DeliveryReceipt,
) -> TxResult<Settled<'d>> {
    let outcomes =
        super::redirects::claim(mt.meta, &m.delivery.redirects, m.delivery.internal_date)?;
    let carried_out: Vec<bool> = outcomes.iter().map(|o| o.carried_out).collect();
    receipt.redirects.extend(outcomes);
    Ok(m.settled(&carried_out))
}

/// Stores one message's local copies and queue entries, adding them to `receipt`.
fn store_message(
    mt: &MessageTrees<'_>,
    m: &SealedMessage<'_>,
    settled: &Settled<'_>,
    postings: Option<&[crate::search_index::GramHash]>,
    receipt: &mut DeliveryReceipt,
) -> TxResult<()> {
    let (blob, sealed) = (m.blob, &m.sealed);
    for target in &settled.targets {
        let mut mbox = target_mailbox(mt, target)?;
        mt.store_blob(&target.account, &blob, sealed)?;
        mt.index_postings(&target.account, &blob, postings)?;
        mbox.highest_modseq += 1;
        let message = target.message(m.delivery, blob, mbox.highest_modseq);
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
    for entry in &settled.queue {
        let id = next_counter(mt.meta, b"next_queue_id", 1)?;
        store_unowned_blob(mt.blobs, mt.blob_refs, &blob, sealed)?;
        let entry = crate::model::QueueEntry {
            id,
            blob,
            ..(*entry).clone()
        };
        put(mt.queue, &id.to_be_bytes(), &entry)?;
        receipt.queued.push(id);
    }
    Ok(())
}
