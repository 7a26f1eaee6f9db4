//! What a person or an org admin can do, one function per action. The JSON API and the
//! HTML pages call these and nothing else, so both behave the same.
//!
//! - [`authorize`]: the certificate's person plus the second factor (the password in the
//!   request, or a browser session opened with it).
//! - `account`: summary, sign-up, password change. `devices`: devices, access record,
//!   the live mail session. `totp`: enrol, confirm, disable. `renewal`: binding a renewed
//!   certificate. `vacation`: the out-of-office reply. `admin`: the org admin's queue and
//!   actions.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod devices;
pub(crate) mod renewal;
pub(crate) mod totp;
pub(crate) mod vacation;

use std::collections::BTreeMap;

use certmail_auth::Secret;
use certmail_auth::signin::{self, Attempt, Credentials, Protocol};
use certmail_pki::{Identity, RefusalReason};
use certmail_session::{DeviceKey, Protocol as SessionProtocol};
use certmail_store::{Account, AuditEvent};

use crate::cookie::Check;

use crate::error::WebError;
use crate::identity::{self, Peer};
use crate::router::App;

/// A request whose person is known and has given the second factor.
#[derive(Debug, Clone)]
pub(crate) struct Authorized {
    /// The certificate.
    pub identity: Identity,
    /// The account, as read after the check.
    pub account: Account,
}

/// The second factor a request brings: the password (and TOTP code) in its body, or the
/// browser session's cookie.
#[derive(Debug, Default)]
pub(crate) struct Factor {
    /// The password, if the request carries one.
    pub password: Option<Secret<String>>,
    /// The TOTP code, if any.
    pub totp: Option<String>,
    /// The browser session cookie's value, if any.
    pub cookie: Option<String>,
}

/// The person of the certificate, with the second factor checked: a password in the
/// request goes through the IMAP/SMTP sign-in decision (lockout, throttle, TOTP, audit);
/// without one, a browser session opened by this certificate for this account.
pub(crate) async fn authorize(
    app: &App,
    peer: &Peer,
    factor: Factor,
) -> Result<Authorized, WebError> {
    let (identity, account) = identity::person(&app.ctx, peer).await?;
    if let Some(password) = factor.password {
        let account = check_password(app, peer, &account, password, factor.totp, false).await?;
        return Ok(Authorized { identity, account });
    }
    if let Some(token) = factor.cookie {
        match app
            .sessions
            .check(&token, &account.id, &identity.spki_sha256)
            .await
        {
            Check::Valid => return Ok(Authorized { identity, account }),
            Check::Ended(reason) => {
                return Err(WebError::refused(
                    401,
                    "session_ended",
                    format!(
                        "Your browser session was ended: {}. Type your password to open a new one.",
                        reason.imap_bye()
                    ),
                ));
            }
            Check::Invalid => {}
        }
    }
    Err(WebError::refused(
        401,
        "password_required",
        "This needs your password (and your authenticator code where you use one), or a signed-in session.",
    ))
}

/// Opens a browser session for the certificate's person (the password already checked):
/// with `[web] counts_as_device` it first takes the account's place in the
/// single-active-session registry as device (SPKI, address), under `[auth]
/// session_policy` (replacing another device's session, or refused by it). Returns the
/// cookie's token.
pub(crate) async fn open_session(
    app: &App,
    peer: &Peer,
    identity: &Identity,
    account: &Account,
) -> Result<String, WebError> {
    let device = if app.ctx.config.counts_as_device {
        let key = DeviceKey::new(identity.spki_sha256, peer.ip);
        let ctx = &app.ctx;
        let placed = ctx
            .registry
            .sign_in(&account.id, key, SessionProtocol::Web, ctx.session_policy)
            .await;
        Some(
            placed
                .map_err(|e| WebError::refused(409, "session_rejected", format!("You are {e}.")))?,
        )
    } else {
        None
    };
    app.sessions
        .open(&account.id, identity.spki_sha256, device)
        .await
        .ok_or_else(|| WebError::refused(503, "internal", "The session could not be opened (no randomness, or the database did not answer); try again."))
}

/// The password (with the TOTP code appended, as IMAP clients send it) through
/// `certmail_auth::signin::sign_in`. `allow_expired` accepts a right but expired password
/// (for changing it). An expired *temporary* password is not accepted: its short life is
/// what limits its exposure, so the person asks for a new one. Any other refusal is the
/// client's answer.
pub(crate) async fn check_password(
    app: &App,
    peer: &Peer,
    account: &Account,
    password: Secret<String>,
    totp: Option<String>,
    allow_expired: bool,
) -> Result<Account, WebError> {
    let mut given = password.into_inner();
    if let Some(code) = totp.filter(|c| !c.trim().is_empty()) {
        given.push_str(code.trim());
    }
    let attempt = Attempt {
        cert_der: peer.cert_der(),
        credentials: Credentials::Password {
            user: account.id.clone(),
            password: Secret::new(given),
        },
        ip: peer.ip,
        protocol: Protocol::Web,
        now: certmail_auth::now(),
    };
    let ctx = &app.ctx;
    match signin::sign_in(ctx.store.as_ref(), &ctx.pki, &ctx.policy, attempt).await? {
        Ok(signed) => Ok(signed.account),
        Err(r) if allow_expired && r.reason == RefusalReason::PasswordExpired => Ok(ctx
            .store
            .account(&account.id)
            .await?
            .unwrap_or_else(|| account.clone())),
        Err(r) => Err(WebError::from_refusal(&r)),
    }
}

/// Writes a web action to the audit log: `kind`, the account it concerns, the actor's
/// address and `fields` (never a password or code: callers pass only ids and reasons).
pub(crate) async fn audit(
    app: &App,
    kind: &str,
    account: Option<&str>,
    peer: &Peer,
    fields: &[(&str, &str)],
) -> Result<(), WebError> {
    let mut map = BTreeMap::new();
    map.insert("protocol".to_string(), "web".to_string());
    for (k, v) in fields {
        map.insert((*k).to_string(), (*v).to_string());
    }
    tracing::info!(event = kind, ip = %peer.ip, account = account.unwrap_or("-"), ?map, "web");
    app.ctx
        .store
        .append_audit(AuditEvent {
            time: certmail_auth::now() * 1000,
            account: account.map(str::to_string),
            kind: kind.to_string(),
            ip: Some(peer.ip.to_string()),
            fields: map,
        })
        .await?;
    Ok(())
}
