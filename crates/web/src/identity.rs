//! Who the certificate of a request names: the same check as IMAP and SMTP sign-in up to
//! (not including) the second factor. DESIGN.md's table, in order: the certificate itself
//! (`certmail_pki::Pki::check`, rows 1–8), then binding, name and account state (rows
//! 9–12, through `certmail_auth::inspect`, which runs the sign-in decision's own checks).

use std::net::IpAddr;
use std::sync::Arc;

use certmail_pki::{Identity, Refusal, RefusalReason};
use certmail_store::Account;

use crate::context::WebContext;
use crate::error::WebError;

/// The connection a request came on: the TLS client certificate (DER, if the client sent
/// one) and the client's address. [`crate::serve`] puts one in every request's extensions.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The client certificate, DER.
    pub cert: Option<Arc<Vec<u8>>>,
    /// The client's address.
    pub ip: IpAddr,
}

impl Peer {
    /// The certificate, as the sign-in decision takes it.
    pub fn cert_der(&self) -> Option<&[u8]> {
        self.cert.as_deref().map(Vec::as_slice)
    }
}

/// A certificate that passed rows 1–8 (it may or may not have an account).
pub(crate) fn certificate(ctx: &WebContext, peer: &Peer) -> Result<Identity, WebError> {
    ctx.pki
        .check(peer.cert_der(), certmail_auth::now())
        .map_err(|r| WebError::from_refusal(&r))
}

/// The person and their account: the certificate is valid, bound, the names match and
/// the account may sign in (rows 1–12). An account that is pending is refused with
/// `account_pending`, as over IMAP.
pub(crate) async fn person(ctx: &WebContext, peer: &Peer) -> Result<(Identity, Account), WebError> {
    let identity = certificate(ctx, peer)?;
    let Some(binding) = ctx.store.binding_by_spki(&identity.spki_sha256).await? else {
        return Err(not_bound(ctx, &identity));
    };
    let der = peer
        .cert_der()
        .expect("a checked certificate was presented");
    let now = certmail_auth::now();
    let inspection = certmail_auth::inspect(
        ctx.store.as_ref(),
        &ctx.pki,
        der,
        Some(&binding.account),
        now,
    )
    .await?;
    if let Some(r) = inspection.refusal {
        let reason =
            RefusalReason::from_code(&r.code).unwrap_or(RefusalReason::CertificateNotBound);
        return Err(WebError::from_refusal(&Refusal::new(reason, r.message)));
    }
    let account = ctx
        .store
        .account(&binding.account)
        .await?
        .ok_or_else(|| not_bound(ctx, &identity))?;
    Ok((identity, account))
}

/// Row 9 as the web says it: the person can sign up here.
fn not_bound(ctx: &WebContext, identity: &Identity) -> WebError {
    WebError::from_refusal(&Refusal::new(
        RefusalReason::CertificateNotBound,
        format!(
            "Your certificate ({}) is not registered for any mail account. Sign up at {}/signup, or ask {}.",
            identity.subject_dn, ctx.config.public_url, ctx.policy.contact
        ),
    ))
}
