//! Admin requests only a running daemon can serve: `certmail reload`, and the CRL re-read
//! `certmail crl fetch` asks for.

use super::Response;
use super::context::AdminContext;

/// `reload`: re-reads the configuration, certificates and CRLs.
pub(super) async fn reload(ctx: &AdminContext) -> anyhow::Result<Response> {
    let Some(daemon) = &ctx.daemon else {
        return Ok(Response::fail(
            "not_running",
            "the daemon is not running; start it to load the configuration",
        ));
    };
    Ok(match daemon.reload().await {
        Ok(()) => Response::ok(
            "configuration, certificates and CRLs reloaded",
            serde_json::Value::Null,
        ),
        Err(e) => Response::fail(
            "reload_failed",
            format!("{e:#}; the old configuration stays in force"),
        ),
    })
}

/// `reload-crls`: re-reads every CRL file and ends the sessions they revoke.
pub(super) async fn reload_crls(ctx: &AdminContext) -> anyhow::Result<Response> {
    let Some(daemon) = &ctx.daemon else {
        return Ok(Response::fail(
            "not_running",
            "the daemon is not running; it reads the CRLs when it starts",
        ));
    };
    Ok(match daemon.reload_crls().await {
        Ok(()) => Response::ok("CRLs re-read", serde_json::Value::Null),
        Err(e) => Response::fail(
            "reload_failed",
            format!("{e:#}; the last good CRLs stay in force"),
        ),
    })
}
