//! Executes admin [`Request`]s against the store and PKI. Shared by the socket server
//! (daemon running) and the direct path (daemon stopped).

use std::sync::Arc;

use base64::Engine as _;
use certmail_session::KickReason;
use serde_json::json;

use super::{Request, Response};

/// What a request may touch.
#[derive(Clone)]
pub struct AdminContext {
    /// The mail store.
    pub store: Arc<dyn certmail_store::Store>,
    /// The PKI in force (CA certificates, CRLs, policy).
    pub pki: Arc<certmail_pki::Pki>,
    /// Live sessions: present when the daemon runs (requests then end the sessions they
    /// affect), absent when the CLI works on a stopped daemon's store.
    pub sessions: Option<Arc<dyn certmail_session::SessionRegistry>>,
    /// The running daemon, for reload (absent on a stopped daemon).
    pub daemon: Option<Arc<crate::serve::Daemon>>,
    /// `[auth]` rules for passwords an administrator chooses.
    pub password_rules: certmail_auth::policy::PasswordRules,
    /// The issuer named in TOTP URIs (the server's host name).
    pub issuer: String,
}

impl AdminContext {
    /// Ends `account`'s live session, if the daemon runs; returns the connections ended.
    async fn kick(&self, account: &str, reason: KickReason) -> usize {
        match &self.sessions {
            Some(r) => r.kick(account, reason).await,
            None => 0,
        }
    }
}

/// " (N connections ended)" when a request ended live connections.
fn ended(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => " (1 connection ended)".to_string(),
        n => format!(" ({n} connections ended)"),
    }
}

/// Executes one request. Never panics on bad input; every failure is a [`Response`].
pub async fn execute(ctx: &AdminContext, req: Request) -> Response {
    let op = serde_json::to_value(&req)
        .ok()
        .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string));
    let mutating = !matches!(
        req,
        Request::AccountShow { .. }
            | Request::AccountList
            | Request::CertList { .. }
            | Request::CertInspect { .. }
            | Request::SessionList
            | Request::AliasList
            | Request::DeviceList { .. }
            | Request::AuditQuery { .. }
            | Request::Stats
            // One audit event per imported message would bury the log.
            | Request::ImportMessage { .. }
    );
    let subject = match &req {
        Request::AccountAdd { id, .. }
        | Request::AccountApprove { id }
        | Request::AccountDisable { id }
        | Request::AccountPasswd { id, .. }
        | Request::AccountLock { id }
        | Request::AccountUnlock { id }
        | Request::AccountNetworks { id, .. }
        | Request::AccountTotp { id, .. } => Some(id.clone()),
        Request::DeviceForget { account, .. } => Some(account.clone()),
        Request::CertBind { account, .. }
        | Request::CertUnbind { account, .. }
        | Request::SessionKick { account } => Some(account.clone()),
        _ => None,
    };
    let response = match run(ctx, req).await {
        Ok(r) => r,
        Err(e) => Response::fail("internal", format!("{e:#}")),
    };
    if mutating {
        // Admin actions are audited, never with secrets (the message holds no password
        // unless one was generated, so only the outcome code is kept).
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("op".to_string(), op.unwrap_or_default());
        fields.insert("ok".to_string(), response.ok.to_string());
        if let Some(code) = &response.code {
            fields.insert("code".to_string(), code.clone());
        }
        let event = certmail_store::AuditEvent {
            time: certmail_auth::now() * 1000,
            account: subject,
            kind: "admin".to_string(),
            ip: None,
            fields,
        };
        if let Err(e) = ctx.store.append_audit(event).await {
            tracing::error!(error = %e, "could not write the audit log");
        }
    }
    response
}

