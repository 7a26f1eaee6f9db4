//! The mail quota on PostgreSQL ([`certmail_store::MailQuota`]): a quota-checked write
//! takes the account's advisory lock (namespace `QUOTA`) at the start of its transaction,
//! before any mailbox row, then reads the account's usage in that transaction. A second
//! write of the same account, on any node, waits for the first to commit and then sees
//! its mail, so together they cannot pass the quota.

use certmail_store::{MailQuota, StoreError};
use deadpool_postgres::GenericClient;

use crate::error::db;
use crate::rows;
use crate::{Tx, advisory_lock, lock_ns};

/// Takes the quota locks of `accounts` (sorted, each once, so two deliveries to
/// overlapping recipients cannot deadlock); nothing if `quota` is unlimited.
pub(crate) async fn lock(
    tx: &Tx<'_>,
    quota: MailQuota,
    accounts: &[String],
) -> Result<(), StoreError> {
    if !quota.is_limited() {
        return Ok(());
    }
    let mut accounts = accounts.to_vec();
    accounts.sort_unstable();
    accounts.dedup();
    for account in &accounts {
        advisory_lock(tx, lock_ns::QUOTA, account).await?;
    }
    Ok(())
}

/// `account`'s usage as this transaction sees it (0 if `quota` is unlimited).
pub(crate) async fn usage(tx: &Tx<'_>, quota: MailQuota, account: &str) -> Result<u64, StoreError> {
    if !quota.is_limited() {
        return Ok(0);
    }
    usage_of(tx, account).await
}

/// The sum of the sizes of `account`'s messages (lowercase id), as `client` sees it.
pub(crate) async fn usage_of(
    client: &impl GenericClient,
    account: &str,
) -> Result<u64, StoreError> {
    let row = client
        .query_one(
            "SELECT coalesce(sum(total_size), 0)::bigint FROM mailboxes WHERE account = $1",
            &[&account],
        )
        .await
        .map_err(db)?;
    rows::u64_of("account usage", row.get(0))
}

/// [`StoreError::OverQuota`] for `account`.
pub(crate) fn over(account: &str) -> StoreError {
    StoreError::OverQuota {
        account: account.to_owned(),
    }
}
