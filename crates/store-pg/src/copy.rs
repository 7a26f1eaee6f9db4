//! [`RecordCopy`] for PostgreSQL: counts per kind in one statement, sealed bodies as
//! stored, and imports that keep UIDs, MODSEQs, queue ids and audit times. One account is
//! one transaction; a body, a queue entry and a page of audit events are one each.

use std::collections::BTreeMap;

use certmail_store::copy::SealedBody;
use certmail_store::copy::{AccountRecords, MailboxRecords, RecordCopy, RecordCounts, RecordKind};
use certmail_store::scripts::script_aad;
use certmail_store::shared::open_urlauth_key;
use certmail_store::{AuditEvent, BlobId, QueueEntry, SpecialUse, StoreError};
use tokio_postgres::types::Json;

use crate::error::db;
use crate::rows::{self, i64_of};
use crate::{PgStore, Tx, blobs};

/// The count of each kind, in the order of [`COUNTED`].
const COUNT_SQL: &str = "SELECT
    (SELECT count(*) FROM blobs),
    (SELECT coalesce(sum(refs), 0)::bigint FROM blobs),
    (SELECT count(*) FROM accounts),
    (SELECT count(*) FROM addresses),
    (SELECT count(*) FROM cert_bindings),
    (SELECT count(*) FROM devices WHERE account IN (SELECT id FROM accounts)),
    (SELECT count(*) FROM mailboxes),
    (SELECT count(*) FROM subscriptions),
    (SELECT count(*) FROM messages),
    (SELECT count(*) FROM expunged),
    (SELECT count(*) FROM mailbox_acl),
    (SELECT count(*) FROM shared_seen),
    (SELECT count(*) FROM sieve_scripts),
    (SELECT count(*) FROM sieve_scripts WHERE active),
    (SELECT count(*) FROM aliases),
    (SELECT count(*) FROM queue),
    (SELECT count(*) FROM audit),
    (SELECT count(*) FROM vacation_replies),
    (SELECT count(*) FROM urlauth_keys)";

/// The kinds [`COUNT_SQL`] counts, column by column: all of them, in their order (a new
/// kind needs its column there).
const COUNTED: [RecordKind; 19] = RecordKind::ALL;

impl PgStore {
    /// The rows `sql` selects for the mailbox `$1`.
    async fn rows_of_mailbox(
        &self,
        sql: &str,
        mailbox_id: u64,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let conn = self.conn().await?;
        conn.query(sql, &[&i64_of(mailbox_id)]).await.map_err(db)
    }
}

#[async_trait::async_trait]
impl RecordCopy for PgStore {
    async fn record_counts(&self) -> Result<RecordCounts, StoreError> {
        let conn = self.conn().await?;
        let row = conn.query_one(COUNT_SQL, &[]).await.map_err(db)?;
        let mut counts = RecordCounts::default();
        for (i, kind) in COUNTED.iter().enumerate() {
            counts.set(*kind, rows::u64_of(kind.label(), row.get(i))?);
        }
        Ok(counts)
    }

    async fn body_ids_after(
        &self,
        after: Option<BlobId>,
        limit: usize,
    ) -> Result<Vec<BlobId>, StoreError> {
        let conn = self.conn().await?;
        let after = after.map(|a| a.0.to_vec());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let found = conn
            .query(
                "SELECT id FROM blobs WHERE $1::bytea IS NULL OR id > $1 ORDER BY id LIMIT $2",
                &[&after, &limit],
            )
            .await
            .map_err(db)?;
        found.iter().map(|r| rows::blob_of(r.get(0))).collect()
    }

    async fn sealed_body(&self, id: BlobId) -> Result<Option<SealedBody>, StoreError> {
        let conn = self.conn().await?;
        let found = blobs::read_sealed(&conn, &id).await?;
        Ok(found.map(|(sealed, summary)| SealedBody {
            id,
            sealed,
            summary,
        }))
    }

    async fn expunged_in(&self, mailbox_id: u64) -> Result<Vec<(u32, u64)>, StoreError> {
        let found = self
            .rows_of_mailbox(
                "SELECT uid, modseq FROM expunged WHERE mailbox_id = $1 ORDER BY uid",
                mailbox_id,
            )
            .await?;
        found
            .iter()
            .map(|r| {
                Ok((
                    rows::u32_of("uid", r.get(0))?,
                    rows::u64_of("modseq", r.get(1))?,
                ))
            })
            .collect()
    }

