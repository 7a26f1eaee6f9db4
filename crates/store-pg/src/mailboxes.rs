//! Mailboxes: create (with parents), rename (with children; the INBOX case), delete,
//! subscribe; and the row locks every message writer takes.
//!
//! Hierarchy changes of one account are serialised by a transaction-scoped advisory lock
//! (the sled store's hierarchy mutex, cluster-wide); the `(account, name)` unique key
//! backs it up.

use certmail_store::shared::{ancestors, normalize_name, rename_names, uid_validity_seed};
use certmail_store::{INBOX, MAILBOX_DELIMITER, Mailbox, SpecialUse, StoreError};

use crate::error::db;
use crate::rows::{self, MAILBOX_COLUMNS, i64_of};
use crate::{PgStore, Tx, advisory_lock, blobs, lock_ns, row_exists};
use certmail_session::Change;

/// Reads one mailbox, locking its row until the transaction ends.
pub(crate) async fn lock(
    tx: &Tx<'_>,
    account: &str,
    name: &str,
) -> Result<Option<Mailbox>, StoreError> {
    let sql = format!(
        "SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE account = $1 AND name = $2 FOR UPDATE"
    );
    let statement = tx.prepare_cached(&sql).await.map_err(db)?;
    match tx
        .query_opt(&statement, &[&account, &name])
        .await
        .map_err(db)?
    {
        Some(row) => Ok(Some(rows::mailbox(&row)?)),
        None => Ok(None),
    }
}

/// Reads and locks several mailboxes, given as (account, name) pairs, in one statement in
/// id order (so concurrent writers never wait on each other in a cycle). Returns the
/// (account, mailbox) pairs found; absent ones are simply missing.
pub(crate) async fn lock_many(
    tx: &Tx<'_>,
    wanted: &[(String, String)],
) -> Result<Vec<(String, Mailbox)>, StoreError> {
    let accounts: Vec<&str> = wanted.iter().map(|(a, _)| a.as_str()).collect();
    let names: Vec<&str> = wanted.iter().map(|(_, n)| n.as_str()).collect();
    let sql = format!(
        "SELECT account, {MAILBOX_COLUMNS} FROM mailboxes
         WHERE (account, name) IN (SELECT * FROM unnest($1::text[], $2::text[]))
         ORDER BY id FOR UPDATE"
    );
    let found = tx.query(&sql, &[&accounts, &names]).await.map_err(db)?;
    found
        .iter()
        .map(|row| {
            let account: String = row.get(0);
            // The mailbox columns follow the account.
            let mailbox = Mailbox {
                id: rows::u64_of("mailbox id", row.get(1))?,
                name: row.get(2),
                uid_validity: rows::u32_of("uid_validity", row.get(3))?,
                uid_next: rows::u32_of("uid_next", row.get(4))?,
                highest_modseq: rows::u64_of("highest_modseq", row.get(5))?,
                special_use: row
                    .get::<_, Option<String>>(6)
                    .as_deref()
                    .and_then(SpecialUse::from_attr),
                subscribed: row.get(7),
                exists: rows::u32_of("message_count", row.get(8))?,
                size: rows::u64_of("total_size", row.get(9))?,
            };
            Ok((account, mailbox))
        })
        .collect()
}

/// Writes back a locked mailbox's counters (UIDNEXT, HIGHESTMODSEQ, count, size).
pub(crate) async fn save_counters(tx: &Tx<'_>, mailbox: &Mailbox) -> Result<(), StoreError> {
    let statement = tx
        .prepare_cached(
            "UPDATE mailboxes SET uid_next = $2, highest_modseq = $3, message_count = $4,
                    total_size = $5 WHERE id = $1",
        )
        .await
        .map_err(db)?;
    tx.execute(
        &statement,
        &[
            &i64_of(mailbox.id),
            &i64::from(mailbox.uid_next),
            &i64_of(mailbox.highest_modseq),
            &i64::from(mailbox.exists),
            &i64_of(mailbox.size),
        ],
    )
    .await
    .map_err(db)?;
    Ok(())
}

