//! The browser session: a random token in a `__Host-` cookie (`HttpOnly; Secure;
//! SameSite=Strict; Path=/`), short-lived, and bound to the account and to the SPKI of
//! the certificate that opened it: presented with another certificate it is void. Only a
//! hash of the token is kept, in memory (a restart signs everyone out of the web).

use std::collections::HashMap;
use std::sync::Mutex;

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

/// The cookie's name (`__Host-`: the browser keeps it to this host, Secure, Path=/).
pub(crate) const COOKIE: &str = "__Host-certmail";

struct Entry {
    account: String,
    spki: [u8; 32],
    until: i64,
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

    /// Opens a session; returns the token, or `None` without randomness.
    pub(crate) fn open(&self, account: &str, spki: [u8; 32]) -> Option<String> {
        let mut raw = [0u8; 32];
        SystemRandom::new().fill(&mut raw).ok()?;
        let token = hex::encode(raw);
        let now = certmail_auth::now();
        let mut map = self.map();
        map.retain(|_, e| e.until > now);
        map.insert(
            key(&token),
            Entry {
                account: account.to_string(),
                spki,
                until: now + self.lifetime,
            },
        );
        Some(token)
    }

    /// Whether `token` is a live session of `account` opened with this certificate key.
    pub(crate) fn valid(&self, token: &str, account: &str, spki: &[u8; 32]) -> bool {
        let now = certmail_auth::now();
        self.map()
            .get(&key(token))
            .is_some_and(|e| e.until > now && e.account == account && &e.spki == spki)
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
        let s = Sessions::new(60);
        let t = s.open("kim", [1; 32]).expect("random");
        assert!(s.valid(&t, "kim", &[1; 32]));
        assert!(!s.valid(&t, "kim", &[2; 32]), "another certificate");
        assert!(!s.valid(&t, "lee", &[1; 32]), "another account");
        s.end_account("kim");
        assert!(!s.valid(&t, "kim", &[1; 32]));
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
