//! Administration: the admin protocol and its handlers.
//!
//! sled holds an exclusive lock on the store, so while the daemon runs every `certmail
//! account|cert|…` subcommand sends a [`Request`] over the daemon's admin socket (a Unix
//! socket, mode 0600, one JSON object per line; `services::admin_socket`) and prints the
//! [`Response`]. With the daemon stopped, the same [`Request`] is executed directly on the
//! store by the same [`execute`], so both paths behave alike.
//!
//! - This module: [`Request`], [`Response`], [`QueueAction`] (the protocol).
//! - [`context`]: [`AdminContext`], what a request may touch, and [`DaemonControl`], what
//!   only the running daemon can do (reload), implemented by the services.
//! - [`execute`] audits every request that changes something (actor, arguments without
//!   secrets, outcome; also in the daemon's log) and hands it to the handler of its
//!   family, one small async function per command: `accounts`, `account_delete` (with the
//!   `--keep-mail` Maildir export), `certs`, `aliases`, `mailboxes` (sharing), `devices` (TOTP and devices),
//!   `sessions`, `queue`, [`ops`] (backup, import, audit, stats), `control` (reload) and
//!   [`vacation`] (an administrator's out-of-office reply for a person on leave).
//!
//! Rules: no clap and no printing here (the CLI does both); every failure is a
//! [`Response`] with a machine-readable code, never a panic.

mod account_delete;
mod accounts;
mod aliases;
mod certs;
pub mod context;
mod control;
mod devices;
mod mailboxes;
pub mod ops;
mod queue;
mod service;
mod sessions;
pub mod vacation;

pub(crate) use account_delete::write_private;
pub use context::{AdminContext, ControlFuture, DaemonControl};
pub use service::execute;

use serde::{Deserialize, Serialize};

/// One administrative request. One JSON object per line on the socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Creates an account (pending approval unless `approve`).
    AccountAdd(NewAccount),
    /// Approves a pending account (or re-activates a disabled or locked one).
    AccountApprove {
        /// The login id.
        id: String,
    },
    /// Disables an account: it can no longer sign in and its sessions end.
    AccountDisable {
        /// The login id.
        id: String,
    },
    /// Deletes an account with its addresses, certificates and mail; its sessions end
    /// (`admin/account_delete.rs`).
    AccountDelete {
        /// The login id.
        id: String,
        /// First write its mail as a Maildir into this absolute, new or empty directory.
        #[serde(default)]
        keep_mail: Option<String>,
    },
    /// Locks an account: it can no longer sign in and its sessions end.
    AccountLock {
        /// The login id.
        id: String,
    },
    /// Unlocks a locked account and resets its failed sign-in count.
    AccountUnlock {
        /// The login id.
        id: String,
    },
    /// Grants the org-admin role for an organisation (`None`: removes it).
    AccountRole {
        /// The login id.
        id: String,
        /// The organisation administered; `None` removes the role.
        organisation: Option<String>,
    },
    /// Sets the networks an account may sign in from (empty: its organisation's).
    AccountNetworks {
        /// The login id.
        id: String,
        /// CIDR networks or single addresses.
        cidrs: Vec<String>,
    },
    /// TOTP for an account: `enable` (new secret), `show` or `disable`.
    AccountTotp {
        /// The login id.
        id: String,
        /// enable, show or disable.
        action: String,
    },
    /// Sets (`Some`) or removes (`None`) a person's vacation reply (`admin/vacation.rs`).
    AccountVacation {
        /// The login id.
        id: String,
        /// The period, subject and text; `None`: off.
        vacation: Option<vacation::VacationSpec>,
    },
    /// Lists an account's devices.
    DeviceList {
        /// The login id.
        account: String,
    },
    /// Forgets one device of an account (by its id), or all of them.
    DeviceForget {
        /// The login id.
        account: String,
        /// The device id as `device list` prints it; `None` for all.
        device: Option<String>,
    },
    /// Sets a new password (`None` generates a temporary one, returned once).
    AccountPasswd {
        /// The login id.
        id: String,
        /// The new password.
        password: Option<String>,
    },
    /// Shows one account with its certificates.
    AccountShow {
        /// The login id.
        id: String,
    },
    /// Lists every account.
    AccountList,
    /// Binds a certificate (PEM or DER, base64 of the file) to an account.
    CertBind {
        /// The login id.
        account: String,
        /// The certificate file's bytes, base64.
        cert_b64: String,
    },
    /// Unbinds a certificate, by SPKI SHA-256 (hex) or by the certificate itself.
    CertUnbind {
        /// The login id.
        account: String,
        /// SPKI SHA-256 in hex, as `cert list` prints it.
        spki_sha256: String,
    },
    /// Lists bindings, of one account or all.
    CertList {
        /// Only this account.
        account: Option<String>,
    },
    /// Creates or replaces an alias or distribution list: one address for many accounts.
    AliasSet {
        /// The alias address (in a local domain).
        address: String,
        /// Account ids or addresses it delivers to.
        members: Vec<String>,
    },
    /// Removes an alias.
    AliasRemove {
        /// The alias address.
        address: String,
    },
    /// Lists aliases.
    AliasList,
    /// Shares a mailbox (RFC 4314 ACL): `to` (an account id, `org:ORG` or `anyone`) gets
    /// `rights` on `target` (`ACCOUNT/MAILBOX`), or loses every right with `revoke`.
    MailboxShare {
        /// The mailbox, as `ACCOUNT/MAILBOX`.
        target: String,
        /// Who it is shared with.
        to: String,
        /// The rights, letters of `lrswipkxtea`.
        rights: String,
        /// Remove the entry instead.
        revoke: bool,
    },
    /// Re-reads the configuration, TLS certificates, CA certificates and CRLs (daemon
    /// running only); fails with the error when the new configuration is broken.
    Reload,
    /// Re-reads the CRL directory at once and ends the sessions it revokes (daemon running
    /// only): `certmail crl fetch` asks this after writing a new CRL.
    ReloadCrls,
    /// Writes a consistent snapshot of the store into a new directory (absolute path,
    /// written by the daemon's user); see `admin/ops.rs`.
    Backup {
        /// The backup directory (created; must be new or empty).
        dir: String,
    },
    /// Stores one imported message (`import-maildir`), creating its mailbox if needed.
    ImportMessage {
        /// The login id.
        account: String,
        /// The mailbox name (`/`-delimited).
        mailbox: String,
        /// RFC 6154 special use (`\Sent`…): the account's mailbox with it wins over `mailbox`.
        special_use: Option<String>,
        /// IMAP flags.
        flags: Vec<String>,
        /// INTERNALDATE, Unix seconds.
        internal_date: i64,
        /// The RFC 5322 message, base64.
        body_b64: String,
    },
    /// Audit events (oldest first), the newest `limit` that match every filter given.
    AuditQuery {
        /// Only this account's.
        account: Option<String>,
        /// Only from this client IP.
        ip: Option<String>,
        /// Only at or after this time, Unix milliseconds.
        since_ms: Option<i64>,
        /// Only before this time, Unix milliseconds.
        until_ms: Option<i64>,
        /// At most this many.
        limit: usize,
    },
    /// Counts: accounts, mailboxes, messages, queue, live sessions, store writes.
    Stats,
    /// Lists live sessions (daemon running only).
    SessionList,
    /// Ends an account's session: every connection hears why and is closed.
    SessionKick {
        /// The login id.
        account: String,
    },
    /// The outbound queue: list, show, retry, hold, release or delete.
    Queue {
        /// What to do.
        action: QueueAction,
        /// The entry (every action but list).
        id: Option<u64>,
    },
    /// What the server would decide about a certificate, and why.
    CertInspect {
        /// The certificate file's bytes, base64.
        cert_b64: String,
        /// Also check binding and name against this account.
        account: Option<String>,
    },
}

