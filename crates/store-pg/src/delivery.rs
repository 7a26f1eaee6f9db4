//! Delivery of one message to local mailboxes and the outbound queue, in one transaction:
//! the body once, one message per recipient mailbox, one queue entry per remote batch,
//! and the body's reference count raised by all of them; with the messages the delivery
//! causes, a vacation reply checked against and recorded in `vacation_replies`, and each
//! Sieve redirect counted against its account's daily cap in `redirect_days`.

use certmail_store::redirects::counting_order;
use certmail_store::search_index::GramHash;
use certmail_store::shared::{DeliveryTarget, SealedMessage, Settled};
use certmail_store::{
    BlobId, DeliveredCopy, Delivery, DeliveryReceipt, INBOX, Mailbox, QueueEntry, Redirect,
    RedirectDay, ReplyMark, StoreError,
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
        if main.is_empty() && outgoing.iter().all(SealedMessage::is_empty) {
            return Ok(receipt);
        }
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // Locks in one order for every delivery: reply marks, redirect counters, quotas,
        // mailboxes.
        let mut messages = vec![(&main, main_postings.as_deref())];
        let outgoing = outgoing.iter().zip(&outgoing_postings);
        for (i, (out, (sealed, postings))) in delivery.outgoing.iter().zip(outgoing).enumerate() {
            if let Some(mark) = &out.once
                && !claim_mark(&tx, mark).await?
            {
                receipt.held_back.push(i);
                continue;
            }
            messages.push((sealed, postings.as_deref()));
        }
        let settled = settle(&tx, &messages, &mut receipt).await?;
        let recipients: Vec<String> = settled[0]
            .targets
            .iter()
            .map(|t| t.account.clone())
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
        for t in settled.iter().flat_map(|s| &s.targets) {
            wanted.push((t.account.clone(), t.mailbox.clone()));
            wanted.push((t.account.clone(), INBOX.to_owned()));
        }
        let mut locked = mailboxes::lock_many(&tx, &wanted).await?;
        for ((m, postings), settled) in messages.iter().zip(&settled) {
            store_message(&tx, &mut locked, m, settled, *postings, &mut receipt).await?;
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

/// Counts the redirects of every message to be stored (the delivered one first) against
/// their accounts' caps, all in account order (so two deliveries lock the counters in one
/// order); their outcomes go into `receipt`, message by message. What each message then
/// stores, in the order of `messages`.
async fn settle<'d>(
    tx: &Tx<'_>,
    messages: &[(&SealedMessage<'d>, Option<&[GramHash]>)],
    receipt: &mut DeliveryReceipt,
) -> Result<Vec<Settled<'d>>, StoreError> {
    let all: Vec<(&Redirect, i64)> = (messages.iter())
        .flat_map(|(m, _)| {
            m.delivery
                .redirects
                .iter()
                .map(|r| (r, m.delivery.internal_date))
        })
        .collect();
    let just: Vec<&Redirect> = all.iter().map(|(r, _)| *r).collect();
    let mut outcomes = vec![None; all.len()];
    for i in counting_order(&just) {
        let (redirect, at) = all[i];
        let row = tx
            .query_one(
                "INSERT INTO redirect_days (account, day, count) VALUES ($1, $2, 1)
                 ON CONFLICT (account) DO UPDATE SET
                     count = CASE WHEN redirect_days.day >= EXCLUDED.day
                                  THEN redirect_days.count + 1 ELSE 1 END,
                     day = greatest(redirect_days.day, EXCLUDED.day)
                 RETURNING day, count",
                &[&redirect.account.to_lowercase(), &RedirectDay::of(at)],
            )
            .await
            .map_err(db)?;
        let counter = RedirectDay {
            day: row.get(0),
            count: rows::u64_of("redirect count", row.get(1))?,
        };
        outcomes[i] = Some(counter.outcome(redirect));
    }
    let mut outcomes = outcomes.into_iter().flatten();
    let mut settled = Vec::with_capacity(messages.len());
    for (m, _) in messages {
        let mine: Vec<_> = outcomes.by_ref().take(m.delivery.redirects.len()).collect();
        let carried_out: Vec<bool> = mine.iter().map(|o| o.carried_out).collect();
        receipt.redirects.extend(mine);
        settled.push(m.settled(&carried_out));
    }
    Ok(settled)
}

/// Stores one message's body, copies and queue entries, adding them to `receipt`.
async fn store_message(
    tx: &Tx<'_>,
    locked: &mut [(String, Mailbox)],
    m: &SealedMessage<'_>,
    settled: &Settled<'_>,
    postings: Option<&[GramHash]>,
    receipt: &mut DeliveryReceipt,
) -> Result<(), StoreError> {
    if settled.refs() == 0 {
        return Ok(());
    }
    let refs = i64::try_from(settled.refs()).unwrap_or(i64::MAX);
    blobs::store(tx, &m.blob, &m.sealed, refs).await?;
    if !settled.targets.is_empty() {
        crate::search::index_postings(tx, &m.blob, postings).await?;
    }
    let stored = store_copies(tx, locked, &settled.targets, m.delivery, m.blob).await?;
    receipt.stored.extend(stored);
    for entry in &settled.queue {
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
