//! The sign-in decision: certificate identity, binding, name, account state, second factor.
//!
//! DESIGN.md "Identity" fixes the order; the first failing check gives the one reason the
//! client hears. Steps 1-8 (certificate) are `certmail_pki::Pki::check`; this module adds
//! binding (9), name (10), account state (11, 12) and the password (14). Every decision
//! is written to the audit log with the certificate's subject, serial, issuer and
//! fingerprint.

use std::collections::BTreeMap;
use std::net::IpAddr;

use certmail_pki::{Identity, Pki, Refusal, RefusalReason};
use certmail_store::{Account, AccountState, AuditEvent, Store};

use crate::Secret;
use crate::error::AuthError;
use crate::password;

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

/// Policy for sign-in.
#[derive(Debug, Clone)]
pub struct SignInPolicy {
    /// The password is required as a second factor (EXTERNAL alone is refused).
    pub require_password: bool,
}

impl Default for SignInPolicy {
    fn default() -> Self {
        Self {
            require_password: true,
        }
    }
}

/// Which protocol a sign-in came from (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// IMAP.
    Imap,
    /// SMTP submission.
    Smtp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Self::Imap => "imap",
            Self::Smtp => "smtp",
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
        Err(refusal) => Err(refusal.clone()),
        Ok(identity) => decide(store, policy, identity, &credentials, now).await?,
    };
    audit(
        store,
        cert_der,
        &checked,
        &outcome,
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

async fn decide(
    store: &dyn Store,
    policy: &SignInPolicy,
    identity: &Identity,
    credentials: &Credentials,
    now: i64,
) -> Result<Result<Account, Refusal>, AuthError> {
    // 9. Binding: the certificate must be bound, and to the account the client names.
    let Some(binding) = store.binding_by_spki(&identity.spki_sha256).await? else {
        return Ok(Err(Refusal::new(
            RefusalReason::CertificateNotBound,
            format!(
                "Your certificate ({}) is not registered for any mail account. Ask your mail administrator to register it.",
                identity.subject_dn
            ),
        )));
    };
    let Some(mut account) = store.account(&binding.account).await? else {
        return Ok(Err(Refusal::new(
            RefusalReason::CertificateNotBound,
            "Your certificate is registered to an account that no longer exists. Ask your mail administrator.",
        )));
    };
    let named = match credentials {
        Credentials::External { authzid } => authzid.as_deref().filter(|a| !a.is_empty()),
        Credentials::Password { user, .. } => Some(user.as_str()),
    };
    if let Some(name) = named.filter(|n| !names_account(&account, n)) {
        return Ok(Err(Refusal::new(
            RefusalReason::BoundToOtherAccount,
            format!(
                "Your certificate belongs to another account than {name}. Sign in with your own account's name, or use your own certificate."
            ),
        )));
    }
    // 10. The name on the certificate must be the account's, exactly (after NFC).
    if !certmail_pki::names_match(&identity.name, &account.name) {
        return Ok(Err(Refusal::new(
            RefusalReason::NameMismatch,
            format!(
                "The name on your certificate ({}) differs from the name on your account ({}). Ask your mail administrator to correct it.",
                identity.name, account.name
            ),
        )));
    }
    // 11, 12. Account state.
    match account.state {
        AccountState::Pending => {
            return Ok(Err(Refusal::new(
                RefusalReason::AccountPending,
                "Your account is waiting for approval by your organisation's mail administrator.",
            )));
        }
        AccountState::Disabled => {
            return Ok(Err(Refusal::new(
                RefusalReason::AccountDisabled,
                "Your account is disabled. Contact your mail administrator.",
            )));
        }
        AccountState::Locked => {
            return Ok(Err(Refusal::new(
                RefusalReason::AccountLocked,
                "Your account is locked after repeated failed sign-ins. Contact your mail administrator to unlock it.",
            )));
        }
        AccountState::Active => {}
    }
    // 14. The second factor.
    match credentials {
        Credentials::External { .. } if policy.require_password => {
            return Ok(Err(Refusal::new(
                RefusalReason::BadPassword,
                "This server needs your password as well as your certificate: choose normal password authentication in your mail program.",
            )));
        }
        Credentials::External { .. } => {}
        Credentials::Password { password: pw, .. } => {
            let ok = match &account.password_hash {
                Some(h) => password::verify_async(pw.clone(), h.clone()).await?,
                None => false,
            };
            if !ok {
                account.failed_logins = account.failed_logins.saturating_add(1);
                store.update_account(account).await?;
                return Ok(Err(Refusal::new(
                    RefusalReason::BadPassword,
                    "The password is wrong. Check it and try again.",
                )));
            }
        }
    }
    if account.failed_logins != 0 {
        account.failed_logins = 0;
        store.update_account(account.clone()).await?;
    }
    let _ = now;
    Ok(Ok(account))
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
    Ok(decide(store, policy, identity, credentials, now)
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
    cert_der: Option<&[u8]>,
    checked: &Result<Identity, Refusal>,
    outcome: &Result<Account, Refusal>,
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
            ("sign_in_refused", None)
        }
    };
    count(
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
    listener: &str,
    ip: IpAddr,
    error: &str,
    now_ms: i64,
) -> Result<(), AuthError> {
    let mut fields = BTreeMap::new();
    fields.insert("listener".to_string(), listener.to_string());
    fields.insert("error".to_string(), error.to_string());
    count("tls_handshake_failed", listener);
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

/// Sign-in outcomes counted since start, by (outcome, reason), for the metrics endpoint.
pub fn outcome_counts() -> Vec<((String, String), u64)> {
    counts()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn counts() -> &'static std::sync::Mutex<BTreeMap<(String, String), u64>> {
    static COUNTS: std::sync::OnceLock<std::sync::Mutex<BTreeMap<(String, String), u64>>> =
        std::sync::OnceLock::new();
    COUNTS.get_or_init(Default::default)
}

fn count(outcome: &str, reason: &str) {
    *counts()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry((outcome.to_string(), reason.to_string()))
        .or_insert(0) += 1;
}
