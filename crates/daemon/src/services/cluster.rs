//! Cluster mode (`[store] backend = "postgres"`): opens the store with the cluster-wide
//! session registry, and runs the node's two background tasks: the LISTEN connection
//! (the other nodes' mailbox changes into the change hub, their kicks into the registry)
//! and the lease keeper of this node's sessions. The per-IP sign-in throttles count in the
//! database ([`share_throttles`]).

use std::sync::Arc;
use std::time::Duration;

use certmail_auth::policy::SharedWindows;
use certmail_store::StoreError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, StoreBackend};
use crate::context::{Cluster, open_pg_store, open_store};

/// Opens the store of `config`; on PostgreSQL also the node's cluster handles.
pub async fn open(
    config: &Config,
) -> anyhow::Result<(Arc<dyn certmail_store::Store>, Option<Cluster>)> {
    if config.store.backend != StoreBackend::Postgres {
        return Ok((open_store(config).await?, None));
    }
    let store = open_pg_store(config).await?;
    let registry = store.session_registry(
        certmail_session::RegistryConfig {
            max_connections_per_session: config.auth.max_connections_per_session,
        },
        Duration::from_secs(config.cluster.session_lease_secs),
    );
    let web = certmail_web::SharedWeb::open(Arc::clone(&store) as _)
        .await
        .map_err(|e| anyhow::anyhow!("[store] postgres_url: the web's shared state: {e}"))?;
    let cluster = Cluster {
        store: Arc::clone(&store),
        registry,
        node: config.cluster.node_name(),
        web,
    };
    Ok((store, Some(cluster)))
}

/// The cluster's database as the sign-in throttles' counts.
struct PgWindows(Arc<certmail_store_pg::PgStore>);

#[async_trait::async_trait]
impl SharedWindows for PgWindows {
    async fn add_failure(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> Result<(i64, u32), StoreError> {
        self.0.add_failure(key, now, window).await
    }

    async fn window(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> Result<Option<(i64, u32)>, StoreError> {
        self.0.failure_window(key, now, window).await
    }
}

/// Makes `policy`'s per-IP throttles count in the cluster's database, so failed sign-ins
/// on every node count toward one limit (the same as on one node).
pub fn share_throttles(cluster: &Cluster, policy: &mut certmail_auth::signin::SignInPolicy) {
    let windows: Arc<dyn SharedWindows> = Arc::new(PgWindows(Arc::clone(&cluster.store)));
    policy.throttle = Arc::new(policy.throttle.shared(Arc::clone(&windows), "sign-in"));
    policy.precredential_throttle = Arc::new(
        policy
            .precredential_throttle
            .shared(windows, "pre-credential"),
    );
}

/// Starts the node's LISTEN connection and lease keeper on `tasks`; both end at `shutdown`.
pub fn start(
    cluster: &Cluster,
    hub: &certmail_session::ChangeHub,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let listener = cluster
        .store
        .listener(hub.clone(), Some(Arc::clone(&cluster.registry)));
    tasks.spawn(listener.run(shutdown.clone().cancelled_owned()));
    tasks.spawn(Arc::clone(&cluster.registry).maintain(shutdown.clone().cancelled_owned()));
}

/// The metrics text with a `node` label on every sample, so the nodes of a cluster can
/// be told apart when one Prometheus scrapes them all.
pub fn with_node_label(text: &str, node: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            out.push_str(line);
        } else if let Some((name, rest)) = line.split_once('{') {
            out.push_str(&format!("{name}{{node=\"{node}\",{rest}"));
        } else if let Some((name, value)) = line.split_once(' ') {
            out.push_str(&format!("{name}{{node=\"{node}\"}} {value}"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_node_label;

    #[test]
    fn every_sample_gets_the_node_label() {
        let text = "# HELP a b\n# TYPE a gauge\na 1\nb{listener=\"imaps\"} 2\n";
        assert_eq!(
            with_node_label(text, "mail1"),
            "# HELP a b\n# TYPE a gauge\na{node=\"mail1\"} 1\n\
             b{node=\"mail1\",listener=\"imaps\"} 2\n"
        );
    }
}
