//! The routes, the state every handler shares ([`App`]), and how an error becomes a
//! response (JSON under `/api/`, an HTML page elsewhere).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::context::WebContext;
use crate::cookie::Sessions;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::security::{self, RateLimit};

/// TOTP secrets offered and not yet confirmed: account → (secret, until, Unix seconds).
pub(crate) type OfferedSecrets = Mutex<HashMap<String, (Vec<u8>, i64)>>;

/// What every handler shares: the daemon's context and the web's own state.
pub(crate) struct App {
    pub ctx: WebContext,
    /// `public_url`'s origin, the only one whose state changes are accepted.
    pub origin: String,
    // What a reload keeps (shared with the App before it): open browser sessions, rate
    // buckets, the form-token key, offered TOTP secrets.
    pub sessions: Arc<Sessions>,
    pub limiter: Arc<RateLimit>,
    /// The key of the form tokens (made at start).
    pub csrf_key: ring::hmac::Key,
    /// TOTP secrets offered and not yet confirmed: account → (secret, until).
    pub pending_totp: Arc<OfferedSecrets>,
}

impl App {
    pub(crate) fn new(ctx: WebContext) -> Result<App, WebError> {
        let origin = ctx.config.origin().ok_or_else(|| {
            WebError::refused(500, "config", "web.public_url must be https://host[:port]")
        })?;
        let csrf_key = match &ctx.shared {
            Some(shared) => ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &shared.form_key),
            None => {
                ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
                    .map_err(|_| {
                        WebError::refused(500, "config", "no randomness for the form key")
                    })?
            }
        };
        let shared_sessions = ctx.shared.as_ref().map(|s| Arc::clone(&s.store));
        Ok(App {
            origin,
            sessions: Arc::new(Sessions::new(ctx.config.session_secs, shared_sessions)),
            limiter: Arc::new(RateLimit::new(ctx.config.requests_per_minute)),
            csrf_key,
            pending_totp: Arc::new(Mutex::new(HashMap::new())),
            ctx,
        })
    }

    /// The app after a reload: `ctx` (new PKI, policy, `[web]`), with the state people
    /// hold kept. The session lifetime and rate of the first start stay in force.
    pub(crate) fn reloaded(&self, ctx: WebContext) -> Result<App, WebError> {
        let origin = ctx.config.origin().ok_or_else(|| {
            WebError::refused(500, "config", "web.public_url must be https://host[:port]")
        })?;
        Ok(App {
            origin,
            sessions: Arc::clone(&self.sessions),
            limiter: Arc::clone(&self.limiter),
            csrf_key: self.csrf_key.clone(),
            pending_totp: Arc::clone(&self.pending_totp),
            ctx,
        })
    }
}

/// Every route, with the security layers (outermost first: headers, rate limit, reading
/// the body whole, body limit, Origin check).
pub(crate) fn router(app: Arc<App>) -> Router {
    let max_body = app.ctx.config.max_body_bytes;
    Router::new()
        .merge(crate::api::routes())
        .merge(crate::pages::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            security::same_origin,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            security::read_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            security::rate_limit,
        ))
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(app)
}

async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let err = WebError::refused(404, "not_found", "There is no such page.");
    error_response(&err, uri.path(), &headers)
}

/// `err` as the client at `path` should see it; our own failures are logged here.
pub(crate) fn error_response(err: &WebError, path: &str, headers: &HeaderMap) -> Response {
    if !matches!(err, WebError::Refused { .. }) {
        tracing::error!(error = %err, path, "web request failed on our side");
    }
    if security::is_api(path) {
        let (status, code, message) = err.public();
        let public = WebError::refused(status, &code, message);
        crate::api::ApiError(public).into_response()
    } else {
        let lang = Lang::from_header(security::accept_language(headers));
        crate::pages::error_page(err, lang)
    }
}