async fn run(ctx: &AdminContext, req: Request) -> anyhow::Result<Response> {
    let store = &ctx.store;
    let now = certmail_auth::now();
    Ok(match req {
        Request::AccountAdd {
            id,
            name,
            organisation,
            addresses,
            approve,
            password,
        } => {
            if let Some(pw) = &password
                && let Err(e) =
                    certmail_auth::accounts::check_new_password(&ctx.password_rules, &id, pw)
            {
                return Ok(Response::fail(e.code(), e.to_string()));
            }
            let new = certmail_auth::accounts::NewAccount {
                id,
                name,
                organisation,
                addresses,
                approve,
            };
            // The daemon's argon2 pool; the CLI on a stopped daemon has its own.
            let sign_ins = (ctx.daemon.as_ref())
                .map(|d| Arc::clone(&d.sign_in_state))
                .unwrap_or_default();
            let passwords = &sign_ins.passwords;
            match certmail_auth::accounts::create(store.as_ref(), passwords, new, password, now)
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
                    Response::ok(
                        msg,
                        json!({ "account": account_json(&account), "temporary_password": generated }),
                    )
                }
                Err(e) => Response::fail(e.code(), e.to_string()),
            }
        }
        Request::AccountApprove { id } => {
            set_state(ctx, &id, certmail_store::AccountState::Active).await?
        }
        Request::AccountDisable { id } => {
            set_state(ctx, &id, certmail_store::AccountState::Disabled).await?
        }
        Request::AccountLock { id } => {
            set_state(ctx, &id, certmail_store::AccountState::Locked).await?
        }
        Request::AccountUnlock { id } => unlock(ctx, &id).await?,
        Request::AccountNetworks { id, cidrs } => set_networks(ctx, &id, cidrs).await?,
        Request::AccountTotp { id, action } => super::devices::totp(ctx, &id, &action).await?,
        Request::DeviceList { account } => super::devices::list(ctx, &account).await?,
        Request::DeviceForget { account, device } => {
            super::devices::forget(ctx, &account, device.as_deref()).await?
        }
        Request::AccountPasswd { id, password } => {
            if let Some(pw) = &password
                && let Err(e) =
                    certmail_auth::accounts::check_new_password(&ctx.password_rules, &id, pw)
            {
                return Ok(Response::fail(e.code(), e.to_string()));
            }
            let sign_ins = (ctx.daemon.as_ref())
                .map(|d| Arc::clone(&d.sign_in_state))
                .unwrap_or_default();
            let passwords = &sign_ins.passwords;
            match certmail_auth::accounts::set_password(
                store.as_ref(),
                passwords,
                &id,
                password,
                now,
            )
            .await?
            {
                Ok(generated) => {
                    let n = ctx.kick(&id, KickReason::PasswordChanged).await;
                    let msg = match &generated {
                        Some(pw) => format!(
                            "password of {id} replaced{}; temporary password: {pw}",
                            ended(n)
                        ),
                        None => format!("password of {id} replaced{}", ended(n)),
                    };
                    Response::ok(msg, json!({ "temporary_password": generated }))
                }
                Err(e) => Response::fail(e.code(), e.to_string()),
            }
        }
        Request::AccountShow { id } => match store.account(&id).await? {
            Some(a) => {
                let bindings = store.bindings_of(&id).await?;
                let b: Vec<_> = bindings.iter().map(binding_json).collect();
                Response::ok(
                    format!("account {id}"),
                    json!({ "account": account_json(&a), "certificates": b }),
                )
            }
            None => Response::fail(
                "not_found",
                format!("no account {id}; `certmail account list` shows them"),
            ),
        },
        Request::AccountList => {
            let list: Vec<_> = store
                .list_accounts()
                .await?
                .iter()
                .map(account_json)
                .collect();
            Response::ok(
                format!("{} accounts", list.len()),
                json!({ "accounts": list }),
            )
        }
        Request::CertBind { account, cert_b64 } => {
            let der = decode_cert(&cert_b64)?;
            match certmail_auth::bind_certificate(store.as_ref(), &ctx.pki, &account, &der, now)
                .await?
            {
                Ok(b) => Response::ok(
                    format!("certificate {} bound to {account}", b.subject_dn),
                    json!({ "binding": binding_json(&b) }),
                ),
                Err(e) => Response::fail(&e.code(), e.to_string()),
            }
        }
        Request::CertUnbind {
            account,
            spki_sha256,
        } => {
            let Some(spki) = parse_spki(&spki_sha256) else {
                return Ok(Response::fail(
                    "bad_request",
                    "the SPKI SHA-256 must be 64 hex digits, as `certmail cert list` prints it",
                ));
            };
            match store.unbind_cert(&account, &spki).await {
                Ok(()) => {
                    let n = ctx.kick(&account, KickReason::CertificateUnbound).await;
                    Response::ok(
                        format!("certificate unbound from {account}{}", ended(n)),
                        serde_json::Value::Null,
                    )
                }
                Err(certmail_store::StoreError::BindingNotFound) => Response::fail(
                    "not_found",
                    format!("{account} has no certificate with that SPKI SHA-256"),
                ),
                Err(e) => return Err(e.into()),
            }
        }
        Request::CertList { account } => {
            let bindings = match &account {
                Some(a) => store.bindings_of(a).await?,
                None => {
                    let mut all = Vec::new();
                    for a in store.list_accounts().await? {
                        all.extend(store.bindings_of(&a.id).await?);
                    }
                    all
                }
            };
            let list: Vec<_> = bindings.iter().map(binding_json).collect();
            Response::ok(
                format!("{} certificates", list.len()),
                json!({ "certificates": list }),
            )
        }
        Request::AliasSet { address, members } => {
            let address = address.trim().to_lowercase();
            if !address.contains('@') || members.is_empty() {
                return Ok(Response::fail(
                    "invalid",
                    "give the alias address and at least one member (account id or address)",
                ));
            }
            if store.account_by_address(&address).await?.is_some() {
                return Ok(Response::fail(
                    "exists",
                    format!("{address} is already an account's address"),
                ));
            }
            let mut resolved = Vec::new();
            for m in &members {
                let m = m.trim().to_lowercase();
                let known = if m.contains('@') {
                    store.account_by_address(&m).await?.is_some()
                        || store.alias(&m).await?.is_some()
                } else {
                    store.account(&m).await?.is_some()
                };
                if !known {
                    return Ok(Response::fail(
                        "not_found",
                        format!("{m} is neither an account nor a known address"),
                    ));
                }
                resolved.push(m);
            }
            let n = resolved.len();
            store
                .set_alias(certmail_store::Alias {
                    address: address.clone(),
                    members: resolved,
                })
                .await?;
            Response::ok(
                format!("alias {address} delivers to {n} members"),
                serde_json::Value::Null,
            )
        }
        Request::AliasRemove { address } => {
            match store.remove_alias(&address.trim().to_lowercase()).await {
                Ok(()) => Response::ok(format!("alias {address} removed"), serde_json::Value::Null),
                Err(certmail_store::StoreError::AliasNotFound(_)) => {
                    Response::fail("not_found", format!("no alias {address}"))
                }
                Err(e) => return Err(e.into()),
            }
        }
        req @ (Request::Backup { .. }
        | Request::ImportMessage { .. }
        | Request::AuditQuery { .. }
        | Request::Stats) => super::ops::run(ctx, req).await?,
        Request::Reload => {
            let Some(daemon) = &ctx.daemon else {
                return Ok(Response::fail(
                    "not_running",
                    "the daemon is not running; start it to load the configuration",
                ));
            };
            match daemon.reload_and_apply().await {
                Ok(()) => Response::ok(
                    "configuration, certificates and CRLs reloaded",
                    serde_json::Value::Null,
                ),
                Err(e) => Response::fail(
                    "reload_failed",
                    format!("{e:#}; the old configuration stays in force"),
                ),
            }
        }
        Request::ReloadCrls => {
            let Some(daemon) = &ctx.daemon else {
                return Ok(Response::fail(
                    "not_running",
                    "the daemon is not running; it reads the CRLs when it starts",
                ));
            };
            match crate::revocation::reload_crls(daemon, true).await {
                Ok(_) => Response::ok("CRLs re-read", serde_json::Value::Null),
                Err(e) => Response::fail(
                    "reload_failed",
                    format!("{e:#}; the last good CRLs stay in force"),
                ),
            }
        }
        Request::Queue { action, id } => super::queue::run(ctx, action, id).await?,
        Request::SessionList => {
            let Some(registry) = &ctx.sessions else {
                return Ok(Response::fail(
                    "not_running",
                    "the daemon is not running, so there are no live sessions",
                ));
            };
            let list: Vec<_> = registry
                .list()
                .await
                .iter()
                .map(|s| {
                    json!({
                        "account": s.account,
                        "device": s.device.to_string(),
                        "ip": s.device.ip.to_string(),
                        "protocols": s.protocols.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                        "connections": s.connections,
                        "since": s.since,
                    })
                })
                .collect();
            Response::ok(
                format!("{} live sessions", list.len()),
                json!({ "sessions": list }),
            )
        }
        Request::SessionKick { account } => {
            if ctx.sessions.is_none() {
                return Ok(Response::fail(
                    "not_running",
                    "the daemon is not running, so there is no session to end",
                ));
            }
            match ctx.kick(&account, KickReason::AdminKick).await {
                0 => Response::fail("not_found", format!("{account} has no live session")),
                n => Response::ok(
                    format!("session of {account} ended{}", ended(n)),
                    json!({ "connections": n }),
                ),
            }
        }
        Request::AliasList => {
            let list: Vec<_> = store
                .list_aliases()
                .await?
                .into_iter()
                .map(|a| json!({ "address": a.address, "members": a.members }))
                .collect();
            Response::ok(
                format!("{} aliases", list.len()),
                json!({ "aliases": list }),
            )
        }
        Request::CertInspect { cert_b64, account } => {
            let der = decode_cert(&cert_b64)?;
            let report =
                certmail_auth::inspect(store.as_ref(), &ctx.pki, &der, account.as_deref(), now)
                    .await?;
            let data = serde_json::to_value(&report)?;
            match &report.refusal {
                None => Response::ok(report.summary.clone(), data),
                Some(r) => Response {
                    ok: false,
                    code: Some(r.code.clone()),
                    message: report.summary.clone(),
                    data,
                },
            }
        }
    })
}

