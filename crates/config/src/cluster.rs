//! `[store]` (which backend holds the mail) and `[cluster]` (this node's name among several
//! sharing one PostgreSQL store).

use serde::{Deserialize, Serialize};

/// Which store implementation holds the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// The embedded store in `[server] data_dir` (one node).
    #[default]
    Sled,
    /// A PostgreSQL database, shared by every node of a cluster.
    Postgres,
}

/// Most connections one node may keep to PostgreSQL; its `max_connections` defaults to 100.
pub const MAX_POSTGRES_POOL_SIZE: usize = 1000;

/// `[store]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// "sled" (the default: the embedded store in `[server] data_dir`) or "postgres".
    pub backend: StoreBackend,
    /// With `backend = "postgres"`: the database, as a `postgresql://` URL. Over TCP it must
    /// say `sslmode=verify-full&sslrootcert=PATH` (the server's certificate is verified) or,
    /// on a trusted network only, `sslmode=disable`; weaker TLS modes are refused.
    pub postgres_url: Option<String>,
    /// Most connections this node keeps open to PostgreSQL at once.
    pub postgres_pool_size: usize,
    /// With `backend = "sled"`: MiB of sled's page cache; past it the pages used least
    /// recently are dropped. 256 by default. sled 0.34 does not keep to it for what it
    /// writes: what was stored since the start stays in memory (BENCHMARKS.md).
    pub sled_cache_mb: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Sled,
            postgres_url: None,
            postgres_pool_size: 16,
            sled_cache_mb: DEFAULT_SLED_CACHE_MB,
        }
    }
}

/// Default of `[store] sled_cache_mb` (what `certmail_store::SledStore::open` uses too).
pub const DEFAULT_SLED_CACHE_MB: u64 = 256;

/// Bounds of `[store] sled_cache_mb`: below 16 MiB every read goes to the disk; above
/// 64 GiB is a typing mistake.
pub const SLED_CACHE_MB: std::ops::RangeInclusive<u64> = 16..=65536;

/// Bounds of `[cluster] session_lease_secs`: below 3 s a renewal every third of it would
/// load the database for nothing; above an hour a dead node would lock users out too long.
pub const SESSION_LEASE_SECS: std::ops::RangeInclusive<u64> = 3..=3600;

/// Bounds of `[cluster] queue_lease_secs`: below 3 s a renewal every third of it would load
/// the database for nothing; above an hour a dead node's mail would wait too long.
pub const QUEUE_LEASE_SECS: std::ops::RangeInclusive<u64> = 3..=3600;

/// `[cluster]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// This node's name, unique among the nodes sharing one database; shown in logs and
    /// `session list`. Default: the machine's host name.
    pub node_name: Option<String>,
    /// Seconds a node's sessions keep counting cluster-wide after the node stopped
    /// renewing them (it died). Default 30: a dead node's users wait at most half a
    /// minute under `session_policy = "reject"`, and renewals (every 10 s) cost little.
    pub session_lease_secs: u64,
    /// Seconds a node's claim on an outbound queue entry lasts after the node stopped
    /// renewing it (it died mid-delivery); then another node delivers the entry. Default
    /// 60: a dead node's mail waits about a minute (or until its next retry, if later), and
    /// renewals (every 20 s) cost little.
    pub queue_lease_secs: u64,
}

impl Default for ClusterSection {
    fn default() -> Self {
        Self {
            node_name: None,
            session_lease_secs: 30,
            queue_lease_secs: 60,
        }
    }
}

