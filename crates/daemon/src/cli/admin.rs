//! Runs `certmail account|cert …`: builds the request, sends it to the running daemon or
//! executes it on the store directly, prints the answer.

use std::io::BufRead as _;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;

use crate::admin::{NewAccount, Request, Response};
use crate::cli::args::{
    AccountCommand, AliasCommand, CertCommand, DeviceCommand, KindArg, MailboxCommand,
    SessionCommand,
};
use crate::cli::client::{self, dispatch};
use crate::cli::output::{EXIT_NOT_RUNNING, EXIT_REFUSED, exit_code, print};
use certmail_store::AccountKind;

/// Runs an account subcommand; returns the process exit code.
pub fn account(config_path: &Path, cmd: AccountCommand) -> anyhow::Result<u8> {
    let (req, json) = match cmd {
        AccountCommand::Add(a) => {
            let password = password_from_stdin(a.password_stdin)?;
            let new = NewAccount {
                id: a.id,
                name: a.name,
                organisation: a.organisation,
                addresses: a.addresses,
                foreign: a.foreign,
                approve: a.approve,
                kind: match a.kind {
                    KindArg::Person => AccountKind::Person,
                    KindArg::Institution => AccountKind::Institution,
                },
                password,
            };
            (Request::AccountAdd(new), a.out.json)
        }
        AccountCommand::Approve(t) => (Request::AccountApprove { id: t.id }, t.out.json),
        AccountCommand::Disable(t) => (Request::AccountDisable { id: t.id }, t.out.json),
        AccountCommand::Delete {
            id,
            yes,
            keep_mail,
            out,
        } => {
            if !yes && !confirmed(&id)? {
                let resp = Response::fail(
                    "not_confirmed",
                    format!(
                        "account {id} was not deleted: confirm by typing its id on a terminal, \
                         or pass --yes"
                    ),
                );
                print(&resp, out.json);
                return Ok(EXIT_REFUSED);
            }
            let keep_mail = keep_mail
                .map(|d| crate::cli::ops::absolute(&d).map(|p| p.display().to_string()))
                .transpose()?;
            (Request::AccountDelete { id, keep_mail }, out.json)
        }
        AccountCommand::Vacation(v) => (vacation_request(&v)?, v.out.json),
        AccountCommand::Totp { action, id, out } => {
            let resp = dispatch(config_path, Request::AccountTotp { id, action })?;
            return Ok(crate::cli::qr::print_totp(&resp, out.json));
        }
        AccountCommand::Lock(t) => (Request::AccountLock { id: t.id }, t.out.json),
        AccountCommand::Unlock(t) => (Request::AccountUnlock { id: t.id }, t.out.json),
        AccountCommand::Role {
            id,
            organisation,
            out,
            ..
        } => (Request::AccountRole { id, organisation }, out.json),
        AccountCommand::Networks { id, cidrs, out } => {
            (Request::AccountNetworks { id, cidrs }, out.json)
        }
        AccountCommand::Passwd {
            id,
            password_stdin,
            out,
        } => {
            let password = password_from_stdin(password_stdin)?;
            (Request::AccountPasswd { id, password }, out.json)
        }
        AccountCommand::Show(t) => (Request::AccountShow { id: t.id }, t.out.json),
        AccountCommand::List(out) => (Request::AccountList, out.json),
    };
    finish(config_path, req, json)
}

/// Runs a cert subcommand; returns the process exit code.
pub fn cert(config_path: &Path, cmd: CertCommand) -> anyhow::Result<u8> {
    let (req, json) = match cmd {
        CertCommand::Bind { account, file, out } => (
            Request::CertBind {
                account,
                cert_b64: read_b64(&file)?,
            },
            out.json,
        ),
        CertCommand::Unbind { account, cert, out } => {
            let spki_sha256 = if Path::new(&cert).is_file() {
                let bytes = std::fs::read(&cert)?;
                let der = certmail_auth::cert_der_from_file_bytes(&bytes)?;
                let spki = certmail_pki::spki_sha256_of(&der)
                    .ok_or_else(|| anyhow::anyhow!("{cert} is not a readable certificate"))?;
                hex::encode(spki)
            } else {
                cert
            };
            (
                Request::CertUnbind {
                    account,
                    spki_sha256,
                },
                out.json,
            )
        }
        CertCommand::List { account, out } => (Request::CertList { account }, out.json),
        CertCommand::Inspect { file, account, out } => (
            Request::CertInspect {
                cert_b64: read_b64(&file)?,
                account,
            },
            out.json,
        ),
    };
    finish(config_path, req, json)
}

