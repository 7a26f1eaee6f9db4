//! The daemon's shared context: [`Daemon`], the handles every runtime service receives,
//! and [`open_store`], the one way to open the mail store.
//!
//! This module is a leaf: it imports the configuration, TLS and connection-counter types
//! and the library crates, never a service, the admin handlers or the CLI (they all import it).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use certmail_smtp::outbound::{MessageSigner, QueueRunner, RelaySettings, Transport};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
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
    /// The single-active-session registry (cluster-wide on PostgreSQL).
    pub registry: Registry,
    /// Mailbox changes between connections.
    pub hub: certmail_session::ChangeHub,
    /// The SMTP server's shared state (rebuilt on reload).
    pub smtp: RwLock<Arc<certmail_smtp::inbound::SmtpContext>>,
    /// The per-IP throttle on failed sign-ins, shared by IMAP and SMTP and kept across
    /// reloads (its counts survive; its limits apply from a restart).
    pub throttle: Arc<certmail_auth::policy::IpThrottle>,
    /// The per-IP throttle on attempts refused before any credential is checked, kept
    /// across reloads like `throttle`.
    pub precredential_throttle: Arc<certmail_auth::policy::IpThrottle>,
    /// The per-account sign-in gates, the argon2 pool and the outcome counters, shared by
    /// IMAP and SMTP and kept across reloads.
    pub sign_in_state: Arc<certmail_auth::signin::SignInState>,
    /// The IMAP server's shared state (its settings are replaced on reload; the literal
    /// budget and \Recent bookkeeping carry over).
    pub imap: RwLock<Arc<certmail_imap::server::ImapContext>>,
    /// The ManageSieve server's shared state (rebuilt on reload).
    pub managesieve: RwLock<Arc<certmail_managesieve::ManageSieveContext>>,
    /// The outbound relay's runner (reconfigured, started or stopped on reload).
    pub relay: RelayHandle,
    /// Queue wake-ups and the queue-edit lock, shared by SMTP delivery, the relay's runner
    /// and the admin handler.
    pub queue: Arc<certmail_smtp::outbound::QueueSignals>,
    /// The self-service web, when `[web] listen` was set at start (its context is rebuilt
    /// on reload).
    pub web: Option<WebHandle>,
    /// Set once every listener of the configuration is bound (`/healthz` reports ready
    /// only then).
    pub listeners_bound: std::sync::atomic::AtomicBool,
    /// Cluster mode's handles, with `[store] backend = "postgres"`.
    pub cluster: Option<Cluster>,
    /// Messages users moved into or out of Junk, waiting to be learned by rspamd (its
    /// controller client is replaced on reload).
    pub spam_learning: Arc<certmail_smtp::spam::LearnQueue>,
    /// Connections accepted and open, by listener (for `/metrics`).
    pub connections: crate::connections::ConnectionCounts,
    /// Messages accepted, stored, queued and relayed, shared by the SMTP context and the
    /// queue runner and kept across reloads (for `/metrics`).
    pub mail_counters: Arc<certmail_smtp::stats::MailCounters>,
}

/// The session registry as every service holds it.
pub type Registry = Arc<dyn certmail_session::SessionRegistry>;

/// A node of a cluster on PostgreSQL: the store, its shared session registry and the
/// node's name (`services::cluster` runs their background tasks).
pub struct Cluster {
    /// The store, as the PostgreSQL type (for its LISTEN connection).
    pub store: Arc<certmail_store_pg::PgStore>,
    /// The cluster-wide session registry.
    pub registry: Arc<certmail_store_pg::sessions::PgRegistry>,
    /// `[cluster] node_name`.
    pub node: String,
    /// What the nodes' self-service web servers share (sessions, TOTP offers, form key).
    pub web: certmail_web::SharedWeb,
}

/// The running web: the server (reloadable) and its `[web] max_connections` slots (sized
/// at start).
pub struct WebHandle {
    /// The routes over the current web context.
    pub server: certmail_web::WebServer,
    /// One per open web connection.
    pub slots: Arc<tokio::sync::Semaphore>,
}

impl Daemon {
    /// The configuration in force now.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The running queue runner with the token that stops it alone.
type Running = Option<(Arc<QueueRunner>, CancellationToken)>;

/// The running queue runner, if any, as reloads see it (`services::relay` runs it).
#[derive(Default)]
pub struct RelayHandle {
    /// The runner in force and the token that stops it alone.
    running: Mutex<Running>,
    /// Wakes the relay service when a reload turned the relay on.
    changed: Notify,
}

impl std::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHandle").finish_non_exhaustive()
    }
}