/// Creates one mailbox row (the caller checked it is absent) with a fresh UIDVALIDITY
/// from the store-wide counter, whose floor is the clock (as in sled).
async fn create_one(
    tx: &Tx<'_>,
    account: &str,
    name: &str,
    special_use: Option<SpecialUse>,
) -> Result<Mailbox, StoreError> {
    let seed = i64_of(uid_validity_seed());
    let row = tx
        .query_one(
            "UPDATE counters SET value = greatest(value, $1) + 1 WHERE name = 'uid_validity'
             RETURNING value - 1",
            &[&seed],
        )
        .await
        .map_err(db)?;
    let validity = rows::u64_of("uid_validity counter", row.get(0))?;
    // Never 0 (RFC 3501 §2.3.1.1: nz-number); wraps only after 4e9 creations.
    let uid_validity = (validity % u64::from(u32::MAX)).max(1) as u32;
    let special = special_use.map(SpecialUse::as_attr);
    let row = tx
        .query_one(
            "INSERT INTO mailboxes (account, name, uid_validity, uid_next, highest_modseq,
                                    special_use)
             VALUES ($1, $2, $3, 1, 1, $4) RETURNING id",
            &[&account, &name, &i64::from(uid_validity), &special],
        )
        .await
        .map_err(db)?;
    // A new INBOX starts subscribed; any other name keeps what the list says.
    if name == INBOX {
        tx.execute(
            "INSERT INTO subscriptions (account, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&account, &name],
        )
        .await
        .map_err(db)?;
    }
    let subscribed = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE account = $1 AND name = $2)",
            &[&account, &name],
        )
        .await
        .map_err(db)?
        .get(0);
    Ok(Mailbox {
        id: rows::u64_of("mailbox id", row.get(0))?,
        name: name.to_owned(),
        uid_validity,
        uid_next: 1,
        highest_modseq: 1,
        special_use,
        subscribed,
        exists: 0,
        size: 0,
    })
}

/// Creates the INBOX of a new account (inside its creation transaction).
pub(crate) async fn create_inbox(tx: &Tx<'_>, account: &str) -> Result<Mailbox, StoreError> {
    create_one(tx, account, INBOX, None).await
}

async fn exists(tx: &Tx<'_>, account: &str, name: &str) -> Result<bool, StoreError> {
    let row = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM mailboxes WHERE account = $1 AND name = $2)",
            &[&account, &name],
        )
        .await
        .map_err(db)?;
    Ok(row.get(0))
}

/// Creates the missing ancestors of `name` (RFC 3501 §6.3.3).
async fn create_parents(tx: &Tx<'_>, account: &str, name: &str) -> Result<(), StoreError> {
    for parent in ancestors(name) {
        if !exists(tx, account, parent).await? {
            create_one(tx, account, parent, None).await?;
        }
    }
    Ok(())
}

/// Deletes a locked mailbox with its messages (releasing their bodies) and its expunge
/// records.
pub(crate) async fn remove(tx: &Tx<'_>, mailbox_id: u64) -> Result<(), StoreError> {
    let id = i64_of(mailbox_id);
    let gone = tx
        .query(
            "DELETE FROM messages WHERE mailbox_id = $1 RETURNING blob",
            &[&id],
        )
        .await
        .map_err(db)?;
    let blobs = gone
        .iter()
        .map(|row| rows::blob_of(row.get(0)))
        .collect::<Result<Vec<_>, _>>()?;
    blobs::release_all(tx, &blobs).await?;
    tx.execute("DELETE FROM mailboxes WHERE id = $1", &[&id])
        .await
        .map_err(db)?;
    Ok(())
}

