//! Admin requests about accounts: `certmail account add|approve|disable|lock|unlock|
//! networks|passwd|show|list`.

use certmail_session::KickReason;
use certmail_store::AccountState;
use serde_json::json;

use super::Response;
use super::context::{AdminContext, counted, ended};

/// `account add`: creates an account, with a checked or a generated password.
pub(super) async fn add(ctx: &AdminContext, new: super::NewAccount) -> anyhow::Result<Response> {
    if let Some(refused) = check_password(ctx, &new.id, new.password.as_deref()) {
        return Ok(refused);
    }
    if let Some(refused) = check_domains(&ctx.local_domains, &new.addresses, new.foreign) {
        return Ok(refused);
    }
    let account = certmail_auth::accounts::NewAccount {
        id: new.id,
        name: new.name,
        organisation: new.organisation,
        addresses: new.addresses,
        approve: new.approve,
        kind: new.kind,
    };
    let now = certmail_auth::now();
    match certmail_auth::accounts::create(
        ctx.store.as_ref(),
        &ctx.sign_in.passwords,
        account,
        new.password,
        now,
    )
    .await?
    {
        Ok((account, generated)) => {
            let mut msg = format!(
                "account {} created ({})",
                account.id,
                state_word(&account.state)
            );
            if let Some(pw) = &generated {
                msg.push_str(&format!("; temporary password: {pw}"));
            }
            Ok(Response::ok(
                msg,
                json!({ "account": account_json(&account), "temporary_password": generated }),
            ))
        }
        Err(e) => Ok(Response::fail(e.code(), e.to_string())),
    }
}

/// `account passwd`: replaces the password (checked, or generated) and ends the session.
pub(super) async fn passwd(
    ctx: &AdminContext,
    id: &str,
    password: Option<String>,
) -> anyhow::Result<Response> {
    if let Some(refused) = check_password(ctx, id, password.as_deref()) {
        return Ok(refused);
    }
    let now = certmail_auth::now();
    match certmail_auth::accounts::set_password(
        ctx.store.as_ref(),
        &ctx.sign_in.passwords,
        id,
        password,
        now,
    )
    .await?
    {
        Ok(generated) => {
            let n = ctx.kick(id, KickReason::PasswordChanged).await;
            let msg = match &generated {
                Some(pw) => format!(
                    "password of {id} replaced{}; temporary password: {pw}",
                    ended(n)
                ),
                None => format!("password of {id} replaced{}", ended(n)),
            };
            Ok(Response::ok(
                msg,
                json!({ "temporary_password": generated }),
            ))
        }
        Err(e) => Ok(Response::fail(e.code(), e.to_string())),
    }
}

/// The refusal of an address outside `[server] local_domains` (unless `foreign`), or of a
/// foreign one whose domain has no dot (a single label is a local name, RFC 5321 §2.3.5).
fn check_domains(local: &[String], addresses: &[String], foreign: bool) -> Option<Response> {
    addresses.iter().find_map(|a| {
        let domain = a.trim().rsplit_once('@')?.1.to_lowercase();
        if local.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
            return None;
        }
        let message = if !foreign {
            format!(
                "{a} is outside the local domains ({}), so mail to it would not reach this \
                 account; add the domain to [server] local_domains, or pass --foreign to keep \
                 it anyway",
                if local.is_empty() {
                    "none set".to_string()
                } else {
                    local.join(", ")
                }
            )
        } else if !domain.contains('.') {
            format!(
                "{a}: `{domain}` is a single-label domain that is not a local domain; add it \
                 to [server] local_domains or write the full domain"
            )
        } else {
            return None;
        };
        Some(Response::fail("invalid", message))
    })
}

/// The refusal of a password an administrator chose that breaks `[auth]` rules.
fn check_password(ctx: &AdminContext, id: &str, password: Option<&str>) -> Option<Response> {
    let pw = password?;
    certmail_auth::accounts::check_new_password(&ctx.password_rules, id, pw)
        .err()
        .map(|e| Response::fail(e.code(), e.to_string()))
}

/// `account approve|disable|lock`: sets the state; a disabled or locked account loses its
/// live session at once.
pub(super) async fn set_state(
    ctx: &AdminContext,
    id: &str,
    state: AccountState,
) -> anyhow::Result<Response> {
    let Some(mut a) = ctx.store.account(id).await? else {
        return Ok(not_found(id));
    };
    a.state = state;
    a.failed_logins = 0;
    a.locked_until = None;
    ctx.store.update_account(a.clone()).await?;
    let n = match state {
        AccountState::Disabled => ctx.kick(id, KickReason::AccountDisabled).await,
        AccountState::Locked => ctx.kick(id, KickReason::AccountLocked).await,
        _ => 0,
    };
    Ok(Response::ok(
        format!("account {id} is now {}{}", state_word(&a.state), ended(n)),
        json!({ "account": account_json(&a) }),
    ))
}

