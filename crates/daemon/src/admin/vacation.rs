//! `certmail account vacation ID --from DATE --until DATE --message FILE [--subject S]`
//! and `--off`: an administrator sets the out-of-office reply of a person on leave.
//!
//! The rules (the generated Sieve script, the previous script kept running inside it, the
//! refusal of a script with its own vacation, the `account.vacation` audit event) are
//! [`certmail_auth::vacation`]'s, shared with the self-service page; this handler only
//! turns its answer into the CLI's response.

use certmail_auth::vacation::{self, Actor, Change, SCRIPT};
use serde_json::json;

pub use certmail_auth::vacation::VacationSpec;

use super::Response;
use super::context::AdminContext;

/// Turns the vacation reply on (`Some`) or off (`None`).
pub(super) async fn set(
    ctx: &AdminContext,
    id: &str,
    spec: Option<VacationSpec>,
) -> anyhow::Result<Response> {
    let id = id.trim().to_lowercase();
    let actor = Actor {
        name: ctx.actor.clone(),
        ip: None,
    };
    let change = vacation::set(ctx.store.as_ref(), &id, spec, ctx.script_quota, &actor).await?;
    Ok(match change {
        Err(refusal) => Response::fail(refusal.code(), refusal.to_string()),
        Ok(Change::On {
            from,
            until,
            previous,
        }) => {
            let kept = match &previous {
                Some(p) => format!(
                    "; the script \"{p}\" keeps running inside it and is active again after --off"
                ),
                None => String::new(),
            };
            Response::ok(
                format!(
                    "vacation reply for {id} on from {from} to {until}: the Sieve script \"{SCRIPT}\" is active{kept}"
                ),
                json!({ "account": id, "state": "on", "from": from, "until": until, "script": SCRIPT, "previous_script": previous }),
            )
        }
        Ok(Change::Off { restored }) => {
            let now = match &restored {
                Some(p) => format!("the script \"{p}\" is active again"),
                None => "no script is active".to_string(),
            };
            Response::ok(
                format!("vacation reply for {id} off: {now}"),
                json!({ "account": id, "state": "off", "previous_script": restored }),
            )
        }
    })
}
