//! The session registry: one signed-in device per account (DESIGN.md "One active session
//! per account").
//!
//! A connection that has authenticated calls [`SessionRegistry::sign_in`] and keeps the
//! [`ConnectionGuard`] until it closes. Connections of one account that share a
//! [`DeviceKey`] form one session (Thunderbird's five IMAP connections and its SMTP
//! connection), up to a per-session connection cap. A sign-in from another device either
//! replaces the session, ending all its connections at once, or is refused, as the
//! [`SessionPolicy`] says. Sign-ins of one account are serialised, so racing sign-ins end with
//! exactly one session alive.
//!
//! A connection's read loop selects on the kick beside every read:
//!
//! ```
//! use certmail_session::{
//!     DeviceKey, KickReason, LocalRegistry, Protocol, SessionPolicy, SessionRegistry,
//! };
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), certmail_session::SignInError> {
//! let registry = LocalRegistry::default();
//! let laptop = DeviceKey::new([7; 32], "203.0.113.5".parse().expect("literal address"));
//! let guard = registry
//!     .sign_in("홍길동", laptop, Protocol::Imap, SessionPolicy::Replace)
//!     .await?;
//! registry.kick("홍길동", KickReason::AdminKick).await; // e.g. from the admin socket
//!
//! let next_command = std::future::pending::<()>(); // stands for reading the socket
//! let bye = tokio::select! {
//!     () = next_command => unreachable!(),
//!     reason = guard.kicked() => format!("* BYE [UNAVAILABLE] {}\r\n", reason.imap_bye()),
//! };
//! assert_eq!(bye, "* BYE [UNAVAILABLE] Session ended by an administrator\r\n");
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::sync::watch;

use crate::device::DeviceKey;
use crate::error::SignInError;
use crate::kick::KickReason;
use crate::stats::{IdleGauge, SessionStats, SignedInGauge};

/// Which protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// IMAP4rev2 / IMAP4rev1.
    Imap,
    /// SMTP submission.
    Smtp,
    /// A browser session of the self-service web, where `[web] counts_as_device = true`
    /// makes it a device like any other (it holds its guard for the cookie's life).
    Web,
    /// ManageSieve (RFC 5804): a filter editor (Thunderbird's Sieve add-on, sieve-connect).
    ManageSieve,
}

impl Protocol {
    /// Lowercase name for tables, logs and `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imap => "imap",
            Self::Smtp => "smtp",
            Self::Web => "web",
            Self::ManageSieve => "managesieve",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a sign-in from another device does to the live session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionPolicy {
    /// The newcomer wins: every connection of the old session ends at once (the default,
    /// the behaviour users of the reference system expect).
    #[default]
    Replace,
    /// The live session wins: the newcomer is refused with [`SignInError::Rejected`].
    Reject,
}

/// Tuning of the in-process registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Most connections one session (one device) may hold, IMAP and SMTP together. Default
    /// 10: Thunderbird opens up to 5 IMAP connections plus 1 SMTP, with room to spare for a
    /// reconnect that overlaps a dying connection. 0 is read as 1.
    pub max_connections_per_session: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            max_connections_per_session: 10,
        }
    }
}

/// Identifies one session (one sign-in of one device) for as long as the registry runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// Identifies one connection for as long as its registry runs (the registry numbers them);
/// the change hub uses it to let a connection skip the changes it published itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// One live session, as `certmail session list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The account signed in.
    pub account: String,
    /// The session's id.
    pub session_id: SessionId,
    /// The device that holds the session (certificate SPKI hash and IP address).
    pub device: DeviceKey,
    /// The protocols with at least one open connection, in order (IMAP, SMTP, web).
    pub protocols: Vec<Protocol>,
    /// Open connections, all protocols together.
    pub connections: usize,
    /// When the session's first connection signed in, in seconds since the Unix epoch.
    pub since: u64,
    /// The cluster node that holds it; `None` for the in-process registry of one node.
    pub node: Option<String>,
}

impl SessionInfo {
    /// How long ago the session started (zero if the clock went back).
    pub fn age(&self) -> std::time::Duration {
        std::time::Duration::from_secs(unix_now().saturating_sub(self.since))
    }
}