/// `account unlock`: lifts a lock (admin or automatic) and resets the failure count; other
/// states stay.
pub(super) async fn unlock(ctx: &AdminContext, id: &str) -> anyhow::Result<Response> {
    let Some(mut a) = ctx.store.account(id).await? else {
        return Ok(not_found(id));
    };
    let was_locked = a.state == AccountState::Locked;
    if was_locked {
        a.state = AccountState::Active;
    }
    a.failed_logins = 0;
    a.locked_until = None;
    ctx.store.update_account(a.clone()).await?;
    let msg = if was_locked {
        format!("account {id} is unlocked")
    } else {
        format!(
            "account {id} was not locked ({}); its failed sign-ins are reset",
            state_word(&a.state)
        )
    };
    Ok(Response::ok(msg, json!({ "account": account_json(&a) })))
}

/// `account networks`: stores an account's own allowed networks (checked CIDRs), or removes
/// them.
pub(super) async fn set_networks(
    ctx: &AdminContext,
    id: &str,
    cidrs: Vec<String>,
) -> anyhow::Result<Response> {
    let parsed = match certmail_auth::policy::parse_cidrs(cidrs.iter().map(String::as_str)) {
        Ok(p) => p,
        Err(bad) => {
            return Ok(Response::fail(
                "invalid",
                format!("`{bad}` is not a network; write e.g. 10.1.0.0/16 or 192.0.2.7"),
            ));
        }
    };
    if let Some((given, network)) = cidrs
        .iter()
        .zip(&parsed)
        .find(|(_, c)| c.network() != **c)
        .map(|(given, c)| (given.trim(), c.network()))
    {
        return Ok(Response::fail(
            "invalid",
            format!(
                "`{given}` has host bits set; the network is {network}: write that, or the \
                 address alone ({}) for one host",
                given.split_once('/').map_or(given, |(a, _)| a)
            ),
        ));
    }
    let Some(mut a) = ctx.store.account(id).await? else {
        return Ok(not_found(id));
    };
    let key = certmail_auth::policy::NETWORKS_SETTING;
    let list: Vec<String> = parsed.iter().map(ToString::to_string).collect();
    let msg = if list.is_empty() {
        a.settings.remove(key);
        format!("account {id} signs in from its organisation's networks")
    } else {
        a.settings.insert(key.to_string(), list.join(" "));
        format!("account {id} may sign in only from {}", list.join(", "))
    };
    ctx.store.update_account(a).await?;
    Ok(Response::ok(msg, json!({ "networks": list })))
}

/// `account show`: one account with its certificates.
pub(super) async fn show(ctx: &AdminContext, id: &str) -> anyhow::Result<Response> {
    let Some(a) = ctx.store.account(id).await? else {
        return Ok(not_found(id));
    };
    let bindings = ctx.store.bindings_of(id).await?;
    let b: Vec<_> = bindings.iter().map(super::certs::binding_json).collect();
    Ok(Response::ok(
        format!("account {id}"),
        json!({ "account": account_json(&a), "certificates": b }),
    ))
}

/// `account list`: every account.
pub(super) async fn list(ctx: &AdminContext) -> anyhow::Result<Response> {
    let list: Vec<_> = ctx
        .store
        .list_accounts()
        .await?
        .iter()
        .map(account_json)
        .collect();
    Ok(Response::ok(
        counted(list.len() as u64, "account", "accounts"),
        json!({ "accounts": list }),
    ))
}

/// The answer for an unknown account id.
/// `account role ID org-admin --organisation ORG [--remove]`: the web's org-admin role.
pub(super) async fn set_role(
    ctx: &AdminContext,
    id: &str,
    organisation: Option<&str>,
) -> anyhow::Result<Response> {
    match certmail_web::role::set_org_admin(ctx.store.as_ref(), id, organisation, "cli").await {
        Ok(()) => {}
        Err(certmail_web::WebError::Refused { code, .. }) if code == "not_found" => {
            return Ok(not_found(id));
        }
        Err(e @ certmail_web::WebError::Refused { .. }) => {
            let (_, code, message) = e.public();
            return Ok(Response::fail(&code, message));
        }
        Err(e) => return Err(anyhow::anyhow!("{e}")),
    }
    let message = match organisation {
        Some(org) => format!("account {id} is now an org admin of {org}"),
        None => format!("account {id} is no longer an org admin"),
    };
    Ok(Response::ok(
        message,
        json!({ "account": id, "org_admin": organisation }),
    ))
}

pub(super) fn not_found(id: &str) -> Response {
    Response::fail(
        "not_found",
        format!("no account {id}; `certmail account list` shows them"),
    )
}

/// An account state as every answer spells it (JSON, tables, `stats`).
pub(super) fn state_word(s: &AccountState) -> &'static str {
    match s {
        AccountState::Pending => "pending approval",
        AccountState::Active => "active",
        AccountState::Locked => "locked",
        AccountState::Disabled => "disabled",
    }
}

fn account_json(a: &certmail_store::Account) -> serde_json::Value {
    json!({
        "id": a.id, "name": a.name, "organisation": a.organisation, "addresses": a.addresses,
        "state": state_word(&a.state), "password_set_at": a.password_set_at,
        "password_temporary": a.password_temporary, "totp": a.totp_secret.is_some(),
        "created_at": a.created_at, "failed_logins": a.failed_logins,
        "locked_until": a.locked_until,
        "networks": a.settings.get(certmail_auth::policy::NETWORKS_SETTING),
        "kind": a.kind().as_str(),
    })
}
