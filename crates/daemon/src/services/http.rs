//! The plain-HTTP listeners for Prometheus metrics and `/healthz` (on localhost, or where
//! the load balancer reaches it) and the mail clients' set-up files (Thunderbird's
//! autoconfig, Outlook's autodiscover, Apple's profile; for the organisation's web front or
//! port 80), on the same HTTP stack as the self-service web (hyper 1 through axum).
//!
//! GET only but for Outlook's autodiscover POST (axum answers 405 otherwise), the request
//! head bounded in size and time, a request body bounded by `[http] max_request_bytes`, and every
//! connection closed after at most ten seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::context::Daemon;
use crate::services::client_config;

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    /// `/metrics` and `/healthz`.
    Metrics,
    /// `/.well-known/autoconfig/mail/config-v1.1.xml` and `/mail/config-v1.1.xml`,
    /// `/autodiscover/autodiscover.xml` and `/apple/certmail.mobileconfig`.
    Autoconfig,
}

/// Longest request head (request line and headers) read.
const MAX_HEAD: usize = 8 * 1024;

/// Longest life of one connection.
const CONNECTION_SECS: u64 = 10;

/// The routes of a `routes` listener over `daemon`.
fn router(routes: Routes, daemon: Arc<Daemon>) -> Router {
    let r = match routes {
        Routes::Metrics => Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(healthz)),
        Routes::Autoconfig => Router::new()
            .route(
                "/.well-known/autoconfig/mail/config-v1.1.xml",
                get(autoconfig),
            )
            .route("/mail/config-v1.1.xml", get(autoconfig))
            .route(
                "/autodiscover/autodiscover.xml",
                get(autodiscover_get).post(autodiscover),
            )
            .route(
                "/Autodiscover/Autodiscover.xml",
                get(autodiscover_get).post(autodiscover),
            )
            .route("/apple/certmail.mobileconfig", get(mobileconfig))
            // The configured limit is checked per request (it follows reloads); this is
            // the ceiling check-config allows.
            .layer(axum::extract::DefaultBodyLimit::max(
                crate::config::HTTP_BODY_CAP,
            )),
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

/// 200 when ready, 503 naming each failed check (`services::health`).
async fn healthz(State(daemon): State<Arc<Daemon>>) -> Response {
    let health = crate::services::health::check(&daemon).await;
    let status = if health.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        health.body(),
    )
        .into_response()
}

/// The query parameters of the set-up files.
type Params = Query<HashMap<String, String>>;

async fn autoconfig(
    State(daemon): State<Arc<Daemon>>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let email = params.get("emailaddress").map(String::as_str);
    match client_config::autoconfig(&daemon.config(), email, host) {
        Some(xml) => xml_response(StatusCode::OK, "application/xml", xml),
        None => not_local(),
    }
}

/// Outlook's POST: the settings for the address in the request body.
async fn autodiscover(State(daemon): State<Arc<Daemon>>, body: Bytes) -> Response {
    let limit = daemon.config().http.max_request_bytes;
    if body.len() > limit {
        let why = format!("the request body is over [http] max_request_bytes ({limit} bytes)\n");
        return (StatusCode::PAYLOAD_TOO_LARGE, why).into_response();
    }
    match client_config::parse_autodiscover(&body) {
        Err(e) => xml_response(
            StatusCode::BAD_REQUEST,
            "application/xml",
            client_config::autodiscover_error(600, &format!("Invalid Request: {e}")),
        ),
        Ok(r) if r.schema != client_config::OUTLOOK_SCHEMA => xml_response(
            StatusCode::OK,
            "application/xml",
            client_config::autodiscover_error(
                601,
                &format!(
                    "Provider is not available: only {} is served",
                    client_config::OUTLOOK_SCHEMA
                ),
            ),
        ),
        Ok(r) => outlook_settings(&daemon, &r.email),
    }
}

/// The same answer for clients that probe by GET (`?email=` or `?emailaddress=`).
async fn autodiscover_get(State(daemon): State<Arc<Daemon>>, Query(params): Params) -> Response {
    match params.get("email").or_else(|| params.get("emailaddress")) {
        Some(email) => outlook_settings(&daemon, email),
        None => xml_response(
            StatusCode::BAD_REQUEST,
            "application/xml",
            client_config::autodiscover_error(
                600,
                "Invalid Request: POST Outlook's request, or GET with ?email=ADDRESS",
            ),
        ),
    }
}

fn outlook_settings(daemon: &Daemon, email: &str) -> Response {
    match client_config::settings_for_address(&daemon.config(), email) {
        Some(s) => xml_response(
            StatusCode::OK,
            "application/xml",
            client_config::autodiscover_settings(&s, email),
        ),
        None => xml_response(
            StatusCode::NOT_FOUND,
            "application/xml",
            client_config::autodiscover_error(
                603,
                &format!("{email} is not an address of a domain of this server"),
            ),
        ),
    }
}

/// Apple's profile for `?email=ADDRESS`.
async fn mobileconfig(State(daemon): State<Arc<Daemon>>, Query(params): Params) -> Response {
    let Some(email) = params.get("email") else {
        return (
            StatusCode::BAD_REQUEST,
            "add ?email=ADDRESS: the profile is made for one address\n",
        )
            .into_response();
    };
    match client_config::settings_for_address(&daemon.config(), email) {
        Some(s) => xml_response(
            StatusCode::OK,
            "application/x-apple-aspen-config",
            client_config::mobileconfig(&s, email),
        ),
        None => not_local(),
    }
}

fn xml_response(status: StatusCode, kind: &str, body: String) -> Response {
    let kind = format!("{kind}; charset=utf-8");
    (status, [(header::CONTENT_TYPE, kind)], body).into_response()
}

fn not_local() -> Response {
    (StatusCode::NOT_FOUND, "not a domain of this server\n").into_response()
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
