//! The store behind a run's daemons and the nodes on it: sled in the installation (the
//! default, one node), or a PostgreSQL server started for the run from the
//! distribution's package by the tests' harness (`certmail_store_pg::pg_harness`) and
//! stopped by pid when the run ends, however it ends, with `--nodes N` daemons on its one
//! database, each with its own data directory (admin socket), ports and node name and the
//! first node's key file (README, "Cluster").

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use certmail_config::{Config, StoreBackend};
use certmail_store_pg::pg_harness::PgServer;

use crate::pgstat::PgSnapshot;
use crate::procstat::{self, TreeStat};

/// `--backend`: which store the daemons use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Backend {
    /// The embedded store in the installation's data directory.
    #[default]
    Sled,
    /// A PostgreSQL server started for the run.
    Postgres,
}

/// The database of every run on PostgreSQL.
const DATABASE: &str = "certmail";

/// Checks `--backend`, `--nodes` and `--compare-fsync` together; the refusal is a
/// sentence saying what to change.
pub fn check(backend: Backend, nodes: usize, compare_fsync: bool) -> Result<(), String> {
    if nodes == 0 {
        return Err("--nodes 0: a run needs at least one daemon".into());
    }
    if nodes > 1 && backend == Backend::Sled {
        return Err(format!(
            "--nodes {nodes} needs --backend postgres: the nodes of a cluster share one \
             PostgreSQL database, and sled is one daemon's own store"
        ));
    }
    if compare_fsync && backend == Backend::Postgres {
        return Err(
            "--compare-fsync moves sled's store to /dev/shm and cannot move \
                    PostgreSQL's: leave out --backend postgres, or --compare-fsync"
                .into(),
        );
    }
    Ok(())
}

/// Points `config` at the database at `url` as node `node` (pool size and leases stay
/// at their defaults: what an operator would run).
pub fn configure(config: &mut Config, url: String, node: &str) {
    config.store.backend = StoreBackend::Postgres;
    config.store.postgres_url = Some(url);
    config.cluster.node_name = Some(node.to_owned());
}

/// The name of node `i` (from 0): `mail1`, `mail2`, …
pub fn node_name(i: usize) -> String {
    format!("mail{}", i + 1)
}

/// The run's PostgreSQL server and a connection for its statistics. Dropping it stops
/// the server (SIGTERM to its pid, the harness's `Drop`); the harness's watchdog stops it
/// too if this process dies without dropping it.
pub struct Database {
    server: PgServer,
    stats: tokio_postgres::Client,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Starts a fresh server with `fsync=on` (the harness turns it off for tests; a
    /// benchmark compares durable stores) and creates the run's database.
    pub async fn start() -> anyhow::Result<Database> {
        let server = tokio::task::spawn_blocking(|| PgServer::start_with(&[("fsync", "on")]))
            .await
            .context("starting PostgreSQL panicked")?
            .context("starting PostgreSQL (the postgresql package's server)")?;
        server
            .admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
            .await
            .context("CREATE DATABASE")?;
        let stats = server.connect(DATABASE).await;
        Ok(Database { server, stats })
    }

    /// The run's database's URL (TCP on 127.0.0.1, as nodes on other machines would).
    pub fn url(&self) -> String {
        self.server.url(DATABASE)
    }

    /// The cluster's data directory (for the file system it is on).
    pub fn data_dir(&self) -> PathBuf {
        self.server.data_dir()
    }

    /// PostgreSQL's counters now (after the statistics settle).
    pub async fn snapshot(&self) -> anyhow::Result<PgSnapshot> {
        PgSnapshot::read(&self.stats, self.pid()?).await
    }

    /// Bytes a table takes with its TOAST data and indexes (`pg_total_relation_size`).
    pub async fn relation_bytes(&self, table: &str) -> anyhow::Result<u64> {
        let row = self
            .stats
            .query_one(
                "SELECT pg_total_relation_size($1::text::regclass)",
                &[&table],
            )
            .await
            .with_context(|| format!("the size of {table}"))?;
        Ok(u64::try_from(row.get::<_, i64>(0))?)
    }

    /// The CPU and disk writes of the server's processes so far.
    pub fn processes(&self) -> anyhow::Result<TreeStat> {
        procstat::tree(self.pid()?)
    }

    fn pid(&self) -> anyhow::Result<u32> {
        self.server
            .pid()
            .context("the PostgreSQL server is not running")
    }

    /// Stops the server and removes its directory, off the async threads.
    pub async fn stop(self) {
        let Database { server, stats } = self;
        drop(stats);
        let _ = tokio::task::spawn_blocking(move || drop(server)).await;
    }
}

/// A node's configuration file and log.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its name (`[cluster] node_name`), or "certmail" on sled.
    pub name: String,
    /// Its configuration file.
    pub config: PathBuf,
    /// Its stderr.
    pub log: PathBuf,
}

