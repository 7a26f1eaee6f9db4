//! Delivery of one message to local mailboxes and the outbound queue, in one transaction:
//! the body once, one message per recipient mailbox, one queue entry per remote batch,
//! and the body's reference count raised by all of them; with the messages the delivery
//! causes, a vacation reply checked against and recorded in `vacation_replies`.

use certmail_store::shared::{DeliveryTarget, SealedMessage};
use certmail_store::{
    BlobId, DeliveredCopy, Delivery, DeliveryReceipt, INBOX, Mailbox, QueueEntry, ReplyMark,
    StoreError,
};
use tokio_postgres::types::Json;

use crate::error::db;
use crate::rows::{self, i64_of};
use crate::{PgStore, Tx, blobs, mailboxes, messages, quota};
use certmail_session::Change;

impl PgStore {
    pub(crate) async fn deliver(&self, delivery: Delivery) -> Result<DeliveryReceipt, StoreError> {
        let main = SealedMessage::seal(&self.sealer, &delivery)?;
        let outgoing = delivery
            .outgoing
            .iter()
            .map(|o| SealedMessage::seal(&self.sealer, &o.message))
            .collect::<Result<Vec<_>, _>>()?;
        let main_postings = self.gram_key.message_postings(&delivery.body);
        let outgoing_postings: Vec<_> = (delivery.outgoing.iter())
            .map(|o| self.gram_key.message_postings(&o.message.body))
            .collect();
        let mut receipt = DeliveryReceipt {
            blob: main.blob,
            ..DeliveryReceipt::default()
        };
        if main.refs() == 0 && outgoing.iter().all(|o| o.refs() == 0) {
            return Ok(receipt);
        }
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let recipients: Vec<String> = (delivery.recipients.iter())
            .map(|r| r.0.to_lowercase())
            .collect();
        quota::lock(&tx, delivery.quota, &recipients).await?;
        for account in &recipients {
            let used = quota::usage(&tx, delivery.quota, account).await?;
            if !delivery.quota.admits_delivery(used) {
                return Err(quota::over(account));
            }
        }
        // Every mailbox a copy may go to (the one asked for, and INBOX as the fallback),
        // of every message, locked in one statement in id order, before the bodies' rows
        // (as copies do).
        let mut wanted = Vec::new();
        for t in main
            .targets
            .iter()
            .chain(outgoing.iter().flat_map(|o| &o.targets))
        {
            wanted.push((t.account.clone(), t.mailbox.clone()));
            wanted.push((t.account.clone(), INBOX.to_owned()));
        }
        let mut locked = mailboxes::lock_many(&tx, &wanted).await?;
        store_message(
            &tx,
            &mut locked,
            &main,
            main_postings.as_deref(),
            &mut receipt,
        )
        .await?;
        let outgoing = outgoing.iter().zip(&outgoing_postings);
        for (i, (out, (sealed, postings))) in delivery.outgoing.iter().zip(outgoing).enumerate() {
            if let Some(mark) = &out.once
                && !claim_mark(&tx, mark).await?
            {
                receipt.held_back.push(i);
                continue;
            }
            store_message(&tx, &mut locked, sealed, postings.as_deref(), &mut receipt).await?;
        }
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
        self.commit(tx).await?;
        Ok(receipt)
    }
}

/// Stores one message's body, copies and queue entries, adding them to `receipt`.
async fn store_message(
    tx: &Tx<'_>,
    locked: &mut [(String, Mailbox)],
    m: &SealedMessage<'_>,
    postings: Option<&[certmail_store::search_index::GramHash]>,
    receipt: &mut DeliveryReceipt,
) -> Result<(), StoreError> {
    if m.refs() == 0 {
        return Ok(());
    }
    let refs = i64::try_from(m.refs()).unwrap_or(i64::MAX);
    blobs::store(tx, &m.blob, &m.sealed, refs).await?;
    if !m.targets.is_empty() {
        crate::search::index_postings(tx, &m.blob, postings).await?;
    }
    let stored = store_copies(tx, locked, &m.targets, m.delivery, m.blob).await?;
    receipt.stored.extend(stored);
    for entry in &m.delivery.queue {
        receipt.queued.push(queue(tx, entry, &m.blob).await?);
    }
    Ok(())
}

/// Writes a vacation reply mark unless a live one holds the reply back (`false`). The
/// upsert waits for a racing transaction's row and then sees it, so one reply is sent.
async fn claim_mark(tx: &Tx<'_>, mark: &ReplyMark) -> Result<bool, StoreError> {
    let m = mark.normalized();
    let row = tx
        .query_opt(
            "INSERT INTO vacation_replies (account, handle, sender, sent_at, until)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account, handle, sender) DO UPDATE
                 SET sent_at = EXCLUDED.sent_at, until = EXCLUDED.until
                 WHERE vacation_replies.until <= EXCLUDED.sent_at
             RETURNING 1",
            &[&m.account, &m.handle, &m.sender, &m.sent_at, &m.until],
        )
        .await
        .map_err(db)?;
    Ok(row.is_some())
}

impl PgStore {
    pub(crate) async fn reply_marks(&self, account: &str) -> Result<Vec<ReplyMark>, StoreError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT account, handle, sender, sent_at, until FROM vacation_replies
                 WHERE account = $1 ORDER BY handle, sender",
                &[&account.to_lowercase()],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| ReplyMark {
                account: r.get(0),
                handle: r.get(1),
                sender: r.get(2),
                sent_at: r.get(3),
                until: r.get(4),
            })
            .collect())
    }

    pub(crate) async fn put_reply_mark(&self, mark: ReplyMark) -> Result<(), StoreError> {
        let m = mark.normalized();
        let conn = self.conn().await?;
        let written = conn
            .execute(
                "INSERT INTO vacation_replies (account, handle, sender, sent_at, until)
                 SELECT id, $2, $3, $4, $5 FROM accounts WHERE id = $1
                 ON CONFLICT (account, handle, sender) DO UPDATE
                     SET sent_at = EXCLUDED.sent_at, until = EXCLUDED.until",
                &[&m.account, &m.handle, &m.sender, &m.sent_at, &m.until],
            )
            .await
            .map_err(db)?;
        if written == 0 {
            return Err(StoreError::AccountNotFound(m.account));
        }
        Ok(())
    }

    pub(crate) async fn prune_reply_marks(&self, now: i64) -> Result<u64, StoreError> {
        let conn = self.conn().await?;
        conn.execute("DELETE FROM vacation_replies WHERE until <= $1", &[&now])
            .await
            .map_err(db)
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
