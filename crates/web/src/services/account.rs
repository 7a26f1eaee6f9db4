//! The account summary, sign-up and the password change.

use certmail_auth::Secret;
use certmail_auth::accounts::{self, NewAccount};
use certmail_session::KickReason;
use certmail_store::Account;
use serde::{Deserialize, Deserializer, Serialize};

use super::{audit, check_password};
use crate::context::Notice;
use crate::error::WebError;
use crate::identity::{self, Peer};
use crate::router::App;

/// `GET /api/me`: the account summary (certificate only, no password).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Me {
    pub id: String,
    pub name: String,
    pub organisation: String,
    pub addresses: Vec<String>,
    /// Unix seconds; `null` when the password never expires.
    pub password_expires_at: Option<i64>,
    pub totp: bool,
}

/// The summary of the certificate's account.
pub(crate) async fn me(app: &App, peer: &Peer) -> Result<Me, WebError> {
    let (_, account) = identity::person(&app.ctx, peer).await?;
    Ok(summary(app, &account))
}

pub(crate) fn summary(app: &App, a: &Account) -> Me {
    let policy = &app.ctx.policy;
    let max = if a.password_temporary {
        policy.temporary_password_secs
    } else {
        policy.password_max_age_secs
    };
    Me {
        id: a.id.clone(),
        name: a.name.clone(),
        organisation: a.organisation.clone(),
        addresses: a.addresses.clone(),
        password_expires_at: (max > 0).then(|| a.password_set_at.unwrap_or(a.created_at) + max),
        totp: a.totp_secret.is_some(),
    }
}

/// What a person asks for at sign-up (the API's JSON body and the page's form fields).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SignUp {
    pub id: String,
    pub address: String,
    pub organisation: String,
    #[serde(deserialize_with = "secret")]
    pub password: Secret<String>,
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Secret<String>, D::Error> {
    String::deserialize(d).map(Secret::new)
}

/// Creates a *pending* account named as on the certificate and binds the certificate to
/// it. One person, one account: a certificate or subject DN with an account is refused.
pub(crate) async fn sign_up(app: &App, peer: &Peer, form: SignUp) -> Result<Me, WebError> {
    let ctx = &app.ctx;
    let identity = identity::certificate(ctx, peer)?;
    let store = ctx.store.as_ref();
    one_account_per_person(store, &identity).await?;
    let organisation = form.organisation.trim().to_string();
    let orgs = &ctx.config.organisations;
    if organisation.is_empty() || (!orgs.is_empty() && !orgs.contains(&organisation)) {
        return Err(WebError::refused(
            400,
            "invalid",
            "Choose your organisation from the list.",
        ));
    }
    let id = form.id.trim().to_lowercase();
    if let Err(r) = accounts::check_new_password(&ctx.password_rules, &id, form.password.expose()) {
        return Err(WebError::refused(400, r.code(), r.to_string()));
    }
    let new = NewAccount {
        id,
        name: identity.name.clone(),
        organisation,
        addresses: vec![form.address],
        approve: false,
    };
    let now = certmail_auth::now();
    let password = Some(form.password.into_inner());
    let (account, _) =
        match accounts::create(store, &ctx.policy.state.passwords, new, password, now).await? {
            Ok(created) => created,
            Err(r) => {
                return Err(WebError::refused(
                    refusal_status(r.code()),
                    r.code(),
                    r.to_string(),
                ));
            }
        };
    let der = peer
        .cert_der()
        .expect("a checked certificate was presented");
    if let Err(r) = certmail_auth::bind_certificate(store, &ctx.pki, &account.id, der, now).await? {
        store.delete_account(&account.id).await?;
        return Err(WebError::refused(409, &r.code(), r.to_string()));
    }
    audit(
        app,
        "web_signup",
        Some(&account.id),
        peer,
        &[
            ("subject", &identity.subject_dn),
            ("organisation", &account.organisation),
            (
                "address",
                account.addresses.first().map(String::as_str).unwrap_or(""),
            ),
        ],
    )
    .await?;
    ctx.tell(Notice::SignedUp {
        account: account.id.clone(),
        organisation: account.organisation.clone(),
    });
    Ok(summary(app, &account))
}

/// One person, one account: refused when this certificate, or any certificate with the
/// same issuer and subject DN, is bound to an account.
async fn one_account_per_person(
    store: &dyn certmail_store::Store,
    identity: &certmail_pki::Identity,
) -> Result<(), WebError> {
    let taken = match store.binding_by_spki(&identity.spki_sha256).await? {
        Some(b) => Some(b.account),
        None => store
            .bindings_by_dn(&identity.issuer_dn, &identity.subject_dn)
            .await?
            .into_iter()
            .next()
            .map(|b| b.account),
    };
    if let Some(existing) = taken {
        return Err(WebError::refused(
            409,
            "person_has_account",
            format!(
                "The holder of this certificate already has account {existing}: one person, one account."
            ),
        ));
    }
    Ok(())
}

fn refusal_status(code: &str) -> u16 {
    if code == "exists" { 409 } else { 400 }
}

/// Changes the password: the current one (right, even if expired or temporary, with the
/// TOTP code where needed) and a new one that follows the rules. Ends the live mail
/// session (DESIGN.md: a password change ends the account's sessions).
pub(crate) async fn change_password(
    app: &App,
    peer: &Peer,
    current: Secret<String>,
    new: Secret<String>,
    totp: Option<String>,
) -> Result<(), WebError> {
    let ctx = &app.ctx;
    let (_, account) = identity::person(ctx, peer).await?;
    if let Err(r) = accounts::check_new_password(&ctx.password_rules, &account.id, new.expose()) {
        return Err(WebError::refused(400, r.code(), r.to_string()));
    }
    if new.expose() == current.expose() {
        return Err(WebError::refused(
            400,
            "weak_password",
            "password refused: the new password must differ from the current one",
        ));
    }
    let account = check_password(app, peer, &account, current, totp, true).await?;
    let now = certmail_auth::now();
    if let Err(r) = accounts::set_password(
        ctx.store.as_ref(),
        &ctx.policy.state.passwords,
        &account.id,
        Some(new.into_inner()),
        now,
    )
    .await?
    {
        return Err(WebError::refused(400, r.code(), r.to_string()));
    }
    ctx.registry
        .kick(&account.id, KickReason::PasswordChanged)
        .await;
    app.sessions.end_account(&account.id);
    audit(app, "web_password_changed", Some(&account.id), peer, &[]).await
}
