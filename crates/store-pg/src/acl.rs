//! Access control lists (`mailbox_acl`) and per-reader `\Seen` (`shared_seen`), keyed by
//! mailbox id: they follow a mailbox through renames and go with it (ON DELETE CASCADE).
//! A change to a reader's `\Seen` gives the messages whose mark changed a new MODSEQ.

use certmail_store::acl::{AclChange, AclUpdate, SeenMarks, apply_change, normalize_identifier};
use certmail_store::shared::normalize_name;
use certmail_store::{AclEntry, Rights, SharedMailbox, StoreError};

use certmail_session::Change;

use crate::error::db;
use crate::rows::i64_of;
use crate::{PgStore, mailboxes};

/// The id of an existing mailbox, or `MailboxNotFound`.
pub(crate) async fn mailbox_id(
    conn: &crate::Conn,
    owner: &str,
    mailbox: &str,
) -> Result<i64, StoreError> {
    let name = normalize_name(mailbox)?;
    let row = conn
        .query_opt(
            "SELECT id FROM mailboxes WHERE account = $1 AND name = $2",
            &[&owner.to_lowercase(), &name],
        )
        .await
        .map_err(db)?;
    row.map(|r| r.get(0))
        .ok_or(StoreError::MailboxNotFound(name))
}

fn rights_of(text: &str) -> Result<Rights, StoreError> {
    Rights::parse(text).map_err(|e| StoreError::Corrupt {
        record: "mailbox_acl".into(),
        reason: e.to_string(),
    })
}

