//! The self-service web (`[web]`, crates/web) as the daemon runs it: one more user
//! listener on the same TLS verifier as IMAP and SMTP, with a [`certmail_web::WebContext`]
//! built from the daemon's handles (the same sign-in policy, so the per-IP throttle and the
//! lockout counting are shared) and rebuilt on every reload.

use std::sync::Arc;

use certmail_session::Change;
use certmail_store::Delivery;
use certmail_web::{Notice, WebContext, WebServer};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::context::{Daemon, WebHandle};
use crate::services::listener::Accepted;

/// The web of `config` (`None` when `[web] listen` is empty) over `sign_in`, the policy
/// IMAP and SMTP were given.
pub fn build(
    config: &Config,
    sign_in: certmail_auth::signin::SignInPolicy,
    store: &Arc<dyn certmail_store::Store>,
    registry: &crate::context::Registry,
    hub: &certmail_session::ChangeHub,
    pki: Arc<certmail_pki::Pki>,
) -> anyhow::Result<Option<WebHandle>> {
    if config.web.listen.is_empty() {
        return Ok(None);
    }
    let ctx = context(config, sign_in, store, registry, hub, pki);
    let server = WebServer::new(ctx).map_err(|e| anyhow::anyhow!("[web]: {e}"))?;
    Ok(Some(WebHandle {
        server,
        slots: Arc::new(tokio::sync::Semaphore::new(config.web.max_connections)),
    }))
}

/// Gives the running web the context of `config` (after a reload of the configuration,
/// certificates and CRLs); browser sessions survive.
pub fn reload(daemon: &Daemon, config: &Config, sign_in: certmail_auth::signin::SignInPolicy) {
    let Some(web) = &daemon.web else {
        return;
    };
    let pki = Arc::clone(&daemon.tls.current().pki);
    let ctx = context(
        config,
        sign_in,
        &daemon.store,
        &daemon.registry,
        &daemon.hub,
        pki,
    );
    if let Err(e) = web.server.reload(ctx) {
        tracing::error!(error = %e, "[web] not reloaded; the old settings stay in force");
    }
}

fn context(
    config: &Config,
    sign_in: certmail_auth::signin::SignInPolicy,
    store: &Arc<dyn certmail_store::Store>,
    registry: &crate::context::Registry,
    hub: &certmail_session::ChangeHub,
    pki: Arc<certmail_pki::Pki>,
) -> WebContext {
    WebContext {
        config: config.web.clone(),
        store: Arc::clone(store),
        pki,
        policy: sign_in,
        password_rules: config.password_rules(),
        registry: Arc::clone(registry) as _,
        totp_issuer: config.server.hostname.clone(),
        notify: Some(notifier(store, hub, config)),
    }
}

/// Serves one accepted web connection with the client-certificate TLS config in force
/// (the same verifier, CAs and CRLs as IMAP and SMTP), within `[web] max_connections`.
pub async fn handle(daemon: &Daemon, acc: Accepted) {
    let Some(web) = &daemon.web else {
        return;
    };
    let Ok(_permit) = Arc::clone(&web.slots).try_acquire_owned() else {
        tracing::warn!(peer = %acc.peer, "[web] max_connections reached; closing");
        return;
    };
    let tls = daemon.tls.current();
    let acceptor = TlsAcceptor::from(Arc::clone(&tls.client_auth));
    web.server
        .serve_connection(acc.tcp, acc.peer, acceptor, daemon.shutdown.cancelled())
        .await;
    drop(acc.slot);
}

/// Mails the organisation's admins (to their INBOX) when someone signs up; a refusal is
/// logged (the applicant's pending account is gone, so there is no INBOX to reach).
fn notifier(
    store: &Arc<dyn certmail_store::Store>,
    hub: &certmail_session::ChangeHub,
    config: &Config,
) -> Arc<certmail_web::context::NotifyFn> {
    let (store, hub) = (Arc::clone(store), hub.clone());
    let hostname = config.server.hostname.clone();
    let origin = config.web.origin().unwrap_or_default();
    Arc::new(move |notice: Notice| {
        let (store, hub) = (Arc::clone(&store), hub.clone());
        let (hostname, origin) = (hostname.clone(), origin.clone());
        match notice {
            Notice::SignedUp {
                account,
                organisation,
            } => {
                tokio::spawn(async move {
                    if let Err(e) = tell_org_admins(
                        store.as_ref(),
                        &hub,
                        (&hostname, &origin),
                        &account,
                        &organisation,
                    )
                    .await
                    {
                        tracing::error!(error = %format!("{e:#}"), %account, "sign-up notice failed");
                    }
                });
            }
            Notice::Refused {
                account, address, ..
            } => {
                tracing::info!(%account, %address, "sign-up refused by an org admin");
            }
        }
    })
}

/// Delivers "a sign-up waits for you" to every org admin of `organisation`.
async fn tell_org_admins(
    store: &dyn certmail_store::Store,
    hub: &certmail_session::ChangeHub,
    (hostname, origin): (&str, &str),
    applicant: &str,
    organisation: &str,
) -> anyhow::Result<()> {
    let now = certmail_auth::now();
    let admins: Vec<_> = store
        .list_accounts()
        .await?
        .into_iter()
        .filter(|a| certmail_web::role::org_admin_of(a) == Some(organisation))
        .collect();
    if admins.is_empty() {
        tracing::warn!(%organisation, applicant, "a sign-up waits but the organisation has no org admin (certmail account role ID org-admin --organisation ORG)");
    }
    for admin in admins {
        let body = format!(
            "{name} 님,\r\n\r\n{organisation}의 새 메일 계정 신청({applicant})이 승인을 기다립니다.\r\n\
             {origin}/admin 에서 승인하거나 거절하십시오.\r\n\r\n\
             A new mail account ({applicant}) in {organisation} waits for your approval.\r\n\
             Approve or refuse it at {origin}/admin.\r\n",
            name = admin.name,
        );
        let to = admin.addresses.first().cloned().unwrap_or(admin.id.clone());
        let message = mail_builder::MessageBuilder::new()
            .from(("certmail".to_string(), format!("postmaster@{hostname}")))
            .to(to)
            .subject(format!(
                "메일 계정 승인 요청 / Sign-up waiting: {applicant}"
            ))
            .header(
                "Auto-Submitted",
                mail_builder::headers::raw::Raw::new("auto-generated"),
            )
            .date(now)
            .text_body(body)
            .write_to_vec()?;
        let receipt = store
            .deliver(Delivery {
                body: message,
                internal_date: now,
                recipients: vec![(admin.id.clone(), "INBOX".to_string(), Vec::new())],
                queue: Vec::new(),
            })
            .await?;
        for copy in &receipt.stored {
            hub.publish(
                &copy.account,
                None,
                Change::Exists {
                    mailbox: copy.mailbox.clone(),
                    uid: copy.uid,
                },
            );
        }
    }
    Ok(())
}