/// The single-active-session rule, behind a trait so that a shared implementation (e.g. on
/// Redis or PostgreSQL) can later enforce it across several nodes.
#[async_trait]
pub trait SessionRegistry: Send + Sync {
    /// Registers a connection of `account` that authenticated from `device`.
    ///
    /// - No live session: a new session starts with this connection.
    /// - A live session of the same device: the connection joins it, unless the session
    ///   already holds the connection cap ([`SignInError::ConnectionCapReached`]).
    /// - A live session of another device: under [`SessionPolicy::Replace`] every connection
    ///   of that session is kicked with [`KickReason::AnotherDevice`] and a new session
    ///   starts; under [`SessionPolicy::Reject`] the sign-in fails with
    ///   [`SignInError::Rejected`].
    ///
    /// Sign-ins of one account are serialised: of any number of racing sign-ins, each sees
    /// the outcome of the ones before it. `account` must be the canonical account id (as
    /// the auth layer resolved it), so that two spellings cannot hold two sessions.
    async fn sign_in(
        &self,
        account: &str,
        device: DeviceKey,
        protocol: Protocol,
        policy: SessionPolicy,
    ) -> Result<ConnectionGuard, SignInError>;

    /// Ends the live session of `account`, if any, telling each connection `reason`.
    /// Returns how many connections were ended (0 when the account had no session).
    async fn kick(&self, account: &str, reason: KickReason) -> usize;

    /// Ends every live session (e.g. [`KickReason::Shutdown`]). Returns how many connections
    /// were ended.
    async fn kick_all(&self, reason: KickReason) -> usize;

    /// Every live session, sorted by account.
    async fn list(&self) -> Vec<SessionInfo>;

    /// This node's gauges and counters (signed-in and idling connections, kicks), for
    /// metrics.
    fn stats(&self) -> &SessionStats;
}

/// Held by a connection for its whole life after sign-in. Dropping it deregisters the
/// connection, and the session with its last connection.
///
/// Select on [`kicked`](Self::kicked) at every await point of the connection (reading a
/// command, IDLE, DATA, BDAT, writing a response) so a kick ends it wherever it is.
pub struct ConnectionGuard {
    account: String,
    session_id: SessionId,
    connection_id: ConnectionId,
    protocol: Protocol,
    device: DeviceKey,
    kick: watch::Receiver<Option<KickReason>>,
    /// Runs once when the guard is dropped: deregisters the connection.
    on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
    /// Counts the connection as signed in, in its registry's [`SessionStats`].
    signed_in: SignedInGauge,
}

impl ConnectionGuard {
    /// Resolves when the session is ended, with the reason; at once if it already was.
    ///
    /// The future does not borrow the guard and is cancel-safe: dropping it (a
    /// `tokio::select!` branch that lost) loses nothing, and a new call sees a kick that
    /// happened meanwhile. If the registry goes away without a kick it never resolves.
    pub fn kicked(&self) -> impl Future<Output = KickReason> + Send + 'static {
        let mut kick = self.kick.clone();
        async move {
            let reason = kick
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|reason| reason.clone());
            match reason {
                Some(reason) => reason,
                None => std::future::pending().await,
            }
        }
    }

    /// The kick reason if the session has been ended, without waiting. Check it right
    /// before committing work (e.g. storing a message after DATA), so a kicked connection
    /// stores nothing.
    pub fn kick_reason(&self) -> Option<KickReason> {
        self.kick.borrow().clone()
    }

    /// The account signed in.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The session this connection belongs to.
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// This connection's id (for the change hub's own-change skipping, and logs).
    pub fn connection_id(&self) -> ConnectionId {
        self.connection_id
    }

    /// The protocol this connection signed in with.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The device key fixed at sign-in.
    pub fn device(&self) -> DeviceKey {
        self.device
    }

    /// Counts this connection as idling (IMAP IDLE) in its registry's stats while the
    /// gauge is held.
    pub fn idle_gauge(&self) -> IdleGauge {
        IdleGauge::new(Arc::clone(self.signed_in.stats()))
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            on_drop();
        }
    }
}

impl fmt::Debug for ConnectionGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionGuard")
            .field("account", &self.account)
            .field("session_id", &self.session_id)
            .field("connection_id", &self.connection_id)
            .field("protocol", &self.protocol)
            .field("device", &self.device)
            .field("kicked", &self.kick_reason())
            .finish()
    }
}

/// What a sign-in does to the account's live session ([`decide`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No live session: a new one starts.
    Start,
    /// The live session is this device's: the connection joins it (within the cap).
    Join,
    /// The live session is another device's: it ends with this reason and a new one starts.
    Replace(KickReason),
}

/// The one-session rule as a pure function, shared by every registry: a sign-in from
/// `device` under `policy`, when the account's live session (if any) is held by `held`.
/// Another device's session is replaced, or under [`SessionPolicy::Reject`] the newcomer
/// is refused with [`SignInError::Rejected`] (naming the holder's address).
pub fn decide(
    held: Option<DeviceKey>,
    device: DeviceKey,
    policy: SessionPolicy,
) -> Result<Decision, SignInError> {
    match held {
        None => Ok(Decision::Start),
        Some(held) if held == device => Ok(Decision::Join),
        Some(held) if policy == SessionPolicy::Reject => Err(SignInError::Rejected { ip: held.ip }),
        Some(_) => Ok(Decision::Replace(KickReason::AnotherDevice {
            ip: device.ip,
        })),
    }
}

