//! [`WebContext`]: what the daemon hands the web, and the state the web keeps itself.

use std::sync::Arc;

use certmail_auth::policy::PasswordRules;
use certmail_auth::signin::SignInPolicy;
use certmail_pki::Pki;
use certmail_session::{SessionPolicy, SessionRegistry};
use certmail_store::Store;

use crate::config::WebConfig;

/// Something the daemon may tell people by mail (it owns delivery and templates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A person signed up: the organisation's admins should approve or refuse.
    SignedUp {
        /// The new, pending account.
        account: String,
        /// Its organisation.
        organisation: String,
    },
    /// An org admin refused a sign-up, with the reason for the applicant.
    Refused {
        /// The applicant's (now removed) account id.
        account: String,
        /// The applicant's name (from the certificate).
        name: String,
        /// The address the applicant asked for.
        address: String,
        /// Where the applicant asked to be told (an address they read now), if anywhere.
        contact: Option<String>,
        /// The admin's organisation.
        organisation: String,
        /// The admin's reason.
        reason: String,
    },
}

/// The callback behind [`WebContext::notify`].
pub type NotifyFn = dyn Fn(Notice) + Send + Sync;

/// The handles the web needs, as the daemon holds them (the same types IMAP and SMTP get).
#[derive(Clone)]
pub struct WebContext {
    /// `[web]`.
    pub config: WebConfig,
    /// The mail store.
    pub store: Arc<dyn Store>,
    /// The PKI (issuing CAs, CRLs), shared and reloaded in place by the daemon.
    pub pki: Arc<Pki>,
    /// The sign-in policy IMAP and SMTP use (its per-IP throttle is shared with them).
    pub policy: SignInPolicy,
    /// The password rules (`[auth] password_*`).
    pub password_rules: PasswordRules,
    /// The single-active-session registry (to show and end the live mail session, and to
    /// place browser sessions in it with `[web] counts_as_device`).
    pub registry: Arc<dyn SessionRegistry>,
    /// `[auth] session_policy`: what a browser session that counts as a device does to
    /// another device's session (replace it, or be refused by it).
    pub session_policy: SessionPolicy,
    /// `[sieve] max_script_size` and `max_scripts`: what the out-of-office script must fit.
    pub script_quota: certmail_store::ScriptQuota,
    /// The issuer name in otpauth:// URIs (the daemon's host name).
    pub totp_issuer: String,
    /// Called for every [`Notice`]; `None` sends nothing.
    pub notify: Option<Arc<NotifyFn>>,
    /// Where several nodes serve the web (a cluster): the state they share. `None` keeps
    /// it in this process.
    pub shared: Option<crate::cookie::SharedWeb>,
}

impl std::fmt::Debug for WebContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebContext")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebContext {
    /// Tells the daemon about `notice`, if it listens.
    pub(crate) fn tell(&self, notice: Notice) {
        if let Some(n) = &self.notify {
            n(notice);
        }
    }
}