impl ClusterSection {
    /// The configured node name, or the machine's host name.
    pub fn node_name(&self) -> String {
        if let Some(name) = &self.node_name {
            return name.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    }
}

/// Checks `[store]` and `[cluster]`: a postgres backend needs a URL, the pool a size.
pub(crate) fn validate(
    store: &StoreSection,
    cluster: &ClusterSection,
    bad: &mut impl FnMut(&str, String),
) {
    if store.backend == StoreBackend::Postgres {
        match store.postgres_url.as_deref() {
            None => bad(
                "[store] postgres_url",
                "backend = \"postgres\" needs postgres_url, e.g. \
                 \"postgresql://certmail@db.example/certmail?sslmode=verify-full&sslrootcert=/etc/certmail/db-ca.pem\""
                    .into(),
            ),
            Some(url) if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) => {
                bad(
                    "[store] postgres_url",
                    "must be a postgresql:// URL (libpq's form)".into(),
                )
            }
            Some(_) => {}
        }
    }
    if !(1..=MAX_POSTGRES_POOL_SIZE).contains(&store.postgres_pool_size) {
        bad(
            "[store] postgres_pool_size",
            format!(
                "{} is out of range; give 1 to {MAX_POSTGRES_POOL_SIZE} (16 suits most nodes)",
                store.postgres_pool_size
            ),
        );
    }
    if !SLED_CACHE_MB.contains(&store.sled_cache_mb) {
        bad(
            "[store] sled_cache_mb",
            format!(
                "{} is out of range; give {} to {} MiB of memory for store pages (256 suits \
                 most servers)",
                store.sled_cache_mb,
                SLED_CACHE_MB.start(),
                SLED_CACHE_MB.end()
            ),
        );
    }
    if !SESSION_LEASE_SECS.contains(&cluster.session_lease_secs) {
        bad(
            "[cluster] session_lease_secs",
            format!(
                "{} is out of range; give {} to {} seconds (30 suits most clusters)",
                cluster.session_lease_secs,
                SESSION_LEASE_SECS.start(),
                SESSION_LEASE_SECS.end()
            ),
        );
    }
    if !QUEUE_LEASE_SECS.contains(&cluster.queue_lease_secs) {
        bad(
            "[cluster] queue_lease_secs",
            format!(
                "{} is out of range; give {} to {} seconds (60 suits most clusters)",
                cluster.queue_lease_secs,
                QUEUE_LEASE_SECS.start(),
                QUEUE_LEASE_SECS.end()
            ),
        );
    }
    if let Some(name) = &cluster.node_name {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !ok {
            bad(
                "[cluster] node_name",
                format!(
                    "{name:?}: give 1 to 63 letters, digits, '-', '_' or '.' (a host name suits)"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check;

    fn problems(extra: &str) -> Vec<(String, String)> {
        let text =
            format!("[pki]\ncerts_dir = \"/nonexistent\"\ncrl_dir = \"/nonexistent\"\n{extra}");
        check(&text)
            .expect_err("the PKI directories do not exist")
            .into_iter()
            .filter(|p| p.key.starts_with("[store]") || p.key.starts_with("[cluster]"))
            .map(|p| (p.key, p.message))
            .collect()
    }

    #[test]
    fn the_sled_cache_is_bounded_by_key() {
        assert!(problems("[store]\nsled_cache_mb = 64\n").is_empty());
        let found = problems("[store]\nsled_cache_mb = 4\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "[store] sled_cache_mb");
        assert!(found[0].1.contains("give 16 to 65536 MiB"), "{found:?}");
    }

    #[test]
    fn sled_is_the_default_and_needs_nothing() {
        assert!(problems("").is_empty());
        assert!(problems("[store]\nbackend = \"sled\"\n").is_empty());
    }

    #[test]
    fn store_and_cluster_mistakes_are_each_reported_by_key() {
        let found = problems(
            "[store]\nbackend = \"postgres\"\npostgres_pool_size = 0\n[cluster]\nnode_name = \"메일 1\"\nsession_lease_secs = 1\nqueue_lease_secs = 7200\n",
        );
        let keys: Vec<_> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "[store] postgres_url",
                "[store] postgres_pool_size",
                "[cluster] session_lease_secs",
                "[cluster] queue_lease_secs",
                "[cluster] node_name"
            ]
        );
        assert!(found[0].1.contains("sslmode=verify-full"), "{found:?}");

        let found = problems("[store]\nbackend = \"mysql\"\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].1.contains("postgres"), "{found:?}");

        let found = problems("[store]\nbackend = \"postgres\"\npostgres_url = \"db.example\"\n");
        assert!(found[0].1.contains("postgresql://"), "{found:?}");
    }
}
