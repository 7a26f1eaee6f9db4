//! [`serve`]: accepts TCP connections, completes TLS on the daemon's acceptor (which asks
//! for the client certificate with the same verifier as IMAP and SMTP), and serves HTTP/1.1
//! with hyper 1 and the axum router. Each connection's client certificate and address
//! become a [`Peer`] in every request's extensions.
//!
//! A failed handshake (e.g. a KCDSA or RSA-1024 key that cannot prove possession) cannot
//! get a page: it is written to the audit log as `tls_handshake_failed`, as on IMAP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::context::WebContext;
use crate::error::WebError;
use crate::identity::Peer;
use crate::router::{App, router};

/// Seconds open connections get to finish after `shutdown` before they are dropped.
const DRAIN_SECS: u64 = 10;

/// Serves the web on `listener` until `shutdown` completes, then lets open requests finish
/// (at most ten seconds). Fails only if `ctx.config.public_url` is not an origin.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ctx: WebContext,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WebError> {
    let app = Arc::new(App::new(ctx)?);
    let routes = router(Arc::clone(&app));
    let slots = Arc::new(Semaphore::new(app.ctx.config.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (tcp, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and the like: wait a moment rather than spin.
                        tracing::warn!(error = %e, "web accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                    tracing::warn!(%addr, "web connection limit reached; closing");
                    continue;
                };
                let conn = Connection { app: Arc::clone(&app), routes: routes.clone(), acceptor: acceptor.clone(), stop: stop_rx.clone() };
                connections.spawn(async move {
                    conn.run(tcp, addr).await;
                    drop(permit);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(Duration::from_secs(DRAIN_SECS), async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        connections.abort_all();
    }
    Ok(())
}

/// Completes when `serve` is told to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        let now = *stop.borrow_and_update();
        if now || stop.changed().await.is_err() {
            return;
        }
    }
}

/// One accepted connection.
struct Connection {
    app: Arc<App>,
    routes: Router,
    acceptor: TlsAcceptor,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, tcp: TcpStream, addr: SocketAddr) {
        let timeout = Duration::from_secs(self.app.ctx.config.timeout_secs);
        let ip = addr.ip();
        let tls = match tokio::time::timeout(timeout, self.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                let now_ms = certmail_auth::now() * 1000;
                let store = self.app.ctx.store.as_ref();
                if let Err(e) = certmail_auth::signin::record_tls_failure(
                    store,
                    "web",
                    ip,
                    &e.to_string(),
                    now_ms,
                )
                .await
                {
                    tracing::error!(error = %e, "recording a failed web handshake");
                }
                return;
            }
            Err(_) => return,
        };
        let cert = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| Arc::new(c.to_vec()));
        let peer = Peer { cert, ip };
        let routes = self.routes.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(peer.clone());
            routes.clone().oneshot(request.map(axum::body::Body::new))
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(timeout)
            .serve_connection(TokioIo::new(tls), service);
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, %ip, "web connection ended with an error");
                }
            }
            () = stopped(&mut self.stop) => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }
}
