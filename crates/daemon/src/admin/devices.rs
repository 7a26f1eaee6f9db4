//! Admin requests about TOTP and the device registry: `certmail account totp`,
//! `certmail device list|forget`.

use serde_json::json;

use super::Response;
use super::accounts::not_found;
use super::context::{AdminContext, counted};

/// `account totp enable|show|disable ID`.
pub(super) async fn totp(ctx: &AdminContext, id: &str, action: &str) -> anyhow::Result<Response> {
    let Some(mut a) = ctx.store.account(id).await? else {
        return Ok(not_found(id));
    };
    let last_step = certmail_auth::totp::LAST_STEP_SETTING;
    match action {
        "enable" => {
            let secret = certmail_auth::totp::generate_secret()
                .ok_or_else(|| anyhow::anyhow!("the system random generator failed"))?;
            a.totp_secret = Some(secret);
            a.settings.remove(last_step);
        }
        "disable" => {
            a.totp_secret = None;
            a.settings.remove(last_step);
        }
        "show" => {}
        other => {
            return Ok(Response::fail(
                "invalid",
                format!("`{other}` is not a TOTP action; use enable, show or disable"),
            ));
        }
    }
    if action != "show" {
        ctx.store.update_account(a.clone()).await?;
    }
    Ok(match &a.totp_secret {
        None if action == "disable" => {
            Response::ok(format!("TOTP is off for {id}"), json!({ "totp": false }))
        }
        None => Response::fail(
            "not_enabled",
            format!("{id} has no TOTP; `certmail account totp enable {id}` turns it on"),
        ),
        Some(secret) => {
            let uri = certmail_auth::totp::otpauth_uri(&ctx.issuer, id, secret);
            let verb = if action == "enable" {
                "is now on"
            } else {
                "is on"
            };
            Response::ok(
                format!(
                    "TOTP {verb} for {id}; add this to the authenticator app:\n{uri}\nOn a new device, type the 6-digit code right after the password."
                ),
                json!({ "totp": true, "otpauth_uri": uri }),
            )
        }
    })
}

/// How both device views name a device: the first 8 hex digits of the certificate's SPKI
/// SHA-256, `@`, and where it connects from. A live session is keyed by certificate and
/// exact address (`session list`), the device registry by certificate and network
/// (`device list`: /24 for IPv4, /64 for IPv6); the keys stay apart (a session kick and a
/// forgotten device are meant for different things), the spelling is one.
pub(super) fn device_label(spki_sha256: &[u8; 32], place: &str) -> String {
    format!("{}@{place}", hex::encode(&spki_sha256[..4]))
}

/// What `device_key` says in the JSON of a registry device.
pub(super) const REGISTRY_KEY: &str = "certificate + network";

fn device_json(d: &certmail_store::Device) -> serde_json::Value {
    json!({
        "id": device_label(&d.spki_sha256, &d.network), "device_key": REGISTRY_KEY,
        "account": d.account, "network": d.network,
        "spki_sha256": hex::encode(d.spki_sha256), "first_seen": d.first_seen,
        "last_seen": d.last_seen, "totp_at": d.totp_at, "client": d.client,
    })
}

/// `device list ACCOUNT`.
pub(super) async fn list(ctx: &AdminContext, account: &str) -> anyhow::Result<Response> {
    if ctx.store.account(account).await?.is_none() {
        return Ok(not_found(account));
    }
    let devices = ctx.store.devices_of(account).await?;
    let list: Vec<_> = devices.iter().map(device_json).collect();
    Ok(Response::ok(
        format!(
            "{} of {account}",
            counted(list.len() as u64, "device", "devices")
        ),
        json!({ "devices": list }),
    ))
}

/// `device forget ACCOUNT [DEVICE]`.
pub(super) async fn forget(
    ctx: &AdminContext,
    account: &str,
    device: Option<&str>,
) -> anyhow::Result<Response> {
    if ctx.store.account(account).await?.is_none() {
        return Ok(not_found(account));
    }
    let devices = ctx.store.devices_of(account).await?;
    let chosen: Vec<_> = devices
        .iter()
        .filter(|d| device.is_none_or(|id| d.id() == id))
        .collect();
    if let (Some(id), true) = (device, chosen.is_empty()) {
        return Ok(Response::fail(
            "not_found",
            format!("{account} has no device {id}; `certmail device list {account}` shows them"),
        ));
    }
    for d in &chosen {
        ctx.store
            .forget_device(account, &d.spki_sha256, &d.network)
            .await?;
    }
    Ok(Response::ok(
        format!(
            "{} of {account} forgotten",
            counted(chosen.len() as u64, "device", "devices")
        ),
        json!({ "forgotten": chosen.iter().map(|d| d.id()).collect::<Vec<_>>() }),
    ))
}

#[cfg(test)]
mod tests {
    /// The registry's own id (what `device forget` takes) is the label both views print.
    #[test]
    fn the_label_is_the_registry_id() {
        let d = certmail_store::Device {
            account: "kim".into(),
            spki_sha256: [0x3f; 32],
            network: "192.0.2.0/24".into(),
            first_seen: 0,
            last_seen: 0,
            totp_at: None,
            client: None,
        };
        assert_eq!(super::device_label(&d.spki_sha256, &d.network), d.id());
        assert_eq!(d.id(), "3f3f3f3f@192.0.2.0/24");
    }
}
