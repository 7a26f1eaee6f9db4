//! The sign-in cache (issue 19): an argon2id check costs ~20-50 ms of CPU and 19 MiB, and
//! a mail program opens a new connection, with a new sign-in, many times an hour. After a
//! password matched, this remembers for a bounded time (`[auth] signin_cache_secs`) and a
//! bounded number of entries (`[auth] signin_cache_entries`) that *this password* matched
//! *this stored hash* of *this account*, for *this certificate* — as an HMAC-SHA256 tag
//! under a key drawn at start, never the password or anything it could be guessed from
//! offline.
//!
//! Only the argon2 comparison is skipped on a hit. Every other step of the sign-in (the
//! certificate chain and CRL status, the binding, the account's state, the networks, the
//! throttle, TOTP) runs each time, so a lock, a revocation, an unbinding or a policy
//! change takes effect at the next sign-in as before. A password change stores a new hash
//! (with a new salt), so the old tag never matches again; `forget` empties the cache
//! (`certmail reload` calls it). Failures are never remembered: every wrong password is
//! checked with argon2 and counts toward the lockout and the throttle.
//!
//! The trade-off: for up to `signin_cache_secs` after a good sign-in, the right password
//! is recognised in microseconds instead of milliseconds. A wrong one still costs argon2,
//! so guessing is no cheaper. The tag is keyed by a secret that lives only in the daemon's
//! memory, so a memory dump does not give an offline dictionary attack more than the
//! argon2 hashes in the store already do.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::hmac;
use ring::rand::SystemRandom;

/// How long, and how many, matched passwords are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Seconds a match is remembered; 0 turns the cache off.
    pub secs: i64,
    /// Matches remembered at most; 0 turns the cache off.
    pub entries: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            secs: 600,
            entries: 10_000,
        }
    }
}

impl CacheLimits {
    fn off(self) -> bool {
        self.secs <= 0 || self.entries == 0
    }
}

/// What a remembered match is about: the account, its stored hash and the certificate's
/// key.
#[derive(Debug, Clone, Copy)]
pub struct MatchKey<'a> {
    /// The account's id.
    pub account: &'a str,
    /// The account's stored PHC string.
    pub phc: &'a str,
    /// SHA-256 of the certificate's public key.
    pub spki: &'a [u8; 32],
}

/// Remembered password matches: HMAC tags and when each expires.
#[derive(Debug)]
pub struct Remembered {
    key: hmac::Key,
    expiry: Mutex<HashMap<[u8; 32], i64>>,
    hits: AtomicU64,
}

impl Default for Remembered {
    fn default() -> Self {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .expect("the system's random source gives a key");
        Self {
            key,
            expiry: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
        }
    }
}

impl Remembered {
    fn tag(&self, about: MatchKey<'_>, password: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        // Each field with its length, so no two different inputs give one message.
        for field in [
            about.account.as_bytes(),
            about.phc.as_bytes(),
            about.spki.as_slice(),
            password.as_bytes(),
        ] {
            ctx.update(&(field.len() as u64).to_be_bytes());
            ctx.update(field);
        }
        let mut tag = [0u8; 32];
        tag.copy_from_slice(ctx.sign().as_ref());
        tag
    }

    /// Whether `password` matched `about` within the last `limits.secs`.
    pub fn matched(
        &self,
        about: MatchKey<'_>,
        password: &str,
        now: i64,
        limits: CacheLimits,
    ) -> bool {
        if limits.off() {
            return false;
        }
        let tag = self.tag(about, password);
        let map = self.expiry.lock().unwrap_or_else(|p| p.into_inner());
        let hit = map.get(&tag).is_some_and(|&until| now < until);
        if hit {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Sign-ins that skipped argon2 since start (for the metrics endpoint).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Remembers that `password` matched `about` (argon2 said so). When full, expired
    /// entries go first; if it is still full, nothing is added.
    pub fn remember(&self, about: MatchKey<'_>, password: &str, now: i64, limits: CacheLimits) {
        if limits.off() {
            return;
        }
        let tag = self.tag(about, password);
        let mut map = self.expiry.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= limits.entries && !map.contains_key(&tag) {
            map.retain(|_, until| now < *until);
            if map.len() >= limits.entries {
                return;
            }
        }
        map.insert(tag, now.saturating_add(limits.secs));
    }

    /// Forgets every remembered match.
    pub fn forget(&self) {
        self.expiry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Matches remembered now (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.expiry.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: CacheLimits = CacheLimits {
        secs: 60,
        entries: 2,
    };

    fn about<'a>(account: &'a str, phc: &'a str, spki: &'a [u8; 32]) -> MatchKey<'a> {
        MatchKey { account, phc, spki }
    }

    #[test]
    fn a_match_is_remembered_for_its_time_and_only_for_what_it_was_about() {
        let r = Remembered::default();
        let spki = [7u8; 32];
        let hong = about("hong", "$argon2id$v=19$a", &spki);
        r.remember(hong, "비밀번호-2026", 1000, LIMITS);
        assert!(r.matched(hong, "비밀번호-2026", 1059, LIMITS));
        assert_eq!(r.hits(), 1);
        assert!(!r.matched(hong, "비밀번호-2026", 1060, LIMITS), "expired");
        assert!(
            !r.matched(hong, "비밀번호-2027", 1001, LIMITS),
            "another password"
        );
        let new_hash = about("hong", "$argon2id$v=19$b", &spki);
        assert!(
            !r.matched(new_hash, "비밀번호-2026", 1001, LIMITS),
            "a changed password"
        );
        let other_cert = about("hong", "$argon2id$v=19$a", &[8u8; 32]);
        assert!(
            !r.matched(other_cert, "비밀번호-2026", 1001, LIMITS),
            "another certificate"
        );
        let kim = about("kim", "$argon2id$v=19$a", &spki);
        assert!(
            !r.matched(kim, "비밀번호-2026", 1001, LIMITS),
            "another account"
        );
        r.forget();
        assert!(!r.matched(hong, "비밀번호-2026", 1001, LIMITS), "forgotten");
    }

    #[test]
    fn the_cache_stays_within_its_entries_and_can_be_off() {
        let r = Remembered::default();
        let spki = [1u8; 32];
        for (i, pw) in ["a", "b", "c"].into_iter().enumerate() {
            r.remember(about("hong", "h", &spki), pw, 1000 + i as i64, LIMITS);
        }
        assert_eq!(r.len(), 2);
        assert!(!r.matched(about("hong", "h", &spki), "c", 1003, LIMITS));
        // Once the first two expire, room is made by sweeping them.
        r.remember(about("hong", "h", &spki), "c", 1070, LIMITS);
        assert!(r.matched(about("hong", "h", &spki), "c", 1071, LIMITS));
        assert_eq!(r.len(), 1);
        let off = CacheLimits { secs: 0, ..LIMITS };
        r.remember(about("hong", "h", &spki), "d", 1071, off);
        assert!(!r.matched(about("hong", "h", &spki), "c", 1071, off));
    }
}
