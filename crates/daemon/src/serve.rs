//! The daemon's main loop: open the store, bind listeners, tell systemd, reload on SIGHUP,
//! drain on SIGTERM/SIGINT.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::listener::{self, ConnectionLimits, ListenerKind};
use crate::notify::notify;
use crate::tls::TlsState;

/// Everything a connection handler needs, shared by all connections.
pub struct Daemon {
    /// The configuration in force (replaced on reload).
    pub config: RwLock<Arc<Config>>,
    /// Where the configuration was read from, for reloads.
    pub config_path: PathBuf,
    /// TLS server configs and the PKI (replaced on reload).
    pub tls: TlsState,
    /// The mail store.
    pub store: Arc<dyn certmail_store::Store>,
    /// Fires when the daemon is shutting down.
    pub shutdown: CancellationToken,
    /// The single-active-session registry.
    pub registry: Arc<certmail_session::LocalRegistry>,
    /// Mailbox changes between connections.
    pub hub: certmail_session::ChangeHub,
    /// The SMTP server's shared state (rebuilt on reload).
    pub smtp: RwLock<Arc<certmail_smtp::inbound::SmtpContext>>,
    /// The per-IP throttle on failed sign-ins, shared by IMAP and SMTP and kept across
    /// reloads (its counts survive; its limits apply from a restart).
    pub throttle: Arc<certmail_auth::policy::IpThrottle>,
    /// The per-account sign-in gates and outcome counters, shared by IMAP and SMTP and
    /// kept across reloads.
    pub sign_in_state: Arc<certmail_auth::signin::SignInState>,
    /// The IMAP server's shared state (its settings are replaced on reload; the literal
    /// budget and \Recent bookkeeping carry over).
    pub imap: RwLock<Arc<certmail_imap::server::ImapContext>>,
    /// The outbound relay's runner (reconfigured, started or stopped on reload).
    pub relay: crate::relay::RelayHandle,
    /// Queue wake-ups and the queue-edit lock, shared by SMTP delivery, the relay's runner
    /// and the admin handler.
    pub queue: Arc<certmail_smtp::outbound::QueueSignals>,
}

impl Daemon {
    /// The configuration in force now.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// What admin requests may touch.
    pub fn admin_context(self: &Arc<Self>) -> crate::admin::service::AdminContext {
        crate::admin::service::AdminContext {
            store: Arc::clone(&self.store),
            pki: Arc::clone(&self.tls.current().pki),
            sessions: Some(Arc::clone(&self.registry) as _),
            daemon: Some(Arc::clone(self)),
            password_rules: self.config().password_rules(),
            issuer: self.config().server.hostname.clone(),
        }
    }

    /// A reload as systemd and `certmail reload` see it: tells the service manager, reloads,
    /// then ends the sessions of certificates the new CRLs revoke.
    pub async fn reload_and_apply(&self) -> anyhow::Result<()> {
        // systemd 252 has no Type=notify-reload, so MONOTONIC_USEC is not needed.
        notify("RELOADING=1");
        let result = self.reload().await;
        notify("READY=1\nSTATUS=serving");
        match &result {
            Ok(()) => {
                tracing::info!("configuration, certificates and CRLs reloaded");
                crate::revocation::end_revoked_sessions(self).await;
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "reload failed; the old configuration stays in force")
            }
        }
        result
    }

    /// Re-reads the configuration file, TLS certificates, CA certificates and CRLs.
    /// On any error the old configuration stays in force.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let path = self.config_path.clone();
        let config = tokio::task::spawn_blocking(move || crate::config::load(&path))
            .await
            .context("reload task failed")?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // Everything that can fail is built before anything is replaced.
        let relay = crate::relay::RelayParts::build(&config).context("[relay]")?;
        config
            .mailauth
            .verifier(&config.server)
            .context("[mailauth] cannot check port 25 mail")?;
        self.tls.reload(&config).await?;
        // The message memory budget is shared with the connections still on the old
        // context, so it stays as first configured.
        let message_memory = Arc::clone(
            &self
                .smtp
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .message_memory,
        );
        *self.smtp.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(
            crate::protocols::smtp_context(
                &config,
                certmail_auth::signin::SignInPolicy {
                    throttle: Arc::clone(&self.throttle),
                    state: Arc::clone(&self.sign_in_state),
                    on_lock: Some(kick_on_lock(&self.registry)),
                    on_new_device: Some(notice_on_new_device(
                        &self.store,
                        &self.hub,
                        &config.server.hostname,
                    )),
                    ..config.sign_in_policy()
                },
                Arc::clone(&self.store),
                Arc::clone(&self.registry) as _,
                self.hub.clone(),
            )
            .with_message_memory(message_memory)
            .with_queue_signals(Arc::clone(&self.queue)),
        );
        let imap = {
            let current = self.imap.read().unwrap_or_else(|p| p.into_inner());
            // Keeps the literal budget in use and the \Recent bookkeeping of live connections.
            current.reloaded(crate::protocols::imap_settings(
                &config,
                certmail_auth::signin::SignInPolicy {
                    throttle: Arc::clone(&self.throttle),
                    state: Arc::clone(&self.sign_in_state),
                    on_lock: Some(kick_on_lock(&self.registry)),
                    on_new_device: Some(notice_on_new_device(
                        &self.store,
                        &self.hub,
                        &config.server.hostname,
                    )),
                    ..config.sign_in_policy()
                },
            ))
        };
        *self.imap.write().unwrap_or_else(|p| p.into_inner()) = imap;
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        self.relay.apply(relay);
        Ok(())
    }
}

