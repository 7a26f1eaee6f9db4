//! Serving: [`WebServer`] holds the app (reloadable) and serves one accepted connection at
//! a time as the daemon's accept loops do for IMAP and SMTP ([`WebServer::serve_connection`]:
//! TLS on the daemon's current rustls config, which asks for the client certificate with
//! the same verifier, then HTTP/1.1 with hyper 1 and the axum router). [`serve`] is the
//! whole listener for callers without an accept loop of their own (and the tests).
//! Each connection's client certificate and address become a [`Peer`] in every request's
//! extensions.
//!
//! A failed handshake (e.g. a KCDSA or RSA-1024 key that cannot prove possession) cannot
//! get a page: it is written to the audit log as `tls_handshake_failed`, as on IMAP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
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

/// The web as the daemon holds it: the routes over the current [`WebContext`].
pub struct WebServer {
    current: RwLock<(Arc<App>, Router)>,
}

impl WebServer {
    /// The web over `ctx`; fails if `ctx.config.public_url` is not an origin.
    pub fn new(ctx: WebContext) -> Result<WebServer, WebError> {
        let app = Arc::new(App::new(ctx)?);
        let routes = router(Arc::clone(&app));
        Ok(WebServer {
            current: RwLock::new((app, routes)),
        })
    }

    /// Replaces the context (a reload: new PKI, policy, `[web]`); open browser sessions,
    /// offered TOTP secrets and rate buckets are kept. Connections already open keep the
    /// context they started with. On error the old context stays in force.
    pub fn reload(&self, ctx: WebContext) -> Result<(), WebError> {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let app = Arc::new(current.0.reloaded(ctx)?);
        let routes = router(Arc::clone(&app));
        *current = (app, routes);
        Ok(())
    }

    fn now_serving(&self) -> (Arc<App>, Router) {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        (Arc::clone(&current.0), current.1.clone())
    }

    /// Serves one accepted connection: the TLS handshake on `acceptor` (within
    /// `timeout_secs`), then requests until the client closes or `stop` completes, after
    /// which the request in progress finishes and the connection closes.
    pub async fn serve_connection(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        acceptor: TlsAcceptor,
        stop: impl Future<Output = ()> + Send,
    ) {
        let (app, routes) = self.now_serving();
        let timeout = Duration::from_secs(app.ctx.config.timeout_secs);
        let ip = addr.ip();
        let tls = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                let now_ms = certmail_auth::now() * 1000;
                let store = app.ctx.store.as_ref();
                let error = e.to_string();
                let recorded = certmail_auth::signin::record_tls_failure(
                    store,
                    &app.ctx.policy.state,
                    "web",
                    ip,
                    &error,
                    now_ms,
                );
                if let Err(e) = recorded.await {
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
            () = stop => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }
}

/// Serves the web on `listener` until `shutdown` completes, then lets open requests finish
/// (at most ten seconds). Fails only if `ctx.config.public_url` is not an origin.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ctx: WebContext,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WebError> {
    let slots = Arc::new(Semaphore::new(ctx.config.max_connections));
    let web = Arc::new(WebServer::new(ctx)?);
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
                let (web, acceptor, mut stop) = (Arc::clone(&web), acceptor.clone(), stop_rx.clone());
                connections.spawn(async move {
                    web.serve_connection(tcp, addr, acceptor, stopped(&mut stop)).await;
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
