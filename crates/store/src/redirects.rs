//! Sieve `redirect`s under a per-account daily cap, decided **inside** the delivery
//! transaction that carries them out, so racing deliveries to one account never pass the
//! cap (sled and PostgreSQL alike).
//!
//! Each account has one counter record, [`RedirectDay`]: the UTC day it counts and how
//! many redirects its deliveries asked for that day. A delivery's [`Redirect`]s are
//! counted one by one in that transaction ([`RedirectDay::next`]); the first `per_day` of a
//! day are carried out, the rest file the message where the script's keep would have put
//! it ([`Redirect::instead`]). The request that first passes the cap says so
//! ([`RedirectOutcome::tell`]), so its owner is told once a day. A counter of an earlier
//! day is overwritten by the first request of a new one: nothing to sweep.
//!
//! `store copy` does not carry the counters: they only hold the current day, the copy is
//! made with the daemon stopped, and the worst a dropped counter allows is one more day's
//! cap of redirects on the day of the copy; carrying them would need a record kind for
//! state that is stale by the next day.

use serde::{Deserialize, Serialize};

use crate::model::{AccountId, QueueEntry};

/// Seconds in the days [`RedirectDay`] counts (UTC days).
const DAY_SECS: i64 = 86_400;

/// A Sieve `redirect` a delivery carries out only while its account is under its daily
/// cap; otherwise the message is filed as the script's keep would have filed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The account whose script redirected: its counter is the one counted.
    pub account: AccountId,
    /// The address redirected to, as the receipt reports it.
    pub address: String,
    /// Most redirects of `account` per UTC day (`[sieve] max_redirects_per_day`).
    pub per_day: u32,
    /// Local copies it makes (a redirect to a local address: that account's INBOX).
    pub copies: Vec<(AccountId, String, Vec<String>)>,
    /// Queue entries it makes (a redirect to a remote address). `id` and `blob` are
    /// assigned by the store.
    pub queue: Vec<QueueEntry>,
    /// The copy filed instead when the cap is reached: `(account, mailbox, flags)` where
    /// the message would have gone without the redirect. Left out when the message already
    /// has that copy.
    pub instead: (AccountId, String, Vec<String>),
}

/// What became of one [`Redirect`], in [`crate::DeliveryReceipt::redirects`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectOutcome {
    /// The redirecting account, lowercase.
    pub account: AccountId,
    /// The address redirected to.
    pub address: String,
    /// `true`: carried out; `false`: the cap was reached, the message filed instead.
    pub carried_out: bool,
    /// This is the account's first redirect of the day past the cap: tell its owner.
    pub tell: bool,
}

/// One account's redirect counter: `count` redirects asked for on UTC day `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectDay {
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    /// Redirects asked for that day, carried out or not.
    pub count: u64,
}

impl RedirectDay {
    /// The UTC day of `unix` seconds.
    pub fn of(unix: i64) -> i64 {
        unix.div_euclid(DAY_SECS)
    }

    /// The counter after one more redirect asked for on `day`, from `stored` (an earlier
    /// day's counter starts again at one; a later day's, written by a node whose clock is
    /// ahead, goes on counting).
    pub fn next(stored: Option<RedirectDay>, day: i64) -> RedirectDay {
        match stored {
            Some(s) if s.day >= day => RedirectDay {
                day: s.day,
                count: s.count.saturating_add(1),
            },
            _ => RedirectDay { day, count: 1 },
        }
    }

    /// What the request this counter now ends with gets under `per_day`.
    pub fn outcome(self, redirect: &Redirect) -> RedirectOutcome {
        let cap = u64::from(redirect.per_day);
        RedirectOutcome {
            account: redirect.account.to_lowercase(),
            address: redirect.address.clone(),
            carried_out: self.count <= cap,
            tell: self.count == cap + 1,
        }
    }
}

/// The order in which a delivery's redirects are counted: by account, so that two
/// transactions lock the counters of several accounts in one order (PostgreSQL).
pub fn counting_order<R: std::borrow::Borrow<Redirect>>(redirects: &[R]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..redirects.len()).collect();
    order.sort_by_key(|&i| redirects[i].borrow().account.to_lowercase());
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(per_day: u32) -> Redirect {
        Redirect {
            account: "Kim".into(),
            address: "lee@example.org".into(),
            per_day,
            copies: Vec::new(),
            queue: Vec::new(),
            instead: ("kim".into(), "INBOX".into(), Vec::new()),
        }
    }

    #[test]
    fn counts_within_a_day_and_starts_again_the_next() {
        let day = RedirectDay::of(1_700_000_000);
        let first = RedirectDay::next(None, day);
        let second = RedirectDay::next(Some(first), day);
        assert_eq!(second, RedirectDay { day, count: 2 });
        let tomorrow = RedirectDay::next(Some(second), day + 1);
        assert_eq!(
            tomorrow,
            RedirectDay {
                day: day + 1,
                count: 1
            }
        );
        assert_eq!(RedirectDay::of(-1), -1, "days before 1970 round down");
    }

    #[test]
    fn the_first_past_the_cap_is_told_and_later_ones_are_not() {
        let r = redirect(2);
        let at = |count| RedirectDay { day: 0, count }.outcome(&r);
        assert!(at(2).carried_out && !at(2).tell);
        assert!(!at(3).carried_out && at(3).tell);
        assert!(!at(4).carried_out && !at(4).tell);
        let none = RedirectDay { day: 0, count: 1 }.outcome(&redirect(0));
        assert!(
            !none.carried_out && none.tell,
            "a cap of 0 refuses the first"
        );
        assert_eq!(none.account, "kim");
    }
}
