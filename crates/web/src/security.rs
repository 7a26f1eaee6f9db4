//! Security on every response and every state change: strict headers, the Origin check
//! (CSRF), the form token, and the per-IP rate limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::WebError;
use crate::identity::Peer;
use crate::router::{App, error_response};

/// The Content-Security-Policy: no script at all, styles from our one stylesheet, images
/// only inline (the QR code is inline SVG), forms only to us, never framed.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response; personal pages (everything but the
/// stylesheet) are never cached.
pub(crate) async fn headers(request: Request, next: Next) -> Response {
    let cacheable = request.uri().path() == "/style.css";
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    // RFC 6797: one year; the web is HTTPS-only.
    set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    // same-origin, not no-referrer: under no-referrer browsers send `Origin: null` with a
    // form post (Fetch §3.1, "serializing a request origin"), and the Origin check below
    // would refuse every form. Other sites still get no referrer.
    set(header::REFERRER_POLICY, "same-origin");
    set(
        header::CACHE_CONTROL,
        if cacheable {
            "public, max-age=3600"
        } else {
            "no-store"
        },
    );
    response
}

/// Refuses a state change (any method but GET/HEAD) whose `Origin` is not `public_url`'s:
/// browsers send `Origin` on every cross-site POST, so a forged form or fetch fails here
/// whatever the cookie. Requests without `Origin` are refused too.
pub(crate) async fn same_origin(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|o| o.trim_end_matches('/').to_ascii_lowercase());
    if origin.as_deref() == Some(app.origin.as_str()) {
        return next.run(request).await;
    }
    let err = WebError::refused(
        403,
        "cross_origin",
        format!(
            "Changes are accepted only from pages of {}.",
            app.ctx.config.public_url
        ),
    );
    error_response(&err, request.uri().path(), request.headers())
}

/// The form token of a certificate: HMAC of its SPKI hash under a key made at start. A
/// page from another site cannot read it, so a forged form cannot carry it.
pub(crate) fn form_token(app: &App, spki: &[u8; 32]) -> String {
    hex::encode(ring::hmac::sign(&app.csrf_key, spki).as_ref())
}

/// Checks a form's token against the certificate.
pub(crate) fn check_form_token(app: &App, spki: &[u8; 32], token: &str) -> Result<(), WebError> {
    let expected = form_token(app, spki);
    if subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), token.as_bytes()).into() {
        Ok(())
    } else {
        Err(WebError::refused(
            403,
            "bad_form_token",
            "The form has expired; open the page again.",
        ))
    }
}

/// Per-IP token buckets: `per_minute` requests a minute, bursts of as many.
pub(crate) struct RateLimit {
    per_minute: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimit {
    pub(crate) fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; `false` when its bucket is empty.
    pub(crate) fn take(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Bound memory: forget buckets that have refilled.
            let full = self.per_minute;
            map.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() * full / 60.0 < full);
        }
        let (tokens, at) = map.entry(ip).or_insert((self.per_minute, now));
        let refill = now.duration_since(*at).as_secs_f64() * self.per_minute / 60.0;
        *tokens = (*tokens + refill).min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Refuses requests beyond the per-IP rate with 429.
pub(crate) async fn rate_limit(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let ip = request.extensions().get::<Peer>().map(|p| p.ip);
    if let Some(ip) = ip
        && !app.limiter.take(ip)
    {
        let err = WebError::refused(
            429,
            "too_many_requests",
            "Too many requests from your address; wait a minute.",
        );
        return error_response(&err, request.uri().path(), request.headers());
    }
    next.run(request).await
}

/// Whether a request path is the JSON API's.
pub(crate) fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The `Accept-Language` header, for error pages made outside a handler.
pub(crate) fn accept_language(headers: &HeaderMap) -> &str {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The most octets of one request body read before its answer: a body past
/// `[web] max_body_bytes` is read to its end up to this (and then dropped), so the page
/// that says it was too long reaches the browser rather than a reset connection.
const DRAIN_CAP: usize = 1024 * 1024;

/// How long reading one request body may take.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Reads the request body before the handler: up to `[web] max_body_bytes` + 1 octets are
/// kept (one more than the limit, so the handler's own limit answers 413 with its
/// sentence), the rest, up to [`DRAIN_CAP`], is read and dropped. Without this the
/// handler answered 413 with most of the body unread, and closing the connection on it
/// reset the connection before the browser had the answer. A body that does not arrive
/// within [`BODY_TIMEOUT`], or breaks off, is answered 400 and never handed on in part.
pub(crate) async fn read_body(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    use http_body_util::BodyExt;
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let keep = app.ctx.config.max_body_bytes.saturating_add(1);
    let (mut parts, mut body) = request.into_parts();
    let mut kept = Vec::new();
    let read = tokio::time::timeout(BODY_TIMEOUT, async {
        let mut seen = 0usize;
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            seen = seen.saturating_add(data.len());
            let room = keep.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
            if seen > DRAIN_CAP {
                break;
            }
        }
        Ok::<(), axum::Error>(())
    })
    .await;
    if !matches!(read, Ok(Ok(()))) {
        let err = WebError::refused(
            400,
            "incomplete",
            "The form did not arrive whole; send it again.",
        )
        .with_korean("보낸 내용이 끝까지 도착하지 않았습니다. 다시 보내세요.");
        return error_response(&err, parts.uri.path(), &parts.headers);
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(kept.len()));
    next.run(Request::from_parts(parts, axum::body::Body::from(kept)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_is_per_ip() {
        let r = RateLimit::new(3);
        let a: IpAddr = [10, 0, 0, 1].into();
        assert!(r.take(a) && r.take(a) && r.take(a));
        assert!(!r.take(a));
        assert!(r.take([10, 0, 0, 2].into()));
    }
}
