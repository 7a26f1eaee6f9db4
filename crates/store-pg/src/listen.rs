//! The node's LISTEN connection: one dedicated connection (outside the pool) that hears
//! the other nodes' change notices ([`CHANGES_CHANNEL`]) and kick notices
//! ([`KICKS_CHANNEL`]) and hands them to this node's change hub and session registry.
//!
//! A lost connection (the database restarted, the network broke, a ping unanswered) is
//! made again after [`RECONNECT_DELAY`]; once LISTEN holds again, every subscription of the
//! hub is told [`certmail_session::Change::Resync`], so each IDLE re-reads its mailbox from
//! the store (MODSEQ and UIDNEXT) and a change made meanwhile is never missed. A node that
//! falls behind by more than [`QUEUE`] notices drops the connection on purpose: the same
//! resynchronisation covers what it skipped.

use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::time::Duration;

use certmail_session::ChangeHub;
use tokio::sync::mpsc;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, Client, Notification, Socket};

use crate::notify::{CHANGES_CHANNEL, Envelope};
use crate::sessions::{KICKS_CHANNEL, PgRegistry};
use crate::{PgConfig, PgStore, config};

/// The `application_name` of a node's LISTEN connection, before the node's name: operators
/// (and `certmail store copy`, [`PgStore::running_nodes`]) find running nodes by it in
/// `pg_stat_activity`.
pub const LISTEN_APPLICATION: &str = "certmail listen ";

/// Wait before connecting again after the connection was lost.
pub const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// How often the connection is checked with a query, and how long the answer may take: a
/// silently broken network is noticed within twice this.
const PING: Duration = Duration::from_secs(5);

/// Notices buffered between the connection and the hub.
const QUEUE: usize = 4096;

/// Hears the other nodes; see the module docs. Made by [`PgStore::listener`].
pub struct Listener {
    config: PgConfig,
    node: String,
    hub: ChangeHub,
    registry: Option<Arc<PgRegistry>>,
}

impl PgStore {
    /// The LISTEN side of this node: changes go to `hub`, kicks to `registry`.
    pub fn listener(&self, hub: ChangeHub, registry: Option<Arc<PgRegistry>>) -> Listener {
        Listener {
            config: self.config.clone(),
            node: self.node.clone(),
            hub,
            registry,
        }
    }
}

impl Listener {
    /// Listens until `shutdown`, reconnecting whenever the connection is lost.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let lost = tokio::select! {
                () = &mut shutdown => return,
                lost = self.listen() => lost,
            };
            tracing::warn!(
                error = %lost,
                node = %self.node,
                "change notifications from PostgreSQL lost; reconnecting (IDLE resynchronises)"
            );
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(RECONNECT_DELAY) => {}
            }
        }
    }

    /// One connection's life: returns why it ended.
    async fn listen(&self) -> String {
        let parsed = match config::parse(&self.config.url) {
            Ok(parsed) => parsed,
            Err(e) => return e.to_string(),
        };
        let mut pg = parsed.pg;
        // Operators (and the tests) find the connection in pg_stat_activity by this name.
        pg.application_name(format!("{LISTEN_APPLICATION}{}", self.node));
        let connected = match parsed.tls {
            Some(tls) => connect(&pg, tls).await,
            None => connect(&pg, tokio_postgres::NoTls).await,
        };
        let (client, mut notices) = match connected {
            Ok(connected) => connected,
            Err(e) => return crate::error::with_causes(&e),
        };
        let listen = format!("LISTEN {CHANGES_CHANNEL}; LISTEN {KICKS_CHANNEL}");
        if let Err(e) = client.batch_execute(&listen).await {
            return crate::error::with_causes(&e);
        }
        let woken = self.hub.resync_all();
        tracing::info!(
            node = %self.node,
            resynchronised = woken,
            "listening for the other nodes' changes"
        );
        let mut ping = tokio::time::interval(PING);
        loop {
            tokio::select! {
                notice = notices.recv() => match notice {
                    Some(notice) => self.dispatch(&notice),
                    None => return "the connection closed".to_owned(),
                },
                _ = ping.tick() => {
                    match tokio::time::timeout(PING, client.simple_query("SELECT 1")).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return crate::error::with_causes(&e),
                        Err(_) => return format!("no answer to a ping within {PING:?}"),
                    }
                }
            }
        }
    }

    fn dispatch(&self, notice: &Notification) {
        match notice.channel() {
            CHANGES_CHANNEL => {
                let Some(envelope) = Envelope::parse(notice.payload()) else {
                    tracing::warn!(payload = notice.payload(), "unreadable change notice");
                    return;
                };
                if envelope.node == self.node {
                    return; // this node's connections published it already
                }
                for change in envelope.changes {
                    self.hub.publish(&envelope.account, None, change);
                }
            }
            KICKS_CHANNEL => {
                if let Some(registry) = &self.registry {
                    registry.apply_kick(notice.payload());
                }
            }
            _ => {}
        }
    }
}

/// Connects and drives the connection on its own task, handing notifications over a
/// bounded channel (closed when the connection ends or falls [`QUEUE`] behind).
async fn connect<T>(
    pg: &tokio_postgres::Config,
    tls: T,
) -> Result<(Client, mpsc::Receiver<Notification>), tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, mut connection) = pg.connect(tls).await?;
    let (sender, notices) = mpsc::channel(QUEUE);
    tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if sender.try_send(n).is_err() {
                        tracing::warn!("change notices arrive faster than they are handled");
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "LISTEN connection failed");
                    break;
                }
                None => break,
            }
        }
    });
    Ok((client, notices))
}
