//! The browser session: a random token in a `__Host-` cookie (`HttpOnly; Secure;
//! SameSite=Strict; Path=/`), short-lived, and bound to the account and to the SPKI of
//! the certificate that opened it: presented with another certificate it is void. Only a
//! hash of the token is kept: in memory on one node (a restart signs everyone out of the
//! web), in the database in a cluster ([`SharedWeb`]: a session opened on one node is good
//! on every node, and one ended is ended everywhere).
//!
//! With `[web] counts_as_device = true` a session also holds its place in the
//! single-active-session registry (a [`ConnectionGuard`] of protocol `web`) for as long as
//! it lives: a sign-in from another device ends it as it ends IMAP connections, and it
//! ends another device's session when it opens. The guard lives on the node that opened
//! the session; in a cluster that node writes the end into the database when it comes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use certmail_session::{ConnectionGuard, KickReason};
use certmail_store::{WebSessionRecord, WebSessionStore};

use crate::error::WebError;

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

/// What a cluster's web servers share: the database and the form-token key in it.
#[derive(Clone)]
pub struct SharedWeb {
    /// Where sessions, TOTP offers and the form key live.
    pub store: Arc<dyn WebSessionStore>,
    /// The key of the form tokens, the same on every node.
    pub form_key: [u8; 32],
}

impl std::fmt::Debug for SharedWeb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedWeb").finish_non_exhaustive()
    }
}

impl SharedWeb {
    /// The shared state of `store`, with the form key the first node made (or a new one).
    pub async fn open(store: Arc<dyn WebSessionStore>) -> Result<SharedWeb, WebError> {
        let mut fresh = [0u8; 32];
        SystemRandom::new()
            .fill(&mut fresh)
            .map_err(|_| WebError::refused(500, "internal", "no randomness for the form key"))?;
        let form_key = store.web_form_key(fresh).await?;
        Ok(SharedWeb { store, form_key })
    }
}

/// Open browser sessions.
pub(crate) struct Sessions {
    lifetime: i64,
    /// Every session (one node), or only those holding a registry place (a cluster).
    open: Mutex<HashMap<[u8; 32], Entry>>,
    shared: Option<Arc<dyn WebSessionStore>>,
}

fn key(token: &str) -> [u8; 32] {
    let mut k = [0; 32];
    k.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    k
}

