//! Delivery of one message to local mailboxes and the outbound queue, in one transaction:
//! the body once, one message per recipient mailbox, one queue entry per remote batch,
//! and the body's reference count raised by all of them.

use certmail_store::shared::{DeliveryTarget, delivery_targets};
use certmail_store::{
    BlobId, DeliveredCopy, Delivery, DeliveryReceipt, INBOX, Mailbox, QueueEntry, StoreError,
};
use tokio_postgres::types::Json;

use crate::error::db;
use crate::rows::{self, i64_of};
use crate::{PgStore, Tx, blobs, mailboxes, messages};
use certmail_session::Change;

impl PgStore {
    pub(crate) async fn deliver(&self, delivery: Delivery) -> Result<DeliveryReceipt, StoreError> {
        let (blob, sealed) = self.seal_body(&delivery.body)?;
        let targets = delivery_targets(&delivery);
        let refs = i64::try_from(targets.len() + delivery.queue.len()).unwrap_or(i64::MAX);
        let mut receipt = DeliveryReceipt {
            blob,
            ..DeliveryReceipt::default()
        };
        if refs == 0 {
            return Ok(receipt);
        }
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // Every mailbox a copy may go to (the one asked for, and INBOX as the fallback),
        // locked in one statement in id order, before the body's row (as copies do).
        let mut wanted = Vec::new();
        for t in &targets {
            wanted.push((t.account.clone(), t.mailbox.clone()));
            wanted.push((t.account.clone(), INBOX.to_owned()));
        }
        let mut locked = mailboxes::lock_many(&tx, &wanted).await?;
        blobs::store(&tx, &blob, &sealed, refs).await?;
        receipt.stored = store_copies(&tx, &mut locked, &targets, &delivery, blob).await?;
        // Other nodes' IDLE hears of each mailbox's newest message at COMMIT.
        let mut newest = std::collections::BTreeMap::new();
        for copy in &receipt.stored {
            let uid = newest
                .entry((copy.account.clone(), copy.mailbox.clone()))
                .or_insert(copy.uid);
            *uid = (*uid).max(copy.uid);
        }
        for ((account, mailbox), uid) in newest {
            let added = Change::Exists { mailbox, uid };
            self.notice(&tx, &account, vec![added]).await?;
        }
        for entry in &delivery.queue {
            receipt.queued.push(queue(&tx, entry, &blob).await?);
        }
        self.commit(tx).await?;
        Ok(receipt)
    }
}

/// Adds one message per target to its mailbox among the `locked` ones (INBOX where the one
/// asked for is missing), inside the delivery's transaction; the body is stored and
/// referenced by the caller.
async fn store_copies(
    tx: &Tx<'_>,
    locked: &mut [(String, Mailbox)],
    targets: &[DeliveryTarget],
    delivery: &Delivery,
    blob: BlobId,
) -> Result<Vec<DeliveredCopy>, StoreError> {
    let mut touched = std::collections::BTreeSet::new();
    let mut stored = Vec::with_capacity(targets.len());
    for target in targets {
        let position = |name: &str| {
            locked
                .iter()
                .position(|(a, m)| *a == target.account && m.name == name)
        };
        let Some(i) = position(&target.mailbox).or_else(|| position(INBOX)) else {
            return Err(StoreError::MailboxNotFound(format!(
                "{}/{INBOX}",
                target.account
            )));
        };
        let mbox = &mut locked[i].1;
        mbox.highest_modseq += 1;
        let meta = target.message(delivery, blob, mbox.highest_modseq);
        let uid = messages::insert(tx, mbox, &meta).await?;
        touched.insert(i);
        stored.push(DeliveredCopy {
            account: target.account.clone(),
            mailbox: mbox.name.clone(),
            uid_validity: mbox.uid_validity,
            uid,
        });
    }
    for i in touched {
        mailboxes::save_counters(tx, &locked[i].1).await?;
    }
    Ok(stored)
}

/// Inserts a queue entry for the stored body `blob`; returns its id.
async fn queue(tx: &Tx<'_>, entry: &QueueEntry, blob: &BlobId) -> Result<u64, StoreError> {
    let row = tx
        .query_one(
            "INSERT INTO queue (sender, recipients, blob, created_at, next_attempt,
                                envelope_meta)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &entry.from,
                &Json(&entry.recipients),
                &&blob.0[..],
                &entry.created_at,
                &entry.next_attempt,
                &Json(&entry.envelope_meta),
            ],
        )
        .await
        .map_err(db)?;
    rows::u64_of("queue id", row.get(0))
}

/// The columns [`queue_entry`] reads, in order.
pub(crate) const QUEUE_COLUMNS: &str =
    "id, sender, recipients, blob, created_at, next_attempt, envelope_meta";

/// A queue entry from a row of [`QUEUE_COLUMNS`].
pub(crate) fn queue_entry(row: &tokio_postgres::Row) -> Result<QueueEntry, StoreError> {
    let Json(recipients) = row.get(2);
    let Json(envelope_meta) = row.get(6);
    Ok(QueueEntry {
        id: rows::u64_of("queue id", row.get(0))?,
        from: row.get(1),
        recipients,
        blob: rows::blob_of(row.get(3))?,
        created_at: row.get(4),
        next_attempt: row.get(5),
        envelope_meta,
    })
}

/// A queue id as a `bigint` parameter.
pub(crate) fn queue_id(id: u64) -> i64 {
    i64_of(id)
}
