//! The browser session: a random token in a `__Host-` cookie (`HttpOnly; Secure;
//! SameSite=Strict; Path=/`), short-lived, and bound to the account and to the SPKI of
//! the certificate that opened it: presented with another certificate it is void. Only a
//! hash of the token is kept, in memory (a restart signs everyone out of the web).
//!
//! With `[web] counts_as_device = true` a session also holds its place in the
//! single-active-session registry (a [`ConnectionGuard`] of protocol `web`) for as long as
//! it lives: a sign-in from another device ends it as it ends IMAP connections, and it
//! ends another device's session when it opens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use certmail_session::{ConnectionGuard, KickReason};

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

/// The cookie's name (`__Host-`: the browser keeps it to this host, Secure, Path=/).
pub(crate) const COOKIE: &str = "__Host-certmail";

struct Entry {
    account: String,
    spki: [u8; 32],
    until: i64,
    /// The session's place in the registry (`counts_as_device`); dropped with the entry.
    device: Option<ConnectionGuard>,
}

/// What a presented token is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// A live session of this account, opened with this certificate key.
    Valid,
    /// The session was ended by the single-active-session rule (another device signed in,
    /// a kick); the entry is gone.
    Ended(KickReason),
    /// No such session (never opened, expired, signed out, another account or key).
    Invalid,
}

/// Open browser sessions.
pub(crate) struct Sessions {
    lifetime: i64,
    open: Mutex<HashMap<[u8; 32], Entry>>,
}

fn key(token: &str) -> [u8; 32] {
    let mut k = [0; 32];
    k.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    k
}

impl Sessions {
    /// Sessions that last `lifetime_secs`.
    pub(crate) fn new(lifetime_secs: u64) -> Sessions {
        Sessions {
            lifetime: i64::try_from(lifetime_secs).unwrap_or(900),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session holding `device` (its registry place, if it counts as a device);
    /// returns the token, or `None` without randomness. A session that holds a device is
    /// swept when it expires, so its place in the registry does not outlive it.
    pub(crate) fn open(
        self: &Arc<Self>,
        account: &str,
        spki: [u8; 32],
        device: Option<ConnectionGuard>,
    ) -> Option<String> {
        let mut raw = [0u8; 32];
        SystemRandom::new().fill(&mut raw).ok()?;
        let token = hex::encode(raw);
        let now = certmail_auth::now();
        let holds_device = device.is_some();
        let mut map = self.map();
        map.retain(|_, e| e.until > now);
        map.insert(
            key(&token),
            Entry {
                account: account.to_string(),
                spki,
                until: now + self.lifetime,
                device,
            },
        );
        drop(map);
        if holds_device && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let sessions: Weak<Sessions> = Arc::downgrade(self);
            let after = std::time::Duration::from_secs(self.lifetime.unsigned_abs() + 1);
            runtime.spawn(async move {
                tokio::time::sleep(after).await;
                if let Some(s) = sessions.upgrade() {
                    let now = certmail_auth::now();
                    s.map().retain(|_, e| e.until > now);
                }
            });
        }
        Some(token)
    }

    /// What `token` is worth for `account` with this certificate key. A session the
    /// registry ended is removed and reported once with its reason.
    pub(crate) fn check(&self, token: &str, account: &str, spki: &[u8; 32]) -> Check {
        let now = certmail_auth::now();
        let mut map = self.map();
        let k = key(token);
        let Some(e) = map.get(&k) else {
            return Check::Invalid;
        };
        if e.until <= now || e.account != account || &e.spki != spki {
            return Check::Invalid;
        }
        match e.device.as_ref().and_then(ConnectionGuard::kick_reason) {
            Some(reason) => {
                map.remove(&k);
                Check::Ended(reason)
            }
            None => Check::Valid,
        }
    }

    /// Ends one session.
    pub(crate) fn end(&self, token: &str) {
        self.map().remove(&key(token));
    }

    /// Ends every session of `account` (password change, temporary password).
    pub(crate) fn end_account(&self, account: &str) {
        self.map().retain(|_, e| e.account != account);
    }

    /// The `Set-Cookie` value that stores `token`.
    pub(crate) fn set_cookie(&self, token: &str) -> String {
        format!(
            "{COOKIE}={token}; Max-Age={}; Path=/; Secure; HttpOnly; SameSite=Strict",
            self.lifetime
        )
    }
}

/// The `Set-Cookie` value that removes the cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// The session token in a request's `Cookie` headers, if any.
pub(crate) fn token_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_account_and_key() {
        let s = Arc::new(Sessions::new(60));
        let t = s.open("kim", [1; 32], None).expect("random");
        assert_eq!(s.check(&t, "kim", &[1; 32]), Check::Valid);
        assert_eq!(
            s.check(&t, "kim", &[2; 32]),
            Check::Invalid,
            "another certificate"
        );
        assert_eq!(
            s.check(&t, "lee", &[1; 32]),
            Check::Invalid,
            "another account"
        );
        s.end_account("kim");
        assert_eq!(s.check(&t, "kim", &[1; 32]), Check::Invalid);
    }

    #[test]
    fn cookie_attributes() {
        let c = Sessions::new(60).set_cookie("abc");
        for attr in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(c.contains(attr), "{c}");
        }
    }
}