/// Ends an account's live session when failed sign-ins lock it.
/// Delivers a new-device notice to the account's INBOX (in the background: the sign-in
/// does not wait for it).
fn notice_on_new_device(
    store: &Arc<dyn certmail_store::Store>,
    hub: &certmail_session::ChangeHub,
    hostname: &str,
) -> certmail_auth::policy::NewDeviceHook {
    let (store, hub, hostname) = (Arc::clone(store), hub.clone(), hostname.to_string());
    certmail_auth::policy::NewDeviceHook(Arc::new(
        move |account: &str, network: &str, ip: std::net::IpAddr| {
            let (store, hub, hostname) = (Arc::clone(&store), hub.clone(), hostname.clone());
            let (account, network) = (account.to_string(), network.to_string());
            tokio::spawn(async move {
                let now = certmail_auth::now();
                if let Err(e) = crate::notices::new_device_notice(
                    store.as_ref(),
                    &hub,
                    &hostname,
                    &account,
                    &network,
                    ip,
                    now,
                )
                .await
                {
                    tracing::error!(error = %format!("{e:#}"), %account, "new-device notice failed");
                }
            });
        },
    ))
}

fn kick_on_lock(
    registry: &Arc<certmail_session::LocalRegistry>,
) -> certmail_auth::policy::LockHook {
    let registry = Arc::clone(registry);
    certmail_auth::policy::LockHook(Arc::new(move |account: &str| {
        let (registry, account) = (Arc::clone(&registry), account.to_string());
        tokio::spawn(async move {
            use certmail_session::SessionRegistry as _;
            registry
                .kick(&account, certmail_session::KickReason::AccountLocked)
                .await;
        });
    }))
}

/// Runs the daemon until a shutdown signal, on a fresh multi-threaded runtime.
pub fn run_blocking(config_path: &Path, config: Config) -> anyhow::Result<()> {
    crate::logging::init(&config.server.log_level, &config.server.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(config_path.to_path_buf(), config))
}

