//! Messages: append, read by UID range, flags with MODSEQ, copy, move, expunge, change
//! tracking, and the summary cache.
//!
//! Every writer locks the mailbox row first (`mailboxes::lock`), allocates UIDs and the new
//! MODSEQ from it, and writes the counters back before COMMIT: two nodes appending to one
//! mailbox get unique, increasing UIDs.

use std::ops::RangeInclusive;

use certmail_store::shared::{Transfer, normalize_flags, normalize_name, summary_aad};
use certmail_store::{
    BlobId, CopyUid, FlagChange, MailQuota, Mailbox, MessageMeta, NewMessage, StoreError,
    StoreResult,
};

use crate::error::db;
use crate::rows::{self, MESSAGE_COLUMNS, i64_of};
use crate::{PgStore, Tx, blobs, mailboxes, quota};
use certmail_session::Change;

/// Adds a message to a locked mailbox: takes the next UID and counts it. The body must be
/// stored and referenced by the caller.
pub(crate) async fn insert(
    tx: &Tx<'_>,
    mailbox: &mut Mailbox,
    meta: &MessageMeta,
) -> Result<u32, StoreError> {
    let uid = mailbox.uid_next;
    if uid == u32::MAX {
        return Err(StoreError::UidsExhausted(mailbox.name.clone()));
    }
    mailbox.uid_next += 1;
    mailbox.exists += 1;
    mailbox.size += meta.size;
    let statement = tx
        .prepare_cached(
            "INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .map_err(db)?;
    tx.execute(
        &statement,
        &[
            &i64_of(mailbox.id),
            &i64::from(uid),
            &i64_of(meta.modseq),
            &meta.flags,
            &meta.internal_date,
            &i64_of(meta.size),
            &&meta.blob.0[..],
        ],
    )
    .await
    .map_err(db)?;
    Ok(uid)
}

/// Messages of a mailbox with the given UIDs (sorted), in UID order.
async fn select_uids(
    tx: &Tx<'_>,
    mailbox_id: u64,
    uids: &[u32],
) -> Result<Vec<MessageMeta>, StoreError> {
    let uids: Vec<i64> = uids.iter().map(|&u| i64::from(u)).collect();
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)
         ORDER BY uid"
    );
    let statement = tx.prepare_cached(&sql).await.map_err(db)?;
    tx.query(&statement, &[&i64_of(mailbox_id), &uids])
        .await
        .map_err(db)?
        .iter()
        .map(rows::message)
        .collect()
}

/// Removes messages from a locked mailbox, recording them as expunged at `modseq`.
async fn delete(
    tx: &Tx<'_>,
    mailbox: &mut Mailbox,
    gone: &[MessageMeta],
    modseq: u64,
) -> Result<(), StoreError> {
    let uids: Vec<i64> = gone.iter().map(|m| i64::from(m.uid)).collect();
    let id = i64_of(mailbox.id);
    tx.execute(
        "DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)",
        &[&id, &uids],
    )
    .await
    .map_err(db)?;
    tx.execute(
        "INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) u
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq",
        &[&id, &uids, &i64_of(modseq)],
    )
    .await
    .map_err(db)?;
    for meta in gone {
        mailbox.exists = mailbox.exists.saturating_sub(1);
        mailbox.size = mailbox.size.saturating_sub(meta.size);
    }
    Ok(())
}

fn sorted_unique(uids: &[u32]) -> Vec<u32> {
    let mut uids = uids.to_vec();
    uids.sort_unstable();
    uids.dedup();
    uids
}

impl PgStore {
    pub(crate) async fn append(
        &self,
        account: &str,
        mailbox: &str,
        message: NewMessage,
    ) -> Result<(u32, u32, u64), StoreError> {
        let appended =
            (self.append_many(account, mailbox, vec![message], MailQuota::Unlimited)).await?;
        appended
            .into_iter()
            .next()
            .ok_or(StoreError::MessageNotFound)
    }

