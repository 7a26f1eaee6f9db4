//! The sign-in decision: certificate identity, binding, name, account state, second factor.
//!
//! DESIGN.md "Identity" fixes the order; the first failing check gives the one reason the
//! client hears. Steps 1-8 (certificate) are `certmail_pki::Pki::check`; this module adds
//! binding (9) and name (10), then the account rules of `rules` (state and lock 11-12,
//! networks 13, password age 15), the per-IP throttle (16, checked before the password so
//! a throttled address cannot keep guessing), and the second factor of `factor` (password
//! and TOTP, 14). Only failed second factors reach the lockout count, and they come after
//! the binding check: a failure counts only with a certificate bound to the account.
//! Every decision is written to the audit log with the certificate's subject, serial,
//! issuer and fingerprint.

use std::collections::BTreeMap;
use std::net::IpAddr;

use certmail_pki::{Identity, Pki, Refusal, RefusalReason};
use certmail_store::{Account, AccountKind, AuditEvent, Store};

use crate::Secret;
use crate::error::AuthError;
use crate::factor::{self, Factor};
use crate::rules::{check_network, check_password_age, check_state, count_failure, minutes};

/// How the client signed in (after SASL decoding).
#[derive(Debug, Clone)]
pub enum Credentials {
    /// SASL EXTERNAL: the certificate alone, with an optional authorization id (Thunderbird
    /// sends the username here).
    External {
        /// The authorization id, if any.
        authzid: Option<String>,
    },
    /// SASL PLAIN / LOGIN / IMAP LOGIN: user name and password.
    Password {
        /// The user name (account id or one of its addresses).
        user: String,
        /// The password.
        password: Secret<String>,
    },
}

pub use crate::policy::{SignInPolicy, SignInState};

/// Which protocol a sign-in came from (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// IMAP.
    Imap,
    /// SMTP submission.
    Smtp,
    /// The self-service web (crates/web): password checks before account changes.
    Web,
    /// ManageSieve (RFC 5804, crates/managesieve).
    ManageSieve,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Self::Imap => "imap",
            Self::Smtp => "smtp",
            Self::Web => "web",
            Self::ManageSieve => "managesieve",
        }
    }
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account, as read at sign-in.
    pub account: Account,
    /// The certificate's identity.
    pub identity: Identity,
}

/// One sign-in attempt as a connection saw it.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// The TLS client certificate (DER), if the client sent one.
    pub cert_der: Option<&'a [u8]>,
    /// What the client sent.
    pub credentials: Credentials,
    /// The client's address.
    pub ip: IpAddr,
    /// IMAP or SMTP.
    pub protocol: Protocol,
    /// Unix seconds.
    pub now: i64,
}

/// Decides a sign-in. `Ok(Err(refusal))` is a refusal the client hears; `Err` is our failure.
pub async fn sign_in(
    store: &dyn Store,
    pki: &Pki,
    policy: &SignInPolicy,
    attempt: Attempt<'_>,
) -> Result<Result<SignedIn, Refusal>, AuthError> {
    let Attempt {
        cert_der,
        credentials,
        ip,
        protocol,
        now,
    } = attempt;
    let checked = pki.check(cert_der, now);
    let outcome = match &checked {
        Err(refusal) => Err(precredential_refusal(policy, refusal, ip, now).await?),
        Ok(identity) => decide(store, policy, identity, &credentials, Some(ip), now).await?,
    };
    if let (Ok(_), Err(refusal)) = (&checked, &outcome) {
        // The throttle counts every refusal of a valid certificate but its own, our
        // missing CRL and a locked account (no password is checked on one, so retries
        // guess nothing, and a locked colleague retrying behind an office's shared address
        // must not throttle everyone there); refusals before it are counted apart
        // (`precredential_refusal`).
        if !matches!(
            refusal.reason,
            RefusalReason::TooManyFailures
                | RefusalReason::RevocationUnknown
                | RefusalReason::AccountLocked
        ) {
            policy.throttle.count_failure(ip, now).await?;
        }
    }
    let account = refused_account(store, &checked, &outcome).await?;
    audit(
        store,
        &policy.state,
        cert_der,
        &checked,
        (&outcome, account),
        &credentials,
        ip,
        protocol,
        now,
    )
    .await?;
    Ok(outcome.map(|account| SignedIn {
        account,
        identity: checked.expect("an accepted sign-in has an identity"),
    }))
}

