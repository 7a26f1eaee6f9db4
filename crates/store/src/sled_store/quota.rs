//! The mail quota on sled ([`crate::MailQuota`]). sled's transactions cannot scan, so the
//! account's usage (the sum of its mailboxes' sizes) is read before the transaction, under
//! a per-account lock that every quota-checked write of that account holds until its
//! transaction has applied: two such writes in this process (the only one that opens the
//! store) cannot both pass the quota. Writes without a quota (the administrator's import,
//! the server's own notices) do not take it; they only make a check's reading lower than
//! the truth for a moment, as if they had come just after it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

use super::Inner;
use crate::error::Result;
use crate::model::MailQuota;

/// Lock stripes: accounts share a lock when their hashes meet, which only serialises them.
const STRIPES: usize = 64;

/// The per-account quota locks, striped.
pub(crate) struct QuotaLocks(Vec<Mutex<()>>);

impl QuotaLocks {
    pub(crate) fn new() -> Self {
        QuotaLocks((0..STRIPES).map(|_| Mutex::new(())).collect())
    }
}

fn stripe(account: &str) -> usize {
    let mut h = DefaultHasher::new();
    account.hash(&mut h);
    (h.finish() % STRIPES as u64) as usize
}

impl Inner {
    /// Holds the quota locks of `accounts` (each stripe once, in stripe order, so two
    /// deliveries to overlapping recipients cannot deadlock); none if `quota` is unlimited.
    pub(crate) fn lock_quota<'a>(
        &'a self,
        quota: MailQuota,
        accounts: &[&str],
    ) -> Vec<MutexGuard<'a, ()>> {
        if !quota.is_limited() {
            return Vec::new();
        }
        let mut stripes: Vec<usize> = accounts.iter().map(|a| stripe(a)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes
            .into_iter()
            .map(|i| {
                self.quota_locks.0[i]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
            })
            .collect()
    }

    /// `account`'s usage where `quota` needs it (0 otherwise); read under its quota lock.
    pub(crate) fn usage_for(&self, quota: MailQuota, account: &str) -> Result<u64> {
        if quota.is_limited() {
            self.account_usage(account)
        } else {
            Ok(0)
        }
    }
}