/// What `[relay]` and `[mailauth.dkim]` make of the runner: checked before a reload commits
/// (`services::relay::build_parts` makes them).
pub struct RelayParts {
    /// How messages leave (smarthost or MX).
    pub transport: Arc<dyn Transport>,
    /// Retry schedule, limits and names.
    pub settings: RelaySettings,
    /// The DKIM signer, if `[mailauth.dkim]` names keys.
    pub signer: Option<Arc<dyn MessageSigner>>,
}

impl RelayHandle {
    /// The runner in force, locked: a reload and the relay service's start see each other.
    pub fn lock(&self) -> MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notified when a reload turns the relay on while no runner runs.
    pub fn changed(&self) -> &Notify {
        &self.changed
    }

    /// Applies a reloaded configuration's parts (the daemon's config is already the new one).
    pub fn apply(&self, parts: Option<RelayParts>) {
        let running = self.lock();
        match (running.as_ref(), parts) {
            (Some((runner, _)), Some(p)) => {
                runner.reconfigure(p.transport, p.settings, p.signer);
                tracing::info!("outbound relay reconfigured");
            }
            // Stops after its deliveries in progress; the service then waits for a reload.
            (Some((_, stop)), None) => stop.cancel(),
            (None, Some(_)) => self.changed.notify_one(),
            (None, None) => {}
        }
    }
}

/// Opens the mail store of `config`: `[store] backend` decides which (sled by default).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn certmail_store::Store>> {
    match config.store.backend {
        crate::config::StoreBackend::Sled => open_sled(config).await,
        crate::config::StoreBackend::Postgres => open_postgres(config).await,
    }
}

/// `[store] postgres_url` and `postgres_pool_size` as the PostgreSQL store takes them.
pub fn pg_config(config: &Config) -> anyhow::Result<certmail_store_pg::PgConfig> {
    let url = config.store.postgres_url.as_deref().ok_or_else(|| {
        anyhow::anyhow!("[store] backend = \"postgres\" needs [store] postgres_url")
    })?;
    Ok(certmail_store_pg::PgConfig {
        url: url.to_owned(),
        pool_size: config.store.postgres_pool_size,
        node_name: config.cluster.node_name(),
    })
}

/// [`open_pg_store`] as the store trait.
async fn open_postgres(config: &Config) -> anyhow::Result<Arc<dyn certmail_store::Store>> {
    let store: Arc<dyn certmail_store::Store> = open_pg_store(config).await?;
    Ok(store)
}

/// Opens the PostgreSQL store (applying pending migrations under its lock) with the key file
/// every node of the cluster shares: the first node creates it; a node with another key is
/// refused with a sentence saying to copy the first node's.
pub async fn open_pg_store(config: &Config) -> anyhow::Result<Arc<certmail_store_pg::PgStore>> {
    let pg = pg_config(config)?;
    let (dir, key_path) = (config.server.data_dir.clone(), config.server.key_file());
    // The data directory still holds the admin socket (and, by default, the key file).
    let key = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        certmail_store::KeyFile::load_or_create(&key_path)
            .with_context(|| format!("store key file {}", key_path.display()))
    })
    .await??;
    let store = match certmail_store_pg::PgStore::open(&pg, key).await {
        Ok(store) => store,
        Err(certmail_store_pg::OpenError::Store(
            e @ (certmail_store::StoreError::WrongKey { .. }
            | certmail_store::StoreError::UnknownKeyId(_)),
        )) => anyhow::bail!(
            "{e}: the key file {} is not the one this database's mail is encrypted with; \
             every node uses the same [server] key_file: copy it from the first node (mode 0600)",
            config.server.key_file().display()
        ),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot open the PostgreSQL store ({pg:?})"));
        }
    };
    tracing::info!(
        node = %config.cluster.node_name(),
        "mail store on PostgreSQL (cluster node)"
    );
    Ok(Arc::new(store))
}

/// Opens the sled store in `[server] data_dir` (creating the directory and the store key
/// on first use), on the blocking pool.
async fn open_sled(config: &Config) -> anyhow::Result<Arc<dyn certmail_store::Store>> {
    let dir = config.server.data_dir.clone();
    let cache = config.store.sled_cache_mb.saturating_mul(1024 * 1024);
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
            match certmail_store::SledStore::open_with_cache(&dir.join("store"), key, cache) {
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_configured_sled_cache_default_is_the_stores() {
        let configured = certmail_config::DEFAULT_SLED_CACHE_MB * 1024 * 1024;
        assert_eq!(configured, certmail_store::SLED_DEFAULT_CACHE_BYTES);
        let store = certmail_config::StoreSection::default();
        assert_eq!(store.sled_cache_mb, certmail_config::DEFAULT_SLED_CACHE_MB);
    }
}
