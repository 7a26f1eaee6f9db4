//! Reload (SIGHUP, `certmail reload`): re-read the configuration, certificates and CRLs and
//! swap them into the running [`Daemon`]; plus the sign-in hooks the protocol contexts are
//! built with at start and at every reload.

use std::sync::Arc;

use anyhow::Context as _;

use crate::config::Config;
use crate::context::Daemon;
use crate::services::notify::notify;

/// A reload as systemd and `certmail reload` see it: tells the service manager, reloads,
/// then ends the sessions of certificates the new CRLs revoke.
pub async fn reload_and_apply(daemon: &Daemon) -> anyhow::Result<()> {
    // systemd 252 has no Type=notify-reload, so MONOTONIC_USEC is not needed.
    notify("RELOADING=1");
    let result = reload(daemon).await;
    notify("READY=1\nSTATUS=serving");
    match &result {
        Ok(()) => {
            tracing::info!("configuration, certificates and CRLs reloaded");
            crate::services::revocation::end_revoked_sessions(daemon).await;
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "reload failed; the old configuration stays in force")
        }
    }
    result
}

/// Re-reads the configuration file, TLS certificates, CA certificates and CRLs.
/// On any error, or when a key only a restart applies has changed (listeners, the store:
/// see [`crate::services::restart_keys`]), the old configuration stays in force.
pub async fn reload(daemon: &Daemon) -> anyhow::Result<()> {
    let path = daemon.config_path.clone();
    let config = tokio::task::spawn_blocking(move || crate::config::load(&path))
        .await
        .context("reload task failed")?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let restart = crate::services::restart_keys::changed(&daemon.config(), &config);
    if !restart.is_empty() {
        anyhow::bail!(
            "{} changed, which only a restart applies (systemctl restart certmail); \
             restart, or put the old value back and reload",
            restart.join(", ")
        );
    }
    // Everything that can fail is built before anything is replaced.
    let relay = crate::services::relay::build_parts(&config).context("[relay]")?;
    config
        .mailauth
        .verifier(&config.server)
        .context("[mailauth] cannot check port 25 mail")?;
    daemon.tls.reload(&config).await?;
    replace_smtp_context(daemon, &config);
    replace_imap_context(daemon, &config);
    *daemon
        .managesieve
        .write()
        .unwrap_or_else(|p| p.into_inner()) =
        Arc::new(crate::services::protocols::managesieve_context(
            &config,
            daemon_sign_in_policy(daemon, &config),
            Arc::clone(&daemon.store),
            Arc::clone(&daemon.registry) as _,
        ));
    // Remembered passwords are forgotten, so a reload is a clean start for the sign-in
    // cache (whatever changed in the policy, certificates or CRLs).
    daemon.sign_in_state.remembered.forget();
    crate::services::spam::reload(daemon, &config);
    crate::services::web::reload(daemon, &config, daemon_sign_in_policy(daemon, &config));
    *daemon.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    daemon.relay.apply(relay);
    Ok(())
}

/// A new SMTP context from `config`. The message memory budget is shared with the
/// connections still on the old context, so it stays as first configured.
fn replace_smtp_context(daemon: &Daemon, config: &Config) {
    let message_memory = Arc::clone(
        &daemon
            .smtp
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .message_memory,
    );
    *daemon.smtp.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(
        crate::services::protocols::smtp_context(
            config,
            daemon_sign_in_policy(daemon, config),
            Arc::clone(&daemon.store),
            Arc::clone(&daemon.registry) as _,
            daemon.hub.clone(),
        )
        .with_message_memory(message_memory)
        .with_queue_signals(Arc::clone(&daemon.queue))
        .with_counters(Arc::clone(&daemon.mail_counters)),
    );
}

/// New IMAP settings from `config` on the context in force.
fn replace_imap_context(daemon: &Daemon, config: &Config) {
    let imap = {
        let current = daemon.imap.read().unwrap_or_else(|p| p.into_inner());
        // Keeps the literal budget in use and the \Recent bookkeeping of live connections.
        current.reloaded(crate::services::protocols::imap_settings(
            config,
            daemon_sign_in_policy(daemon, config),
        ))
    };
    *daemon.imap.write().unwrap_or_else(|p| p.into_inner()) = imap;
}

/// The sign-in policy of `config` with the daemon's throttle and sign-in state (kept across
/// reloads) and hooks.
fn daemon_sign_in_policy(daemon: &Daemon, config: &Config) -> certmail_auth::signin::SignInPolicy {
    certmail_auth::signin::SignInPolicy {
        throttle: Arc::clone(&daemon.throttle),
        precredential_throttle: Arc::clone(&daemon.precredential_throttle),
        state: Arc::clone(&daemon.sign_in_state),
        ..sign_in_policy(config, &daemon.registry, &daemon.store, &daemon.hub)
    }
}

/// The sign-in policy of `config` with the daemon's hooks: a lock ends the account's
/// session, a new device gets a notice.
pub fn sign_in_policy(
    config: &Config,
    registry: &crate::context::Registry,
    store: &Arc<dyn certmail_store::Store>,
    hub: &certmail_session::ChangeHub,
) -> certmail_auth::signin::SignInPolicy {
    certmail_auth::signin::SignInPolicy {
        on_lock: Some(kick_on_lock(registry)),
        on_new_device: Some(notice_on_new_device(store, hub, config)),
        ..config.sign_in_policy()
    }
}

/// Delivers a new-device notice to the account's INBOX (in the background: the sign-in
/// does not wait for it).
fn notice_on_new_device(
    store: &Arc<dyn certmail_store::Store>,
    hub: &certmail_session::ChangeHub,
    config: &crate::config::Config,
) -> certmail_auth::policy::NewDeviceHook {
    let settings = Arc::new(crate::services::protocols::postbox_settings(config));
    let (store, hub) = (Arc::clone(store), hub.clone());
    certmail_auth::policy::NewDeviceHook(Arc::new(
        move |account: &str, network: &str, ip: std::net::IpAddr| {
            let (store, hub, settings) = (Arc::clone(&store), hub.clone(), Arc::clone(&settings));
            let (account, network) = (account.to_string(), network.to_string());
            tokio::spawn(async move {
                let now = certmail_auth::now();
                let postbox = settings.postbox(store.as_ref(), Some(&hub));
                if let Err(e) = crate::services::notices::new_device_notice(
                    &postbox, &account, &network, ip, now,
                )
                .await
                {
                    tracing::error!(error = %format!("{e:#}"), %account, "new-device notice failed");
                }
            });
        },
    ))
}

/// Ends an account's live session when failed sign-ins lock it.
fn kick_on_lock(registry: &crate::context::Registry) -> certmail_auth::policy::LockHook {
    let registry = Arc::clone(registry);
    certmail_auth::policy::LockHook(Arc::new(move |account: &str| {
        let (registry, account) = (Arc::clone(&registry), account.to_string());
        tokio::spawn(async move {
            registry
                .kick(&account, certmail_session::KickReason::AccountLocked)
                .await;
        });
    }))
}