impl PgStore {
    pub(crate) async fn create_mailbox(
        &self,
        account: &str,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<Mailbox, StoreError> {
        let account = account.to_lowercase();
        let name = normalize_name(name)?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        advisory_lock(&tx, lock_ns::HIERARCHY, &account).await?;
        let account_query = "SELECT 1 FROM accounts WHERE id = $1 FOR SHARE";
        if !row_exists(&tx, account_query, &[&account]).await? {
            return Err(StoreError::AccountNotFound(account));
        }
        if exists(&tx, &account, &name).await? {
            return Err(StoreError::MailboxExists(name));
        }
        create_parents(&tx, &account, &name).await?;
        let mailbox = create_one(&tx, &account, &name, special_use).await?;
        let created = Change::MailboxCreated {
            mailbox: name.clone(),
        };
        self.notice(&tx, &account, vec![created]).await?;
        self.commit(tx).await?;
        Ok(mailbox)
    }

    /// Reads a mailbox by its normalised name, outside any transaction.
    pub(crate) async fn mailbox_record(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<Mailbox>, StoreError> {
        let conn = self.conn().await?;
        let sql =
            format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE account = $1 AND name = $2");
        let statement = conn.prepare_cached(&sql).await.map_err(db)?;
        match conn
            .query_opt(&statement, &[&account.to_lowercase(), &name])
            .await
            .map_err(db)?
        {
            Some(row) => Ok(Some(rows::mailbox(&row)?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn mailbox(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<Mailbox>, StoreError> {
        match normalize_name(name) {
            Ok(name) => self.mailbox_record(account, &name).await,
            Err(_) => Ok(None),
        }
    }

    /// The mailbox, or `MailboxNotFound`.
    pub(crate) async fn existing_mailbox(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Mailbox, StoreError> {
        let name = normalize_name(name)?;
        self.mailbox_record(account, &name)
            .await?
            .ok_or(StoreError::MailboxNotFound(name))
    }

    pub(crate) async fn list_mailboxes(&self, account: &str) -> Result<Vec<Mailbox>, StoreError> {
        let conn = self.conn().await?;
        let sql =
            format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE account = $1 ORDER BY name");
        conn.query(&sql, &[&account.to_lowercase()])
            .await
            .map_err(db)?
            .iter()
            .map(rows::mailbox)
            .collect()
    }

    pub(crate) async fn rename_mailbox(
        &self,
        account: &str,
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        let account = account.to_lowercase();
        let (from, to) = rename_names(from, to)?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        advisory_lock(&tx, lock_ns::HIERARCHY, &account).await?;
        let renamed = vec![Change::MailboxRenamed {
            from: from.clone(),
            to: to.clone(),
        }];
        if from == INBOX {
            rename_inbox(&tx, &account, &to).await?;
            // Its access list went with it (the row keeps its id); so do the readers.
            follow_readers(&tx, &account, &[(from.clone(), to.clone())]).await?;
            self.notice(&tx, &account, renamed).await?;
            return self.commit(tx).await;
        }
        let Some(source) = lock(&tx, &account, &from).await? else {
            return Err(StoreError::MailboxNotFound(from));
        };
        let children = tx
            .query(
                "SELECT id, name FROM mailboxes WHERE account = $1 AND starts_with(name, $2)
                 ORDER BY id FOR UPDATE",
                &[&account, &format!("{from}{MAILBOX_DELIMITER}")],
            )
            .await
            .map_err(db)?;
        let mut moves = vec![(i64_of(source.id), to.clone())];
        for child in &children {
            let name: String = child.get(1);
            moves.push((child.get(0), format!("{to}{}", &name[from.len()..])));
        }
        for (_, new) in &moves {
            if exists(&tx, &account, new).await? {
                return Err(StoreError::MailboxExists(new.clone()));
            }
        }
        for (id, new) in &moves {
            tx.execute("UPDATE mailboxes SET name = $2 WHERE id = $1", &[id, new])
                .await
                .map_err(db)?;
        }
        // Subscriptions follow the renamed mailboxes (as they did when they were a flag on
        // the row); a subscribed name with no mailbox is left alone.
        let old_names =
            std::iter::once(from.clone()).chain(children.iter().map(|c| c.get::<_, String>(1)));
        let renames: Vec<(String, String)> = old_names
            .zip(moves.iter().map(|(_, new)| new.clone()))
            .collect();
        for (old, new) in &renames {
            tx.execute(
                "UPDATE subscriptions SET name = $3 WHERE account = $1 AND name = $2
                 AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE account = $1 AND name = $3)",
                &[&account, old, new],
            )
            .await
            .map_err(db)?;
        }
        follow_readers(&tx, &account, &renames).await?;
        create_parents(&tx, &account, &to).await?;
        self.notice(&tx, &account, renamed).await?;
        self.commit(tx).await
    }

    pub(crate) async fn delete_mailbox(&self, account: &str, name: &str) -> Result<(), StoreError> {
        let account = account.to_lowercase();
        let name = normalize_name(name)?;
        if name == INBOX {
            return Err(StoreError::InvalidMailbox {
                name,
                reason: "INBOX cannot be deleted",
            });
        }
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        advisory_lock(&tx, lock_ns::HIERARCHY, &account).await?;
        let Some(mailbox) = lock(&tx, &account, &name).await? else {
            return Err(StoreError::MailboxNotFound(name));
        };
        remove(&tx, mailbox.id).await?;
        self.notice(
            &tx,
            &account,
            vec![Change::MailboxDeleted { mailbox: name }],
        )
        .await?;
        self.commit(tx).await
    }

    /// SUBSCRIBE or UNSUBSCRIBE, with a cluster notice (RFC 5465 SubscriptionChange) so the
    /// account's connections on the other nodes hear it too.
    pub(crate) async fn set_subscribed(
        &self,
        account: &str,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        let name = normalize_name(name)?;
        let account = account.to_lowercase();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        write_subscription(&tx, &account, &name, subscribed).await?;
        let change = Change::SubscriptionChanged {
            mailbox: name,
            subscribed,
        };
        self.notice(&tx, &account, vec![change]).await?;
        self.commit(tx).await
    }

    pub(crate) async fn subscriptions(&self, account: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn().await?;
        let found = conn
            .query(
                "SELECT name FROM subscriptions WHERE account = $1 ORDER BY name",
                &[&account.to_lowercase()],
            )
            .await
            .map_err(db)?;
        Ok(found.iter().map(|row| row.get(0)).collect())
    }
}

/// Puts `name` on `account`'s subscription list or takes it off.
async fn write_subscription(
    tx: &Tx<'_>,
    account: &str,
    name: &str,
    subscribed: bool,
) -> Result<(), StoreError> {
    if !subscribed {
        // UNSUBSCRIBE takes any name off the list, one whose mailbox is gone included.
        tx.execute(
            "DELETE FROM subscriptions WHERE account = $1 AND name = $2",
            &[&account, &name],
        )
        .await
        .map_err(db)?;
        return Ok(());
    }
    if certmail_store::acl::is_other_users_name(name) {
        // Another person's mailbox: the caller checked the subscriber's rights.
        tx.execute(
            "INSERT INTO subscriptions (account, name) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&account, &name],
        )
        .await
        .map_err(db)?;
        return Ok(());
    }
    // RFC 3501 §6.3.6 lets SUBSCRIBE check that the mailbox exists; we do.
    tx.execute(
        "INSERT INTO subscriptions (account, name)
         SELECT account, name FROM mailboxes WHERE account = $1 AND name = $2
         ON CONFLICT DO NOTHING",
        &[&account, &name],
    )
    .await
    .map_err(db)?;
    if !exists(tx, account, name).await? {
        return Err(StoreError::MailboxNotFound(name.to_owned()));
    }
    Ok(())
}

/// RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name and leaves an empty
/// INBOX (with a new UIDVALIDITY); INBOX's children stay where they are.
/// Other people's subscriptions to the owner's renamed mailboxes (`renames`, old and new
/// names) follow them, as the access lists do, so a shared mailbox does not vanish from a
/// reader's folder list; a reader who already holds the new name keeps both.
async fn follow_readers(
    tx: &Tx<'_>,
    owner: &str,
    renames: &[(String, String)],
) -> Result<(), StoreError> {
    for (old, new) in certmail_store::acl::followed_subscriptions(owner, renames) {
        tx.execute(
            "UPDATE subscriptions s SET name = $2 WHERE s.name = $1
             AND NOT EXISTS (SELECT 1 FROM subscriptions t WHERE t.account = s.account AND t.name = $2)",
            &[&old, &new],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

async fn rename_inbox(tx: &Tx<'_>, account: &str, to: &str) -> Result<(), StoreError> {
    let Some(inbox) = lock(tx, account, INBOX).await? else {
        return Err(StoreError::MailboxNotFound(INBOX.into()));
    };
    if exists(tx, account, to).await? {
        return Err(StoreError::MailboxExists(to.to_owned()));
    }
    create_parents(tx, account, to).await?;
    tx.execute(
        "UPDATE mailboxes SET name = $2 WHERE id = $1",
        &[&i64_of(inbox.id), &to],
    )
    .await
    .map_err(db)?;
    create_one(tx, account, INBOX, None).await?;
    Ok(())
}
