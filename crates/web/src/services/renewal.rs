//! Certificate renewal: a renewed certificate of the same person (same issuer and subject
//! DN, new key) plus the account's password binds the new certificate; the old binding
//! stays until it expires (PKI.md: re-binding needs the admin or the person's password).
//!
//! The new certificate is bound first and the password is then checked by the ordinary
//! sign-in decision (so failures count toward the lockout, as they may: the certificate
//! authority vouches that it is the same person); a wrong password removes the binding.

use super::{audit, check_password};
use crate::error::WebError;
use crate::identity::{self, Peer};
use crate::router::App;
use certmail_auth::Secret;

/// Binds the presented renewed certificate to its holder's account; returns the account id.
pub(crate) async fn renew(
    app: &App,
    peer: &Peer,
    password: Secret<String>,
    totp: Option<String>,
) -> Result<String, WebError> {
    let ctx = &app.ctx;
    let store = ctx.store.as_ref();
    let identity = identity::certificate(ctx, peer)?;
    if let Some(b) = store.binding_by_spki(&identity.spki_sha256).await? {
        return Err(WebError::refused(
            409,
            "already_bound",
            format!(
                "This certificate is already registered for account {}.",
                b.account
            ),
        ));
    }
    let Some(old) = store
        .bindings_by_dn(&identity.issuer_dn, &identity.subject_dn)
        .await?
        .into_iter()
        .next()
    else {
        return Err(WebError::refused(
            404,
            "certificate_not_bound",
            "No account holds an earlier certificate of yours; sign up instead.",
        ));
    };
    let now = certmail_auth::now();
    let der = peer
        .cert_der()
        .expect("a checked certificate was presented");
    if let Err(r) = certmail_auth::bind_certificate(store, &ctx.pki, &old.account, der, now).await?
    {
        return Err(WebError::refused(409, &r.code(), r.to_string()));
    }
    let account = match store.account(&old.account).await? {
        Some(a) => a,
        None => {
            return Err(WebError::refused(
                404,
                "not_found",
                "Your account no longer exists.",
            ));
        }
    };
    if let Err(e) = check_password(app, peer, &account, password, totp, true).await {
        store
            .unbind_cert(&account.id, &identity.spki_sha256)
            .await?;
        return Err(e);
    }
    audit(
        app,
        "web_certificate_renewed",
        Some(&account.id),
        peer,
        &[
            ("subject", &identity.subject_dn),
            ("serial", &identity.serial_hex),
        ],
    )
    .await?;
    Ok(account.id)
}