    /// Appends `messages` in one transaction (RFC 3502: all or none), in order.
    pub(crate) async fn append_many(
        &self,
        account: &str,
        mailbox: &str,
        messages: Vec<NewMessage>,
        quota: MailQuota,
    ) -> Result<Vec<(u32, u32, u64)>, StoreError> {
        let account = account.to_lowercase();
        let name = normalize_name(mailbox)?;
        let mut sealed = Vec::with_capacity(messages.len());
        for message in &messages {
            let postings = self.gram_key.message_postings(&message.body);
            sealed.push((self.seal_body(&message.body)?, postings, message));
        }
        let adding = messages.iter().map(|m| m.body.len() as u64).sum();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        quota::lock(&tx, quota, std::slice::from_ref(&account)).await?;
        if !quota.fits(quota::usage(&tx, quota, &account).await?, adding) {
            return Err(quota::over(&account));
        }
        let Some(mut mbox) = mailboxes::lock(&tx, &account, &name).await? else {
            return Err(StoreError::MailboxNotFound(name));
        };
        let mut appended = Vec::with_capacity(sealed.len());
        let mut changes = Vec::with_capacity(sealed.len());
        for ((blob, body), postings, message) in sealed {
            blobs::store(&tx, &blob, &body, 1).await?;
            crate::search::index_postings(&tx, &blob, postings.as_deref()).await?;
            mbox.highest_modseq += 1;
            let meta = MessageMeta {
                uid: 0,
                modseq: mbox.highest_modseq,
                flags: normalize_flags(&message.flags),
                internal_date: message.internal_date,
                size: message.body.len() as u64,
                blob,
            };
            let uid = insert(&tx, &mut mbox, &meta).await?;
            appended.push((mbox.uid_validity, uid, mbox.highest_modseq));
            let mailbox = mbox.name.clone();
            changes.push(Change::Exists { mailbox, uid });
        }
        mailboxes::save_counters(&tx, &mbox).await?;
        self.notice(&tx, &account, changes).await?;
        self.commit(tx).await?;
        Ok(appended)
    }