/// Runs an alias subcommand; returns the process exit code.
pub fn alias(config_path: &Path, cmd: AliasCommand) -> anyhow::Result<u8> {
    let (req, json) = match cmd {
        AliasCommand::Set {
            address,
            members,
            out,
        } => (Request::AliasSet { address, members }, out.json),
        AliasCommand::Remove { address, out } => (Request::AliasRemove { address }, out.json),
        AliasCommand::List(out) => (Request::AliasList, out.json),
    };
    finish(config_path, req, json)
}

/// Runs a mailbox subcommand; returns the process exit code.
pub fn mailbox(config_path: &Path, cmd: MailboxCommand) -> anyhow::Result<u8> {
    let MailboxCommand::Share {
        target,
        to,
        rights,
        revoke,
        out,
    } = cmd;
    let req = Request::MailboxShare {
        target,
        to,
        rights,
        revoke,
    };
    finish(config_path, req, out.json)
}

/// `certmail reload`: asks the running daemon to reload and waits for its answer. The
/// configuration file is checked here first, so a broken one fails with every problem.
pub fn reload(config_path: &Path, json: bool) -> anyhow::Result<u8> {
    let config = match crate::config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            let resp = Response::fail(
                "invalid_config",
                format!("{e}not reloaded: the daemon keeps its current configuration"),
            );
            print(&resp, json);
            return Ok(EXIT_REFUSED);
        }
    };
    let Some(resp) = client::send(&config.server.admin_socket(), &Request::Reload)? else {
        let resp = Response::fail(
            "not_running",
            format!(
                "the daemon is not running (no admin socket at {})",
                config.server.admin_socket().display()
            ),
        );
        print(&resp, json);
        return Ok(EXIT_NOT_RUNNING);
    };
    print(&resp, json);
    Ok(exit_code(&resp))
}

/// Runs a session subcommand; returns the process exit code.
pub fn session(config_path: &Path, cmd: SessionCommand) -> anyhow::Result<u8> {
    let (req, json) = match cmd {
        SessionCommand::List(out) => (Request::SessionList, out.json),
        SessionCommand::Kick { account, out } => (Request::SessionKick { account }, out.json),
    };
    finish(config_path, req, json)
}

/// Runs a device subcommand; returns the process exit code.
pub fn device(config_path: &Path, cmd: DeviceCommand) -> anyhow::Result<u8> {
    let (req, json) = match cmd {
        DeviceCommand::List { account, out } => (Request::DeviceList { account }, out.json),
        DeviceCommand::Forget {
            account,
            device,
            out,
        } => (Request::DeviceForget { account, device }, out.json),
    };
    finish(config_path, req, json)
}

fn finish(config_path: &Path, req: Request, json: bool) -> anyhow::Result<u8> {
    let resp = dispatch(config_path, req)?;
    print(&resp, json);
    Ok(exit_code(&resp))
}

/// The request of `account vacation`, the message read from its file (at most 1 MiB,
/// the most `[sieve] max_script_size` allows).
fn vacation_request(v: &crate::cli::args::VacationArgs) -> anyhow::Result<Request> {
    use crate::admin::vacation::VacationSpec;
    let vacation = match (&v.from, &v.until, &v.message) {
        (Some(from), Some(until), Some(path)) if !v.off => {
            let size = std::fs::metadata(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .len();
            anyhow::ensure!(
                size <= 1024 * 1024,
                "{} is larger than 1 MiB",
                path.display()
            );
            let message = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {} as UTF-8 text", path.display()))?;
            Some(VacationSpec {
                from: from.clone(),
                until: until.clone(),
                subject: v.subject.clone(),
                message,
            })
        }
        _ => None,
    };
    Ok(Request::AccountVacation {
        id: v.id.clone(),
        vacation,
    })
}

fn read_b64(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Asks on the terminal for the account id; `false` without a terminal or on any other
/// answer.
fn confirmed(id: &str) -> anyhow::Result<bool> {
    use std::io::{IsTerminal as _, Write as _};
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("Delete account {id} with all its mail? Type its id to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == id)
}

/// The password on standard input (one line) when `--password-stdin` was given.
fn password_from_stdin(given: bool) -> anyhow::Result<Option<String>> {
    if !given {
        return Ok(None);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(!pw.is_empty(), "no password on standard input");
    Ok(Some(pw))
}