impl Sessions {
    /// Sessions that last `lifetime_secs`, kept in `shared` where several nodes serve.
    pub(crate) fn new(lifetime_secs: u64, shared: Option<Arc<dyn WebSessionStore>>) -> Sessions {
        Sessions {
            lifetime: i64::try_from(lifetime_secs).unwrap_or(900),
            open: Mutex::new(HashMap::new()),
            shared,
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session holding `device` (its registry place, if it counts as a device);
    /// returns the token, or `None` without randomness or database. A session that holds
    /// a device is swept when it expires, so its place in the registry does not outlive
    /// it.
    pub(crate) async fn open(
        self: &Arc<Self>,
        account: &str,
        spki: [u8; 32],
        device: Option<ConnectionGuard>,
    ) -> Option<String> {
        let mut raw = [0u8; 32];
        SystemRandom::new().fill(&mut raw).ok()?;
        let token = hex::encode(raw);
        let now = certmail_auth::now();
        let until = now + self.lifetime;
        let k = key(&token);
        if let Some(shared) = &self.shared {
            let record = WebSessionRecord {
                account: account.to_string(),
                spki_sha256: spki,
                until,
                ended: None,
            };
            if let Err(e) = shared.put_web_session(k, record, now).await {
                tracing::warn!(error = %e, "browser session not stored");
                return None;
            }
            if let Some(guard) = &device {
                self.report_end(k, guard);
            }
        }
        let holds_device = device.is_some();
        let mut map = self.map();
        map.retain(|_, e| e.until > now);
        if self.shared.is_none() || holds_device {
            let account = account.to_string();
            map.insert(
                k,
                Entry {
                    account,
                    spki,
                    until,
                    device,
                },
            );
        }
        drop(map);
        if holds_device {
            self.sweep_after_expiry();
        }
        Some(token)
    }

    /// In a cluster: writes the end of session `k` into the database when the registry
    /// ends it here, so the other nodes refuse it too (bounded by the session's life).
    fn report_end(&self, k: [u8; 32], guard: &ConnectionGuard) {
        let (Some(shared), Ok(runtime)) = (&self.shared, tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let (shared, kicked) = (Arc::clone(shared), guard.kicked());
        let life = std::time::Duration::from_secs(self.lifetime.unsigned_abs() + 1);
        runtime.spawn(async move {
            let Ok(reason) = tokio::time::timeout(life, kicked).await else {
                return;
            };
            let ip = match &reason {
                KickReason::AnotherDevice { ip } => Some(ip.to_string()),
                _ => None,
            };
            if let Err(e) = shared.end_web_session_for(k, reason.code(), ip).await {
                tracing::warn!(error = %e, "the end of a browser session not stored");
            }
        });
    }

    fn sweep_after_expiry(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let sessions = Arc::downgrade(self);
        let after = std::time::Duration::from_secs(self.lifetime.unsigned_abs() + 1);
        runtime.spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(s) = sessions.upgrade() {
                let now = certmail_auth::now();
                s.map().retain(|_, e| e.until > now);
            }
        });
    }

    /// What `token` is worth for `account` with this certificate key. A session the
    /// registry ended is removed and reported once with its reason.
    pub(crate) async fn check(&self, token: &str, account: &str, spki: &[u8; 32]) -> Check {
        let k = key(token);
        let Some(shared) = &self.shared else {
            return self.check_here(k, account, spki);
        };
        let record = match shared.web_session(k).await {
            Ok(Some(record)) => record,
            Ok(None) => return Check::Invalid,
            Err(e) => {
                tracing::warn!(error = %e, "browser session not read");
                return Check::Invalid;
            }
        };
        let now = certmail_auth::now();
        if record.until <= now || record.account != account || &record.spki_sha256 != spki {
            return Check::Invalid;
        }
        let here = self
            .map()
            .get(&k)
            .and_then(|e| e.device.as_ref()?.kick_reason());
        let ended = here.or_else(|| {
            let (code, ip) = record.ended?;
            KickReason::from_code(&code, ip.and_then(|ip| ip.parse().ok()))
        });
        match ended {
            Some(reason) => {
                self.end(token).await;
                Check::Ended(reason)
            }
            None => Check::Valid,
        }
    }

    fn check_here(&self, k: [u8; 32], account: &str, spki: &[u8; 32]) -> Check {
        let now = certmail_auth::now();
        let mut map = self.map();
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
    pub(crate) async fn end(&self, token: &str) {
        let k = key(token);
        self.map().remove(&k);
        if let Some(shared) = &self.shared
            && let Err(e) = shared.forget_web_session(k).await
        {
            tracing::warn!(error = %e, "browser session not removed");
        }
    }

    /// Ends every session of `account` (password change, temporary password).
    pub(crate) async fn end_account(&self, account: &str) {
        self.map().retain(|_, e| e.account != account);
        if let Some(shared) = &self.shared
            && let Err(e) = shared.forget_web_sessions_of(account).await
        {
            tracing::warn!(error = %e, account, "browser sessions not removed");
        }
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

    #[tokio::test]
    async fn bound_to_account_and_key() {
        let s = Arc::new(Sessions::new(60, None));
        let t = s.open("kim", [1; 32], None).await.expect("random");
        assert_eq!(s.check(&t, "kim", &[1; 32]).await, Check::Valid);
        assert_eq!(
            s.check(&t, "kim", &[2; 32]).await,
            Check::Invalid,
            "another certificate"
        );
        assert_eq!(
            s.check(&t, "lee", &[1; 32]).await,
            Check::Invalid,
            "another account"
        );
        s.end_account("kim").await;
        assert_eq!(s.check(&t, "kim", &[1; 32]).await, Check::Invalid);
    }

    #[test]
    fn cookie_attributes() {
        let c = Sessions::new(60, None).set_cookie("abc");
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
