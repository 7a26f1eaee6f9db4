//! TCP listeners: connection limits (total and per IP), graceful shutdown and drain.
//!
//! Modelled on mini-redis's server: a semaphore bounds open connections, each connection is
//! a task tracked by a [`TaskTracker`], and a [`CancellationToken`] tells every task to
//! finish. Listeners print `listening NAME ADDR:PORT` once bound, so tests never guess ports.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::connections::ListenerKind;

/// Limits on connections, shared by every listener of the daemon.
#[derive(Debug)]
pub struct ConnectionLimits {
    total: Arc<Semaphore>,
    per_ip_max: usize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    proxy: ProxyFrom,
}

/// The load balancers whose connections start with a PROXY header
/// (`[server] proxy_protocol_from`), and how long to wait for it.
#[derive(Debug, Clone, Default)]
pub struct ProxyFrom {
    /// Their networks; empty: no PROXY header is read from anyone.
    pub networks: Vec<certmail_auth::policy::Cidr>,
    /// How long a listed balancer has to send the header.
    pub timeout: std::time::Duration,
}

/// Held for the life of a connection; releases its slots when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut map = self.limits.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl ConnectionLimits {
    /// Limits of `total` connections, `per_ip` of them from one address.
    pub fn new(total: usize, per_ip: usize) -> Arc<Self> {
        Self::with_proxy(total, per_ip, ProxyFrom::default())
    }

    /// As [`ConnectionLimits::new`], reading a PROXY header first from the balancers of
    /// `proxy`; their clients' addresses then count per IP (and everywhere else).
    pub fn with_proxy(total: usize, per_ip: usize, proxy: ProxyFrom) -> Arc<Self> {
        Arc::new(Self {
            total: Arc::new(Semaphore::new(total)),
            per_ip_max: per_ip,
            per_ip: Mutex::default(),
            proxy,
        })
    }

    /// Takes a slot for `ip`, or `None` when that address already has its maximum.
    fn slot(self: &Arc<Self>, permit: OwnedSemaphorePermit, ip: IpAddr) -> Option<ConnectionSlot> {
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_ip_max {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            _permit: permit,
            limits: Arc::clone(self),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.per_ip
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum()
    }
}

/// An accepted connection, ready for its protocol handler.
#[derive(Debug)]
pub struct Accepted {
    /// The socket.
    pub tcp: TcpStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// Released when the connection ends.
    pub slot: ConnectionSlot,
}

/// Binds every address of a listener and prints `listening NAME ADDR:PORT` for each.
pub async fn bind(
    kind: ListenerKind,
    addrs: &[SocketAddr],
) -> std::io::Result<Vec<(ListenerKind, TcpListener)>> {
    let mut out = Vec::new();
    for addr in addrs {
        let l = TcpListener::bind(addr).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {addr} for {}: {e}", kind.name()),
            )
        })?;
        println!("listening {} {}", kind.name(), l.local_addr()?);
        out.push((kind, l));
    }
    Ok(out)
}

/// Accepts connections until `shutdown` fires, handing each to `handle` as a tracked task.
/// A connection over the per-IP limit goes to `refuse` instead (which may say why on
/// plaintext protocols) and is then closed. A connection from a listed load balancer
/// ([`ProxyFrom`]) first gives its client's address in a PROXY header, in its own task;
/// without a valid header it is closed (and logged).
pub async fn serve<H, HF, R, RF>(
    kind: ListenerKind,
    listener: TcpListener,
    limits: Arc<ConnectionLimits>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    handle: H,
    refuse: R,
) where
    H: Fn(ListenerKind, Accepted) -> HF + Clone + Send + 'static,
    HF: std::future::Future<Output = ()> + Send + 'static,
    R: Fn(ListenerKind, TcpStream) -> RF + Clone + Send + 'static,
    RF: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            p = Arc::clone(&limits.total).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return, // the semaphore is never closed; treat as shutdown
            },
        };
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(listener = kind.name(), error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        if limits.proxy.networks.iter().any(|n| n.contains(peer.ip())) {
            let mut tcp = tcp;
            let (limits, handle, refuse) = (Arc::clone(&limits), handle.clone(), refuse.clone());
            tracker.spawn(async move {
                let Some(peer) = proxied_client(kind, &limits.proxy, &mut tcp, peer).await else {
                    return;
                };
                admit(kind, &limits, permit, tcp, peer, &handle, &refuse).await;
            });
            continue;
        }
        tracker.spawn(admit(kind, &limits, permit, tcp, peer, &handle, &refuse));
    }
}

/// The task of a connection: `handle` with a per-IP slot of `peer`, or `refuse` when that
/// address has its maximum.
fn admit<H, HF, R, RF>(
    kind: ListenerKind,
    limits: &Arc<ConnectionLimits>,
    permit: OwnedSemaphorePermit,
    tcp: TcpStream,
    peer: SocketAddr,
    handle: &H,
    refuse: &R,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
where
    H: Fn(ListenerKind, Accepted) -> HF,
    HF: std::future::Future<Output = ()> + Send + 'static,
    R: Fn(ListenerKind, TcpStream) -> RF,
    RF: std::future::Future<Output = ()> + Send + 'static,
{
    match limits.slot(permit, peer.ip()) {
        Some(slot) => Box::pin(handle(kind, Accepted { tcp, peer, slot })),
        None => {
            tracing::info!(listener = kind.name(), %peer, "refused: too many connections from this address");
            Box::pin(refuse(kind, tcp))
        }
    }
}

/// The client's address from the PROXY header of a balancer's connection (the balancer's
/// own for a health check's `LOCAL`/`UNKNOWN`); `None`, logged, when there is no valid one.
async fn proxied_client(
    kind: ListenerKind,
    proxy: &ProxyFrom,
    tcp: &mut TcpStream,
    balancer: SocketAddr,
) -> Option<SocketAddr> {
    match crate::services::proxy_header::read(tcp, proxy.timeout).await {
        Ok(client) => Some(client.unwrap_or(balancer)),
        Err(why) => {
            tracing::warn!(listener = kind.name(), %balancer, reason = %why,
                "closed: a connection from a [server] proxy_protocol_from balancer without a valid PROXY header");
            None
        }
    }
}
