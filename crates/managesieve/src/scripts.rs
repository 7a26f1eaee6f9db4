//! The script commands of a signed-in connection (RFC 5804 §2.5-§2.12) on the store's
//! `ScriptStore`, with the quotas of `[sieve]`; every change is an audit event
//! (`sieve.put`, `sieve.activate`, `sieve.rename`, `sieve.delete`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use certmail_store::{AuditEvent, StoreError};

use crate::ManageSieveContext;
use crate::proto::{Code, Command, Response, response};
use crate::signin::SignedIn;

/// Runs a script command for `signed`; the whole answer (data lines and the final line).
pub(crate) async fn run(
    ctx: &ManageSieveContext,
    signed: &SignedIn,
    ip: IpAddr,
    command: Command,
) -> Vec<u8> {
    let account = signed.account.as_str();
    let store = ctx.store.as_ref();
    let result = match command {
        Command::HaveSpace { name, size } => have_space(ctx, account, &name, size).await,
        Command::PutScript { name, content } => match checked_text(ctx, content) {
            Ok(text) => store
                .put_script(account, &name, &text, ctx.settings.quota)
                .await
                .map(|()| audited(account, ip, "sieve.put", &[("script", &name)])),
            Err(refusal) => return refusal.to_bytes(),
        },
        Command::CheckScript { content } => match checked_text(ctx, content) {
            Ok(_) => Ok(Response::ok("The script is valid").into()),
            Err(refusal) => return refusal.to_bytes(),
        },
        Command::ListScripts => return list(ctx, account).await,
        Command::GetScript { name } => return get(ctx, account, &name).await,
        Command::SetActive { name } => {
            let active = (!name.is_empty()).then_some(name.as_str());
            store
                .set_active_script(account, active)
                .await
                .map(|()| audited(account, ip, "sieve.activate", &[("script", &name)]))
        }
        Command::DeleteScript { name } => store
            .delete_script(account, &name)
            .await
            .map(|()| audited(account, ip, "sieve.delete", &[("script", &name)])),
        Command::RenameScript { from, to } => {
            store.rename_script(account, &from, &to).await.map(|()| {
                let fields = [("script", from.as_str()), ("to", to.as_str())];
                audited(account, ip, "sieve.rename", &fields)
            })
        }
        _ => Ok(Response::no("Not a script command").into()),
    };
    let response = match result {
        Ok(done) => match done {
            Audited::Now(r) => r,
            Audited::Later(r, event) => {
                if let Err(e) = store.append_audit(event).await {
                    tracing::error!(error = %e, "could not write the audit log");
                }
                r
            }
        },
        Err(e) => refusal(&e),
    };
    response.to_bytes()
}

/// A success, with the audit event to write first when the command changed something.
enum Audited {
    Now(Response),
    Later(Response, AuditEvent),
}

impl From<Response> for Audited {
    fn from(r: Response) -> Self {
        Audited::Now(r)
    }
}

/// `OK`, after writing the audit event `kind` of `account`'s change.
fn audited(account: &str, ip: IpAddr, kind: &str, fields: &[(&str, &str)]) -> Audited {
    let event = AuditEvent {
        time: certmail_auth::now() * 1000,
        account: Some(account.to_owned()),
        kind: kind.to_owned(),
        ip: Some(ip.to_string()),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([("protocol".to_owned(), "managesieve".to_owned())])
            .collect::<BTreeMap<_, _>>(),
    };
    Audited::Later(Response::ok(""), event)
}

/// The script as UTF-8 text that compiles (RFC 5804 §2.6: a script that does not compile
/// is refused with the error in the NO text).
fn checked_text(ctx: &ManageSieveContext, content: Vec<u8>) -> Result<String, Response> {
    let Ok(text) = String::from_utf8(content) else {
        return Err(Response::no("The script is not UTF-8 (RFC 5228 §2.1)"));
    };
    let max = ctx.settings.quota.max_bytes;
    if text.len() as u64 > max {
        let text = format!(
            "The script has {} bytes; scripts may have at most {max} bytes",
            text.len()
        );
        return Err(Response::no_code(Code::QuotaMaxSize, text));
    }
    match certmail_sieve::compile(&text, &ctx.settings.limits) {
        Ok(_) => Ok(text),
        Err(e) => Err(Response::no(format!("The script has an error: {e}"))),
    }
}