/// An attempt refused before any credential was checked (no certificate, or one the PKI
/// refuses; rows 1 to 8): counted in the separate pre-credential throttle, so clients
/// without a certificate behind a shared NAT address never lock out its certificate
/// holders. Past that throttle's limit the address hears so instead.
async fn precredential_refusal(
    policy: &SignInPolicy,
    refusal: &Refusal,
    ip: IpAddr,
    now: i64,
) -> Result<Refusal, AuthError> {
    if refusal.reason == RefusalReason::RevocationUnknown {
        // Our missing CRL, not the client's doing.
        return Ok(refusal.clone());
    }
    let throttle = &policy.precredential_throttle;
    if let Some(wait) = throttle.blocked_for(ip, now).await? {
        let wait = minutes(wait);
        return Ok(Refusal::new(
            RefusalReason::TooManyFailures,
            format!(
                "Too many attempts without a valid certificate from your address ({ip}); \
                 present your certificate, or try again in {wait} minutes."
            ),
        ));
    }
    throttle.count_failure(ip, now).await?;
    Ok(refusal.clone())
}

/// The account a refusal concerns, for the audit log: known once the certificate is bound
/// to the account the client named (row 10 on), so a helpdesk finds its lockouts,
/// expired passwords and TOTP failures under the account.
async fn refused_account(
    store: &dyn Store,
    checked: &Result<Identity, Refusal>,
    outcome: &Result<Account, Refusal>,
) -> Result<Option<String>, AuthError> {
    let (Ok(identity), Err(refusal)) = (checked, outcome) else {
        return Ok(None);
    };
    if refusal.reason.rank() < RefusalReason::NameMismatch.rank() {
        return Ok(None);
    }
    Ok(store
        .binding_by_spki(&identity.spki_sha256)
        .await?
        .map(|b| b.account))
}

