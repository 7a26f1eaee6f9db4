//! Executes admin [`Request`]s against the store and PKI. Shared by the socket server
//! (daemon running) and the direct path (daemon stopped): [`execute`] audits every
//! request that changes something; [`dispatch`] hands each request to the handler of its
//! family.

use certmail_store::AccountState;

use super::context::AdminContext;
use super::{Request, Response, accounts, aliases, certs, control, devices, ops, queue, sessions};

/// Executes one request. Never panics on bad input; every failure is a [`Response`].
pub async fn execute(ctx: &AdminContext, req: Request) -> Response {
    let op = serde_json::to_value(&req)
        .ok()
        .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string));
    let mutating = is_mutating(&req);
    let subject = subject(&req);
    let response = match dispatch(ctx, req).await {
        Ok(r) => r,
        Err(e) => Response::fail("internal", format!("{e:#}")),
    };
    if mutating {
        audit(ctx, op, subject, &response).await;
    }
    response
}

/// Whether a request changes something (and is audited).
fn is_mutating(req: &Request) -> bool {
    !matches!(
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
    )
}

/// The account a request is about, for its audit event.
fn subject(req: &Request) -> Option<String> {
    match req {
        Request::AccountAdd { id, .. }
        | Request::AccountApprove { id }
        | Request::AccountDisable { id }
        | Request::AccountPasswd { id, .. }
        | Request::AccountLock { id }
        | Request::AccountUnlock { id }
        | Request::AccountNetworks { id, .. }
        | Request::AccountRole { id, .. }
        | Request::AccountTotp { id, .. } => Some(id.clone()),
        Request::DeviceForget { account, .. } => Some(account.clone()),
        Request::CertBind { account, .. }
        | Request::CertUnbind { account, .. }
        | Request::SessionKick { account } => Some(account.clone()),
        _ => None,
    }
}

/// Records an admin action in the audit log, never with secrets (the message holds no
/// password unless one was generated, so only the outcome code is kept).
async fn audit(
    ctx: &AdminContext,
    op: Option<String>,
    subject: Option<String>,
    response: &Response,
) {
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

/// Hands a request to the handler of its family.
async fn dispatch(ctx: &AdminContext, req: Request) -> anyhow::Result<Response> {
    match req {
        Request::AccountAdd {
            id,
            name,
            organisation,
            addresses,
            foreign,
            approve,
            password,
        } => {
            let new = accounts::NewAccount {
                id,
                name,
                organisation,
                addresses,
                foreign,
                approve,
                password,
            };
            accounts::add(ctx, new).await
        }
        Request::AccountApprove { id } => accounts::set_state(ctx, &id, AccountState::Active).await,
        Request::AccountDisable { id } => {
            accounts::set_state(ctx, &id, AccountState::Disabled).await
        }
        Request::AccountLock { id } => accounts::set_state(ctx, &id, AccountState::Locked).await,
        Request::AccountUnlock { id } => accounts::unlock(ctx, &id).await,
        Request::AccountNetworks { id, cidrs } => accounts::set_networks(ctx, &id, cidrs).await,
        Request::AccountRole { id, organisation } => {
            accounts::set_role(ctx, &id, organisation.as_deref()).await
        }
        Request::AccountPasswd { id, password } => accounts::passwd(ctx, &id, password).await,
        Request::AccountShow { id } => accounts::show(ctx, &id).await,
        Request::AccountList => accounts::list(ctx).await,
        Request::AccountTotp { id, action } => devices::totp(ctx, &id, &action).await,
        Request::DeviceList { account } => devices::list(ctx, &account).await,
        Request::DeviceForget { account, device } => {
            devices::forget(ctx, &account, device.as_deref()).await
        }
        Request::CertBind { account, cert_b64 } => certs::bind(ctx, &account, &cert_b64).await,
        Request::CertUnbind {
            account,
            spki_sha256,
        } => certs::unbind(ctx, &account, &spki_sha256).await,
        Request::CertList { account } => certs::list(ctx, account.as_deref()).await,
        Request::CertInspect { cert_b64, account } => {
            certs::inspect(ctx, &cert_b64, account.as_deref()).await
        }
        Request::AliasSet { address, members } => aliases::set(ctx, &address, &members).await,
        Request::AliasRemove { address } => aliases::remove(ctx, &address).await,
        Request::AliasList => aliases::list(ctx).await,
        req @ (Request::Backup { .. }
        | Request::ImportMessage { .. }
        | Request::AuditQuery { .. }
        | Request::Stats) => ops::run(ctx, req).await,
        Request::Reload => control::reload(ctx).await,
        Request::ReloadCrls => control::reload_crls(ctx).await,
        Request::Queue { action, id } => queue::run(ctx, action, id).await,
        Request::SessionList => sessions::list(ctx).await,
        Request::SessionKick { account } => sessions::kick(ctx, &account).await,
    }
}
