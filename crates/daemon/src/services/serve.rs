//! The daemon's main loop and its wiring, all in this one file: open the store, build the
//! [`Daemon`] context, bind listeners, start every service, tell systemd, reload on
//! SIGHUP, drain on SIGTERM/SIGINT.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::UnixListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::context::Daemon;
use crate::services::listener::{self, ConnectionLimits, ListenerKind};
use crate::services::notify::notify;
use crate::tls::TlsState;

/// Runs the daemon until a shutdown signal, on a fresh multi-threaded runtime.
pub fn run_blocking(config_path: &Path, config: Config) -> anyhow::Result<()> {
    crate::services::logging::init(&config.server.log_level, &config.server.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(config_path.to_path_buf(), config))
}

async fn run(config_path: PathBuf, config: Config) -> anyhow::Result<()> {
    // Handlers first: a SIGTERM that arrives as soon as the listeners are announced must
    // drain, not kill.
    let mut signals = Signals::install()?;
    let (store, cluster) = crate::services::cluster::open(&config).await?;
    let tls = TlsState::load(&config).await?;
    let tracker = TaskTracker::new();
    let balancers = config.server.proxy_protocol_from.iter().map(String::as_str);
    let proxy = crate::services::listener::ProxyFrom {
        networks: certmail_auth::policy::parse_cidrs(balancers).map_err(|bad| {
            anyhow::anyhow!("[server] proxy_protocol_from: `{bad}` is not a network")
        })?,
        timeout: Duration::from_secs(config.limits.tls_handshake_timeout_secs),
    };
    let limits = ConnectionLimits::with_proxy(
        config.limits.max_connections,
        config.limits.max_connections_per_ip,
        proxy,
    );

    // The admin socket first: once a `listening` line is printed, the CLI must work.
    let admin_path = config.server.admin_socket();
    let admin = crate::services::admin_socket::bind(&admin_path)
        .with_context(|| format!("admin socket {}", admin_path.display()))?;
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let daemon = Arc::new(build_daemon(config, config_path, store, tls, cluster)?);

    // The first daily pass (expiry notices, audit retention) completes before the daemon
    // says it listens; later passes run every 24 hours.
    crate::services::notices::run_once(&daemon).await;
    let accept_loops = start_services(&daemon, &limits, &tracker, admin).await?;
    tracing::info!("certmail ready");
    notify("READY=1\nSTATUS=serving");

    signals.until_shutdown(&daemon).await;

    tracing::info!(open = limits.open(), "shutting down: draining connections");
    notify("STOPPING=1\nSTATUS=draining connections");
    daemon.shutdown.cancel();
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

/// The signals the daemon obeys: SIGHUP reloads, SIGTERM and SIGINT stop.
struct Signals {
    hup: Signal,
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        Ok(Self {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Reloads on every SIGHUP until SIGTERM or SIGINT.
    async fn until_shutdown(&mut self, daemon: &Daemon) {
        loop {
            tokio::select! {
                _ = self.hup.recv() => {
                    let _ = crate::services::reload::reload_and_apply(daemon).await;
                }
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
            }
        }
    }
}

/// The shared context: the session registry, the change hub and the IMAP and SMTP
/// contexts with the sign-in policy of `config`. Public so that a test can hold two
/// daemons' contexts in one process (they share no state).
pub fn build_daemon(
    config: Config,
    config_path: PathBuf,
    store: Arc<dyn certmail_store::Store>,
    tls: TlsState,
    cluster: Option<crate::context::Cluster>,
) -> anyhow::Result<Daemon> {
    let registry = session_registry(&config, cluster.as_ref());
    let hub = certmail_session::ChangeHub::new(1024);
    let mut sign_in = crate::services::reload::sign_in_policy(&config, &registry, &store, &hub);
    if let Some(cluster) = &cluster {
        crate::services::cluster::share_throttles(cluster, &mut sign_in);
    }
    let throttle = Arc::clone(&sign_in.throttle);
    let precredential_throttle = Arc::clone(&sign_in.precredential_throttle);
    let sign_in_state = Arc::clone(&sign_in.state);
    let imap = certmail_imap::server::ImapContext::new(
        Arc::clone(&store),
        Arc::clone(&registry) as _,
        hub.clone(),
        crate::services::protocols::imap_settings(&config, sign_in.clone()),
    );
    let spam_learning = crate::services::spam::learn_queue(&config);
    let imap = imap.with_filing_observer(crate::services::spam::filing_observer(&spam_learning));
    let queue = Arc::new(certmail_smtp::outbound::QueueSignals::default());
    let mail_counters = Arc::new(certmail_smtp::stats::MailCounters::default());
    let managesieve = crate::services::protocols::managesieve_context(
        &config,
        sign_in.clone(),
        Arc::clone(&store),
        Arc::clone(&registry) as _,
    );
    let web_pki = Arc::clone(&tls.current().pki);
    let web = crate::services::web::context(
        &config,
        sign_in.clone(),
        &store,
        &registry,
        &hub,
        web_pki,
        cluster.as_ref(),
    );
    let web = crate::services::web::build(&config, web)?;
    let smtp = crate::services::protocols::smtp_context(
        &config,
        sign_in,
        Arc::clone(&store),
        Arc::clone(&registry) as _,
        hub.clone(),
    )
    .with_queue_signals(Arc::clone(&queue))
    .with_counters(Arc::clone(&mail_counters));
    Ok(Daemon {
        config: RwLock::new(Arc::new(config)),
        config_path,
        tls,
        store,
        shutdown: CancellationToken::new(),
        registry,
        hub,
        smtp: RwLock::new(Arc::new(smtp)),
        throttle,
        precredential_throttle,
        sign_in_state,
        imap: RwLock::new(imap),
        managesieve: RwLock::new(Arc::new(managesieve)),
        relay: crate::context::RelayHandle::default(),
        queue,
        web,
        listeners_bound: Default::default(),
        cluster,
        spam_learning,
        connections: Default::default(),
        mail_counters,
    })
}

/// The session registry: the cluster's (PostgreSQL) one, or this process's own.
fn session_registry(
    config: &Config,
    cluster: Option<&crate::context::Cluster>,
) -> crate::context::Registry {
    match cluster {
        Some(cluster) => Arc::clone(&cluster.registry) as _,
        None => Arc::new(certmail_session::LocalRegistry::new(
            certmail_session::RegistryConfig {
                max_connections_per_session: config.auth.max_connections_per_session,
            },
        )),
    }
}

/// Binds every listener of the configuration and spawns every service: mail listeners,
/// HTTP (metrics, autoconfig), CRL watch, daily notices, relay, admin socket. Returns the
/// tracker of their loops (closed), which ends once shutdown fires.
async fn start_services(
    daemon: &Arc<Daemon>,
    limits: &Arc<ConnectionLimits>,
    tracker: &TaskTracker,
    admin: UnixListener,
) -> anyhow::Result<TaskTracker> {
    let shutdown = daemon.shutdown.clone();
    let bound = bind_mail_listeners(&daemon.config()).await?;
    let accept_loops = TaskTracker::new();
    start_http(daemon, &accept_loops).await?;
    if let Some(cluster) = &daemon.cluster {
        crate::services::cluster::start(cluster, &daemon.hub, &accept_loops, &shutdown);
    }
    for (kind, l) in bound {
        let d = Arc::clone(daemon);
        let d2 = Arc::clone(daemon);
        accept_loops.spawn(listener::serve(
            kind,
            l,
            Arc::clone(limits),
            shutdown.clone(),
            tracker.clone(),
            move |kind, acc| crate::services::protocols::handle(Arc::clone(&d), kind, acc),
            move |kind, tcp| crate::services::protocols::refuse_busy(Arc::clone(&d2), kind, tcp),
        ));
    }
    daemon
        .listeners_bound
        .store(true, std::sync::atomic::Ordering::Release);
    accept_loops.spawn(watch_crls(Arc::clone(daemon), shutdown.clone()));
    accept_loops.spawn(crate::services::notices::daily(
        Arc::clone(daemon),
        shutdown.clone(),
    ));
    accept_loops.spawn(crate::services::relay::run(
        Arc::clone(daemon),
        shutdown.clone(),
    ));
    accept_loops.spawn(crate::services::spam::run(
        Arc::clone(daemon),
        shutdown.clone(),
    ));
    accept_loops.spawn(crate::services::admin_socket::serve(
        admin,
        Arc::clone(daemon),
        shutdown,
    ));
    accept_loops.close();
    Ok(accept_loops)
}

/// Binds the IMAP, submission and MX listeners of `config`.
async fn bind_mail_listeners(
    config: &Config,
) -> anyhow::Result<Vec<(ListenerKind, tokio::net::TcpListener)>> {
    let mut bound = Vec::new();
    for (kind, addrs) in [
        (ListenerKind::ImapTls, &config.imap.listen_tls),
        (ListenerKind::ImapStartTls, &config.imap.listen_starttls),
        (ListenerKind::SubmissionTls, &config.smtp.listen_submissions),
        (
            ListenerKind::SubmissionStartTls,
            &config.smtp.listen_submission,
        ),
        (ListenerKind::Mx, &config.smtp.listen_mx),
        (ListenerKind::ManageSieve, &config.sieve.listen),
    ] {
        bound.extend(listener::bind(kind, addrs).await?);
    }
    // `[web] listen` was checked to hold addresses by check-config.
    let web: Vec<std::net::SocketAddr> = config.web.listen.iter().flat_map(|a| a.parse()).collect();
    bound.extend(listener::bind(ListenerKind::Web, &web).await?);
    Ok(bound)
}

/// Binds the metrics and autoconfig HTTP listeners and spawns their loops.
async fn start_http(daemon: &Arc<Daemon>, accept_loops: &TaskTracker) -> anyhow::Result<()> {
    let config = daemon.config();
    for (routes, name, addrs) in [
        (
            crate::services::http::Routes::Metrics,
            "metrics",
            &config.http.metrics_listen,
        ),
        (
            crate::services::http::Routes::Autoconfig,
            "autoconfig",
            &config.http.autoconfig_listen,
        ),
    ] {
        for addr in addrs {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for {name}"))?;
            println!("listening {name} {}", l.local_addr()?);
            accept_loops.spawn(crate::services::http::serve(
                l,
                Arc::clone(daemon),
                routes,
                daemon.shutdown.clone(),
            ));
        }
    }
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
        if let Err(e) = crate::services::revocation::reload_crls(&daemon, false).await {
            tracing::error!(error = %format!("{e:#}"), "reloading CRLs failed; the last good ones stay in force")
        }
    }
}
