//! What admin requests may touch: [`AdminContext`], built from the running daemon (by the
//! admin socket service) or, with the daemon stopped, by [`AdminContext::direct`] on its
//! store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context as _;
use certmail_session::KickReason;

/// A boxed future of a [`DaemonControl`] action.
pub type ControlFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// What only a running daemon can do for an admin request. The runtime services implement
/// it on the daemon's context, so the admin handlers do not depend on them.
pub trait DaemonControl: Send + Sync {
    /// Re-reads the configuration, certificates and CRLs (as SIGHUP does).
    fn reload(&self) -> ControlFuture<'_>;
    /// Re-reads every CRL file now and ends the sessions they revoke.
    fn reload_crls(&self) -> ControlFuture<'_>;
    /// The TLS report counts recorded so far; with `send`, mails them now (today's too)
    /// and answers what was sent.
    fn tls_reports(&self, send: bool) -> ValueFuture<'_>;
}

/// A boxed future of a [`DaemonControl`] answer.
pub type ValueFuture<'a> =
    Pin<Box<dyn Future<Output = anyhow::Result<serde_json::Value>> + Send + 'a>>;

/// What a request may touch.
#[derive(Clone)]
pub struct AdminContext {
    /// The mail store.
    pub store: Arc<dyn certmail_store::Store>,
    /// The PKI in force (CA certificates, CRLs, policy).
    pub pki: Arc<certmail_pki::Pki>,
    /// Live sessions: present when the daemon runs (requests then end the sessions they
    /// affect), absent when the CLI works on a stopped daemon's store.
    pub sessions: Option<Arc<dyn certmail_session::SessionRegistry>>,
    /// Mailbox changes between connections: present when the daemon runs (an imported
    /// message then reaches the connections that have its mailbox open).
    pub hub: Option<certmail_session::ChangeHub>,
    /// The running daemon, for reload (absent on a stopped daemon).
    pub daemon: Option<Arc<dyn DaemonControl>>,
    /// `[auth]` rules for passwords an administrator chooses.
    pub password_rules: certmail_auth::policy::PasswordRules,
    /// The issuer named in TOTP URIs (the server's host name).
    pub issuer: String,
    /// `[server] local_domains`: the domains an account's addresses may use without
    /// `--foreign`.
    pub local_domains: Vec<String>,
    /// `[imap] max_acl_entries`: the most entries `mailbox share` lets one mailbox's ACL
    /// hold.
    pub max_acl_entries: usize,
    /// The daemon's sign-in state (its argon2 pool hashes the passwords set here); a
    /// stopped daemon's CLI process has its own.
    pub sign_in: Arc<certmail_auth::signin::SignInState>,
    /// The queue-edit lock shared with the relay's runner; a stopped daemon's store has no
    /// runner to race with, so a lock of its own then.
    pub queue: Arc<certmail_smtp::outbound::QueueSignals>,
    /// `[sieve] max_script_size` and `max_scripts`: what a generated script (`account
    /// vacation`) must fit.
    pub script_quota: certmail_store::ScriptQuota,
    /// Who asks, for the audit log: `uid=N` of the admin socket's peer (SO_PEERCRED), or
    /// of this process on a stopped daemon's store (`uid=N direct`).
    pub actor: String,
}

impl AdminContext {
    /// The context the CLI uses on a stopped daemon's store: opens the store and loads the
    /// PKI of `config`.
    pub async fn direct(config: &crate::config::Config) -> anyhow::Result<AdminContext> {
        let store = crate::context::open_store(config).await.context(
            "the daemon is not running (no admin socket) and the store could not be opened directly",
        )?;
        let pki_config = config.pki.clone();
        let pki =
            tokio::task::spawn_blocking(move || certmail_pki::Pki::load(&pki_config)).await??;
        Ok(AdminContext {
            store,
            pki: Arc::new(pki),
            sessions: None,
            hub: None,
            password_rules: config.password_rules(),
            issuer: config.server.hostname.clone(),
            local_domains: config.server.local_domains.clone(),
            max_acl_entries: config.imap.max_acl_entries,
            daemon: None,
            sign_in: Arc::default(),
            queue: Arc::default(),
            script_quota: script_quota(&config.sieve),
            actor: format!(
                "uid={} direct",
                own_uid().map_or("?".into(), |u| u.to_string())
            ),
        })
    }

    /// Ends `account`'s live session, if the daemon runs; returns the connections ended.
    pub(super) async fn kick(&self, account: &str, reason: KickReason) -> usize {
        match &self.sessions {
            Some(r) => r.kick(account, reason).await,
            None => 0,
        }
    }
}

/// The per-account script quota of `[sieve]`.
pub fn script_quota(s: &certmail_config::SieveSection) -> certmail_store::ScriptQuota {
    certmail_store::ScriptQuota {
        max_bytes: s.max_script_size,
        max_scripts: s.max_scripts,
    }
}

/// This process's effective uid: the owner of `/proc/self` (no libc call needed).
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// `n` things, in the singular for one: `counted(1, "account", "accounts")` is "1 account".
pub(super) fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n: u64 = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// " (N connections ended)" when a request ended live connections.
pub(super) fn ended(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => " (1 connection ended)".to_string(),
        n => format!(" ({n} connections ended)"),
    }
}