    async fn seen_sets_in(&self, mailbox_id: u64) -> Result<Vec<(String, Vec<u32>)>, StoreError> {
        let found = self
            .rows_of_mailbox(
                "SELECT reader, array_agg(uid ORDER BY uid) FROM shared_seen
                 WHERE mailbox_id = $1 GROUP BY reader ORDER BY reader",
                mailbox_id,
            )
            .await?;
        let mut out = Vec::new();
        for row in found {
            let uids: Vec<i64> = row.get(1);
            let uids: Result<Vec<u32>, _> =
                uids.into_iter().map(|u| rows::u32_of("uid", u)).collect();
            out.push((row.get(0), uids?));
        }
        Ok(out)
    }

    async fn urlauth_keys_in(
        &self,
        mailbox_id: u64,
    ) -> Result<Vec<(String, [u8; 32])>, StoreError> {
        let found = self
            .rows_of_mailbox(
                "SELECT account, sealed FROM urlauth_keys WHERE mailbox_id = $1 ORDER BY account",
                mailbox_id,
            )
            .await?;
        found
            .iter()
            .map(|r| {
                let user: String = r.get(0);
                let key = open_urlauth_key(&self.sealer, mailbox_id, &user, r.get(1))?;
                Ok((user, key))
            })
            .collect()
    }

    async fn import_body(&self, body: SealedBody) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        blobs::store(&tx, &body.id, &body.sealed, 0).await?;
        if let Some(summary) = &body.summary {
            tx.execute(
                "UPDATE blobs SET summary = $2 WHERE id = $1",
                &[&&body.id.0[..], summary],
            )
            .await
            .map_err(db)?;
        }
        self.commit(tx).await
    }

    async fn import_account(&self, records: AccountRecords) -> Result<(), StoreError> {
        let sealed = self.seal_account(&records.account)?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        write_account(&tx, &records, &sealed).await?;
        let mut refs = BTreeMap::<BlobId, i64>::new();
        for mailbox in &records.mailboxes {
            write_mailbox(&tx, &records.account.id, mailbox).await?;
            for message in &mailbox.messages {
                *refs.entry(message.blob).or_default() += 1;
            }
        }
        for (blob, n) in refs {
            blobs::add_refs(&tx, &blob, n).await?;
        }
        self.write_scripts(&tx, &records).await?;
        self.commit(tx).await
    }

    async fn import_queue_entry(&self, entry: QueueEntry) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        tx.execute(
            "INSERT INTO queue (id, sender, recipients, blob, created_at, next_attempt,
                                envelope_meta)
             OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &i64_of(entry.id),
                &entry.from,
                &Json(&entry.recipients),
                &&entry.blob.0[..],
                &entry.created_at,
                &entry.next_attempt,
                &Json(&entry.envelope_meta),
            ],
        )
        .await
        .map_err(db)?;
        blobs::add_refs(&tx, &entry.blob, 1).await?;
        // New entries take ids after the copied ones.
        tx.execute(
            "SELECT setval(pg_get_serial_sequence('queue', 'id'), max(id)) FROM queue",
            &[],
        )
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    async fn import_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let statement = tx
            .prepare(
                "INSERT INTO audit (at_ms, account, kind, ip, fields) VALUES ($1, $2, $3, $4, $5)",
            )
            .await
            .map_err(db)?;
        for e in &events {
            tx.execute(
                &statement,
                &[&e.time, &e.account, &e.kind, &e.ip, &Json(&e.fields)],
            )
            .await
            .map_err(db)?;
        }
        self.commit(tx).await
    }
}

impl PgStore {
    async fn write_scripts(&self, tx: &Tx<'_>, r: &AccountRecords) -> Result<(), StoreError> {
        let account = r.account.id.as_str();
        for script in &r.scripts {
            let sealed = self.sealer.seal(
                &script_aad(account, &script.name),
                script.content.as_bytes(),
            )?;
            tx.execute(
                "INSERT INTO sieve_scripts (account, name, sealed, active) VALUES ($1, $2, $3, $4)",
                &[&account, &script.name, &sealed, &script.active],
            )
            .await
            .map_err(db)?;
        }
        Ok(())
    }
}

