//! The org-admin role. It lives in `Account.settings` under [`ORG_ADMIN_SETTING`], whose
//! value is the organisation the account administers (exactly as in
//! `Account.organisation` of the accounts it may act on), so no store-format change is
//! needed. `certmail account role ID org-admin --organisation ORG [--remove]` calls
//! [`set_org_admin`].

use certmail_store::{Account, AuditEvent, Store};

use crate::error::WebError;

/// The `Account.settings` key of the org-admin role; the value is the organisation.
pub const ORG_ADMIN_SETTING: &str = "web_org_admin";

/// The organisation `account` administers, if it is an org admin.
pub fn org_admin_of(account: &Account) -> Option<&str> {
    account
        .settings
        .get(ORG_ADMIN_SETTING)
        .map(String::as_str)
        .filter(|o| !o.is_empty())
}

/// Grants (`Some(org)`) or removes (`None`) the org-admin role of account `id`, and writes
/// `role_changed` to the audit log with `actor` (e.g. `cli`). Refused with `not_found`
/// when there is no such account.
pub async fn set_org_admin(
    store: &dyn Store,
    id: &str,
    organisation: Option<&str>,
    actor: &str,
) -> Result<(), WebError> {
    let Some(mut account) = store.account(id).await? else {
        return Err(WebError::refused(
            404,
            "not_found",
            format!("no account `{id}`"),
        ));
    };
    match organisation.map(str::trim) {
        Some("") => {
            return Err(WebError::refused(
                400,
                "invalid",
                "the organisation must not be empty",
            ));
        }
        Some(org) => {
            account
                .settings
                .insert(ORG_ADMIN_SETTING.to_string(), org.to_string());
        }
        None => {
            account.settings.remove(ORG_ADMIN_SETTING);
        }
    }
    store.update_account(account).await?;
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("actor".to_string(), actor.to_string());
    fields.insert("role".to_string(), "org-admin".to_string());
    fields.insert(
        "organisation".to_string(),
        organisation.unwrap_or("").to_string(),
    );
    fields.insert("granted".to_string(), organisation.is_some().to_string());
    store
        .append_audit(AuditEvent {
            time: certmail_auth::now() * 1000,
            account: Some(id.to_string()),
            kind: "role_changed".to_string(),
            ip: None,
            fields,
        })
        .await?;
    Ok(())
}
