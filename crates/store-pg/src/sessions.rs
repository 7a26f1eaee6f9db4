//! The session registry of a cluster: one signed-in device per account across every node
//! sharing the database (DESIGN.md "One active session per account"; issue 17).
//!
//! Each node keeps its own connections in a [`LocalRegistry`] (kicks reach them through
//! its watch channels, as on one node) and mirrors each local session as a row of
//! `session_leases` (account, node, device, lease). A sign-in runs one transaction under
//! the account's advisory lock, so racing sign-ins on any nodes end with one winner:
//! - rows of other nodes with a live lease and another device are the old session:
//!   `replace` deletes them and sends each holder node a kick notice on
//!   [`KICKS_CHANNEL`] (delivered at COMMIT); `reject` refuses the newcomer;
//! - rows whose lease has passed (a dead node's) are deleted and never refuse anyone;
//! - the local registry then applies the policy among this node's connections, and the
//!   node's row is written with a fresh lease.
//!
//! [`PgRegistry::maintain`] renews this node's leases every third of the lease time,
//! deletes a session's row as soon as it ends locally, and ends a local session whose row
//! another node took while this node did not hear the kick (its notification connection
//! was down): the database is the truth, the kick notice only makes it fast.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use certmail_session::{
    ConnectionGuard, Decision, DeviceKey, KickReason, LocalRegistry, Protocol, RegistryConfig,
    SessionId, SessionInfo, SessionPolicy, SessionRegistry, SignInError, decide,
};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{PgStore, Tx, advisory_lock, lock_ns};

/// The channel kick notices travel on.
pub const KICKS_CHANNEL: &str = "certmail_kicks";

/// A local session whose row is missing is left alone this long after it started: its
/// sign-in transaction may still be committing.
const ROW_GRACE: Duration = Duration::from_secs(5);

/// A kick one node sends another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct KickNotice {
    /// The node that must end the session.
    node: String,
    /// The account whose session ends.
    account: String,
    /// [`KickReason::code`].
    reason: String,
    /// The newcomer's address (for `another-device`).
    ip: Option<IpAddr>,
    /// The session to end, as that node wrote it in its row: a newer session there stays.
    session: u64,
}

/// The cluster-wide [`SessionRegistry`]. Start [`PgRegistry::maintain`] beside it, and
/// feed it kick notices ([`PgRegistry::apply_kick`]) from the LISTEN connection.
pub struct PgRegistry {
    pool: Pool,
    node: String,
    lease: Duration,
    local: LocalRegistry,
    ended: Mutex<Option<mpsc::UnboundedReceiver<(String, SessionId, usize)>>>,
    /// Set once this node's leftovers from a previous run are deleted. Both the first
    /// sign-in and [`PgRegistry::maintain`] wait for it, so the clearing can never delete
    /// the row of a session that signed in before `maintain` first ran.
    cleared: tokio::sync::OnceCell<()>,
}

