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
    /// Where to tell the applicant if the sign-up is refused (an address they read now);
    /// optional: empty, a refusal is only in the audit log.
    pub contact: String,
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
        return Err(
            WebError::refused(400, "invalid", "Choose your organisation from the list.")
                .with_korean("목록에서 기관을 고르세요."),
        );
    }
    let contact = contact_address(&form.contact)?;
    let id = form.id.trim().to_lowercase();
    new_password_ok(app, &id, form.password.expose())?;
    let new = NewAccount {
        id,
        name: identity.name.clone(),
        organisation,
        addresses: vec![form.address],
        approve: false,
        kind: Default::default(),
    };
    let now = certmail_auth::now();
    let password = Some(form.password.into_inner());
    let (mut account, _) =
        match accounts::create(store, &ctx.policy.state.passwords, new, password, now).await? {
            Ok(created) => created,
            Err(r) => {
                let status = refusal_status(r.code());
                let refused = WebError::refused(status, r.code(), r.to_string());
                return Err(refused.with_korean(crate::i18n::account_refusal_ko(&r)));
            }
        };
    let der = peer
        .cert_der()
        .expect("a checked certificate was presented");
    if let Err(r) = certmail_auth::bind_certificate(store, &ctx.pki, &account.id, der, now).await? {
        store.delete_account(&account.id).await?;
        return Err(WebError::refused(409, &r.code(), r.to_string()));
    }
    if let Some(contact) = contact {
        account.settings.insert(CONTACT_SETTING.into(), contact);
        store.update_account(account.clone()).await?;
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

/// The `Account.settings` key of a pending sign-up's contact address.
pub(crate) const CONTACT_SETTING: &str = "web_signup_contact";

/// A sign-up's contact address: empty is none; otherwise `local@domain`, at most 254
/// characters (RFC 5321 §4.5.3.1.3), without spaces or angle brackets.
fn contact_address(given: &str) -> Result<Option<String>, WebError> {
    let given = given.trim();
    if given.is_empty() {
        return Ok(None);
    }
    let plausible = given.len() <= 254
        && given
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
        && !given
            .chars()
            .any(|c| c.is_whitespace() || "<>,;\"".contains(c));
    if !plausible {
        return Err(WebError::refused(
            400,
            "invalid",
            "The contact address is not a mail address (name@example.go.kr); leave it empty if you have none.",
        )
        .with_korean("연락받을 메일 주소가 올바르지 않습니다(name@example.go.kr). 없으면 비워 두세요."));
    }
    Ok(Some(given.to_string()))
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

/// A refusal saying which password rule `password` breaks, if it breaks one.
fn new_password_ok(app: &App, id: &str, password: &str) -> Result<(), WebError> {
    let rules = &app.ctx.password_rules;
    match accounts::check_new_password(rules, id, password) {
        Ok(()) => Ok(()),
        Err(r) => Err(WebError::refused(400, r.code(), r.to_string())
            .with_korean(crate::i18n::weak_password_ko(rules, id, password))),
    }
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
    new_password_ok(app, &account.id, new.expose())?;
    if new.expose() == current.expose() {
        return Err(WebError::refused(
            400,
            "weak_password",
            "password refused: the new password must differ from the current one",
        )
        .with_korean("새 비밀번호는 지금 비밀번호와 달라야 합니다."));
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
    app.sessions.end_account(&account.id).await;
    audit(app, "web_password_changed", Some(&account.id), peer, &[]).await
}
