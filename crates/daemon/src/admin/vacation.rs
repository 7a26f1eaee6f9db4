//! `certmail account vacation ID --from DATE --until DATE --message FILE [--subject S]`
//! and `--off`: an administrator sets the out-of-office reply of a person on leave.
//!
//! It installs a generated Sieve script, [`SCRIPT`], and makes it the active one. The
//! script answers with `vacation` (RFC 5230) only between the two dates (`currentdate`,
//! RFC 5260; dates in UTC), and then runs the script that was active before with
//! `include :personal` (RFC 6609), so the person's own filters keep working. The
//! previous script's name is kept in the account's settings ([`PREVIOUS`]); `--off`
//! makes it active again and deletes the generated one. A previous script that sends its
//! own vacation replies is refused (two vacations in one run are an error that would
//! switch the filters off): the person or the administrator switches it off first.
//! Every change is audited as an `account.vacation` event.

use certmail_store::{AuditEvent, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Response;
use super::context::AdminContext;

/// The generated script's name.
pub const SCRIPT: &str = "certmail-vacation";
/// The account setting holding the script that was active before.
pub const PREVIOUS: &str = "vacation.previous_script";
/// The audit event kind.
pub const EVENT: &str = "account.vacation";

/// What `account vacation` turns on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VacationSpec {
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: String,
    /// Last day, `YYYY-MM-DD` (UTC).
    pub until: String,
    /// The reply's subject; the interpreter's `Auto: <original>` when `None`.
    pub subject: Option<String>,
    /// The reply's text (UTF-8).
    pub message: String,
}

/// Turns the vacation reply on (`Some`) or off (`None`).
pub(super) async fn set(
    ctx: &AdminContext,
    id: &str,
    spec: Option<VacationSpec>,
) -> anyhow::Result<Response> {
    let id = id.trim().to_lowercase();
    let Some(mut account) = ctx.store.account(&id).await? else {
        return Ok(Response::fail("not_found", format!("no account {id}")));
    };
    let active = ctx.store.active_script(&id).await?;
    let response = match spec {
        Some(spec) => on(ctx, &mut account, active, &spec).await?,
        None => off(ctx, &mut account, active).await?,
    };
    if response.ok {
        let mut fields: std::collections::BTreeMap<String, String> = [
            ("actor".to_string(), ctx.actor.clone()),
            (
                "state".to_string(),
                response.data["state"].as_str().unwrap_or_default().into(),
            ),
        ]
        .into();
        for key in ["from", "until", "previous_script"] {
            if let Some(v) = response.data[key].as_str() {
                fields.insert(key.to_string(), v.to_string());
            }
        }
        let event = AuditEvent {
            time: certmail_auth::now() * 1000,
            account: Some(id),
            kind: EVENT.into(),
            ip: None,
            fields,
        };
        ctx.store.append_audit(event).await?;
    }
    Ok(response)
}