impl std::fmt::Debug for PgRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRegistry")
            .field("node", &self.node)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// The cluster's session registry for this node (`[cluster] node_name`), with
    /// `config` for this node's connections and `lease`: how long a node's sessions count
    /// after it stopped renewing them (it died or lost the database).
    pub fn session_registry(&self, config: RegistryConfig, lease: Duration) -> Arc<PgRegistry> {
        // Unbounded: one entry per closed connection, drained by `maintain` at once.
        let (sender, ended) = mpsc::unbounded_channel();
        let hook = Arc::new(move |account: &str, id: SessionId, remaining: usize| {
            let _ = sender.send((account.to_owned(), id, remaining));
        });
        Arc::new(PgRegistry {
            pool: self.pool.clone(),
            node: self.node.clone(),
            lease: lease.max(Duration::from_secs(1)),
            local: LocalRegistry::with_end_hook(config, hook),
            ended: Mutex::new(Some(ended)),
            cleared: tokio::sync::OnceCell::new(),
        })
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The protocols column of a session.
fn protocol_names(protocols: &[Protocol]) -> Vec<String> {
    protocols.iter().map(|p| p.as_str().to_owned()).collect()
}

fn unavailable(e: impl std::fmt::Display) -> SignInError {
    tracing::warn!(error = %e, "session registry on PostgreSQL unavailable");
    SignInError::Unavailable("the database does not answer".to_owned())
}

/// A device as stored: the SPKI hash and the address, or `None` for a malformed row.
fn device_of(spki: &[u8], ip: &str) -> Option<DeviceKey> {
    Some(DeviceKey::new(spki.try_into().ok()?, ip.parse().ok()?))
}

impl PgRegistry {
    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The lease time.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn lease_secs(&self) -> f64 {
        self.lease.as_secs_f64()
    }

    /// Ends the local session a kick notice names, if it is addressed to this node.
    /// Returns how many connections were ended.
    pub fn apply_kick(&self, payload: &str) -> usize {
        let Ok(notice) = serde_json::from_str::<KickNotice>(payload) else {
            tracing::warn!(payload, "unreadable kick notice ignored");
            return 0;
        };
        if notice.node != self.node {
            return 0;
        }
        let Some(reason) = KickReason::from_code(&notice.reason, notice.ip) else {
            return 0;
        };
        let session = SessionId(notice.session);
        self.local.kick_session(&notice.account, session, reason)
    }

    /// Sends `node` a kick of `account`'s session `session` (its row's), at `tx`'s COMMIT.
    async fn send_kick(
        tx: &Tx<'_>,
        (node, session): (&str, i64),
        account: &str,
        reason: &KickReason,
    ) -> Result<(), tokio_postgres::Error> {
        let notice = KickNotice {
            node: node.to_owned(),
            account: account.to_owned(),
            reason: reason.code().to_owned(),
            ip: match reason {
                KickReason::AnotherDevice { ip } => Some(*ip),
                _ => None,
            },
            session: u64::try_from(session).unwrap_or_default(),
        };
        let payload = serde_json::to_string(&notice).unwrap_or_default();
        tx.execute("SELECT pg_notify($1, $2)", &[&KICKS_CHANNEL, &payload])
            .await?;
        Ok(())
    }

    /// Writes this node's row for the session `guard` belongs to, with a fresh lease.
    async fn upsert(
        &self,
        tx: &Tx<'_>,
        account: &str,
        guard: &ConnectionGuard,
    ) -> Result<(), tokio_postgres::Error> {
        let protocols = protocol_names(&[guard.protocol()]);
        let id = i64::try_from(guard.session_id().0).unwrap_or(i64::MAX);
        let device = guard.device();
        tx.execute(
            "INSERT INTO session_leases
                 (account, node, session_id, spki, ip, since, protocols, connections,
                  lease_until)
             VALUES ($1, $2, $3, $4, $5, extract(epoch FROM now())::bigint, $6, 1,
                     now() + make_interval(secs => $7))
             ON CONFLICT (account, node) DO UPDATE SET
                 lease_until = EXCLUDED.lease_until,
                 spki = EXCLUDED.spki, ip = EXCLUDED.ip,
                 since = CASE WHEN session_leases.session_id = EXCLUDED.session_id
                              THEN session_leases.since ELSE EXCLUDED.since END,
                 protocols = CASE WHEN session_leases.session_id = EXCLUDED.session_id
                     THEN ARRAY(SELECT DISTINCT p FROM unnest(
                              session_leases.protocols || EXCLUDED.protocols) p ORDER BY p)
                     ELSE EXCLUDED.protocols END,
                 connections = CASE WHEN session_leases.session_id = EXCLUDED.session_id
                     THEN session_leases.connections + 1 ELSE 1 END,
                 session_id = EXCLUDED.session_id",
            &[
                &account,
                &self.node,
                &id,
                &&device.spki_sha256[..],
                &device.ip.to_string(),
                &protocols,
                &self.lease_secs(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Deletes other nodes' rows of `account` and tells those nodes; returns how many
    /// connections they had when they last renewed.
    async fn kick_remote(&self, account: &str, reason: &KickReason) -> Result<usize, String> {
        let mut conn = self.pool.get().await.map_err(text)?;
        let tx = conn.transaction().await.map_err(text)?;
        let rows = tx
            .query(
                "DELETE FROM session_leases WHERE account = $1 AND node <> $2
                 RETURNING node, connections, lease_until > now(), session_id",
                &[&account, &self.node],
            )
            .await
            .map_err(text)?;
        let mut ended = 0;
        for row in rows.iter().filter(|r| r.get::<_, bool>(2)) {
            let node: String = row.get(0);
            Self::send_kick(&tx, (&node, row.get(3)), account, reason)
                .await
                .map_err(text)?;
            ended += usize::try_from(row.get::<_, i32>(1)).unwrap_or(0).max(1);
        }
        tx.commit().await.map_err(text)?;
        Ok(ended)
    }
}

#[async_trait]
impl SessionRegistry for PgRegistry {
    /// One transaction under the account's advisory lock: see the module docs.
    async fn sign_in(
        &self,
        account: &str,
        device: DeviceKey,
        protocol: Protocol,
        policy: SessionPolicy,
    ) -> Result<ConnectionGuard, SignInError> {
        self.clear_leftovers().await;
        let mut conn = self.pool.get().await.map_err(unavailable)?;
        let tx = conn.transaction().await.map_err(unavailable)?;
        advisory_lock(&tx, lock_ns::SIGN_IN, account)
            .await
            .map_err(unavailable)?;
        let rows = tx
            .query(
                "SELECT node, spki, ip, session_id, connections FROM session_leases
                 WHERE account = $1 AND node <> $2 AND lease_until > now()",
                &[&account, &self.node],
            )
            .await
            .map_err(unavailable)?;
        let (holders, same): (Vec<_>, Vec<_>) = rows
            .iter()
            .filter_map(|r| {
                let held = device_of(r.get(1), r.get(2))?;
                Some((
                    r.get::<_, String>(0),
                    held,
                    r.get::<_, i64>(3),
                    r.get::<_, i32>(4),
                ))
            })
            .partition(|(_, held, _, _)| *held != device);
        // This device's connections on other nodes count against the per-session cap.
        let elsewhere: usize = same
            .iter()
            .map(|(.., n)| usize::try_from(*n).unwrap_or(0))
            .sum();
        // `holders` are other devices only, so the rule never says Join here.
        let held = holders.first().map(|(_, held, ..)| *held);
        if let Decision::Replace(reason) = decide(held, device, policy)? {
            for (node, _, session, _) in &holders {
                Self::send_kick(&tx, (node, *session), account, &reason)
                    .await
                    .map_err(unavailable)?;
            }
        }
        // Other devices' rows (just kicked) and lapsed leases go.
        tx.execute(
            "DELETE FROM session_leases WHERE account = $1 AND node <> $2
               AND (lease_until <= now() OR spki <> $3 OR ip <> $4)",
            &[
                &account,
                &self.node,
                &&device.spki_sha256[..],
                &device.ip.to_string(),
            ],
        )
        .await
        .map_err(unavailable)?;
        let guard = self
            .local
            .sign_in_beside(account, device, protocol, policy, elsewhere)?;
        self.upsert(&tx, account, &guard)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(guard)
    }

    /// Ends the account's session on every node.
    async fn kick(&self, account: &str, reason: KickReason) -> usize {
        let here = self.local.kick(account, reason.clone()).await;
        let elsewhere = self
            .kick_remote(account, &reason)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, account, "cluster kick not sent");
                0
            });
        here + elsewhere
    }

    /// Ends this node's sessions only (e.g. at shutdown): the other nodes' users stay.
    async fn kick_all(&self, reason: KickReason) -> usize {
        self.local.kick_all(reason).await
    }

    /// Every live session of every node, sorted by account then node.
    async fn list(&self) -> Vec<SessionInfo> {
        let mut all: Vec<SessionInfo> = self.local.list().await;
        for info in &mut all {
            info.node = Some(self.node.clone());
        }
        match self.remote_sessions().await {
            Ok(remote) => all.extend(remote),
            Err(e) => tracing::warn!(error = %e, "other nodes' sessions not listed"),
        }
        all.sort_by(|a, b| (&a.account, &a.node).cmp(&(&b.account, &b.node)));
        all
    }

    /// This node's counts: its connections are the local registry's.
    fn stats(&self) -> &certmail_session::stats::SessionStats {
        self.local.stats()
    }
}

impl PgRegistry {
    /// The other nodes' sessions with a live lease.
    async fn remote_sessions(&self) -> Result<Vec<SessionInfo>, String> {
        let conn = self.pool.get().await.map_err(|e| e.to_string())?;
        let rows = conn
            .query(
                "SELECT account, node, session_id, spki, ip, since, protocols, connections
                 FROM session_leases WHERE node <> $1 AND lease_until > now()",
                &[&self.node],
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let names: Vec<String> = r.get(6);
                let protocols = [Protocol::Imap, Protocol::Smtp, Protocol::ManageSieve]
                    .into_iter()
                    .filter(|p| names.iter().any(|n| n == p.as_str()))
                    .collect();
                Some(SessionInfo {
                    account: r.get(0),
                    node: Some(r.get(1)),
                    session_id: SessionId(u64::try_from(r.get::<_, i64>(2)).ok()?),
                    device: device_of(r.get(3), r.get(4))?,
                    protocols,
                    connections: usize::try_from(r.get::<_, i32>(7)).unwrap_or(0),
                    since: u64::try_from(r.get::<_, i64>(5)).unwrap_or(0),
                })
            })
            .collect())
    }

    /// Keeps this node's rows true until `shutdown`: deletes leftovers of this node's
    /// previous run, renews leases every third of the lease time, deletes a session's row
    /// when it ends here. At shutdown, this node's rows go. Run it once.
    pub async fn maintain(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let taken = self
            .ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut ended) = taken else {
            tracing::error!("PgRegistry::maintain started twice");
            return;
        };
        self.clear_leftovers().await;
        let mut renew = tokio::time::interval(self.lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some((account, id, remaining)) = ended.recv() => {
                    self.closed(&account, id, remaining).await;
                }
                _ = renew.tick() => {
                    if let Err(e) = self.renew().await {
                        tracing::warn!(error = %e, "session leases not renewed");
                    }
                }
            }
        }
        self.forget_node().await;
    }

    /// Deletes the rows a previous run of this node left, once, before this run writes any.
    async fn clear_leftovers(&self) {
        self.cleared.get_or_init(|| self.forget_node()).await;
    }

    /// Deletes every row of this node.
    async fn forget_node(&self) {
        let Ok(conn) = self.pool.get().await else {
            return;
        };
        if let Err(e) = conn
            .execute("DELETE FROM session_leases WHERE node = $1", &[&self.node])
            .await
        {
            tracing::warn!(error = %e, "this node's session leases not cleared");
        }
    }

    /// A connection of session `id` closed here, leaving `remaining`: the session's row
    /// goes when none is left (a newer session's row stays); otherwise its count is made
    /// this node's count now, under the account's sign-in lock (so no sign-in here is
    /// between its local count and its row), and other nodes see the place free at once.
    async fn closed(&self, account: &str, id: SessionId, remaining: usize) {
        if let Err(e) = self.write_count(account, id, remaining).await {
            tracing::warn!(error = %e, account, "session lease row not updated");
        }
    }

    async fn write_count(
        &self,
        account: &str,
        id: SessionId,
        remaining: usize,
    ) -> Result<(), String> {
        let sid = i64::try_from(id.0).unwrap_or(i64::MAX);
        let mut conn = self.pool.get().await.map_err(text)?;
        if remaining == 0 {
            conn.execute(
                "DELETE FROM session_leases WHERE account = $1 AND node = $2 AND session_id = $3",
                &[&account, &self.node, &sid],
            )
            .await
            .map_err(text)?;
            return Ok(());
        }
        let tx = conn.transaction().await.map_err(text)?;
        advisory_lock(&tx, lock_ns::SIGN_IN, account)
            .await
            .map_err(text)?;
        let now = self.local.connections_of(account, id);
        tx.execute(
            "UPDATE session_leases SET connections = $4
             WHERE account = $1 AND node = $2 AND session_id = $3",
            &[
                &account,
                &self.node,
                &sid,
                &i32::try_from(now).unwrap_or(i32::MAX),
            ],
        )
        .await
        .map_err(text)?;
        tx.commit().await.map_err(text)
    }

    /// Renews the leases of this node's sessions; a session whose row is gone was taken by
    /// another device elsewhere (ended here) or lost (written again).
    async fn renew(&self) -> Result<(), String> {
        let sessions = self.local.list().await;
        let conn = self.pool.get().await.map_err(text)?;
        let mut columns = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for s in &sessions {
            columns.0.push(s.account.clone());
            columns
                .1
                .push(i64::try_from(s.session_id.0).unwrap_or(i64::MAX));
            columns.2.push(protocol_names(&s.protocols).join(","));
            columns
                .3
                .push(i32::try_from(s.connections).unwrap_or(i32::MAX));
        }
        let renewed: HashSet<String> = conn
            .query(
                "UPDATE session_leases s SET lease_until = now() + make_interval(secs => $2),
                        protocols = string_to_array(u.protocols, ','),
                        connections = u.connections
                 FROM unnest($3::text[], $4::bigint[], $5::text[], $6::int[])
                      AS u(account, sid, protocols, connections)
                 WHERE s.node = $1 AND s.account = u.account AND s.session_id = u.sid
                 RETURNING s.account",
                &[
                    &self.node,
                    &self.lease_secs(),
                    &columns.0,
                    &columns.1,
                    &columns.2,
                    &columns.3,
                ],
            )
            .await
            .map_err(text)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        drop(conn);
        for s in sessions {
            if !renewed.contains(&s.account) && s.age() >= ROW_GRACE {
                self.reclaim(&s).await?;
            }
        }
        Ok(())
    }

    /// A local session without its row: if another device holds the account elsewhere,
    /// the session ends here (its kick was not heard); otherwise its row is written again.
    async fn reclaim(&self, session: &SessionInfo) -> Result<(), String> {
        let mut conn = self.pool.get().await.map_err(text)?;
        let tx = conn.transaction().await.map_err(text)?;
        advisory_lock(&tx, lock_ns::SIGN_IN, &session.account)
            .await
            .map_err(text)?;
        let holder = tx
            .query_opt(
                "SELECT spki, ip FROM session_leases WHERE account = $1 AND node <> $2
                   AND lease_until > now() AND (spki <> $3 OR ip <> $4) LIMIT 1",
                &[
                    &session.account,
                    &self.node,
                    &&session.device.spki_sha256[..],
                    &session.device.ip.to_string(),
                ],
            )
            .await
            .map_err(text)?
            .and_then(|r| device_of(r.get(0), r.get(1)));
        if let Some(holder) = holder {
            let reason = KickReason::AnotherDevice { ip: holder.ip };
            self.local
                .kick_session(&session.account, session.session_id, reason);
            return Ok(());
        }
        let id = i64::try_from(session.session_id.0).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO session_leases
                 (account, node, session_id, spki, ip, since, protocols, connections,
                  lease_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))
             ON CONFLICT (account, node) DO NOTHING",
            &[
                &session.account,
                &self.node,
                &id,
                &&session.device.spki_sha256[..],
                &session.device.ip.to_string(),
                &i64::try_from(session.since).unwrap_or(0),
                &protocol_names(&session.protocols),
                &i32::try_from(session.connections).unwrap_or(i32::MAX),
                &self.lease_secs(),
            ],
        )
        .await
        .map_err(text)?;
        tx.commit().await.map_err(text)
    }
}