/// The in-process registry: one mutex-guarded map from account to its live session. The
/// mutex serialises sign-ins (it is never held across an `.await`). Cloning shares the map.
#[derive(Clone, Default)]
pub struct LocalRegistry {
    inner: Arc<Inner>,
}

/// Called with the account, the session id and the connections it has left whenever one
/// of its connections closes, and with 0 when the session ends (its last connection
/// closed, it was kicked or replaced); see [`LocalRegistry::with_end_hook`].
pub type EndHook = Arc<dyn Fn(&str, SessionId, usize) + Send + Sync>;

#[derive(Default)]
struct Inner {
    config: RegistryConfig,
    sessions: Mutex<HashMap<String, LiveSession>>,
    next_session_id: AtomicU64,
    next_connection_id: AtomicU64,
    on_end: Option<EndHook>,
    stats: Arc<SessionStats>,
}

impl Inner {
    fn ended(&self, account: &str, id: SessionId, remaining: usize) {
        if let Some(hook) = &self.on_end {
            hook(account, id, remaining);
        }
    }
}

/// A session as the registry holds it.
struct LiveSession {
    id: SessionId,
    device: DeviceKey,
    since: u64,
    imap: usize,
    smtp: usize,
    web: usize,
    managesieve: usize,
    kick: watch::Sender<Option<KickReason>>,
}

impl LiveSession {
    fn connections(&self) -> usize {
        self.imap + self.smtp + self.web + self.managesieve
    }

    fn count_mut(&mut self, protocol: Protocol) -> &mut usize {
        match protocol {
            Protocol::Imap => &mut self.imap,
            Protocol::Smtp => &mut self.smtp,
            Protocol::Web => &mut self.web,
            Protocol::ManageSieve => &mut self.managesieve,
        }
    }

    fn info(&self, account: &str) -> SessionInfo {
        let counts = [
            (Protocol::Imap, self.imap),
            (Protocol::Smtp, self.smtp),
            (Protocol::Web, self.web),
            (Protocol::ManageSieve, self.managesieve),
        ];
        let protocols = counts
            .into_iter()
            .filter(|&(_, count)| count > 0)
            .map(|(protocol, _)| protocol)
            .collect();
        SessionInfo {
            account: account.to_owned(),
            session_id: self.id,
            device: self.device,
            protocols,
            connections: self.connections(),
            since: self.since,
            node: None,
        }
    }

    /// Tells every connection why the session ended; returns how many there were.
    fn end(self, inner: &Inner, account: &str, reason: KickReason) -> usize {
        inner.ended(account, self.id, 0);
        let connections = self.connections();
        tracing::info!(
            account,
            session = %self.id,
            device = %self.device,
            reason = reason.code(),
            connections,
            "session ended"
        );
        inner.stats.count_kick(&reason, connections);
        // send_replace stores the reason even if every receiver is gone already.
        self.kick.send_replace(Some(reason));
        connections
    }
}