async fn set_state(
    ctx: &AdminContext,
    id: &str,
    state: certmail_store::AccountState,
) -> anyhow::Result<Response> {
    let Some(mut a) = ctx.store.account(id).await? else {
        return Ok(Response::fail(
            "not_found",
            format!("no account {id}; `certmail account list` shows them"),
        ));
    };
    a.state = state;
    a.failed_logins = 0;
    a.locked_until = None;
    ctx.store.update_account(a.clone()).await?;
    // A disabled or locked account loses its live session at once.
    let n = match state {
        certmail_store::AccountState::Disabled => ctx.kick(id, KickReason::AccountDisabled).await,
        certmail_store::AccountState::Locked => ctx.kick(id, KickReason::AccountLocked).await,
        _ => 0,
    };
    Ok(Response::ok(
        format!("account {id} is now {}{}", state_word(&a.state), ended(n)),
        json!({ "account": account_json(&a) }),
    ))
}

/// Lifts a lock (admin or automatic) and resets the failure count; other states stay.
async fn unlock(ctx: &AdminContext, id: &str) -> anyhow::Result<Response> {
    let Some(mut a) = ctx.store.account(id).await? else {
        return Ok(not_found(id));
    };
    let was_locked = a.state == certmail_store::AccountState::Locked;
    if was_locked {
        a.state = certmail_store::AccountState::Active;
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

/// Stores an account's own allowed networks (checked CIDRs), or removes them.
async fn set_networks(
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

pub(super) fn not_found(id: &str) -> Response {
    Response::fail(
        "not_found",
        format!("no account {id}; `certmail account list` shows them"),
    )
}

fn state_word(s: &certmail_store::AccountState) -> &'static str {
    use certmail_store::AccountState::*;
    match s {
        Pending => "pending approval",
        Active => "active",
        Locked => "locked",
        Disabled => "disabled",
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
    })
}

fn binding_json(b: &certmail_store::CertBinding) -> serde_json::Value {
    json!({
        "account": b.account, "subject": b.subject_dn, "issuer": b.issuer_dn, "serial": b.serial_hex,
        "spki_sha256": hex::encode(b.spki_sha256), "not_after": b.not_after, "bound_at": b.bound_at,
    })
}

fn decode_cert(b64: &str) -> anyhow::Result<Vec<u8>> {
    let raw = base64::engine::general_purpose::STANDARD.decode(b64)?;
    Ok(certmail_auth::cert_der_from_file_bytes(&raw)?)
}

fn parse_spki(s: &str) -> Option<[u8; 32]> {
    let v = hex::decode(s.trim()).ok()?;
    v.try_into().ok()
}
