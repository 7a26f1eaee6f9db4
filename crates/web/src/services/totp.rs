//! TOTP enrolment: a new secret is offered (QR code and otpauth URI) and kept in memory
//! until the person confirms it with a first code; only then does the account use it.
//! Enrolling again while TOTP is on replaces it (regenerate) after the same confirmation.

use serde::Serialize;

use super::{Authorized, audit, check_password};
use crate::error::WebError;
use crate::identity::Peer;
use crate::router::App;
use certmail_auth::{Secret, totp};

/// Seconds an offered secret waits for its first code.
const OFFER_SECS: i64 = 600;

/// An offered secret (`POST /api/totp/enroll`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Offer {
    /// `otpauth://totp/…` for the authenticator app.
    pub otpauth_uri: String,
    /// The same as a QR code, SVG.
    pub qr_svg: String,
}

/// Keeps the secret offered to `account` until `until` (in the database where several
/// nodes serve, so the code may be confirmed on any of them).
async fn offer(app: &App, account: &str, secret: Vec<u8>, until: i64) -> Result<(), WebError> {
    match &app.ctx.shared {
        Some(shared) => Ok(shared.store.offer_totp(account, &secret, until).await?),
        None => {
            app.pending_totp
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(account.to_owned(), (secret, until));
            Ok(())
        }
    }
}

/// The secret offered to `account`, unless it expired before `now`.
async fn offered(app: &App, account: &str, now: i64) -> Result<Option<Vec<u8>>, WebError> {
    let offer = match &app.ctx.shared {
        Some(shared) => shared.store.totp_offer(account).await?,
        None => app
            .pending_totp
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(account)
            .cloned(),
    };
    Ok(offer.filter(|(_, until)| *until > now).map(|(s, _)| s))
}

async fn forget_offer(app: &App, account: &str) -> Result<(), WebError> {
    match &app.ctx.shared {
        Some(shared) => shared.store.forget_totp_offer(account).await?,
        None => {
            app.pending_totp
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(account);
        }
    }
    Ok(())
}

/// Offers a new secret to an authorized person.
pub(crate) async fn enroll(app: &App, peer: &Peer, who: &Authorized) -> Result<Offer, WebError> {
    let secret = totp::generate_secret()
        .ok_or_else(|| WebError::refused(503, "internal", "No randomness available; try again."))?;
    let uri = totp::otpauth_uri(&app.ctx.totp_issuer, &who.account.id, &secret);
    let now = certmail_auth::now();
    offer(app, &who.account.id, secret, now + OFFER_SECS).await?;
    audit(app, "web_totp_offered", Some(&who.account.id), peer, &[]).await?;
    Ok(Offer {
        qr_svg: crate::qr::svg(&uri).unwrap_or_default(),
        otpauth_uri: uri,
    })
}

/// Turns TOTP on with the offered secret once `code` is right for it.
pub(crate) async fn confirm(
    app: &App,
    peer: &Peer,
    who: &Authorized,
    code: &str,
) -> Result<(), WebError> {
    let now = certmail_auth::now();
    let Some(secret) = offered(app, &who.account.id, now).await? else {
        return Err(WebError::refused(
            409,
            "no_enrolment",
            "Start the enrolment again: no new secret is waiting for a code.",
        ));
    };
    let Some(step) = totp::verify(&secret, code.trim(), now, None) else {
        return Err(WebError::refused(
            401,
            "totp_invalid",
            "The code does not match; check the time on your phone and type the current code.",
        ));
    };
    let store = app.ctx.store.as_ref();
    let mut account = store
        .account(&who.account.id)
        .await?
        .ok_or_else(|| WebError::refused(404, "not_found", "Your account no longer exists."))?;
    account.totp_secret = Some(secret);
    account
        .settings
        .insert(totp::LAST_STEP_SETTING.to_string(), step.to_string());
    store.update_account(account).await?;
    forget_offer(app, &who.account.id).await?;
    trust_device(app, peer, who, now).await?;
    audit(app, "web_totp_enabled", Some(&who.account.id), peer, &[]).await
}

/// Turns TOTP off: needs the password and a current code, whatever the session.
pub(crate) async fn disable(
    app: &App,
    peer: &Peer,
    who: &Authorized,
    password: Secret<String>,
    code: &str,
) -> Result<(), WebError> {
    let Some(secret) = who.account.totp_secret.clone() else {
        return Err(WebError::refused(
            409,
            "totp_off",
            "TOTP is not on for your account.",
        ));
    };
    if totp::verify(&secret, code.trim(), certmail_auth::now(), None).is_none() {
        return Err(WebError::refused(
            401,
            "totp_invalid",
            "The code does not match your authenticator app.",
        ));
    }
    check_password(
        app,
        peer,
        &who.account,
        password,
        Some(code.to_string()),
        false,
    )
    .await?;
    let store = app.ctx.store.as_ref();
    if let Some(mut account) = store.account(&who.account.id).await? {
        account.totp_secret = None;
        account.settings.remove(totp::LAST_STEP_SETTING);
        store.update_account(account).await?;
    }
    audit(app, "web_totp_disabled", Some(&who.account.id), peer, &[]).await
}

/// The device that confirmed with a right code has given one: it is trusted as after a
/// sign-in with a code (the `totp_remember` days), so it is not asked again at once.
async fn trust_device(app: &App, peer: &Peer, who: &Authorized, now: i64) -> Result<(), WebError> {
    let store = app.ctx.store.as_ref();
    let network = certmail_auth::device_network(peer.ip);
    let spki = who.identity.spki_sha256;
    let known = store
        .devices_of(&who.account.id)
        .await?
        .into_iter()
        .find(|d| d.spki_sha256 == spki && d.network == network);
    let device = match known {
        Some(mut d) => {
            d.last_seen = now;
            d.totp_at = Some(now);
            d
        }
        None => certmail_store::Device {
            account: who.account.id.clone(),
            spki_sha256: spki,
            network,
            first_seen: now,
            last_seen: now,
            totp_at: Some(now),
            client: None,
        },
    };
    store.put_device(device).await?;
    Ok(())
}