impl LocalRegistry {
    /// An empty registry with `config`.
    pub fn new(config: RegistryConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                ..Inner::default()
            }),
        }
    }

    /// An empty registry with `config` that calls `on_end` whenever a session ends (a
    /// cluster registry drops the session's shared lease there). The hook runs under the
    /// registry's lock: it must only hand the news on (e.g. send on a channel).
    pub fn with_end_hook(config: RegistryConfig, on_end: EndHook) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                on_end: Some(on_end),
                ..Inner::default()
            }),
        }
    }

    /// This registry's gauges and counters (signed-in and idling connections, kicks).
    pub fn stats(&self) -> &SessionStats {
        &self.inner.stats
    }

    /// How many connections `account`'s session `id` has here now (0 if it ended).
    pub fn connections_of(&self, account: &str, id: SessionId) -> usize {
        self.inner
            .lock()
            .get(account)
            .filter(|live| live.id == id)
            .map_or(0, LiveSession::connections)
    }

    /// Ends `account`'s session if it is still session `id` (a cluster kick names the
    /// session it took over; a newer session here is not its business). Returns how many
    /// connections were ended.
    pub fn kick_session(&self, account: &str, id: SessionId, reason: KickReason) -> usize {
        let mut sessions = self.inner.lock();
        if sessions.get(account).is_none_or(|live| live.id != id) {
            return 0;
        }
        let ended = sessions.remove(account);
        drop(sessions);
        ended.map_or(0, |live| live.end(&self.inner, account, reason))
    }

    /// Signs in beside `elsewhere` connections the same device holds to the account on
    /// other nodes (a cluster's registry counts them): they count against
    /// `max_connections_per_session` as this node's own do.
    pub fn sign_in_beside(
        &self,
        account: &str,
        device: DeviceKey,
        protocol: Protocol,
        policy: SessionPolicy,
        elsewhere: usize,
    ) -> Result<ConnectionGuard, SignInError> {
        let cap = self.inner.config.max_connections_per_session.max(1);
        let mut sessions = self.inner.lock();
        let held = sessions.get(account).map(|live| live.device);
        let decision = decide(held, device, policy)?;
        let here = match decision {
            Decision::Join => sessions.get(account).map_or(0, LiveSession::connections),
            _ => 0,
        };
        if here + elsewhere >= cap {
            return Err(SignInError::ConnectionCapReached { cap });
        }
        match decision {
            Decision::Join => {
                let live = sessions
                    .get_mut(account)
                    .expect("Join means a live session");
                *live.count_mut(protocol) += 1;
                return Ok(self.guard(account, live, protocol));
            }
            Decision::Replace(reason) => {
                if let Some(old) = sessions.remove(account) {
                    old.end(&self.inner, account, reason);
                }
            }
            Decision::Start => {}
        }
        let id = SessionId(self.inner.next_session_id.fetch_add(1, Ordering::Relaxed));
        let mut live = LiveSession {
            id,
            device,
            since: unix_now(),
            imap: 0,
            smtp: 0,
            web: 0,
            managesieve: 0,
            kick: watch::Sender::new(None),
        };
        *live.count_mut(protocol) += 1;
        tracing::info!(account, session = %id, %device, %protocol, "session started");
        let guard = self.guard(account, &live, protocol);
        sessions.insert(account.to_owned(), live);
        Ok(guard)
    }

    fn guard(&self, account: &str, live: &LiveSession, protocol: Protocol) -> ConnectionGuard {
        let registry = Arc::downgrade(&self.inner);
        let owner = account.to_owned();
        let session_id = live.id;
        let connection_id = self
            .inner
            .next_connection_id
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        ConnectionGuard {
            account: account.to_owned(),
            session_id,
            connection_id: ConnectionId(connection_id),
            protocol,
            device: live.device,
            kick: live.kick.subscribe(),
            on_drop: Some(Box::new(move || {
                leave(&registry, &owner, session_id, protocol)
            })),
            signed_in: SignedInGauge::new(Arc::clone(&self.inner.stats), protocol),
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, LiveSession>> {
        // Nothing panics while holding the lock; if something ever did, the map is still
        // consistent (every update is a single insert, remove or counter change).
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Deregisters one connection: the session ends quietly with its last connection. A
/// connection of a session already kicked or replaced finds another id (or none) and does
/// nothing.
fn leave(registry: &Weak<Inner>, account: &str, session_id: SessionId, protocol: Protocol) {
    let Some(inner) = registry.upgrade() else {
        return;
    };
    let mut sessions = inner.lock();
    let Some(live) = sessions.get_mut(account) else {
        return;
    };
    if live.id != session_id {
        return;
    }
    let count = live.count_mut(protocol);
    *count = count.saturating_sub(1);
    let remaining = live.connections();
    inner.ended(account, session_id, remaining);
    if remaining == 0 {
        sessions.remove(account);
        tracing::debug!(account, session = %session_id, "session closed by its last connection");
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[async_trait]
impl SessionRegistry for LocalRegistry {
    async fn sign_in(
        &self,
        account: &str,
        device: DeviceKey,
        protocol: Protocol,
        policy: SessionPolicy,
    ) -> Result<ConnectionGuard, SignInError> {
        self.sign_in_beside(account, device, protocol, policy, 0)
    }

    async fn kick(&self, account: &str, reason: KickReason) -> usize {
        let ended = self.inner.lock().remove(account);
        ended.map_or(0, |live| live.end(&self.inner, account, reason))
    }

    async fn kick_all(&self, reason: KickReason) -> usize {
        let ended: Vec<_> = self.inner.lock().drain().collect();
        ended
            .into_iter()
            .map(|(account, live)| live.end(&self.inner, &account, reason.clone()))
            .sum()
    }

    async fn list(&self) -> Vec<SessionInfo> {
        let mut infos: Vec<_> = self
            .inner
            .lock()
            .iter()
            .map(|(account, live)| live.info(account))
            .collect();
        infos.sort_by(|a, b| a.account.cmp(&b.account));
        infos
    }

    fn stats(&self) -> &SessionStats {
        LocalRegistry::stats(self)
    }
}