async fn on(
    ctx: &AdminContext,
    account: &mut certmail_store::Account,
    active: Option<certmail_store::SieveScript>,
    spec: &VacationSpec,
) -> anyhow::Result<Response> {
    let id = account.id.clone();
    let (Some(from), Some(until)) = (date(&spec.from), date(&spec.until)) else {
        return Ok(Response::fail(
            "invalid",
            "give --from and --until as dates, YYYY-MM-DD (e.g. 2026-12-21)",
        ));
    };
    if from > until {
        return Ok(Response::fail(
            "invalid",
            "--from must not be after --until",
        ));
    }
    if spec.message.trim().is_empty() {
        return Ok(Response::fail("invalid", "the --message file is empty"));
    }
    let previous = match active {
        Some(s) if s.name == SCRIPT => account.settings.get(PREVIOUS).cloned(),
        Some(s) if s.content.contains("vacation") => {
            return Ok(Response::fail(
                "conflict",
                format!(
                    "{id}'s active script \"{}\" sends its own vacation replies; switch it \
                     off or remove its vacation first (two in one run are an error)",
                    s.name
                ),
            ));
        }
        Some(s) => Some(s.name),
        None => None,
    };
    let text = script(&from, &until, spec, previous.as_deref());
    match ctx
        .store
        .put_script(&id, SCRIPT, &text, ctx.script_quota)
        .await
    {
        Ok(()) => {}
        Err(e @ (StoreError::ScriptTooLarge { .. } | StoreError::TooManyScripts { .. })) => {
            return Ok(Response::fail(
                "invalid",
                format!("{e}; shorten the message or raise [sieve] max_script_size / max_scripts"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    ctx.store.set_active_script(&id, Some(SCRIPT)).await?;
    match &previous {
        Some(p) => account.settings.insert(PREVIOUS.into(), p.clone()),
        None => account.settings.remove(PREVIOUS),
    };
    ctx.store.update_account(account.clone()).await?;
    let kept = match &previous {
        Some(p) => {
            format!("; the script \"{p}\" keeps running inside it and is active again after --off")
        }
        None => String::new(),
    };
    Ok(Response::ok(
        format!(
            "vacation reply for {id} on from {from} to {until} (UTC): the Sieve script \"{SCRIPT}\" is active{kept}"
        ),
        json!({ "account": id, "state": "on", "from": from, "until": until, "script": SCRIPT, "previous_script": previous }),
    ))
}

async fn off(
    ctx: &AdminContext,
    account: &mut certmail_store::Account,
    active: Option<certmail_store::SieveScript>,
) -> anyhow::Result<Response> {
    let id = account.id.clone();
    if ctx.store.script(&id, SCRIPT).await?.is_none() {
        return Ok(Response::fail(
            "not_found",
            format!("{id} has no vacation reply set by certmail account vacation"),
        ));
    }
    let previous = account.settings.remove(PREVIOUS);
    let mut restored = None;
    if active.is_some_and(|s| s.name == SCRIPT) {
        restored = match &previous {
            Some(p) if ctx.store.script(&id, p).await?.is_some() => Some(p.clone()),
            _ => None,
        };
        ctx.store
            .set_active_script(&id, restored.as_deref())
            .await?;
    }
    ctx.store.delete_script(&id, SCRIPT).await?;
    ctx.store.update_account(account.clone()).await?;
    let now = match &restored {
        Some(p) => format!("the script \"{p}\" is active again"),
        None => "no script is active".to_string(),
    };
    Ok(Response::ok(
        format!("vacation reply for {id} off: {now}"),
        json!({ "account": id, "state": "off", "previous_script": restored }),
    ))
}

/// `YYYY-MM-DD`, checked as a calendar date.
fn date(s: &str) -> Option<String> {
    let s = s.trim();
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.format("%Y-%m-%d").to_string())
}

/// A Sieve quoted string (RFC 5228 §2.4.2): `"` and `\` escaped.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The generated script.
fn script(from: &str, until: &str, spec: &VacationSpec, previous: Option<&str>) -> String {
    let subject = spec
        .subject
        .as_deref()
        .map(|s| format!(":subject {} ", quoted(s)))
        .unwrap_or_default();
    let mut text = format!(
        "# Generated by `certmail account vacation` ({from} to {until}, UTC).\r\n\
         # `certmail account vacation ID --off` removes it and restores the previous script.\r\n\
         require [\"vacation\", \"date\", \"relational\", \"include\"];\r\n\
         if allof(currentdate :value \"ge\" \"date\" {}, currentdate :value \"le\" \"date\" {}) {{\r\n\
         \x20   vacation {subject}{};\r\n\
         }}\r\n",
        quoted(from),
        quoted(until),
        quoted(&spec.message),
    );
    if let Some(p) = previous {
        text.push_str(&format!("include :personal {};\r\n", quoted(p)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_script_compiles_and_quotes() {
        let spec = VacationSpec {
            from: "2026-12-21".into(),
            until: "2027-01-02".into(),
            subject: Some("부재중: \"김철수\"".into()),
            message: "휴가 중입니다.\r\n급한 일은 C:\\업무 폴더를 보세요.".into(),
        };
        let text = script("2026-12-21", "2027-01-02", &spec, Some("분류"));
        let compiled = certmail_sieve::compile(&text, &certmail_sieve::Limits::default());
        assert!(compiled.is_ok(), "{compiled:?}\n{text}");
        assert!(text.contains(r#"include :personal "분류";"#));
        assert!(text.contains(r#"C:\\업무"#));
    }

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(date("2026-12-21").as_deref(), Some("2026-12-21"));
        assert_eq!(date("2026-02-30"), None);
        assert_eq!(date("21.12.2026"), None);
    }
}
