//! The org admin's actions, each scoped to the admin's own organisation and written to
//! the audit log with the actor and the arguments (never a password).

use certmail_session::KickReason;
use certmail_store::{Account, AccountState};
use serde::Serialize;

use super::{Authorized, audit};
use crate::context::Notice;
use crate::error::WebError;
use crate::identity::Peer;
use crate::role::org_admin_of;
use crate::router::App;
use crate::services::account::CONTACT_SETTING;

/// A sign-up waiting for approval (`GET /api/admin/pending`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PendingView {
    pub id: String,
    pub name: String,
    pub organisation: String,
    pub addresses: Vec<String>,
    /// The subject of the bound certificate.
    pub certificate: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The organisation `who` administers, or a refusal.
fn organisation(who: &Authorized) -> Result<&str, WebError> {
    org_admin_of(&who.account).ok_or_else(|| {
        WebError::refused(
            403,
            "not_org_admin",
            "You are not an administrator of an organisation.",
        )
    })
}

/// The sign-ups of the admin's organisation, oldest first.
pub(crate) async fn pending(app: &App, who: &Authorized) -> Result<Vec<PendingView>, WebError> {
    let org = organisation(who)?;
    let store = app.ctx.store.as_ref();
    let mut out = Vec::new();
    for a in store.list_accounts().await? {
        if a.state != AccountState::Pending || a.organisation != org {
            continue;
        }
        let certificate = store
            .bindings_of(&a.id)
            .await?
            .first()
            .map(|b| b.subject_dn.clone());
        out.push(PendingView {
            id: a.id,
            name: a.name,
            organisation: a.organisation,
            addresses: a.addresses,
            certificate,
            created_at: a.created_at,
        });
    }
    out.sort_by_key(|p| p.created_at);
    Ok(out)
}

/// The target account, if it is in the admin's organisation.
async fn target(app: &App, who: &Authorized, id: &str) -> Result<Account, WebError> {
    let org = organisation(who)?;
    let account = app.ctx.store.account(id).await?;
    match account {
        Some(a) if a.organisation == org => Ok(a),
        // The same answer for "absent" and "elsewhere": an admin learns nothing about other
        // organisations' accounts.
        _ => Err(WebError::refused(
            403,
            "outside_organisation",
            format!("Account {id} is not in your organisation ({org})."),
        )),
    }
}

/// What an org admin does to one account.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Pending → active.
    Approve,
    /// Removes a pending sign-up; the reason is mailed to the applicant's contact address.
    Refuse { reason: String },
    /// Lifts a lock.
    Unlock,
    /// Issues a temporary password (returned once, to the admin).
    TemporaryPassword,
    /// Switches the account off (no sign-in, no delivery) and ends its live session.
    Disable,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Refuse { .. } => "refuse",
            Action::Unlock => "unlock",
            Action::TemporaryPassword => "password",
            Action::Disable => "disable",
        }
    }
}

/// Carries out `action` on account `id`; returns the temporary password for
/// [`Action::TemporaryPassword`].
pub(crate) async fn act(
    app: &App,
    peer: &Peer,
    who: &Authorized,
    id: &str,
    action: Action,
) -> Result<Option<String>, WebError> {
    let mut account = target(app, who, id).await?;
    let store = app.ctx.store.as_ref();
    let mut issued = None;
    let mut reason_field = String::new();
    match &action {
        Action::Approve | Action::Refuse { .. } if account.state != AccountState::Pending => {
            return Err(WebError::refused(
                409,
                "not_pending",
                format!("Account {id} is not waiting for approval."),
            ));
        }
        Action::Approve => {
            account.state = AccountState::Active;
            account.settings.remove(CONTACT_SETTING);
            store.update_account(account.clone()).await?;
        }
        Action::Refuse { reason } => {
            reason_field = reason.trim().chars().take(500).collect();
            store.delete_account(&account.id).await?;
            let contact = account.settings.get(CONTACT_SETTING).cloned();
            app.ctx.tell(Notice::Refused {
                account: account.id.clone(),
                name: account.name.clone(),
                address: account.addresses.first().cloned().unwrap_or_default(),
                contact,
                organisation: account.organisation.clone(),
                reason: reason_field.clone(),
            });
        }
        Action::Unlock => {
            if account.state == AccountState::Locked {
                account.state = AccountState::Active;
            }
            account.failed_logins = 0;
            account.locked_until = None;
            store.update_account(account.clone()).await?;
        }
        Action::TemporaryPassword => {
            let now = certmail_auth::now();
            issued = certmail_auth::accounts::set_password(
                store,
                &app.ctx.policy.state.passwords,
                &account.id,
                None,
                now,
            )
            .await?
            .map_err(|r| WebError::refused(404, r.code(), r.to_string()))?;
            app.ctx
                .registry
                .kick(&account.id, KickReason::PasswordChanged)
                .await;
            app.sessions.end_account(&account.id).await;
        }
        Action::Disable => {
            account.state = AccountState::Disabled;
            store.update_account(account.clone()).await?;
            let kicked = KickReason::AccountDisabled;
            app.ctx.registry.kick(&account.id, kicked).await;
            app.sessions.end_account(&account.id).await;
        }
    }
    let mut fields = vec![
        ("actor", who.account.id.as_str()),
        ("action", action.name()),
        ("target", id),
    ];
    if !reason_field.is_empty() {
        fields.push(("reason", &reason_field));
    }
    audit(app, "web_admin_action", Some(id), peer, &fields).await?;
    Ok(issued)
}

/// The organisation's sign-in record (sign-ins, refusals, kicks and web actions of its
/// accounts) over the last `signins_days` days, newest first, at most 1000 lines.
pub(crate) async fn signins(
    app: &App,
    who: &Authorized,
) -> Result<Vec<(String, crate::services::devices::SignInView)>, WebError> {
    let org = organisation(who)?;
    let store = app.ctx.store.as_ref();
    let members: std::collections::BTreeSet<String> = store
        .list_accounts()
        .await?
        .into_iter()
        .filter(|a| a.organisation == org)
        .map(|a| a.id)
        .collect();
    let now_ms = certmail_auth::now() * 1000;
    let since = now_ms - i64::from(app.ctx.config.signins_days) * 86_400_000;
    Ok(store
        .audit_newest(since, now_ms + 1, 20_000)
        .await?
        .into_iter()
        .filter_map(|e| {
            let account = e.account.clone().filter(|a| members.contains(a))?;
            Some((account, crate::services::devices::view(e)))
        })
        .take(1000)
        .collect())
}