impl PgStore {
    /// [`certmail_store::MailboxStore::change_acl`]: in one transaction that holds the
    /// mailbox's row lock, so two changes at once (on any nodes) cannot both pass the cap
    /// or lose each other's `+rights`.
    pub(crate) async fn change_acl(
        &self,
        owner: &str,
        mailbox: &str,
        c: AclChange,
    ) -> Result<AclUpdate, StoreError> {
        let identifier = normalize_identifier(&c.identifier)?;
        let name = normalize_name(mailbox)?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let id: i64 = tx
            .query_opt(
                "SELECT id FROM mailboxes WHERE account = $1 AND name = $2 FOR UPDATE",
                &[&owner.to_lowercase(), &name],
            )
            .await
            .map_err(db)?
            .map(|r| r.get(0))
            .ok_or(StoreError::MailboxNotFound(name))?;
        let rows = tx
            .query(
                "SELECT identifier, rights FROM mailbox_acl WHERE mailbox_id = $1",
                &[&id],
            )
            .await
            .map_err(db)?;
        let entries = rows
            .iter()
            .map(|row| {
                Ok(AclEntry {
                    identifier: row.get(0),
                    rights: rights_of(row.get(1))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let update = apply_change(&entries, &identifier, c.how, c.rights, c.max_entries);
        match update {
            AclUpdate::Full { .. } => return Ok(update),
            AclUpdate::Set(new) if new.is_empty() => tx
                .execute(
                    "DELETE FROM mailbox_acl WHERE mailbox_id = $1 AND identifier = $2",
                    &[&id, &identifier],
                )
                .await
                .map_err(db)?,
            AclUpdate::Set(new) => tx
                .execute(
                    "INSERT INTO mailbox_acl (mailbox_id, identifier, rights) VALUES ($1, $2, $3)
                     ON CONFLICT (mailbox_id, identifier) DO UPDATE SET rights = EXCLUDED.rights",
                    &[&id, &identifier, &new.to_string()],
                )
                .await
                .map_err(db)?,
        };
        self.commit(tx).await?;
        Ok(update)
    }

    pub(crate) async fn acl(
        &self,
        owner: &str,
        mailbox: &str,
    ) -> Result<Vec<AclEntry>, StoreError> {
        let conn = self.conn().await?;
        let id = mailbox_id(&conn, owner, mailbox).await?;
        let rows = conn
            .query(
                "SELECT identifier, rights FROM mailbox_acl WHERE mailbox_id = $1
                 ORDER BY identifier",
                &[&id],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(AclEntry {
                    identifier: row.get(0),
                    rights: rights_of(row.get(1))?,
                })
            })
            .collect()
    }

    pub(crate) async fn shared_with(
        &self,
        identifiers: &[String],
    ) -> Result<Vec<SharedMailbox>, StoreError> {
        let wanted: Vec<String> = identifiers
            .iter()
            .filter_map(|i| normalize_identifier(i).ok())
            .collect();
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT m.account, m.name, a.identifier, a.rights
                 FROM mailbox_acl a JOIN mailboxes m ON m.id = a.mailbox_id
                 WHERE a.identifier = ANY($1)
                 ORDER BY m.account, m.name, a.identifier",
                &[&wanted],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(SharedMailbox {
                    owner: row.get(0),
                    mailbox: row.get(1),
                    identifier: row.get(2),
                    rights: rights_of(row.get(3))?,
                })
            })
            .collect()
    }

    pub(crate) async fn seen_by(
        &self,
        owner: &str,
        mailbox: &str,
        reader: &str,
    ) -> Result<Vec<u32>, StoreError> {
        let conn = self.conn().await?;
        let id = mailbox_id(&conn, owner, mailbox).await?;
        let rows = conn
            .query(
                "SELECT uid FROM shared_seen WHERE mailbox_id = $1 AND reader = $2 ORDER BY uid",
                &[&id, &reader.to_lowercase()],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| crate::rows::u32_of("seen uid", row.get(0)))
            .collect()
    }

    /// [`certmail_store::MailboxStore::set_seen_by`]: the reader's set and the MODSEQ of
    /// the messages whose mark changed, in one transaction that holds the mailbox's row
    /// lock; the other nodes hear of it as a flag change.
    pub(crate) async fn set_seen_by(
        &self,
        owner: &str,
        mailbox: &str,
        marks: SeenMarks<'_>,
    ) -> Result<(), StoreError> {
        let SeenMarks { reader, uids, seen } = marks;
        let owner = owner.to_lowercase();
        let name = normalize_name(mailbox)?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let Some(mut mbox) = mailboxes::lock(&tx, &owner, &name).await? else {
            return Err(StoreError::MailboxNotFound(name));
        };
        let id = i64_of(mbox.id);
        let uids: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
        // Only the rows that changed come back: the marks that move a MODSEQ.
        let sql = if seen {
            "INSERT INTO shared_seen (mailbox_id, reader, uid) SELECT $1, $2, u FROM unnest($3::bigint[]) u
             ON CONFLICT DO NOTHING RETURNING uid"
        } else {
            "DELETE FROM shared_seen WHERE mailbox_id = $1 AND reader = $2 AND uid = ANY($3)
             RETURNING uid"
        };
        let changed: Vec<i64> = tx
            .query(sql, &[&id, &reader.to_lowercase(), &uids])
            .await
            .map_err(db)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let new_modseq = mbox.highest_modseq + 1;
        let moved = tx
            .query(
                "UPDATE messages SET modseq = $3 WHERE mailbox_id = $1 AND uid = ANY($2)
                 RETURNING uid",
                &[&id, &changed, &i64_of(new_modseq)],
            )
            .await
            .map_err(db)?;
        if !moved.is_empty() {
            mbox.highest_modseq = new_modseq;
            mailboxes::save_counters(&tx, &mbox).await?;
            let flags = moved
                .iter()
                .map(|row| {
                    Ok(Change::Flags {
                        mailbox: mbox.name.clone(),
                        uid: crate::rows::u32_of("seen uid", row.get(0))?,
                        modseq: new_modseq,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            self.notice(&tx, &owner, flags).await?;
        }
        self.commit(tx).await
    }
}

/// Drops every entry naming a deleted account and its seen sets (a new account with the
/// same id must not inherit its access); inside the account's delete transaction.
pub(crate) async fn forget_grantee(tx: &crate::Tx<'_>, id: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM mailbox_acl WHERE identifier = $1", &[&id])
        .await
        .map_err(db)?;
    tx.execute("DELETE FROM shared_seen WHERE reader = $1", &[&id])
        .await
        .map_err(db)?;
    Ok(())
}