/// Rows 9 to 16 of the refusal table for a certificate that passed rows 1 to 8.
async fn decide(
    store: &dyn Store,
    policy: &SignInPolicy,
    identity: &Identity,
    credentials: &Credentials,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<Result<Account, Refusal>, AuthError> {
    // 9. Binding: the certificate must be bound, and to the account the client names.
    let Some(binding) = store.binding_by_spki(&identity.spki_sha256).await? else {
        return Ok(Err(Refusal::new(
            RefusalReason::CertificateNotBound,
            format!(
                "Your certificate ({}) is not registered for any mail account. Ask {} to register it.",
                identity.subject_dn, policy.contact
            ),
        )));
    };
    // Sign-ins of one account are decided one at a time, so that the failure counter and
    // the last TOTP step are read and written without a race (two parallel attempts could
    // otherwise both accept one code). An async mutex, held only for this decision.
    let _one_at_a_time = policy.state.gate(&binding.account).await;
    let Some(mut account) = store.account(&binding.account).await? else {
        return Ok(Err(Refusal::new(
            RefusalReason::CertificateNotBound,
            format!(
                "Your certificate is registered to an account that no longer exists. Ask {}.",
                policy.contact
            ),
        )));
    };
    if let Some(refusal) = check_names(policy, identity, credentials, &account) {
        return Ok(Err(refusal));
    }
    if let Some(refusal) = check_kind(&account, identity) {
        return Ok(Err(refusal));
    }
    // 11, 12. Account state (a timed lock that has run out is lifted here).
    if let Some(refusal) = check_state(store, policy, &mut account, ip, now).await? {
        return Ok(Err(refusal));
    }
    let Some(ip) = ip else {
        // `certmail cert inspect`: no connection, so no network, throttle or password.
        return Ok(Ok(account));
    };
    // 13. The networks the account may sign in from.
    if let Some(refusal) = check_network(policy, &account, ip) {
        return Ok(Err(refusal));
    }
    // 16 is checked before the second factor, so a throttled address cannot keep
    // guessing passwords; it wins over 14 and 15, which it would hide anyway.
    if let Some(wait) = policy.throttle.blocked_for(ip, now).await? {
        let wait = minutes(wait);
        return Ok(Err(Refusal::new(
            RefusalReason::TooManyFailures,
            format!(
                "Too many failed sign-ins from your address ({ip}); try again in {wait} minutes."
            ),
        )));
    }
    // 14. The second factor.
    match credentials {
        Credentials::External { .. } if policy.require_password => Ok(Err(Refusal::new(
            RefusalReason::BadPassword,
            "This server needs your password as well as your certificate: choose normal password authentication in your mail program.",
        ))),
        Credentials::External { .. } => {
            let device =
                factor::known_device(store, &account.id, &identity.spki_sha256, ip).await?;
            if account.totp_secret.is_some() && !factor::trusted(device.as_ref(), policy, now) {
                return Ok(Err(totp_required()));
            }
            if !factor::seen_lately(device.as_ref(), now) {
                let spki = identity.spki_sha256;
                factor::record_device(store, policy, &account.id, spki, ip, false, now).await?;
            }
            Ok(Ok(account))
        }
        Credentials::Password { password, .. } => {
            let spki = identity.spki_sha256;
            password_factor(store, policy, account, password, spki, ip, now).await
        }
    }
}

/// An institution's account (대표 메일) is signed in to directly only with a special-purpose
/// certificate (which the PKI accepts only with `[pki] allow_special_purpose`); its staff
/// reach it through shared access with their own accounts.
fn check_kind(account: &Account, identity: &Identity) -> Option<Refusal> {
    if account.kind() != AccountKind::Institution || identity.is_special_purpose() {
        return None;
    }
    Some(Refusal::new(
        RefusalReason::PolicyNotAllowed,
        format!(
            "{} is an institution's mailbox: a personal certificate does not sign in to it. \
             Sign in to your own account and open it under \"Other Users/{}\" once it is \
             shared with you, or use the institution's special-purpose certificate.",
            account.id, account.id
        ),
    ))
}

/// The rest of row 9 (the account the client names must be the certificate's) and row 10
/// (the name on the certificate must be the account's, exactly, after NFC).
fn check_names(
    policy: &SignInPolicy,
    identity: &Identity,
    credentials: &Credentials,
    account: &Account,
) -> Option<Refusal> {
    let named = match credentials {
        Credentials::External { authzid } => authzid.as_deref().filter(|a| !a.is_empty()),
        Credentials::Password { user, .. } => Some(user.as_str()),
    };
    if let Some(name) = named.filter(|n| !names_account(account, n)) {
        return Some(Refusal::new(
            RefusalReason::BoundToOtherAccount,
            format!(
                "Your certificate belongs to another account than {name}. Sign in with your own account's name, or use your own certificate."
            ),
        ));
    }
    if !certmail_pki::names_match(&identity.name, &account.name) {
        return Some(Refusal::new(
            RefusalReason::NameMismatch,
            format!(
                "The name on your certificate ({}) differs from the name on your account ({}). Ask {} to correct it.",
                identity.name, account.name, policy.contact
            ),
        ));
    }
    None
}

/// Row 14 with a password (and the TOTP code appended to it), then row 15; on success the
/// failure count is reset, the code spent and the device recorded.
async fn password_factor(
    store: &dyn Store,
    policy: &SignInPolicy,
    mut account: Account,
    password: &Secret<String>,
    spki: [u8; 32],
    ip: IpAddr,
    now: i64,
) -> Result<Result<Account, Refusal>, AuthError> {
    let device = factor::known_device(store, &account.id, &spki, ip).await?;
    let trusted = factor::trusted(device.as_ref(), policy, now);
    let totp_step = match factor::check(policy, &account, password, &spki, trusted, now).await? {
        // The certificate is bound to this account (checked before): only such failures
        // count toward its lockout (DESIGN.md "Identity").
        Factor::WrongPassword => {
            return Ok(Err(
                count_failure(store, policy, account, ip, now, false).await?
            ));
        }
        Factor::TotpInvalid => {
            return Ok(Err(
                count_failure(store, policy, account, ip, now, true).await?
            ));
        }
        Factor::TotpRequired => return Ok(Err(totp_required())),
        Factor::Accepted { totp_step } => totp_step,
    };
    let with_code = totp_step.is_some();
    if with_code {
        // The device is trusted before its code is spent: a mail program that opens
        // several connections with the same saved password + code finds the device
        // trusted on the next one instead of a replayed code.
        factor::record_device(store, policy, &account.id, spki, ip, true, now).await?;
    }
    let mut changed = account.failed_logins != 0;
    account.failed_logins = 0;
    if let Some(step) = totp_step {
        // RFC 6238 §5.2: each code is accepted once.
        account
            .settings
            .insert(crate::totp::LAST_STEP_SETTING.to_string(), step.to_string());
        changed = true;
    }
    if changed {
        store.update_account(account.clone()).await?;
    }
    // 15. The password is right but may have run out.
    if let Some(refusal) = check_password_age(policy, &account, now) {
        return Ok(Err(refusal));
    }
    if !with_code && !factor::seen_lately(device.as_ref(), now) {
        factor::record_device(store, policy, &account.id, spki, ip, false, now).await?;
    }
    Ok(Ok(account))
}

fn totp_required() -> Refusal {
    Refusal::new(
        RefusalReason::TotpRequired,
        "This device is new to your account: type the 6-digit code from your authenticator app right after your password.",
    )
}

/// The binding, name and state checks of [`sign_in`] without the second factor, for
/// `certmail cert inspect`.
pub(crate) async fn decide_for_inspection(
    store: &dyn Store,
    policy: &SignInPolicy,
    identity: &Identity,
    credentials: &Credentials,
    now: i64,
) -> Result<Result<(), Refusal>, AuthError> {
    Ok(decide(store, policy, identity, credentials, None, now)
        .await?
        .map(|_| ()))
}

/// Whether `name` (an account id or address, any case) names `account`.
pub fn names_account(account: &Account, name: &str) -> bool {
    let n = name.trim().to_lowercase();
    account.id == n || account.addresses.contains(&n)
}

#[allow(clippy::too_many_arguments)] // one call site; the fields are what the audit records
async fn audit(
    store: &dyn Store,
    state: &SignInState,
    cert_der: Option<&[u8]>,
    checked: &Result<Identity, Refusal>,
    (outcome, refused_account): (&Result<Account, Refusal>, Option<String>),
    credentials: &Credentials,
    ip: IpAddr,
    protocol: Protocol,
    now: i64,
) -> Result<(), AuthError> {
    let mut fields = BTreeMap::new();
    fields.insert("protocol".to_string(), protocol.as_str().to_string());
    fields.insert(
        "mechanism".to_string(),
        match credentials {
            Credentials::External { .. } => "external",
            Credentials::Password { .. } => "password",
        }
        .to_string(),
    );
    if let Credentials::Password { user, .. } = credentials {
        fields.insert("user".to_string(), user.clone());
    }
    // DESIGN.md: every decision records the certificate, refused ones too.
    match checked {
        Ok(id) => {
            fields.insert("subject".to_string(), id.subject_dn.clone());
            fields.insert("issuer".to_string(), id.issuer_dn.clone());
            fields.insert("serial".to_string(), id.serial_hex.clone());
            fields.insert("spki_sha256".to_string(), hex::encode(id.spki_sha256));
            fields.insert("cert_sha256".to_string(), hex::encode(id.cert_sha256));
        }
        Err(_) => {
            if let Some(sum) = cert_der.and_then(certmail_pki::cert_summary) {
                fields.insert("subject".to_string(), sum.subject_dn);
                fields.insert("issuer".to_string(), sum.issuer_dn);
                fields.insert("serial".to_string(), sum.serial_hex);
                fields.insert("cert_sha256".to_string(), sum.sha256_hex);
            }
            if let Some(spki) = cert_der.and_then(certmail_pki::spki_sha256_of) {
                fields.insert("spki_sha256".to_string(), hex::encode(spki));
            }
        }
    }
    let (kind, account) = match outcome {
        Ok(a) => ("sign_in_ok", Some(a.id.clone())),
        Err(r) => {
            fields.insert("reason".to_string(), r.reason.code().to_string());
            fields.insert("detail".to_string(), r.message.clone());
            ("sign_in_refused", refused_account)
        }
    };
    state.count(
        if outcome.is_ok() { "ok" } else { "refused" },
        fields.get("reason").map(String::as_str).unwrap_or(""),
    );
    tracing::info!(event = kind, %ip, account = account.as_deref().unwrap_or("-"), ?fields, "sign-in");
    store
        .append_audit(AuditEvent {
            time: now * 1000,
            account,
            kind: kind.to_string(),
            ip: Some(ip.to_string()),
            fields,
        })
        .await?;
    Ok(())
}

/// Records a failed TLS handshake on a user listener in the audit log (and the log): a
/// certificate whose key cannot prove possession (KCDSA, RSA-1024) never reaches sign-in,
/// so this is where a helpdesk finds out why.
pub async fn record_tls_failure(
    store: &dyn Store,
    state: &SignInState,
    listener: &str,
    ip: IpAddr,
    error: &str,
    now_ms: i64,
) -> Result<(), AuthError> {
    let mut fields = BTreeMap::new();
    fields.insert("listener".to_string(), listener.to_string());
    fields.insert("error".to_string(), error.to_string());
    state.count("tls_handshake_failed", listener);
    tracing::info!(event = "tls_handshake_failed", %ip, listener, error, "TLS handshake failed");
    store
        .append_audit(AuditEvent {
            time: now_ms,
            account: None,
            kind: "tls_handshake_failed".to_string(),
            ip: Some(ip.to_string()),
            fields,
        })
        .await?;
    Ok(())
}

#[cfg(test)]
#[path = "signin_tests.rs"]
mod tests;

/// Records in the audit log that a live connection was ended (another device signed in,
/// an admin kick, a lock…), with its cause. Each kicked connection writes one record.
pub async fn record_kick(
    store: &dyn Store,
    account: &str,
    protocol: Protocol,
    ip: Option<IpAddr>,
    cause: &str,
    now_ms: i64,
) -> Result<(), AuthError> {
    let mut fields = BTreeMap::new();
    fields.insert("cause".to_string(), cause.to_string());
    fields.insert("protocol".to_string(), protocol.as_str().to_string());
    tracing::info!(
        event = "session_kicked",
        account,
        cause,
        protocol = protocol.as_str(),
        "connection ended"
    );
    store
        .append_audit(AuditEvent {
            time: now_ms,
            account: Some(account.to_string()),
            kind: "session_kicked".to_string(),
            ip: ip.map(|i| i.to_string()),
            fields,
        })
        .await?;
    Ok(())
}
