//! Binding certificates to accounts, and explaining certificates to a helpdesk.

use certmail_pki::{Pki, Refusal, RefusalReason};
use certmail_store::{CertBinding, Store};
use serde::Serialize;

use crate::error::AuthError;
use crate::signin::{Credentials, SignInPolicy};

/// Why a certificate could not be bound.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BindRefusal {
    /// No such account.
    #[error("no account `{0}`; `certmail account list` shows them")]
    NoAccount(String),
    /// The certificate itself is refused.
    #[error("the certificate cannot sign in: {0}")]
    Refused(Refusal),
    /// Already bound to another account (a certificate binds to one account only).
    #[error("this certificate is already bound to account {0}; unbind it there first")]
    BoundElsewhere(String),
    /// The person already holds another account (one person, one personal account).
    #[error("the holder of this certificate ({0}) already has account {1}; one person holds one personal account")]
    PersonHasAccount(String, String),
    /// The name on the certificate is not the account's.
    #[error("the name on the certificate ({cert}) differs from the account's name ({account}); correct the account's name first")]
    NameMismatch {
        /// The name on the certificate.
        cert: String,
        /// The account's name.
        account: String,
    },
}

impl BindRefusal {
    /// A short machine code.
    pub fn code(&self) -> String {
        match self {
            Self::NoAccount(_) => "not_found".into(),
            Self::Refused(r) => r.reason.code().into(),
            Self::BoundElsewhere(_) => "bound_to_other_account".into(),
            Self::PersonHasAccount(..) => "person_has_account".into(),
            Self::NameMismatch { .. } => "name_mismatch".into(),
        }
    }
}

/// Binds the certificate `der` to `account_id` after checking it as a sign-in would
/// (a CRL that is momentarily missing does not stop a binding).
pub async fn bind_certificate(
    store: &dyn Store,
    pki: &Pki,
    account_id: &str,
    der: &[u8],
    now: i64,
) -> Result<Result<CertBinding, BindRefusal>, AuthError> {
    let Some(account) = store.account(account_id).await? else {
        return Ok(Err(BindRefusal::NoAccount(account_id.to_string())));
    };
    let identity = match pki.check(Some(der), now) {
        Ok(id) => id,
        Err(r) if r.reason == RefusalReason::RevocationUnknown => match pki.identity_unchecked(der) {
            Ok(id) => id,
            Err(_) => return Ok(Err(BindRefusal::Refused(r))),
        },
        Err(r) => return Ok(Err(BindRefusal::Refused(r))),
    };
    if let Some(other) = store.binding_by_spki(&identity.spki_sha256).await? {
        if other.account != account.id {
            return Ok(Err(BindRefusal::BoundElsewhere(other.account)));
        }
    }
    for other in store.bindings_by_dn(&identity.issuer_dn, &identity.subject_dn).await? {
        if other.account != account.id {
            return Ok(Err(BindRefusal::PersonHasAccount(identity.subject_dn.clone(), other.account)));
        }
    }
    if !certmail_pki::names_match(&identity.name, &account.name) {
        return Ok(Err(BindRefusal::NameMismatch { cert: identity.name.clone(), account: account.name.clone() }));
    }
    let binding = CertBinding {
        account: account.id.clone(),
        spki_sha256: identity.spki_sha256,
        issuer_dn: identity.issuer_dn.clone(),
        subject_dn: identity.subject_dn.clone(),
        serial_hex: identity.serial_hex.clone(),
        not_after: identity.not_after,
        bound_at: now,
    };
    store.bind_cert(binding.clone()).await?;
    Ok(Ok(binding))
}

/// A certificate binding for `account_id` from a PEM file, without any check: for the dev
/// mode's own demo certificate.
pub fn binding_from_pem(account_id: &str, pem: &[u8], now: i64) -> Result<CertBinding, AuthError> {
    let der = certmail_pki::cert_der_from_file_bytes(pem).map_err(|e| AuthError::Certificate(e.to_string()))?;
    let id = certmail_pki::Pki::identity_of(&der).map_err(|e| AuthError::Certificate(e.to_string()))?;
    Ok(CertBinding {
        account: account_id.to_string(),
        spki_sha256: id.spki_sha256,
        issuer_dn: id.issuer_dn,
        subject_dn: id.subject_dn,
        serial_hex: id.serial_hex,
        not_after: id.not_after,
        bound_at: now,
    })
}

/// What `certmail cert inspect` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// One line: ACCEPT or REFUSE and why.
    pub summary: String,
    /// The refusal, if refused.
    pub refusal: Option<RefusalReport>,
    /// What was read from the certificate (when it parsed).
    pub identity: Option<serde_json::Value>,
}

/// A refusal as a helpdesk reads it out.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalReport {
    /// The machine code (DESIGN.md's table).
    pub code: String,
    /// The IMAP reply the user's mail program shows.
    pub imap: String,
    /// The SMTP reply.
    pub smtp: String,
    /// The sentence the user hears.
    pub message: String,
}

/// Explains what the server would decide about `der`; with `account_id`, also binding,
/// name and account state (not the password).
pub async fn inspect(
    store: &dyn Store,
    pki: &Pki,
    der: &[u8],
    account_id: Option<&str>,
    now: i64,
) -> Result<Inspection, AuthError> {
    let identity = certmail_pki::Pki::identity_of(der).ok();
    let identity_json = identity.as_ref().map(|id| {
        serde_json::json!({
            "subject": id.subject_dn, "issuer": id.issuer_dn, "serial": id.serial_hex,
            "spki_sha256": hex::encode(id.spki_sha256), "name": id.name,
            "pki": format!("{:?}", id.pki), "policy": id.policy_oid, "not_after": id.not_after,
            "crl_distribution_points": id.cdp_uris,
        })
    });
    let mut result = pki.check(Some(der), now).map(|_| ());
    if let (Ok(()), Some(account)) = (&result, account_id) {
        let policy = SignInPolicy { require_password: false };
        let identity = pki.check(Some(der), now).expect("checked just above");
        let creds = Credentials::External { authzid: Some(account.to_string()) };
        result = crate::signin::decide_for_inspection(store, &policy, &identity, &creds, now).await?;
    }
    Ok(match result {
        Ok(()) => {
            let who = identity.as_ref().map(|i| format!("{} ({:?}, policy {})", i.name, i.pki, i.policy_oid)).unwrap_or_default();
            let scope = if account_id.is_some() { "can sign in to this account (password still required)" } else { "is acceptable (binding and name not checked: pass --account)" };
            Inspection { summary: format!("ACCEPT: certificate of {who} {scope}"), refusal: None, identity: identity_json }
        }
        Err(r) => {
            let (code, enh) = r.reason.smtp_reply();
            Inspection {
                summary: format!("REFUSE ({}): {}", r.reason.code(), r.message),
                refusal: Some(RefusalReport {
                    code: r.reason.code().to_string(),
                    imap: format!("NO [{}] {}", r.reason.imap_code(), r.message),
                    smtp: format!("{code} {enh} {}", r.message),
                    message: r.message.clone(),
                }),
                identity: identity_json,
            }
        }
    })
}
