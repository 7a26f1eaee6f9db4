//! A person's out-of-office reply (부재중 자동응답), as `certmail account vacation` (an
//! administrator covering for a person on leave) and the self-service page (the person)
//! set it: both call [`set`] and [`current`], so both follow the same rules.
//!
//! Turning it on installs the script of [`certmail_sieve::vacation`] as
//! [`SCRIPT`] and makes it active; the script that was active before keeps running inside
//! it (`include`), and its name is kept in the account's settings ([`PREVIOUS`]) so that
//! turning it off makes it active again. A previous script that sends its own vacation
//! replies is refused rather than dropped: the person switches it off first. Every change
//! is audited as an [`EVENT`] event naming who made it.

use std::collections::BTreeMap;

use certmail_sieve::vacation::{Reply, read, script, sends_vacation};
use certmail_store::{Account, AuditEvent, ScriptQuota, SieveScript, Store, StoreError};
use serde::{Deserialize, Serialize};

pub use certmail_sieve::vacation::SCRIPT;

/// The account setting holding the script that was active before.
pub const PREVIOUS: &str = "vacation.previous_script";
/// The audit event kind.
pub const EVENT: &str = "account.vacation";

/// What turning the reply on asks for, as typed (checked by [`set`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VacationSpec {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub until: String,
    /// The reply's subject; the interpreter's `Auto: <original>` when `None`.
    pub subject: Option<String>,
    /// The reply's text (UTF-8).
    pub message: String,
}

/// Who changes the reply, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The person's account id, or the administrator (`uid=N` of the admin socket).
    pub name: String,
    /// The client's IP, where there is one (the web).
    pub ip: Option<String>,
}

/// Why a change was refused; each is a sentence saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VacationRefusal {
    /// No such account.
    #[error("no account {0}")]
    NoAccount(String),
    /// A date is not a calendar date `YYYY-MM-DD`.
    #[error("give the first and last day as dates, YYYY-MM-DD (e.g. 2026-12-21)")]
    BadDate,
    /// The first day is after the last.
    #[error("the first day ({from}) must not be after the last day ({until})")]
    DatesReversed {
        /// The first day.
        from: String,
        /// The last day.
        until: String,
    },
    /// The message is empty.
    #[error("the reply's message is empty; write the text the senders should receive")]
    EmptyMessage,
    /// The generated script would exceed `[sieve] max_script_size`.
    #[error(
        "the reply's script would have {bytes} bytes, more than [sieve] max_script_size \
         ({max}); shorten the message or raise the limit"
    )]
    TooLarge {
        /// The generated script's size.
        bytes: u64,
        /// `[sieve] max_script_size`.
        max: u64,
    },
    /// The account already holds `[sieve] max_scripts` scripts.
    #[error(
        "the account already holds {max} Sieve scripts, the most [sieve] max_scripts allows; \
         delete one or raise the limit"
    )]
    TooManyScripts {
        /// `[sieve] max_scripts`.
        max: u32,
    },
    /// The active script sends vacation replies itself.
    #[error(
        "the active Sieve script \"{0}\" sends its own vacation replies; switch it off or \
         remove its vacation first (two in one run are an error)"
    )]
    OwnVacation(String),
    /// Turning off a reply that is not on.
    #[error("{0} has no out-of-office reply set by certmail")]
    NotOn(String),
}

impl VacationRefusal {
    /// The machine code (the CLI's `--json` codes).
    pub fn code(&self) -> &'static str {
        match self {
            VacationRefusal::NoAccount(_) | VacationRefusal::NotOn(_) => "not_found",
            VacationRefusal::OwnVacation(_) => "conflict",
            _ => "invalid",
        }
    }
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The reply is on between `from` and `until`; `previous` keeps running inside it.
    On {
        /// First day, normalised `YYYY-MM-DD`.
        from: String,
        /// Last day.
        until: String,
        /// The script that was active before, run by the generated one.
        previous: Option<String>,
    },
    /// The reply is off; `restored` is active again (or no script is).
    Off {
        /// The script made active again.
        restored: Option<String>,
    },
}

/// The reply that is on for `id`: the generated script is the active one. A reply whose
/// dates are over still shows (it answers nobody until it is turned off or changed).
pub async fn current(store: &dyn Store, id: &str) -> Result<Option<Reply>, StoreError> {
    Ok(match store.active_script(id).await? {
        Some(s) if s.name == SCRIPT => read(&s.content),
        _ => None,
    })
}

/// Turns `id`'s reply on (`Some`) or off (`None`), audited with `actor`.
pub async fn set(
    store: &dyn Store,
    id: &str,
    spec: Option<VacationSpec>,
    quota: ScriptQuota,
    actor: &Actor,
) -> Result<Result<Change, VacationRefusal>, StoreError> {
    let id = id.trim().to_lowercase();
    let Some(mut account) = store.account(&id).await? else {
        return Ok(Err(VacationRefusal::NoAccount(id)));
    };
    let active = store.active_script(&id).await?;
    let change = match spec {
        Some(spec) => match checked(&spec) {
            Ok(reply) => on(store, &mut account, active, &reply, quota).await?,
            Err(refusal) => Err(refusal),
        },
        None => off(store, &mut account, active).await?,
    };
    if let Ok(change) = &change {
        audit(store, &id, change, actor).await?;
    }
    Ok(change)
}

