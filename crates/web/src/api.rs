//! The JSON API (issue 16's list). Errors are `{"code","message"}` with a 4xx status (503
//! when the server cannot decide now). `GET /api/me` and `POST /api/signup` need the
//! certificate only; every other call also needs the second factor: `"password"` (and
//! `"totp"`) in the body, or the cookie of `POST /api/session`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use certmail_auth::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::caller::Caller;
use crate::cookie;
use crate::error::WebError;
use crate::identity::{self, Peer};
use crate::router::App;
use crate::services::admin::Action;
use crate::services::{self, Authorized, Factor, account, admin, devices, totp, vacation};

/// A [`WebError`] answered as JSON.
pub(crate) struct ApiError(pub WebError);

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if !matches!(self.0, WebError::Refused { .. }) {
            tracing::error!(error = %self.0, "web API request failed on our side");
        }
        let (status, code, message) = self.0.public();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(json!({ "code": code, "message": message }))).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/signup", post(signup))
        .route("/api/password", post(password))
        .route("/api/renew", post(renew))
        .route(
            "/api/session",
            post(open_session).get(live).delete(close_session),
        )
        .route("/api/session/end", post(end_live))
        .route("/api/devices", get(device_list))
        .route("/api/devices/{*id}", delete(forget_device))
        .route("/api/totp/enroll", post(totp_enroll))
        .route("/api/totp/confirm", post(totp_confirm))
        .route("/api/totp/disable", post(totp_disable))
        .route("/api/signins", get(signins))
        .route(
            "/api/vacation",
            get(vacation_state).put(vacation_on).delete(vacation_off),
        )
        .route("/api/admin/pending", get(admin_pending))
        .route("/api/admin/signins", get(admin_signins))
        .route("/api/admin/{action}/{id}", post(admin_act))
}

/// A body's JSON, or the type's default for an empty body. Bodies must be
/// `application/json` (a form post from another site cannot send that without CORS).
fn body<T: DeserializeOwned + Default>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Ok(T::default());
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(WebError::refused(415, "invalid", "Send the body as application/json.").into());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        WebError::refused(
            400,
            "invalid",
            format!("The request body is not what this call takes: {e}"),
        )
        .into()
    })
}

/// The second factor fields any call may carry.
#[derive(Default, Deserialize)]
#[serde(default)]
struct SecondFactor {
    password: Option<String>,
    totp: Option<String>,
}

fn factor(headers: &HeaderMap, f: SecondFactor) -> Factor {
    Factor {
        password: f.password.map(Secret::new),
        totp: f.totp,
        cookie: cookie::token_of(headers),
    }
}

async fn authorized(
    app: &App,
    peer: &Peer,
    headers: &HeaderMap,
    bytes: &Bytes,
) -> Result<Authorized, ApiError> {
    let f: SecondFactor =
        body(headers, bytes).or_else(|_| Ok::<_, ApiError>(SecondFactor::default()))?;
    Ok(services::authorize(app, peer, factor(headers, f)).await?)
}

fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

async fn me(Caller(app, peer, ..): Caller) -> ApiResult {
    ok(json!(account::me(&app, &peer).await?))
}

async fn signup(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let form: account::SignUp = body(&headers, &bytes)?;
    let me = account::sign_up(&app, &peer, form).await?;
    Ok((StatusCode::CREATED, Json(json!(me))).into_response())
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PasswordBody {
    current: String,
    new: String,
    totp: Option<String>,
}

async fn password(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let b: PasswordBody = body(&headers, &bytes)?;
    account::change_password(
        &app,
        &peer,
        Secret::new(b.current),
        Secret::new(b.new),
        b.totp,
    )
    .await?;
    ok(json!({ "changed": true }))
}

async fn renew(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let f: SecondFactor = body(&headers, &bytes)?;
    let password = Secret::new(f.password.unwrap_or_default());
    let id = crate::services::renewal::renew(&app, &peer, password, f.totp).await?;
    ok(json!({ "bound_to": id }))
}

async fn open_session(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let f: SecondFactor = body(&headers, &bytes)?;
    let Some(password) = f.password.map(Secret::new) else {
        return Err(
            WebError::refused(400, "invalid", "Send your password to open a session.").into(),
        );
    };
    let (identity, account) = identity::person(&app.ctx, &peer).await?;
    services::check_password(&app, &peer, &account, password, f.totp, false).await?;
    let token = services::open_session(&app, &peer, &identity, &account).await?;
    let mut response = Json(json!({ "expires_in": app.ctx.config.session_secs })).into_response();
    if let Ok(v) = app.sessions.set_cookie(&token).parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn close_session(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    if let Some(t) = cookie::token_of(&headers) {
        app.sessions.end(&t).await;
    }
    let mut response = Json(json!({ "signed_out": true })).into_response();
    if let Ok(v) = cookie::clear_cookie().parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn live(Caller(app, peer, _, headers): Caller) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &Bytes::new()).await?;
    ok(json!({ "live": devices::live(&app, &who).await }))
}

async fn end_live(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &bytes).await?;
    ok(json!({ "ended_connections": devices::end_live(&app, &peer, &who).await? }))
}

