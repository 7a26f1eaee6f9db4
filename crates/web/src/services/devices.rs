//! Devices, the person's own access record, and the live mail session.

use certmail_session::KickReason;
use serde::Serialize;

use super::{Authorized, audit};
use crate::error::WebError;
use crate::identity::Peer;
use crate::router::App;

/// One remembered device (`GET /api/devices`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DeviceView {
    /// The id `DELETE /api/devices/{id}` takes (`3fa81c02@192.0.2.0/24`).
    pub id: String,
    /// The subject of the certificate bound with that key, if still bound.
    pub certificate: Option<String>,
    /// The network (/24 or /64).
    pub network: String,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
    /// When it last gave a TOTP code (Unix seconds).
    pub totp_at: Option<i64>,
    /// The mail program as it named itself in IMAP ID (`Thunderbird 128.5.0`), if it did.
    pub client: Option<String>,
}

/// The account's devices.
pub(crate) async fn list(app: &App, who: &Authorized) -> Result<Vec<DeviceView>, WebError> {
    let store = app.ctx.store.as_ref();
    let bindings = store.bindings_of(&who.account.id).await?;
    Ok(store
        .devices_of(&who.account.id)
        .await?
        .into_iter()
        .map(|d| DeviceView {
            id: d.id(),
            certificate: bindings
                .iter()
                .find(|b| b.spki_sha256 == d.spki_sha256)
                .map(|b| b.subject_dn.clone()),
            network: d.network.clone(),
            first_seen: d.first_seen,
            last_seen: d.last_seen,
            totp_at: d.totp_at,
            client: d.client,
        })
        .collect())
}

/// Forgets one device: its next sign-in counts as new (TOTP again where enrolled).
pub(crate) async fn forget(
    app: &App,
    peer: &Peer,
    who: &Authorized,
    id: &str,
) -> Result<(), WebError> {
    let store = app.ctx.store.as_ref();
    let device = store
        .devices_of(&who.account.id)
        .await?
        .into_iter()
        .find(|d| d.id() == id)
        .ok_or_else(|| {
            WebError::refused(404, "not_found", format!("No device {id} on your account."))
        })?;
    store
        .forget_device(&who.account.id, &device.spki_sha256, &device.network)
        .await?;
    audit(
        app,
        "web_device_forgotten",
        Some(&who.account.id),
        peer,
        &[("device", id)],
    )
    .await
}

/// One line of the access record (`GET /api/signins`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SignInView {
    /// Unix milliseconds.
    pub time: i64,
    /// `sign_in_ok`, `sign_in_refused`, `session_kicked`, or a `web_*` action.
    pub kind: String,
    pub ip: Option<String>,
    /// imap, smtp or web.
    pub protocol: Option<String>,
    /// The refusal code or kick cause, if any.
    pub reason: Option<String>,
}

/// Sign-ins, refusals, kicks and web actions of the last `signins_days` days, newest first.
pub(crate) async fn signins(app: &App, who: &Authorized) -> Result<Vec<SignInView>, WebError> {
    let since = (certmail_auth::now() - i64::from(app.ctx.config.signins_days) * 86_400) * 1000;
    Ok(app
        .ctx
        .store
        .audit_by_account(&who.account.id, 1000)
        .await?
        .into_iter()
        .filter(|e| e.time >= since)
        .map(view)
        .collect())
}

/// An audit event as a line of the access record.
pub(crate) fn view(e: certmail_store::AuditEvent) -> SignInView {
    SignInView {
        time: e.time,
        protocol: e.fields.get("protocol").cloned(),
        reason: e.fields.get("reason").or(e.fields.get("cause")).cloned(),
        kind: e.kind,
        ip: e.ip,
    }
}

/// The live mail session (`GET /api/session`), if any.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LiveView {
    /// The network of the device that holds it.
    pub network: String,
    /// The first 8 hex digits of its certificate's SPKI hash.
    pub certificate_key: String,
    /// imap / smtp.
    pub protocols: Vec<String>,
    pub connections: usize,
    /// Unix seconds.
    pub since: u64,
}

/// Which device holds the account's live mail session.
pub(crate) async fn live(app: &App, who: &Authorized) -> Option<LiveView> {
    let info = app
        .ctx
        .registry
        .list()
        .await
        .into_iter()
        .find(|s| s.account == who.account.id)?;
    Some(LiveView {
        network: certmail_auth::device_network(info.device.ip),
        certificate_key: hex::encode(&info.device.spki_sha256[..4]),
        protocols: info
            .protocols
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        connections: info.connections,
        since: info.since,
    })
}

/// Ends the live mail session; returns how many connections were closed.
pub(crate) async fn end_live(app: &App, peer: &Peer, who: &Authorized) -> Result<usize, WebError> {
    let n = app
        .ctx
        .registry
        .kick(&who.account.id, KickReason::AdminKick)
        .await;
    audit(
        app,
        "web_session_ended",
        Some(&who.account.id),
        peer,
        &[("connections", &n.to_string())],
    )
    .await?;
    Ok(n)
}