/// The account row, its addresses, bindings, devices and subscriptions.
async fn write_account(tx: &Tx<'_>, r: &AccountRecords, sealed: &[u8]) -> Result<(), StoreError> {
    let id = r.account.id.as_str();
    tx.execute(
        "INSERT INTO accounts (id, sealed) VALUES ($1, $2)",
        &[&id, &sealed],
    )
    .await
    .map_err(db)?;
    for address in &r.account.addresses {
        tx.execute(
            "INSERT INTO addresses (address, account) VALUES ($1, $2)",
            &[address, &id],
        )
        .await
        .map_err(db)?;
    }
    for b in &r.bindings {
        tx.execute(
            "INSERT INTO cert_bindings (account, spki, issuer_dn, subject_dn, serial_hex,
                                        not_after, bound_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &id,
                &&b.spki_sha256[..],
                &b.issuer_dn,
                &b.subject_dn,
                &b.serial_hex,
                &b.not_after,
                &b.bound_at,
            ],
        )
        .await
        .map_err(db)?;
    }
    for d in &r.devices {
        tx.execute(
            "INSERT INTO devices (account, spki, network, first_seen, last_seen, totp_at, client)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &id,
                &&d.spki_sha256[..],
                &d.network,
                &d.first_seen,
                &d.last_seen,
                &d.totp_at,
                &d.client,
            ],
        )
        .await
        .map_err(db)?;
    }
    for name in &r.subscriptions {
        tx.execute(
            "INSERT INTO subscriptions (account, name) VALUES ($1, $2)",
            &[&id, name],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// One mailbox with its counters as they were, its messages, expunged UIDs, ACL and seen
/// sets; the store-wide UIDVALIDITY counter is raised past its UIDVALIDITY.
async fn write_mailbox(tx: &Tx<'_>, account: &str, m: &MailboxRecords) -> Result<(), StoreError> {
    let b = &m.mailbox;
    let special = b.special_use.map(SpecialUse::as_attr);
    let row = tx
        .query_one(
            "INSERT INTO mailboxes (account, name, uid_validity, uid_next, highest_modseq,
                                    special_use, message_count, total_size)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &account,
                &b.name,
                &i64::from(b.uid_validity),
                &i64::from(b.uid_next),
                &i64_of(b.highest_modseq),
                &special,
                &i64::from(b.exists),
                &i64_of(b.size),
            ],
        )
        .await
        .map_err(db)?;
    let id: i64 = row.get(0);
    tx.execute(
        "UPDATE counters SET value = greatest(value, $1) WHERE name = 'uid_validity'",
        &[&(i64::from(b.uid_validity) + 1)],
    )
    .await
    .map_err(db)?;
    let insert = tx
        .prepare(
            "INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .map_err(db)?;
    for msg in &m.messages {
        tx.execute(
            &insert,
            &[
                &id,
                &i64::from(msg.uid),
                &i64_of(msg.modseq),
                &msg.flags,
                &msg.internal_date,
                &i64_of(msg.size),
                &&msg.blob.0[..],
            ],
        )
        .await
        .map_err(db)?;
    }
    write_mailbox_extras(tx, id, m).await
}

/// A mailbox's expunged UIDs, ACL entries and readers' seen sets.
async fn write_mailbox_extras(tx: &Tx<'_>, id: i64, m: &MailboxRecords) -> Result<(), StoreError> {
    let (uids, modseqs): (Vec<i64>, Vec<i64>) = m
        .expunged
        .iter()
        .map(|(u, s)| (i64::from(*u), i64_of(*s)))
        .unzip();
    tx.execute(
        "INSERT INTO expunged (mailbox_id, uid, modseq)
         SELECT $1, u, s FROM unnest($2::bigint[], $3::bigint[]) AS t(u, s)",
        &[&id, &uids, &modseqs],
    )
    .await
    .map_err(db)?;
    for entry in &m.acl {
        tx.execute(
            "INSERT INTO mailbox_acl (mailbox_id, identifier, rights) VALUES ($1, $2, $3)",
            &[&id, &entry.identifier, &entry.rights.to_string()],
        )
        .await
        .map_err(db)?;
    }
    for (reader, seen) in &m.seen {
        let seen: Vec<i64> = seen.iter().map(|u| i64::from(*u)).collect();
        tx.execute(
            "INSERT INTO shared_seen (mailbox_id, reader, uid)
             SELECT $1, $2, u FROM unnest($3::bigint[]) u ON CONFLICT DO NOTHING",
            &[&id, reader, &seen],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}
