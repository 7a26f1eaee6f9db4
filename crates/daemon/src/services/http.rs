//! The plain-HTTP listeners for Prometheus metrics (on localhost) and Thunderbird's
//! autoconfig file (for the organisation's web front or port 80), on the same HTTP stack
//! as the self-service web (hyper 1 through axum).
//!
//! GET only (axum answers 405 otherwise), the request head bounded in size and time, and
//! every connection closed after at most ten seconds.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::context::Daemon;

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    /// `/metrics`.
    Metrics,
    /// `/.well-known/autoconfig/mail/config-v1.1.xml` and `/mail/config-v1.1.xml`.
    Autoconfig,
}

/// Longest request head (request line and headers) read.
const MAX_HEAD: usize = 8 * 1024;

/// Longest life of one connection.
const CONNECTION_SECS: u64 = 10;

/// The routes of a `routes` listener over `daemon`.
fn router(routes: Routes, daemon: Arc<Daemon>) -> Router {
    let r = match routes {
        Routes::Metrics => Router::new().route("/metrics", get(metrics)),
        Routes::Autoconfig => Router::new()
            .route(
                "/.well-known/autoconfig/mail/config-v1.1.xml",
                get(autoconfig),
            )
            .route("/mail/config-v1.1.xml", get(autoconfig)),
    };
    r.fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(daemon)
}

async fn metrics(State(daemon): State<Arc<Daemon>>) -> Response {
    let body = crate::services::metrics::render(&daemon).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn autoconfig(
    State(daemon): State<Arc<Daemon>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    match crate::services::metrics::autoconfig(&daemon, query.as_deref().unwrap_or(""), host) {
        Some(xml) => (
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            xml,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not a domain of this server\n").into_response(),
    }
}

/// Serves HTTP requests until shutdown.
pub async fn serve(
    listener: TcpListener,
    daemon: Arc<Daemon>,
    routes: Routes,
    shutdown: CancellationToken,
) {
    let app = router(routes, daemon);
    loop {
        let tcp = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                app.clone().oneshot(request.map(axum::body::Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(CONNECTION_SECS))
                .max_buf_size(MAX_HEAD)
                .keep_alive(false)
                .serve_connection(TokioIo::new(tcp), service);
            let _ = tokio::time::timeout(Duration::from_secs(CONNECTION_SECS), conn).await;
        });
    }
}
