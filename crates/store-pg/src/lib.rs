//! certmail-store-pg: the mail store on PostgreSQL, for several certmail nodes sharing one
//! database (cluster mode). It implements [`certmail_store::Store`] with the sled store's
//! semantics; sled stays the embedded default for one node.
//!
//! - [`PgStore`] (this file): opening (pool, migrations, key check) and the transaction
//!   plumbing; the operations live in one file per family: `accounts.rs` (accounts,
//!   bindings, aliases), `mailboxes.rs`, `messages.rs` (with `blobs.rs` for bodies),
//!   `delivery.rs`, `queue.rs`, `devices.rs`, `audit.rs`, `scripts.rs` (Sieve scripts),
//!   `urlauth.rs` (URLAUTH access keys),
//!   `copy.rs` (`certmail store copy`: counts, sealed bodies, imports); `api.rs` is `impl Store`,
//!   generated from the methods' signatures. Mailbox names, renames, account ids, STORE
//!   flags, COPY/MOVE and delivery targets are checked by the store crate's rules
//!   (`certmail_store::shared`), the same the sled store calls.
//! - [`config`]: `postgres_url` (TLS only with `sslmode=verify-full`) and
//!   `postgres_pool_size`; [`tls`]: the verifying rustls connector.
//! - [`schema`]: embedded migrations (`migrations/*.sql`, documented in `SCHEMA.md`),
//!   applied at open under an advisory lock.
//! - [`error`]: [`OpenError`] and the mapping of PostgreSQL failures to `StoreError`.
//! - `pg_harness` (feature `test-harness`): a throwaway PostgreSQL server for tests.
//! - Cluster behaviour: [`notify`] (every mailbox change sends a `pg_notify` in its own
//!   transaction), [`listen`] (each node's LISTEN connection feeding the change hub and the
//!   kicks), [`sessions`] (the one-session-per-person registry with leases, shared by all
//!   nodes), `queue.rs` (claims on outbound entries with a lease, so one node delivers
//!   each), `counters.rs` (the sign-in throttles' failure windows, counted by all nodes).
//!
//! Rules:
//! - every mutating call returns only after its transaction's COMMIT returned
//!   (`synchronous_commit` is never changed, and a database where it is `off` is refused
//!   at open: COMMIT waits for the WAL flush);
//! - a mailbox's UIDs and MODSEQs are allocated under that mailbox row's lock
//!   (`SELECT … FOR UPDATE`), taken by every writer of its messages; several mailboxes
//!   are locked in one statement in id order, so writers cannot deadlock each other;
//! - bodies are sealed exactly as in sled (AES-256-GCM, `blobs/<sha256>` as AAD, key id
//!   in front) with the store crate's [`Sealer`], stored once per content and
//!   reference-counted in the transaction that adds or removes their users;
//! - no transaction is held across anything but its own statements;
//! - the URL's password and the key never appear in `Debug` output.
#![forbid(unsafe_code)]

mod accounts;
mod acl;
mod api;
mod audit;
mod blobs;
pub mod config;
mod copy;
mod counters;
mod delivery;
mod devices;
pub mod error;
pub mod listen;
mod mailboxes;
mod messages;
pub mod notify;
#[cfg(feature = "test-harness")]
pub mod pg_harness;
mod queue;
mod quota;
mod rows;
pub mod schema;
mod scripts;
mod search;
pub mod sessions;
pub mod tls;
mod urlauth;
mod web_sessions;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use certmail_store::shared::{FlushLatencyRecorder, Sealer};
use certmail_store::{KeyFile, StoreError, StoreStats};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

pub use config::{DEFAULT_POOL_SIZE, PgConfig};
pub use error::OpenError;

/// How long an operation waits for a free pooled connection, or for a new one to be made,
/// before failing with a temporary error.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL-backed mail store. Use it as `Arc<dyn Store>`.
pub struct PgStore {
    pool: Pool,
    /// `[cluster] node_name`: signs change notices and audit events.
    node: String,
    /// How to reach the database again (the LISTEN connection).
    config: PgConfig,
    sealer: Sealer,
    /// The key of the search index's n-gram hashes (`search.rs`).
    gram_key: certmail_store::search_index::GramKey,
    writes: AtomicU64,
    commits: AtomicU64,
    commit_latency: FlushLatencyRecorder,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// A pooled connection.
type Conn = deadpool_postgres::Object;
/// A transaction on a pooled connection.
type Tx<'a> = deadpool_postgres::Transaction<'a>;

impl PgStore {
    /// Connects, applies pending schema migrations and checks the key file against the
    /// store: `WrongKey` if `key` is not the key the store was created with.
    pub async fn open(config: &PgConfig, key: KeyFile) -> Result<PgStore, OpenError> {
        let pool = build_pool(config)?;
        let mut conn = first_connection(&pool).await?;
        schema::check_durability(&conn).await?;
        let version = schema::migrate(&mut conn).await?;
        let sealer = Sealer::new(&key);
        let gram_key = key.search_index_key();
        schema::check_keys(&conn, &sealer).await?;
        drop(conn);
        tracing::info!(config = ?config, schema = version, "PostgreSQL store open");
        Ok(PgStore {
            pool,
            node: config.node_name.clone(),
            config: config.clone(),
            sealer,
            gram_key,
            writes: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            commit_latency: FlushLatencyRecorder::default(),
        })
    }