/// The nodes of the installation in `dir` whose configuration (node 1's) is `config`
/// with log `log`: nodes 2 to `count` get a copy with their own data directory in `dir`
/// (for the admin socket), node 1's key file and their own node name.
pub fn nodes(dir: &Path, config: &Path, log: &Path, count: usize) -> anyhow::Result<Vec<Node>> {
    let first = certmail_config::load(config)
        .with_context(|| format!("reading back {}", config.display()))?;
    let mut nodes = vec![Node {
        name: first
            .cluster
            .node_name
            .clone()
            .unwrap_or_else(|| "certmail".into()),
        config: config.to_owned(),
        log: log.to_owned(),
    }];
    for i in 1..count {
        let name = node_name(i);
        let mut other = first.clone();
        other.server.data_dir = dir.join(format!("data-{name}"));
        other.server.key_file = Some(first.server.key_file());
        other.cluster.node_name = Some(name.clone());
        std::fs::create_dir_all(&other.server.data_dir)?;
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, other.to_toml())
            .with_context(|| format!("writing {}", path.display()))?;
        nodes.push(Node {
            log: dir.join(format!("daemon-{name}.log")),
            config: path,
            name,
        });
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_nodes_need_postgres_and_say_so() {
        assert_eq!(check(Backend::Sled, 1, true), Ok(()));
        assert_eq!(check(Backend::Postgres, 2, false), Ok(()));
        let refused = check(Backend::Sled, 2, false).expect_err("sled has one node");
        assert!(
            refused.contains("--nodes 2 needs --backend postgres"),
            "{refused}"
        );
        let refused = check(Backend::Postgres, 1, true).expect_err("no tmpfs database");
        assert!(refused.contains("--compare-fsync"), "{refused}");
        assert!(check(Backend::Postgres, 0, false).is_err());
    }

    #[test]
    fn other_nodes_share_the_key_and_have_their_own_name_and_data() {
        let dir = tempfile::tempdir().expect("temp dir");
        let setup = crate::install::write_files(
            tempfile::tempdir().expect("temp dir"),
            Path::new("certmail"),
            (1, 1),
            "warn",
            |c| {
                let url = "postgresql://certmail@127.0.0.1:5432/certmail?sslmode=disable";
                configure(c, url.into(), &node_name(0));
            },
        )
        .expect("installation");
        let config = &setup.install.config_path;
        let list = nodes(dir.path(), config, &setup.log, 3).expect("nodes");
        let names: Vec<&str> = list.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["mail1", "mail2", "mail3"]);
        let first = certmail_config::load(config).expect("node 1");
        let third = certmail_config::load(&list[2].config).expect("node 3 reads back");
        assert_eq!(third.cluster.node_name.as_deref(), Some("mail3"));
        assert_eq!(third.server.key_file(), first.server.key_file());
        assert_ne!(third.server.admin_socket(), first.server.admin_socket());
        assert_eq!(third.store.postgres_url, first.store.postgres_url);
        assert_ne!(list[1].log, list[2].log);
    }
}