/// What `account add` asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewAccount {
    /// The login id.
    pub id: String,
    /// The person's name exactly as on their certificate.
    pub name: String,
    /// The organisation (agency, school).
    pub organisation: String,
    /// Mail addresses; the first is the primary one.
    pub addresses: Vec<String>,
    /// Accept addresses outside `[server] local_domains`.
    #[serde(default)]
    pub foreign: bool,
    /// Approve at once.
    pub approve: bool,
    /// A person's account (the default) or an institution's.
    #[serde(default)]
    pub kind: certmail_store::AccountKind,
    /// The password; `None` generates a temporary one that is returned once.
    pub password: Option<String>,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request succeeded (for `cert inspect`: whether the certificate is accepted).
    pub ok: bool,
    /// A short machine-readable code for failures (e.g. `not_found`, or a refusal reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A sentence for a person.
    pub message: String,
    /// Structured data (accounts, bindings, inspection details).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Response {
    /// A success with a message and data.
    pub fn ok(message: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            ok: true,
            code: None,
            message: message.into(),
            data,
        }
    }
    /// A failure with its code and a sentence.
    pub fn fail(code: &str, message: impl Into<String>) -> Self {
        Self {
            ok: false,
            code: Some(code.into()),
            message: message.into(),
            data: serde_json::Value::Null,
        }
    }
}

/// What to do with the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueAction {
    /// Every entry.
    List,
    /// One entry with its recipients.
    Show,
    /// Try now (and release if held).
    Retry,
    /// Stop delivering it until released.
    Hold,
    /// Deliver it again on its schedule.
    Release,
    /// Remove it without delivering or reporting.
    Delete,
    /// The TLS report counts recorded so far (RFC 8460).
    TlsReport,
    /// Mail the TLS reports now, today's too.
    TlsReportSend,
}