/// The spec with its dates checked and normalised.
fn checked(spec: &VacationSpec) -> Result<Reply, VacationRefusal> {
    let (Some(from), Some(until)) = (date(&spec.from), date(&spec.until)) else {
        return Err(VacationRefusal::BadDate);
    };
    if from > until {
        return Err(VacationRefusal::DatesReversed { from, until });
    }
    if spec.message.trim().is_empty() {
        return Err(VacationRefusal::EmptyMessage);
    }
    let subject = spec
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    Ok(Reply {
        from,
        until,
        subject: subject.map(str::to_owned),
        message: spec.message.clone(),
    })
}

async fn on(
    store: &dyn Store,
    account: &mut Account,
    active: Option<SieveScript>,
    reply: &Reply,
    quota: ScriptQuota,
) -> Result<Result<Change, VacationRefusal>, StoreError> {
    let id = account.id.clone();
    let previous = match active {
        Some(s) if s.name == SCRIPT => account.settings.get(PREVIOUS).cloned(),
        Some(s) if sends_vacation(&s.content) => {
            return Ok(Err(VacationRefusal::OwnVacation(s.name)));
        }
        Some(s) => Some(s.name),
        None => None,
    };
    let text = script(reply, previous.as_deref());
    match store.put_script(&id, SCRIPT, &text, quota).await {
        Ok(()) => {}
        Err(StoreError::ScriptTooLarge { bytes, max }) => {
            return Ok(Err(VacationRefusal::TooLarge { bytes, max }));
        }
        Err(StoreError::TooManyScripts { max }) => {
            return Ok(Err(VacationRefusal::TooManyScripts { max }));
        }
        Err(e) => return Err(e),
    }
    store.set_active_script(&id, Some(SCRIPT)).await?;
    match &previous {
        Some(p) => account.settings.insert(PREVIOUS.into(), p.clone()),
        None => account.settings.remove(PREVIOUS),
    };
    store.update_account(account.clone()).await?;
    Ok(Ok(Change::On {
        from: reply.from.clone(),
        until: reply.until.clone(),
        previous,
    }))
}

async fn off(
    store: &dyn Store,
    account: &mut Account,
    active: Option<SieveScript>,
) -> Result<Result<Change, VacationRefusal>, StoreError> {
    let id = account.id.clone();
    if store.script(&id, SCRIPT).await?.is_none() {
        return Ok(Err(VacationRefusal::NotOn(id)));
    }
    let previous = account.settings.remove(PREVIOUS);
    let mut restored = None;
    if active.is_some_and(|s| s.name == SCRIPT) {
        restored = match &previous {
            Some(p) if store.script(&id, p).await?.is_some() => Some(p.clone()),
            _ => None,
        };
        store.set_active_script(&id, restored.as_deref()).await?;
    }
    store.delete_script(&id, SCRIPT).await?;
    store.update_account(account.clone()).await?;
    Ok(Ok(Change::Off { restored }))
}

async fn audit(
    store: &dyn Store,
    id: &str,
    change: &Change,
    actor: &Actor,
) -> Result<(), StoreError> {
    let mut fields = BTreeMap::from([("actor".to_string(), actor.name.clone())]);
    let (state, previous) = match change {
        Change::On {
            from,
            until,
            previous,
        } => {
            fields.insert("from".into(), from.clone());
            fields.insert("until".into(), until.clone());
            ("on", previous)
        }
        Change::Off { restored } => ("off", restored),
    };
    fields.insert("state".into(), state.into());
    if let Some(p) = previous {
        fields.insert("previous_script".into(), p.clone());
    }
    store
        .append_audit(AuditEvent {
            time: crate::now() * 1000,
            account: Some(id.to_string()),
            kind: EVENT.into(),
            ip: actor.ip.clone(),
            fields,
        })
        .await
}

/// `YYYY-MM-DD`, checked as a calendar date.
fn date(s: &str) -> Option<String> {
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    Some(d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(from: &str, until: &str, message: &str) -> VacationSpec {
        VacationSpec {
            from: from.into(),
            until: until.into(),
            subject: Some("  ".into()),
            message: message.into(),
        }
    }

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(date("2026-12-21").as_deref(), Some("2026-12-21"));
        assert_eq!(date("2026-02-30"), None);
        assert_eq!(date("21.12.2026"), None);
    }

    #[test]
    fn specs_are_checked_before_anything_is_stored() {
        let ok = checked(&spec("2026-12-21", "2026-12-31", "휴가 중입니다.")).expect("valid");
        assert_eq!(ok.subject, None, "a blank subject is no subject");
        assert_eq!(
            checked(&spec("2026-12-31", "2026-12-21", "휴가")),
            Err(VacationRefusal::DatesReversed {
                from: "2026-12-31".into(),
                until: "2026-12-21".into()
            })
        );
        assert_eq!(
            checked(&spec("2026-13-01", "2026-12-21", "휴가")),
            Err(VacationRefusal::BadDate)
        );
        assert_eq!(
            checked(&spec("2026-12-21", "2026-12-21", " \r\n")),
            Err(VacationRefusal::EmptyMessage)
        );
    }
}
