//! Which store backend an [`Installation`](crate::Installation) uses: sled (the default), or
//! PostgreSQL when the test process runs with `CERTMAIL_TEST_STORE=postgres`, so the
//! black-box suites run unchanged on both backends (`scripts/test` runs the real-client
//! binaries a second time that way).
//!
//! On PostgreSQL every installation gets a fresh database on one test server per test
//! process (`certmail_store_pg::pg_harness::PgServer::shared`, started on first use and
//! stopped by pid when the process exits). This needs the kit's `postgres` feature (the
//! black-box tests enable it); without it the variable is refused with a sentence.
//! Installations whose test appends its own `[store]` or `[cluster]` section (the cluster
//! tests, `store copy`) choose their backend themselves and are not run this way.

use std::path::Path;
use std::sync::Arc;

use certmail_config::Config;
/// The backends, as [`requested`] names them.
pub use certmail_config::StoreBackend;

/// The environment variable naming the backend of the tests' installations.
pub const VAR: &str = "CERTMAIL_TEST_STORE";

/// `[cluster] node_name` of an installation on PostgreSQL.
pub const NODE_NAME: &str = "node-a";

/// `[cluster] session_lease_secs` of installations on PostgreSQL: short, so the sessions
/// of a daemon a test killed stop counting within the test.
pub const LEASE_SECS: u64 = 4;

/// `[cluster] queue_lease_secs` of installations on PostgreSQL: the shortest allowed, so
/// the outbound mail a killed daemon held is delivered again within the test.
pub const QUEUE_LEASE_SECS: u64 = 3;

/// The backend `CERTMAIL_TEST_STORE` asks for: unset, empty or `sled` is sled,
/// `postgres` is PostgreSQL; anything else stops the test with a sentence.
pub fn requested() -> StoreBackend {
    match std::env::var(VAR).as_deref() {
        Err(_) | Ok("" | "sled") => StoreBackend::Sled,
        Ok("postgres") => StoreBackend::Postgres,
        Ok(other) => panic!("{VAR}={other:?}: say \"sled\" or \"postgres\" (or leave it unset)"),
    }
}

/// The `[cluster] node_name` the tests' installations run as: `Some` on PostgreSQL, where
/// the daemon names its node (a NODE column in `session list`, a `node` label on every
/// metric, `node` in audit events), `None` on sled, where it names none. Tests assert
/// each backend's form with it.
pub fn node_name() -> Option<&'static str> {
    (requested() == StoreBackend::Postgres).then_some(NODE_NAME)
}

/// Points `config` at the requested backend: on PostgreSQL a fresh database of the shared
/// test server, with a node name and short leases.
pub fn configure(config: &mut Config) {
    if requested() == StoreBackend::Sled {
        return;
    }
    config.store.backend = StoreBackend::Postgres;
    config.store.postgres_url = Some(fresh_database());
    config.store.postgres_pool_size = 4;
    config.cluster.node_name = Some(NODE_NAME.to_owned());
    config.cluster.session_lease_secs = LEASE_SECS;
    config.cluster.queue_lease_secs = QUEUE_LEASE_SECS;
}

#[cfg(feature = "postgres")]
fn fresh_database() -> String {
    certmail_store_pg::pg_harness::PgServer::shared().create_database_blocking()
}

#[cfg(not(feature = "postgres"))]
fn fresh_database() -> String {
    panic!(
        "{VAR}=postgres: this test binary was built without certmail-testkit's \
         \"postgres\" feature; run the black-box tests in tests/ (certmail-tests) instead"
    )
}

/// Opens the store the configuration at `config_path` names, as the daemon does: sled in
/// `[server] data_dir` (locked while a daemon runs: stop it first), or the PostgreSQL
/// database (open beside a running daemon too), with the installation's key file.
pub async fn open_store(config_path: &Path) -> anyhow::Result<Arc<dyn certmail_store::Store>> {
    let config = certmail_config::load(config_path)?;
    let key_path = config.server.key_file();
    let key =
        tokio::task::spawn_blocking(move || certmail_store::KeyFile::load_or_create(&key_path))
            .await??;
    match config.store.backend {
        StoreBackend::Sled => {
            let dir = config.server.data_dir.join("store");
            Ok(Arc::new(
                certmail_store::SledStore::open_async(&dir, key).await?,
            ))
        }
        StoreBackend::Postgres => open_postgres(&config, key).await,
    }
}

#[cfg(feature = "postgres")]
async fn open_postgres(
    config: &Config,
    key: certmail_store::KeyFile,
) -> anyhow::Result<Arc<dyn certmail_store::Store>> {
    let url =
        config.store.postgres_url.as_deref().ok_or_else(|| {
            anyhow::anyhow!("[store] backend = \"postgres\" without postgres_url")
        })?;
    let pg = certmail_store_pg::PgConfig::new(url);
    Ok(Arc::new(certmail_store_pg::PgStore::open(&pg, key).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(
    _config: &Config,
    _key: certmail_store::KeyFile,
) -> anyhow::Result<Arc<dyn certmail_store::Store>> {
    anyhow::bail!(
        "the installation's store is on PostgreSQL, but certmail-testkit was built without \
         its \"postgres\" feature"
    )
}
