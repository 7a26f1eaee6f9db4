//! Sieve redirect counters ([`crate::redirects`]): `meta` key `redirects/` + account →
//! [`RedirectDay`], one per account, overwritten by the first redirect of a new day. They
//! live in `meta` because a delivery's transaction already spans it, so a counter is read
//! and raised in the transaction that carries the redirect out: sled retries a transaction
//! that raced another one's write to it, and the retry reads the new count.

use super::Inner;
use super::keys::push_str;
use super::tx::{TxResult, get, put};
use crate::error::Result;
use crate::redirects::{Redirect, RedirectDay, RedirectOutcome, counting_order};

/// The `meta` key of one account's counter.
fn counter_key(account: &str) -> Vec<u8> {
    let mut k = b"redirects/".to_vec();
    push_str(&mut k, &account.to_lowercase());
    k
}

/// Inside a delivery's transaction: counts each of `redirects` (asked for at `now`, Unix
/// seconds) against its account's cap; the outcomes, in the order of `redirects`.
pub(crate) fn claim(
    meta: &::sled::transaction::TransactionalTree,
    redirects: &[Redirect],
    now: i64,
) -> TxResult<Vec<RedirectOutcome>> {
    let day = RedirectDay::of(now);
    let mut outcomes = vec![None; redirects.len()];
    for i in counting_order(redirects) {
        let key = counter_key(&redirects[i].account);
        let counter = RedirectDay::next(get(meta, &key)?, day);
        put(meta, &key, &counter)?;
        outcomes[i] = Some(counter.outcome(&redirects[i]));
    }
    Ok(outcomes.into_iter().flatten().collect())
}

impl Inner {
    /// Forgets a deleted account's counter.
    pub(crate) fn delete_redirect_counter_of(&self, account: &str) -> Result<()> {
        self.t.meta.remove(counter_key(account))?;
        Ok(())
    }
}