async fn have_space(
    ctx: &ManageSieveContext,
    account: &str,
    name: &str,
    size: u64,
) -> Result<Audited, StoreError> {
    certmail_store::scripts::check_name(name)?;
    let scripts = ctx.store.list_scripts(account).await?;
    let replacing = scripts.iter().any(|s| s.name == name);
    ctx.settings.quota.check(size, scripts.len(), replacing)?;
    Ok(Response::ok("").into())
}

async fn list(ctx: &ManageSieveContext, account: &str) -> Vec<u8> {
    match ctx.store.list_scripts(account).await {
        Ok(scripts) => {
            let mut out = Vec::new();
            for s in scripts {
                let suffix = if s.active { " ACTIVE" } else { "" };
                response::data_line(&mut out, &[s.name.as_bytes()], suffix);
            }
            Response::ok("").encode(&mut out);
            out
        }
        Err(e) => refusal(&e).to_bytes(),
    }
}

async fn get(ctx: &ManageSieveContext, account: &str, name: &str) -> Vec<u8> {
    match ctx.store.script(account, name).await {
        Ok(Some(script)) => {
            // RFC 5804 §2.9: the script as a literal, then OK.
            let bytes = script.content.as_bytes();
            let mut out = format!("{{{}}}\r\n", bytes.len()).into_bytes();
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
            Response::ok("").encode(&mut out);
            out
        }
        Ok(None) => refusal(&StoreError::ScriptNotFound(name.to_owned())).to_bytes(),
        Err(e) => refusal(&e).to_bytes(),
    }
}

/// The store's refusal as a response code and a sentence (RFC 5804 §1.3).
fn refusal(e: &StoreError) -> Response {
    let text = crate::signin::capitalised(&e.to_string());
    match e {
        StoreError::ScriptNotFound(_) => Response::no_code(Code::NonExistent, text),
        StoreError::ScriptExists(_) => Response::no_code(Code::AlreadyExists, text),
        StoreError::ScriptActive(_) => Response::no_code(Code::Active, text),
        StoreError::ScriptTooLarge { .. } => Response::no_code(Code::QuotaMaxSize, text),
        StoreError::TooManyScripts { .. } => Response::no_code(Code::QuotaMaxScripts, text),
        e if e.is_user_error() => Response::no(text),
        e => {
            tracing::error!(error = %e, "managesieve: the store failed");
            Response::no_code(
                Code::TryLater,
                "The mail store is not available just now; try again in a minute",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use certmail_session::{DeviceKey, Protocol, SessionPolicy};
    use certmail_testkit::store::Failing;

    use super::*;

    #[tokio::test]
    async fn an_unavailable_store_is_trylater_and_its_refusals_have_their_codes()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let failing = Failing::default();
        let ctx = crate::testing::context(dir.path(), failing.clone())?;
        let ip = Ipv4Addr::LOCALHOST.into();
        let device = DeviceKey::new([7; 32], ip);
        let guard = ctx
            .registry
            .sign_in(
                "hong",
                device,
                Protocol::ManageSieve,
                SessionPolicy::Replace,
            )
            .await?;
        let ctx = Arc::new(ctx);
        let signed = SignedIn {
            account: "hong".into(),
            guard,
        };
        let get = Command::GetScript {
            name: "없음".into(),
        };
        let missing = run(&ctx, &signed, ip, get.clone()).await;
        assert!(
            missing.starts_with(b"NO (NONEXISTENT) \"No script named"),
            "{}",
            String::from_utf8_lossy(&missing)
        );
        failing
            .methods
            .lock()
            .expect("lock")
            .extend(["script", "list_scripts"]);
        for command in [get, Command::ListScripts] {
            let out = run(&ctx, &signed, ip, command).await;
            assert_eq!(
                String::from_utf8_lossy(&out),
                "NO (TRYLATER) \"The mail store is not available just now; try again in a minute\"\r\n"
            );
        }
        Ok(())
    }
}
