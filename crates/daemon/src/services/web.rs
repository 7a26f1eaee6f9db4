//! The self-service web (`[web]`, crates/web) as the daemon runs it: one more user
//! listener on the same TLS verifier as IMAP and SMTP, with a [`certmail_web::WebContext`]
//! built from the daemon's handles (the same sign-in policy, so the per-IP throttle and the
//! lockout counting are shared) and rebuilt on every reload.

use std::sync::Arc;

use certmail_smtp::notice::{self, Sent};
use certmail_web::{Notice, WebContext, WebServer};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::context::{Daemon, WebHandle};
use crate::services::listener::Accepted;

/// The web of `config` over `ctx` ([`context`]); `None` when `[web] listen` is empty.
pub fn build(config: &Config, ctx: WebContext) -> anyhow::Result<Option<WebHandle>> {
    if config.web.listen.is_empty() {
        return Ok(None);
    }
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
        daemon.cluster.as_ref(),
    );
    if let Err(e) = web.server.reload(ctx) {
        tracing::error!(error = %e, "[web] not reloaded; the old settings stay in force");
    }
}

/// The web's context from the daemon's handles and `config`, over `sign_in`, the policy
/// IMAP and SMTP were given (so the throttle and lockout counting are shared).
pub fn context(
    config: &Config,
    sign_in: certmail_auth::signin::SignInPolicy,
    store: &Arc<dyn certmail_store::Store>,
    registry: &crate::context::Registry,
    hub: &certmail_session::ChangeHub,
    pki: Arc<certmail_pki::Pki>,
    cluster: Option<&crate::context::Cluster>,
) -> WebContext {
    WebContext {
        config: config.web.clone(),
        store: Arc::clone(store),
        pki,
        policy: sign_in,
        password_rules: config.password_rules(),
        registry: Arc::clone(registry) as _,
        session_policy: config.session_policy(),
        script_quota: crate::admin::context::script_quota(&config.sieve),
        totp_issuer: config.server.hostname.clone(),
        notify: Some(notifier(store, hub, config)),
        shared: cluster.map(|c| c.web.clone()),
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

/// Mails the organisation's admins (to their INBOX) when someone signs up, and the
/// applicant (at the contact address they gave) when an org admin refuses the sign-up.
fn notifier(
    store: &Arc<dyn certmail_store::Store>,
    hub: &certmail_session::ChangeHub,
    config: &Config,
) -> Arc<certmail_web::context::NotifyFn> {
    let mail = Arc::new(Mailer {
        store: Arc::clone(store),
        hub: hub.clone(),
        origin: config.web.origin().unwrap_or_default(),
        postbox: crate::services::protocols::postbox_settings(config),
    });
    Arc::new(move |notice: Notice| {
        let mail = Arc::clone(&mail);
        tokio::spawn(async move {
            let what = match &notice {
                Notice::SignedUp { .. } => "sign-up notice",
                Notice::Refused { .. } => "sign-up refusal notice",
            };
            if let Err(e) = mail.send(notice).await {
                tracing::error!(error = %format!("{e:#}"), "{what} failed");
            }
        });
    })
}

/// What the web's notices need: the store and hub to deliver, and the words to say.
struct Mailer {
    store: Arc<dyn certmail_store::Store>,
    hub: certmail_session::ChangeHub,
    origin: String,
    postbox: notice::PostboxSettings,
}

impl Mailer {
    async fn send(&self, notice: Notice) -> anyhow::Result<()> {
        match notice {
            Notice::SignedUp {
                account,
                organisation,
            } => self.tell_org_admins(&account, &organisation).await,
            Notice::Refused {
                account,
                name,
                address,
                contact,
                organisation,
                reason,
            } => {
                let Some(contact) = contact else {
                    tracing::info!(%account, %address, "sign-up refused by an org admin; the applicant gave no contact address");
                    return Ok(());
                };
                let reason = if reason.is_empty() {
                    "-".to_string()
                } else {
                    reason
                };
                let body = format!(
                    "{name} 님,\r\n\r\n{organisation}의 메일 계정 신청({account}, {address})이 거절되었습니다.\r\n\
                     사유: {reason}\r\n\r\n\
                     Your application for a mail account ({account}, {address}) in {organisation} was refused.\r\n\
                     Reason: {reason}\r\n",
                );
                let subject = format!("메일 계정 신청 거절 / Sign-up refused: {account}");
                let sent = self.mail(&contact, &subject, &body).await?;
                tracing::info!(%account, %contact, ?sent, "sign-up refusal mailed to the applicant");
                Ok(())
            }
        }
    }

    /// `body` to `to`: into local INBOXes, or queued from the null sender.
    async fn mail(&self, to: &str, subject: &str, body: &str) -> anyhow::Result<Sent> {
        let now = certmail_auth::now();
        let message = notice::Notice {
            hostname: &self.postbox.hostname,
            to,
            subject,
            body,
            now,
        }
        .message()?;
        let postbox = self.postbox.postbox(self.store.as_ref(), Some(&self.hub));
        Ok(notice::to_address(&postbox, to, message, now).await?)
    }

    /// Delivers "a sign-up waits for you" to every org admin of `organisation`.
    async fn tell_org_admins(&self, applicant: &str, organisation: &str) -> anyhow::Result<()> {
        let admins: Vec<_> = self
            .store
            .list_accounts()
            .await?
            .into_iter()
            .filter(|a| certmail_web::role::org_admin_of(a) == Some(organisation))
            .collect();
        if admins.is_empty() {
            tracing::warn!(%organisation, applicant, "a sign-up waits but the organisation has no org admin (certmail account role ID org-admin --organisation ORG)");
        }
        let origin = &self.origin;
        for admin in admins {
            let body = format!(
                "{name} 님,\r\n\r\n{organisation}의 새 메일 계정 신청({applicant})이 승인을 기다립니다.\r\n\
                 {origin}/admin 에서 승인하거나 거절하십시오.\r\n\r\n\
                 A new mail account ({applicant}) in {organisation} waits for your approval.\r\n\
                 Approve or refuse it at {origin}/admin.\r\n",
                name = admin.name,
            );
            let now = certmail_auth::now();
            let message = notice::Notice {
                hostname: &self.postbox.hostname,
                to: &notice::address_of(&admin),
                subject: &format!("메일 계정 승인 요청 / Sign-up waiting: {applicant}"),
                body: &body,
                now,
            }
            .message()?;
            let postbox = self.postbox.postbox(self.store.as_ref(), Some(&self.hub));
            notice::to_inbox(&postbox, &admin.id, message, now).await?;
        }
        Ok(())
    }
}
