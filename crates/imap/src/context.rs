//! What every IMAP connection shares ([`ImapContext`]: the store, the session registry, the
//! change hub, the literal budget, \Recent and the header cache) and the server's settings
//! ([`ImapSettings`]). It sits below the commands and the connection driver, which both
//! read it; the daemon builds it once and again on reload.

use std::sync::Arc;

use certmail_session::{ChangeHub, SessionPolicy, SessionRegistry};
use certmail_store::Store;

use crate::mailbox::RecentTracker;
use crate::message::cache::HeaderCache;
use crate::proto::literal::LiteralPool;

/// Default largest APPEND literal in octets (APPENDLIMIT): the SMTP default message size.
pub const DEFAULT_APPEND_LIMIT: u32 = 50_000_000;
/// Default largest command line apart from its literal, octets.
pub const DEFAULT_MAX_COMMAND_LINE: u32 = 64 * 1024;
/// Default literal octets held in memory across all connections at once.
pub const DEFAULT_MAX_LITERAL_MEMORY: u64 = 512 * 1024 * 1024;
/// Default octets of header blocks cached for SEARCH, SORT, THREAD and FETCH ENVELOPE.
pub const DEFAULT_HEADER_CACHE_MEMORY: u64 = 64 * 1024 * 1024;
/// Default bad commands before the connection is closed.
pub const DEFAULT_MAX_BAD_COMMANDS: u32 = 20;
/// Default minutes of silence before autologout (RFC 9051 §5.4: at least 30).
pub const DEFAULT_AUTOLOGOUT_MINUTES: u64 = 30;
/// Default seconds of silence allowed before sign-in.
pub const DEFAULT_PREAUTH_TIMEOUT_SECS: u64 = 60;
/// Default most entries one mailbox's ACL may hold (see the store's reason).
pub const DEFAULT_MAX_ACL_ENTRIES: usize = certmail_store::acl::DEFAULT_MAX_ACL_ENTRIES;

/// Default most SEARCH contexts (RFC 5267 UPDATE) one connection keeps live.
pub const DEFAULT_MAX_SEARCH_CONTEXTS: usize = 8;

/// Settings of the IMAP server (the daemon's `[imap]` section).
#[derive(Debug, Clone)]
pub struct ImapSettings {
    /// Our host name (greeting).
    pub hostname: String,
    /// Largest APPEND literal in octets (RFC 7889 APPENDLIMIT); default the SMTP size limit.
    pub append_limit: u32,
    /// Largest command apart from its literal, octets.
    pub max_command_line: u32,
    /// Literal octets all connections together may hold in memory at once.
    pub max_literal_memory: u64,
    /// Largest literal before sign-in, octets; such literals never count against
    /// `max_literal_memory`.
    pub max_literal_before_login: u32,
    /// Octets of message header blocks kept in memory for SEARCH, SORT, THREAD and FETCH
    /// ENVELOPE, across all connections (0: none; each read then goes to the store).
    pub header_cache_memory: u64,
    /// Bad commands before the connection is closed.
    pub max_bad_commands: u32,
    /// Minutes of silence before a signed-in connection is logged out (at least 30, RFC
    /// 9051 §5.4; values below are raised to 30).
    pub autologout_minutes: u64,
    /// Seconds of silence before a connection that has not signed in is closed.
    pub preauth_timeout_secs: u64,
    /// Seconds for a TLS handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Sign-in policy (`[auth]`): the password requirement (EXTERNAL alone is refused),
    /// lockout, password age, networks and the per-IP throttle shared with SMTP.
    pub sign_in: certmail_auth::signin::SignInPolicy,
    /// What a sign-in from another device does to the live session.
    pub session_policy: SessionPolicy,
    /// Per-account storage quota in bytes, as for SMTP delivery (0 = none); APPEND and
    /// COPY over it get `NO [OVERQUOTA]` (RFC 9208 §4.3 / RFC 5530).
    pub quota_bytes: u64,
    /// The most entries one mailbox's ACL may hold; SETACL naming one more is refused
    /// `NO [LIMIT]`.
    pub max_acl_entries: usize,
    /// The most `SEARCH RETURN (UPDATE)` contexts one connection keeps live (each is
    /// searched again after every command); one more is answered `NO [NOUPDATE]`.
    pub max_search_contexts: usize,
}

impl Default for ImapSettings {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            append_limit: DEFAULT_APPEND_LIMIT,
            max_command_line: DEFAULT_MAX_COMMAND_LINE,
            max_literal_memory: DEFAULT_MAX_LITERAL_MEMORY,
            max_literal_before_login: crate::proto::driver::DEFAULT_MAX_LITERAL_BEFORE_LOGIN,
            header_cache_memory: DEFAULT_HEADER_CACHE_MEMORY,
            max_bad_commands: DEFAULT_MAX_BAD_COMMANDS,
            autologout_minutes: DEFAULT_AUTOLOGOUT_MINUTES,
            preauth_timeout_secs: DEFAULT_PREAUTH_TIMEOUT_SECS,
            tls_handshake_timeout_secs: 30,
            sign_in: certmail_auth::signin::SignInPolicy::default(),
            session_policy: SessionPolicy::Replace,
            quota_bytes: 0,
            max_acl_entries: DEFAULT_MAX_ACL_ENTRIES,
            max_search_contexts: DEFAULT_MAX_SEARCH_CONTEXTS,
        }
    }
}