async fn device_list(Caller(app, peer, _, headers): Caller) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &Bytes::new()).await?;
    ok(json!({ "devices": devices::list(&app, &who).await? }))
}

async fn forget_device(
    Caller(app, peer, _, headers): Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &bytes).await?;
    devices::forget(&app, &peer, &who, &id).await?;
    ok(json!({ "forgotten": id }))
}

async fn totp_enroll(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &bytes).await?;
    ok(json!(totp::enroll(&app, &peer, &who).await?))
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct CodeBody {
    code: String,
    password: Option<String>,
}

async fn totp_confirm(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let b: CodeBody = body(&headers, &bytes)?;
    let f = SecondFactor {
        password: b.password,
        totp: None,
    };
    let who = services::authorize(&app, &peer, factor(&headers, f)).await?;
    totp::confirm(&app, &peer, &who, &b.code).await?;
    ok(json!({ "totp": true }))
}

async fn totp_disable(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let b: CodeBody = body(&headers, &bytes)?;
    let who = services::authorize(&app, &peer, factor(&headers, SecondFactor::default())).await?;
    let password = Secret::new(b.password.unwrap_or_default());
    totp::disable(&app, &peer, &who, password, &b.code).await?;
    ok(json!({ "totp": false }))
}

async fn signins(Caller(app, peer, _, headers): Caller) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &Bytes::new()).await?;
    ok(json!({ "signins": devices::signins(&app, &who).await? }))
}

/// The reply that is on as JSON (`null` when off).
fn reply_json(reply: Option<certmail_sieve::vacation::Reply>) -> Value {
    reply.map_or(
        Value::Null,
        |r| json!({ "from": r.from, "until": r.until, "subject": r.subject, "message": r.message }),
    )
}

async fn vacation_state(Caller(app, peer, _, headers): Caller) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &Bytes::new()).await?;
    ok(json!({ "vacation": reply_json(vacation::current(&app, &who).await?) }))
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct VacationBody {
    from: String,
    until: String,
    subject: Option<String>,
    message: String,
}

async fn vacation_on(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let b: VacationBody = body(&headers, &bytes)?;
    let who = authorized(&app, &peer, &headers, &bytes).await?;
    let spec = certmail_auth::vacation::VacationSpec {
        from: b.from,
        until: b.until,
        subject: b.subject,
        message: b.message,
    };
    let change = vacation::set(&app, &peer, &who, Some(spec)).await?;
    let previous = match change {
        certmail_auth::vacation::Change::On { previous, .. } => previous,
        certmail_auth::vacation::Change::Off { .. } => None,
    };
    let reply = vacation::current(&app, &who).await?;
    ok(json!({ "vacation": reply_json(reply), "previous_script": previous }))
}

async fn vacation_off(Caller(app, peer, _, headers): Caller, bytes: Bytes) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &bytes).await?;
    let restored = match vacation::set(&app, &peer, &who, None).await? {
        certmail_auth::vacation::Change::Off { restored } => restored,
        certmail_auth::vacation::Change::On { .. } => None,
    };
    ok(json!({ "vacation": null, "restored_script": restored }))
}

async fn admin_pending(Caller(app, peer, _, headers): Caller) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &Bytes::new()).await?;
    ok(json!({ "pending": admin::pending(&app, &who).await? }))
}

async fn admin_signins(Caller(app, peer, _, headers): Caller) -> ApiResult {
    let who = authorized(&app, &peer, &headers, &Bytes::new()).await?;
    let lines: Vec<Value> = admin::signins(&app, &who)
        .await?
        .into_iter()
        .map(|(account, line)| json!({ "account": account, "event": line }))
        .collect();
    ok(json!({ "signins": lines }))
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct AdminBody {
    reason: String,
}

async fn admin_act(
    Caller(app, peer, _, headers): Caller,
    Path((action, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let action = match action.as_str() {
        "approve" => Action::Approve,
        "refuse" => Action::Refuse {
            reason: body::<AdminBody>(&headers, &bytes)?.reason,
        },
        "unlock" => Action::Unlock,
        "password" => Action::TemporaryPassword,
        "disable" => Action::Disable,
        _ => {
            return Err(
                WebError::refused(404, "not_found", "There is no such admin action.").into(),
            );
        }
    };
    let who = authorized(&app, &peer, &headers, &bytes).await?;
    let issued = admin::act(&app, &peer, &who, &id, action).await?;
    ok(match issued {
        Some(pw) => json!({ "done": true, "temporary_password": pw }),
        None => json!({ "done": true }),
    })
}
