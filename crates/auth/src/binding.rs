//! Binding certificates to accounts, and explaining certificates to a helpdesk.

use certmail_pki::{Pki, Refusal};
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
    #[error(
        "the holder of this certificate ({0}) already has account {1}; one person holds one personal account"
    )]
    PersonHasAccount(String, String),
    /// The name on the certificate is not the account's.
    #[error(
        "the name on the certificate ({cert}) differs from the account's name ({account}); correct the account's name first"
    )]
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
    // Only a certificate that could sign in is bound; a missing CRL must be installed first.
    let identity = match pki.check(Some(der), now) {
        Ok(id) => id,
        Err(r) => return Ok(Err(BindRefusal::Refused(r))),
    };
    if let Some(other) = store
        .binding_by_spki(&identity.spki_sha256)
        .await?
        .filter(|b| b.account != account.id)
    {
        return Ok(Err(BindRefusal::BoundElsewhere(other.account)));
    }
    for other in store
        .bindings_by_dn(&identity.issuer_dn, &identity.subject_dn)
        .await?
    {
        if other.account != account.id {
            return Ok(Err(BindRefusal::PersonHasAccount(
                identity.subject_dn.clone(),
                other.account,
            )));
        }
    }
    if !certmail_pki::names_match(&identity.name, &account.name) {
        return Ok(Err(BindRefusal::NameMismatch {
            cert: identity.name.clone(),
            account: account.name.clone(),
        }));
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

/// The binding of an accepted certificate to `account_id`, without store checks: for the
/// dev mode's own demo certificate.
pub fn binding_for(
    pki: &Pki,
    account_id: &str,
    der: &[u8],
    now: i64,
) -> Result<CertBinding, Refusal> {
    let id = pki.check(Some(der), now)?;
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

/// The DER certificate in a file's bytes: PEM (the first CERTIFICATE block) or DER.
pub fn cert_der_from_file_bytes(bytes: &[u8]) -> Result<Vec<u8>, AuthError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let cert = CertificateDer::pem_slice_iter(bytes)
            .next()
            .ok_or_else(|| AuthError::Certificate("no CERTIFICATE block in the PEM file".into()))?
            .map_err(|e| AuthError::Certificate(format!("bad PEM: {e:?}")))?;
        return Ok(cert.as_ref().to_vec());
    }
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    Err(AuthError::Certificate(
        "neither a PEM nor a DER certificate".into(),
    ))
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
    let identity = pki.check(Some(der), now).ok();
    let identity_json = match (&identity, certmail_pki::cert_summary(der)) {
        (Some(id), _) => Some(serde_json::json!({
            "subject": id.subject_dn, "issuer": id.issuer_dn, "serial": id.serial_hex,
            "spki_sha256": hex::encode(id.spki_sha256), "name": id.name,
            "pki": id.pki.as_str(), "policy": id.policy_oid, "not_after": id.not_after,
            "crl_distribution_points": id.cdp_uris,
        })),
        (None, Some(sum)) => Some(serde_json::json!({
            "subject": sum.subject_dn, "issuer": sum.issuer_dn, "serial": sum.serial_hex,
            "sha256": sum.sha256_hex,
        })),
        (None, None) => None,
    };
    let mut result = pki.check(Some(der), now).map(|_| ());
    if let (Ok(()), Some(account)) = (&result, account_id) {
        let policy = SignInPolicy {
            require_password: false,
            ..SignInPolicy::default()
        };
        let identity = pki.check(Some(der), now).expect("checked just above");
        let creds = Credentials::External {
            authzid: Some(account.to_string()),
        };
        result =
            crate::signin::decide_for_inspection(store, &policy, &identity, &creds, now).await?;
    }
    Ok(match result {
        Ok(()) => {
            let who = identity
                .as_ref()
                .map(|i| format!("{} ({}, policy {})", i.name, i.pki.as_str(), i.policy_oid))
                .unwrap_or_default();
            let scope = if account_id.is_some() {
                "can sign in to this account (password still required)"
            } else {
                "is acceptable (binding and name not checked: pass --account)"
            };
            Inspection {
                summary: format!("ACCEPT: certificate of {who} {scope}"),
                refusal: None,
                identity: identity_json,
            }
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