    pub(crate) async fn messages(
        &self,
        account: &str,
        mailbox: &str,
        uids: RangeInclusive<u32>,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let mbox = self.existing_mailbox(account, mailbox).await?;
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conn().await?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE mailbox_id = $1 AND uid BETWEEN $2 AND $3 ORDER BY uid"
        );
        let statement = conn.prepare_cached(&sql).await.map_err(db)?;
        conn.query(
            &statement,
            &[
                &i64_of(mbox.id),
                &i64::from(*uids.start()),
                &i64::from(*uids.end()),
            ],
        )
        .await
        .map_err(db)?
        .iter()
        .map(rows::message)
        .collect()
    }

    pub(crate) async fn message_body(
        &self,
        account: &str,
        blob: &BlobId,
    ) -> Result<Vec<u8>, StoreError> {
        let conn = self.conn().await?;
        if !blobs::held_by(&conn, &account.to_lowercase(), blob).await? {
            return Err(StoreError::MessageNotFound);
        }
        self.blob_body(&conn, blob).await
    }

    pub(crate) async fn message_summary(
        &self,
        account: &str,
        blob: &BlobId,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = self.conn().await?;
        if !blobs::held_by(&conn, &account.to_lowercase(), blob).await? {
            return Err(StoreError::MessageNotFound);
        }
        let row = conn
            .query_opt("SELECT summary FROM blobs WHERE id = $1", &[&&blob.0[..]])
            .await
            .map_err(db)?;
        match row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)) {
            Some(sealed) => Ok(Some(self.sealer.open(&summary_aad(blob), &sealed)?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn message_summaries(
        &self,
        account: &str,
        blobs: Vec<BlobId>,
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let conn = self.conn().await?;
        let ids: Vec<&[u8]> = blobs.iter().map(|b| &b.0[..]).collect();
        let found = conn
            .query(
                "SELECT b.id, b.summary FROM blobs b
                 WHERE b.id = ANY($1) AND b.summary IS NOT NULL
                   AND EXISTS (SELECT 1 FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id
                               WHERE m.blob = b.id AND x.account = $2)",
                &[&ids, &account.to_lowercase()],
            )
            .await
            .map_err(db)?;
        let mut sealed = std::collections::HashMap::new();
        for row in &found {
            sealed.insert(rows::blob_of(row.get(0))?, row.get::<_, Vec<u8>>(1));
        }
        blobs
            .iter()
            .map(|blob| match sealed.get(blob) {
                Some(s) => self.sealer.open(&summary_aad(blob), s).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    pub(crate) async fn set_message_summary(
        &self,
        account: &str,
        blob: &BlobId,
        summary: Vec<u8>,
    ) -> Result<(), StoreError> {
        let sealed = self.sealer.seal(&summary_aad(blob), &summary)?;
        let conn = self.conn().await?;
        // One statement: the body may go at any moment, and a summary never outlives it.
        let n = conn
            .execute(
                "UPDATE blobs SET summary = $2 WHERE id = $1
                   AND EXISTS (SELECT 1 FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id
                               WHERE m.blob = $1 AND x.account = $3)",
                &[&&blob.0[..], &sealed, &account.to_lowercase()],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::MessageNotFound);
        }
        Ok(())
    }

    pub(crate) async fn set_flags(
        &self,
        account: &str,
        mailbox: &str,
        change: FlagChange,
    ) -> Result<StoreResult, StoreError> {
        let account = account.to_lowercase();
        let name = normalize_name(mailbox)?;
        let change = change.normalized();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let Some(mut mbox) = mailboxes::lock(&tx, &account, &name).await? else {
            return Err(StoreError::MailboxNotFound(name));
        };
        let new_modseq = mbox.highest_modseq + 1;
        let mut result = StoreResult::default();
        let update = tx
            .prepare_cached(
                "UPDATE messages SET flags = $3, modseq = $4 WHERE mailbox_id = $1 AND uid = $2",
            )
            .await
            .map_err(db)?;
        for mut meta in select_uids(&tx, mbox.id, &change.uids).await? {
            if change.apply(&mut meta, new_modseq, &mut result) {
                tx.execute(
                    &update,
                    &[
                        &i64_of(mbox.id),
                        &i64::from(meta.uid),
                        &meta.flags,
                        &i64_of(new_modseq),
                    ],
                )
                .await
                .map_err(db)?;
            }
        }
        if result.updated.iter().any(|u| u.modseq == new_modseq) {
            mbox.highest_modseq = new_modseq;
            mailboxes::save_counters(&tx, &mbox).await?;
            let changed = result.updated.iter().filter(|u| u.modseq == new_modseq);
            let flags = changed.map(|u| Change::Flags {
                mailbox: mbox.name.clone(),
                uid: u.uid,
                modseq: new_modseq,
            });
            self.notice(&tx, &account, flags.collect()).await?;
            self.commit(tx).await?;
        }
        // Otherwise nothing changed: the transaction rolls back when dropped.
        Ok(result)
    }

    /// COPY and MOVE: one transaction adding to `to` and, for a move, expunging from `from`.
    pub(crate) async fn copy(&self, transfer: Transfer) -> Result<CopyUid, StoreError> {
        let (account, from, to) = (&transfer.account, &transfer.from, &transfer.to);
        let (remove_source, same) = (transfer.remove_source, transfer.within_one_mailbox());
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        quota::lock(&tx, transfer.quota, std::slice::from_ref(account)).await?;
        let used = quota::usage(&tx, transfer.quota, account).await?;
        let wanted = [
            (account.clone(), from.clone()),
            (account.clone(), to.clone()),
        ];
        let locked = mailboxes::lock_many(&tx, &wanted).await?;
        let find = |name: &str| {
            locked
                .iter()
                .find(|(_, m)| m.name == name)
                .map(|(_, m)| m.clone())
                .ok_or_else(|| StoreError::MailboxNotFound(name.to_owned()))
        };
        let mut source = find(from)?;
        let mut target = find(to)?;
        target.highest_modseq += 1;
        source.highest_modseq += 1;
        let originals = select_uids(&tx, source.id, &transfer.uids).await?;
        let adding = originals.iter().map(|m| m.size).sum();
        if !remove_source && !transfer.quota.fits(used, adding) {
            return Err(quota::over(account));
        }
        let mut pairs = Vec::with_capacity(originals.len());
        for meta in &originals {
            let copy = MessageMeta {
                modseq: target.highest_modseq,
                ..meta.clone()
            };
            let new_uid = insert(&tx, &mut target, &copy).await?;
            pairs.push((meta.uid, new_uid));
        }
        if !pairs.is_empty() {
            if remove_source && same {
                let modseq = target.highest_modseq;
                delete(&tx, &mut target, &originals, modseq).await?;
            } else if remove_source {
                let modseq = source.highest_modseq;
                delete(&tx, &mut source, &originals, modseq).await?;
                mailboxes::save_counters(&tx, &source).await?;
            } else {
                let mut counts = std::collections::BTreeMap::<BlobId, i64>::new();
                for meta in &originals {
                    *counts.entry(meta.blob).or_default() += 1;
                }
                for (blob, n) in counts {
                    blobs::add_refs(&tx, &blob, n).await?;
                }
            }
            mailboxes::save_counters(&tx, &target).await?;
            let highest = pairs.iter().map(|&(_, new)| new).max().unwrap_or_default();
            let mut changes = vec![Change::Exists {
                mailbox: target.name.clone(),
                uid: highest,
            }];
            if remove_source {
                changes.push(Change::Expunged {
                    mailbox: source.name.clone(),
                    uids: originals.iter().map(|m| m.uid).collect(),
                });
            }
            self.notice(&tx, account, changes).await?;
            self.commit(tx).await?;
        }
        Ok((target.uid_validity, pairs))
    }

    pub(crate) async fn expunge(
        &self,
        account: &str,
        mailbox: &str,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError> {
        let account = account.to_lowercase();
        let name = normalize_name(mailbox)?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let Some(mut mbox) = mailboxes::lock(&tx, &account, &name).await? else {
            return Err(StoreError::MailboxNotFound(name));
        };
        let candidates = match uids {
            Some(uids) => select_uids(&tx, mbox.id, &sorted_unique(uids)).await?,
            None => {
                let sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = $1 ORDER BY uid"
                );
                tx.query(&sql, &[&i64_of(mbox.id)])
                    .await
                    .map_err(db)?
                    .iter()
                    .map(rows::message)
                    .collect::<Result<_, _>>()?
            }
        };
        let gone: Vec<MessageMeta> = candidates
            .into_iter()
            .filter(|m| m.has_flag("\\Deleted"))
            .collect();
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        let modseq = mbox.highest_modseq + 1;
        delete(&tx, &mut mbox, &gone, modseq).await?;
        let bodies: Vec<BlobId> = gone.iter().map(|m| m.blob).collect();
        blobs::release_all(&tx, &bodies).await?;
        mbox.highest_modseq = modseq;
        mailboxes::save_counters(&tx, &mbox).await?;
        let uids: Vec<u32> = gone.iter().map(|m| m.uid).collect();
        let expunged = Change::Expunged {
            mailbox: mbox.name.clone(),
            uids: uids.clone(),
        };
        self.notice(&tx, &account, vec![expunged]).await?;
        self.commit(tx).await?;
        Ok(uids)
    }

    pub(crate) async fn expunged_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<u32>, StoreError> {
        let mbox = self.existing_mailbox(account, mailbox).await?;
        let conn = self.conn().await?;
        conn.query(
            "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid",
            &[&i64_of(mbox.id), &i64_of(modseq)],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|row| rows::u32_of("uid", row.get(0)))
        .collect()
    }

    pub(crate) async fn changed_since(
        &self,
        account: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let mbox = self.existing_mailbox(account, mailbox).await?;
        let conn = self.conn().await?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = $1 AND modseq > $2
             ORDER BY uid"
        );
        conn.query(&sql, &[&i64_of(mbox.id), &i64_of(modseq)])
            .await
            .map_err(db)?
            .iter()
            .map(rows::message)
            .collect()
    }

    pub(crate) async fn account_usage(&self, account: &str) -> Result<u64, StoreError> {
        let conn = self.conn().await?;
        quota::usage_of(&conn, &account.to_lowercase()).await
    }
}