    /// The nodes running on this database now: each daemon node holds a LISTEN connection
    /// named [`listen::LISTEN_APPLICATION`] and the node's name, visible in `pg_stat_activity` to
    /// the role they share. `certmail store copy` refuses a database nodes are using.
    pub async fn running_nodes(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT DISTINCT application_name FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND starts_with(application_name, $1) ORDER BY 1",
                &[&listen::LISTEN_APPLICATION],
            )
            .await
            .map_err(error::db)?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                r.get::<_, String>(0)
                    .strip_prefix(listen::LISTEN_APPLICATION)
                    .map(str::to_owned)
            })
            .collect())
    }

    /// For `certmail check-config`: connects as [`PgStore::open`] would (TLS included) and
    /// returns the database's schema version (0 for an empty database) without changing
    /// anything; `SchemaVersion` if it is newer than this build knows.
    pub async fn check(config: &PgConfig) -> Result<i32, OpenError> {
        let pool = build_pool(config)?;
        let conn = first_connection(&pool).await?;
        schema::check_durability(&conn).await?;
        let found = schema::schema_version(&conn).await?;
        if found > schema::SCHEMA_VERSION {
            return Err(OpenError::SchemaVersion {
                found,
                expected: schema::SCHEMA_VERSION,
            });
        }
        Ok(found)
    }

    /// The database's size on disk (`pg_database_size`), every node's data included.
    async fn size_bytes(&self) -> Result<u64, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one("SELECT pg_database_size(current_database())", &[])
            .await
            .map_err(error::db)?;
        let size: i64 = row.get(0);
        u64::try_from(size).map_err(|_| error::out_of_range("pg_database_size", size))
    }

    /// A connection from the pool.
    async fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get().await.map_err(error::pool)
    }

    /// Commits a write transaction, counting it and timing the COMMIT (which returns once
    /// the WAL is flushed: this is the durability point).
    async fn commit(&self, tx: Tx<'_>) -> Result<(), StoreError> {
        let started = Instant::now();
        tx.commit().await.map_err(error::db)?;
        self.commit_latency.record(started.elapsed());
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Tells the other nodes, at this transaction's COMMIT, that `account` changed.
    async fn notice(
        &self,
        tx: &Tx<'_>,
        account: &str,
        changes: Vec<certmail_session::Change>,
    ) -> Result<(), StoreError> {
        notify::send(tx, &self.node, account, changes).await
    }

    /// Counts a write made by a single statement (autocommit), durable once it returned,
    /// and times it from `started` (just before the statement) like a COMMIT: every commit
    /// counted is in the latency histogram too.
    fn count_write(&self, started: Instant) {
        self.commit_latency.record(started.elapsed());
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    fn stats(&self) -> StoreStats {
        StoreStats {
            writes: self.writes.load(Ordering::Relaxed),
            flushes: self.commits.load(Ordering::Relaxed),
            flush_latency: self.commit_latency.snapshot(),
        }
    }
}

/// The connection pool for `config`, with the TLS its URL asks for.
fn build_pool(config: &PgConfig) -> Result<Pool, OpenError> {
    let parsed = config::parse(&config.url)?;
    let manager_config = ManagerConfig {
        // Before handing out a pooled connection, check that it is not closed (a lost
        // connection is replaced instead of failing the next operation).
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match parsed.tls {
        Some(tls) => Manager::from_config(parsed.pg, tls, manager_config),
        None => Manager::from_config(parsed.pg, tokio_postgres::NoTls, manager_config),
    };
    Pool::builder(manager)
        .max_size(config.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .build()
        .map_err(|e| OpenError::Connect(e.to_string()))
}

/// The first connection of a new pool: a failure here is the configuration's or the
/// network's, reported with its causes.
async fn first_connection(pool: &Pool) -> Result<Conn, OpenError> {
    pool.get()
        .await
        .map_err(|e| OpenError::Connect(error::with_causes(&e)))
}

/// Takes a transaction-scoped advisory lock in namespace `ns` on `key` (hashed by the
/// server): serialises hierarchy changes of one account, or claims of one address.
async fn advisory_lock(tx: &Tx<'_>, ns: i32, key: &str) -> Result<(), StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&ns, &key],
    )
    .await
    .map_err(error::db)?;
    Ok(())
}

/// Whether `query` (a `SELECT 1 …`, perhaps locking the row it finds) finds a row.
async fn row_exists(
    tx: &Tx<'_>,
    query: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<bool, StoreError> {
    Ok(tx
        .query_opt(query, params)
        .await
        .map_err(error::db)?
        .is_some())
}

/// Advisory-lock namespaces.
mod lock_ns {
    /// Mailbox hierarchy changes (create with parents, rename, delete) of one account.
    pub(crate) const HIERARCHY: i32 = 1;
    /// An address being claimed by an account or an alias.
    pub(crate) const ADDRESS: i32 = 2;
    /// Sign-ins of one account (the cluster's session registry).
    pub(crate) const SIGN_IN: i32 = 3;
    /// The device registry of one account (its cap).
    pub(crate) const DEVICES: i32 = 4;
    /// Quota-checked writes of one account's mail (`quota.rs`).
    pub(crate) const QUOTA: i32 = 5;
}
