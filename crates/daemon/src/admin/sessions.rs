//! Admin requests about live sessions (daemon running only): `certmail session list|kick`.

use certmail_session::KickReason;
use serde_json::json;

use super::Response;
use super::context::{AdminContext, counted, ended};

/// `session list`: every live session.
pub(super) async fn list(ctx: &AdminContext) -> anyhow::Result<Response> {
    let Some(registry) = &ctx.sessions else {
        return Ok(Response::fail(
            "not_running",
            "the daemon is not running, so there are no live sessions",
        ));
    };
    let list: Vec<_> = registry
        .list()
        .await
        .iter()
        .map(|s| {
            json!({
                "account": s.account,
                "device": super::devices::device_label(&s.device.spki_sha256, &s.device.ip.to_string()),
                "device_key": "certificate + address",
                "ip": s.device.ip.to_string(),
                "protocols": s.protocols.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                "connections": s.connections,
                "since": s.since,
                "node": s.node,
            })
        })
        .collect();
    Ok(Response::ok(
        counted(list.len() as u64, "live session", "live sessions"),
        json!({ "sessions": list }),
    ))
}

/// `session kick`: ends an account's session; every connection hears why.
pub(super) async fn kick(ctx: &AdminContext, account: &str) -> anyhow::Result<Response> {
    if ctx.sessions.is_none() {
        return Ok(Response::fail(
            "not_running",
            "the daemon is not running, so there is no session to end",
        ));
    }
    Ok(match ctx.kick(account, KickReason::AdminKick).await {
        0 => Response::fail("not_found", format!("{account} has no live session")),
        n => Response::ok(
            format!("session of {account} ended{}", ended(n)),
            json!({ "connections": n }),
        ),
    })
}