impl ImapSettings {
    /// The signed-in autologout, never below RFC 9051's 30 minutes.
    pub fn autologout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.autologout_minutes.max(30) * 60)
    }
}

/// What every IMAP connection shares.
pub struct ImapContext {
    /// The mail store.
    pub store: Arc<dyn Store>,
    /// The single-active-session registry.
    pub registry: Arc<dyn SessionRegistry>,
    /// Changes between connections (and from SMTP delivery).
    pub hub: ChangeHub,
    /// Settings (replaced on reload by building a new context).
    pub settings: ImapSettings,
    /// The literal budget across all connections (`max_literal_memory`).
    pub(crate) literals: Arc<LiteralPool>,
    /// \Recent bookkeeping across connections.
    pub(crate) recent: Arc<RecentTracker>,
    /// Header blocks read lately (`header_cache_memory`).
    pub(crate) headers: Arc<HeaderCache>,
    /// Told of every successful COPY and MOVE (spam learning), when the daemon set one.
    filing: Option<Arc<dyn crate::filing::FilingObserver>>,
}

impl ImapContext {
    /// A context; the literal budget is sized from `settings.max_literal_memory`, the
    /// header cache from `settings.header_cache_memory`.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<dyn SessionRegistry>,
        hub: ChangeHub,
        settings: ImapSettings,
    ) -> Arc<ImapContext> {
        Arc::new(ImapContext {
            literals: LiteralPool::new(settings.max_literal_memory),
            recent: Arc::new(RecentTracker::new()),
            headers: Arc::new(HeaderCache::new(
                usize::try_from(settings.header_cache_memory).unwrap_or(usize::MAX),
            )),
            store,
            registry,
            hub,
            settings,
            filing: None,
        })
    }

    /// This context telling `observer` of every successful COPY and MOVE (kept across
    /// [`ImapContext::reloaded`]).
    pub fn with_filing_observer(
        &self,
        observer: Arc<dyn crate::filing::FilingObserver>,
    ) -> Arc<ImapContext> {
        let mut ctx = self.reloaded(self.settings.clone());
        if let Some(ctx) = Arc::get_mut(&mut ctx) {
            ctx.filing = Some(observer);
        }
        ctx
    }

    /// Tells the filing observer, if any, that messages of `from` were copied or moved to
    /// `to`: `pairs` of (UID in `from`, UID in `to`), as COPYUID reports them.
    pub(crate) fn filed(&self, account: &str, from: &str, to: &str, pairs: &[(u32, u32)]) {
        if let Some(observer) = &self.filing {
            let uids: Vec<u32> = pairs.iter().map(|&(_, to)| to).collect();
            observer.filed(account, from, to, &uids);
        }
    }

    /// Octets held now by the literal budget (APPEND in flight) and the header cache.
    pub fn memory_in_use(&self) -> (u64, u64) {
        (self.literals.in_use(), self.headers.held() as u64)
    }

    /// The context after a configuration reload: new settings, with the state connections
    /// share kept (the literal budget and the header cache, whose sizes stay as first
    /// configured, and \Recent).
    pub fn reloaded(&self, settings: ImapSettings) -> Arc<ImapContext> {
        Arc::new(ImapContext {
            store: Arc::clone(&self.store),
            registry: Arc::clone(&self.registry),
            hub: self.hub.clone(),
            settings,
            literals: Arc::clone(&self.literals),
            recent: Arc::clone(&self.recent),
            headers: Arc::clone(&self.headers),
            filing: self.filing.clone(),
        })
    }

    /// Whether storing `adding` more bytes for `account` stays within the quota.
    pub(crate) async fn within_quota(
        &self,
        account: &str,
        adding: u64,
    ) -> Result<bool, certmail_store::StoreError> {
        let quota = self.quota();
        if !quota.is_limited() {
            return Ok(true);
        }
        let used = self.store.account_usage(account).await?;
        Ok(quota.fits(used, adding))
    }

    /// The mail quota the store enforces on APPEND and COPY (`[smtp] quota_bytes`: one
    /// quota per account, whichever protocol stores the mail).
    pub(crate) fn quota(&self) -> certmail_store::MailQuota {
        certmail_store::MailQuota::from_config(self.settings.quota_bytes)
    }

    /// Literal octets held right now by all connections (for metrics and tests).
    pub fn literal_memory_in_use(&self) -> u64 {
        self.literals.in_use()
    }
}