async fn run(config_path: PathBuf, config: Config) -> anyhow::Result<()> {
    // Handlers first: a SIGTERM that arrives as soon as the listeners are announced must
    // drain, not kill.
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let store = open_store(&config).await?;
    let tls = TlsState::load(&config).await?;
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let limits = ConnectionLimits::new(
        config.limits.max_connections,
        config.limits.max_connections_per_ip,
    );

    // The admin socket first: once a `listening` line is printed, the CLI must work.
    let admin_path = config.server.admin_socket();
    let admin = crate::admin::server::bind(&admin_path)
        .with_context(|| format!("admin socket {}", admin_path.display()))?;
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let registry = Arc::new(certmail_session::LocalRegistry::new(
        certmail_session::RegistryConfig {
            max_connections_per_session: config.auth.max_connections_per_session,
        },
    ));
    let hub = certmail_session::ChangeHub::new(1024);
    let sign_in = certmail_auth::signin::SignInPolicy {
        on_lock: Some(kick_on_lock(&registry)),
        on_new_device: Some(notice_on_new_device(&store, &hub, &config.server.hostname)),
        ..config.sign_in_policy()
    };
    let throttle = Arc::clone(&sign_in.throttle);
    let sign_in_state = Arc::clone(&sign_in.state);
    let imap = crate::protocols::imap_context(
        &config,
        sign_in.clone(),
        Arc::clone(&store),
        Arc::clone(&registry) as _,
        hub.clone(),
    );
    let queue = Arc::new(certmail_smtp::outbound::QueueSignals::default());
    let smtp = crate::protocols::smtp_context(
        &config,
        sign_in,
        Arc::clone(&store),
        Arc::clone(&registry) as _,
        hub.clone(),
    )
    .with_queue_signals(Arc::clone(&queue));
    let daemon = Arc::new(Daemon {
        config: RwLock::new(Arc::new(config)),
        config_path,
        tls,
        store,
        shutdown: shutdown.clone(),
        registry,
        hub,
        smtp: RwLock::new(Arc::new(smtp)),
        throttle,
        sign_in_state,
        imap: RwLock::new(imap),
        relay: crate::relay::RelayHandle::default(),
        queue,
    });

    // The first daily pass (expiry notices, audit retention) completes before the daemon
    // says it listens; later passes run every 24 hours.
    crate::notices::run_once(&daemon).await;
    let config_now = daemon.config();
    let mut bound = Vec::new();
    for (kind, addrs) in [
        (ListenerKind::ImapTls, &config_now.imap.listen_tls),
        (ListenerKind::ImapStartTls, &config_now.imap.listen_starttls),
        (
            ListenerKind::SubmissionTls,
            &config_now.smtp.listen_submissions,
        ),
        (
            ListenerKind::SubmissionStartTls,
            &config_now.smtp.listen_submission,
        ),
        (ListenerKind::Mx, &config_now.smtp.listen_mx),
    ] {
        bound.extend(listener::bind(kind, addrs).await?);
    }
    let accept_loops = TaskTracker::new();
    for (routes, name, addrs) in [
        (
            crate::http::Routes::Metrics,
            "metrics",
            &config_now.http.metrics_listen,
        ),
        (
            crate::http::Routes::Autoconfig,
            "autoconfig",
            &config_now.http.autoconfig_listen,
        ),
    ] {
        for addr in addrs {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for {name}"))?;
            println!("listening {name} {}", l.local_addr()?);
            accept_loops.spawn(crate::http::serve(
                l,
                Arc::clone(&daemon),
                routes,
                shutdown.clone(),
            ));
        }
    }
    for (kind, l) in bound {
        let d = Arc::clone(&daemon);
        let d2 = Arc::clone(&daemon);
        accept_loops.spawn(listener::serve(
            kind,
            l,
            Arc::clone(&limits),
            shutdown.clone(),
            tracker.clone(),
            move |kind, acc| crate::protocols::handle(Arc::clone(&d), kind, acc),
            move |kind, tcp| crate::protocols::refuse_busy(Arc::clone(&d2), kind, tcp),
        ));
    }
    accept_loops.spawn(watch_crls(Arc::clone(&daemon), shutdown.clone()));
    accept_loops.spawn(crate::notices::daily(Arc::clone(&daemon), shutdown.clone()));
    accept_loops.spawn(crate::relay::run(Arc::clone(&daemon), shutdown.clone()));
    accept_loops.spawn(crate::admin::server::serve(
        admin,
        Arc::clone(&daemon),
        shutdown.clone(),
    ));
    accept_loops.close();
    tracing::info!("certmail ready");
    notify("READY=1\nSTATUS=serving");

    loop {
        tokio::select! {
            _ = hup.recv() => {
                let _ = daemon.reload_and_apply().await;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }

    tracing::info!(open = limits.open(), "shutting down: draining connections");
    notify("STOPPING=1\nSTATUS=draining connections");
    shutdown.cancel();
    accept_loops.wait().await;
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(
            open = limits.open(),
            "grace period over; closing remaining connections"
        );
    }
    let _ = std::fs::remove_file(&admin_path);
    tracing::info!("stopped");
    Ok(())
}

/// Loads new or changed CRL files every `[server] crl_check_interval_secs`.
async fn watch_crls(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    loop {
        let secs = daemon.config().server.crl_check_interval_secs;
        let wait = Duration::from_secs(if secs == 0 { 3600 } else { secs });
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if secs == 0 {
            continue;
        }
        if let Err(e) = crate::revocation::reload_crls(&daemon, false).await {
            tracing::error!(error = %format!("{e:#}"), "reloading CRLs failed; the last good ones stay in force")
        }
    }
}

pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn certmail_store::Store>> {
    let dir = config.server.data_dir.clone();
    let key_path = config.server.key_file();
    let store = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        // The same process may have closed the store a moment ago (`certmail dev` makes
        // its demo account first): sled's background threads can hold the file lock for a
        // little while after. Another daemon holding it still fails, after 5 s.
        let mut attempt = 0;
        loop {
            let key = certmail_store::KeyFile::load_or_create(&key_path)
                .with_context(|| format!("store key file {}", key_path.display()))?;
            match certmail_store::SledStore::open(&dir.join("store"), key) {
                Err(e) if attempt < 100 && e.to_string().contains("could not acquire lock") => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => {
                    return other.with_context(|| {
                        format!(
                            "cannot open the mail store in {} (is another certmail running?)",
                            dir.display()
                        )
                    });
                }
            }
        }
    })
    .await??;
    Ok(Arc::new(store))
}
