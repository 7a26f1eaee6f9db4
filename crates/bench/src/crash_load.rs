//! The load of one `certmail-bench crash` round and the ledger of what the daemon
//! acknowledged under it.
//!
//! SMTP clients (port 465, client certificate + AUTH PLAIN) submit messages to the
//! recipients in turn; IMAP clients (port 993, client certificate + AUTHENTICATE PLAIN,
//! each signed in as one recipient) APPEND messages to their INBOX and set `\Flagged` on
//! each with `UID STORE`. A change enters the [`Ledger`] only once the daemon has answered
//! it with success (250 after DATA, a tagged OK); anything in flight at the kill is left
//! out, and may or may not be found after the restart.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::SmtpClient;
use crate::imap_client::{self, SignIn};
use crate::install::{Account, DOMAIN};
use crate::message::{self, Envelope, Rng};

/// A message the daemon acknowledged, to be found after the restart.
#[derive(Debug, Clone)]
pub struct Acked {
    /// The recipient (index into the installation's recipients) whose INBOX holds it.
    pub account: usize,
    /// The message as sent.
    pub message: Arc<Vec<u8>>,
    /// APPENDed (stored exactly as sent) rather than submitted over SMTP (stored after
    /// the Received header the server adds).
    pub appended: bool,
}

/// What the daemon acknowledged and must still hold after a kill.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Acknowledged since the last check, by Message-ID.
    pub pending: HashMap<String, Acked>,
    /// Message-IDs whose `\Flagged` (UID STORE) was acknowledged since the last check.
    pub flagged: HashSet<String>,
    /// Message-IDs an acknowledged EXPUNGE removed: they must never come back.
    pub expunged: HashSet<String>,
    /// Acknowledged in all: messages over SMTP, APPENDs, flag changes.
    pub smtp_acked: u64,
    /// See `smtp_acked`.
    pub append_acked: u64,
    /// See `smtp_acked`.
    pub flags_acked: u64,
}

/// Where the round's clients connect, and as whom.
#[derive(Debug, Clone)]
pub struct Target {
    /// The submissions (465) listener.
    pub submissions: SocketAddr,
    /// The imaps (993) listener.
    pub imaps: SocketAddr,
    /// The CA of the server certificate.
    pub server_ca: std::path::PathBuf,
    /// Bytes per message.
    pub size: usize,
    /// The longest wait for any one reply.
    pub timeout: Duration,
    /// The round (part of every Message-ID, so none repeats across rounds).
    pub round: u64,
}

/// The `Message-ID` of a message the bench built (`<bench.SEQ.RANDOM@domain>`).
pub fn message_id(message: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(message.get(..message.len().min(64 * 1024))?).ok()?;
    let start = text.find("\r\nMessage-ID: <")? + "\r\nMessage-ID: ".len();
    let end = start + text[start..].find('>')? + 1;
    Some(text[start..end].to_owned())
}

/// A message from `from` to `to`, numbered so that no two in the whole run share a
/// Message-ID.
fn build(target: &Target, client: usize, n: u64, from: &Account, to: &Account) -> Vec<u8> {
    let seq = target.round * 100_000_000 + client as u64 * 1_000_000 + n;
    let env = Envelope {
        from: from.into(),
        to: to.into(),
        seq,
        domain: DOMAIN,
    };
    message::build(&env, target.size, &mut Rng::seeded(seq))
}

/// What every client of a round shares: where to connect, the recipients and the ledger.
#[derive(Debug, Clone)]
pub struct Load {
    /// Where the round's clients connect.
    pub target: Target,
    /// The installation's recipients.
    pub recipients: Arc<Vec<Account>>,
    /// What the daemon acknowledged.
    pub ledger: Arc<Mutex<Ledger>>,
}

impl Load {
    /// One SMTP client: submits messages to the recipients in turn until the connection
    /// breaks (the kill). Returns the error that ended it.
    pub async fn smtp_client(self, client: usize, sender: Account) -> anyhow::Error {
        let (target, recipients) = (&self.target, &self.recipients);
        until_broken("SMTP", async {
            let cfg = crate::tls::client_config(&target.server_ca, &sender.cert, &sender.key)?;
            let tls = crate::tls::connect(target.submissions, cfg).await?;
            let mut smtp = SmtpClient::start(tls, "crash.bench.go.kr", target.timeout).await?;
            smtp.auth_plain(&sender.id, &sender.password).await?;
            for n in 0.. {
                let to = n as usize % recipients.len();
                let msg = build(target, client, n, &sender, &recipients[to]);
                let payload = message::data_payload(&msg);
                let to_addr = &recipients[to].address;
                if let Ok(()) = smtp
                    .submit(&sender.address, to_addr, msg.len(), &payload)
                    .await?
                {
                    acknowledge(&self.ledger, msg, to, false);
                }
            }
            anyhow::Ok(())
        })
        .await
    }

    /// One IMAP client signed in as recipient `account`: APPENDs to INBOX and flags what
    /// it appended, until the connection breaks. Returns the error that ended it.
    pub async fn imap_client(self, client: usize, account: usize) -> anyhow::Error {
        let (target, me) = (&self.target, &self.recipients[account]);
        until_broken("IMAP", async {
            let mut c = sign_in(target, me, target.imaps).await?;
            c.command_ok("SELECT INBOX").await?;
            for n in 0.. {
                let msg = build(target, client, n, me, me);
                let mut command = format!("APPEND INBOX {{{}+}}\r\n", msg.len()).into_bytes();
                command.extend_from_slice(&msg);
                let answer = c.command_bytes(&command).await?;
                if !ok(&answer.tagged) {
                    continue;
                }
                let id = acknowledge(&self.ledger, msg, account, true);
                let Some(uid) = appended_uid(&answer.tagged) else {
                    continue;
                };
                let store = c
                    .command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Flagged)"))
                    .await?;
                if let (true, Some(id)) = (ok(&store.tagged), id) {
                    let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
                    ledger.flagged.insert(id);
                    ledger.flags_acked += 1;
                }
            }
            anyhow::Ok(())
        })
        .await
    }
}

/// Runs a client's loop; the error that ended it (`what` names the client if it stopped
/// without one).
async fn until_broken(
    what: &str,
    run: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Error {
    match run.await {
        Ok(()) => anyhow::anyhow!("the {what} client stopped"),
        Err(e) => e,
    }
}

/// Connects to `imaps` with `account`'s certificate and signs in with its password.
pub async fn sign_in(
    target: &Target,
    account: &Account,
    imaps: SocketAddr,
) -> anyhow::Result<imap_client::ImapConn> {
    let cfg = crate::tls::client_config(&target.server_ca, &account.cert, &account.key)?;
    let from = IpAddr::from([127, 0, 0, 1]);
    let mut c = imap_client::connect(from, imaps, cfg, target.timeout).await?;
    c.sign_in(SignIn::Plain, &account.id, &account.password)
        .await?;
    Ok(c)
}

/// Notes an acknowledged message; its Message-ID.
fn acknowledge(
    ledger: &Mutex<Ledger>,
    message: Vec<u8>,
    account: usize,
    appended: bool,
) -> Option<String> {
    let id = message_id(&message)?;
    let mut ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
    if appended {
        ledger.append_acked += 1;
    } else {
        ledger.smtp_acked += 1;
    }
    let acked = Acked {
        account,
        message: Arc::new(message),
        appended,
    };
    ledger.pending.insert(id.clone(), acked);
    Some(id)
}

/// Whether a tagged line says OK.
pub fn ok(tagged: &str) -> bool {
    tagged
        .split(' ')
        .nth(1)
        .is_some_and(|s| s.eq_ignore_ascii_case("OK"))
}

/// The UID of `… OK [APPENDUID validity uid] …` (RFC 4315).
fn appended_uid(tagged: &str) -> Option<u32> {
    let rest = &tagged[tagged.find("[APPENDUID ")? + "[APPENDUID ".len()..];
    rest.split([' ', ']']).nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_message_ids_and_appended_uids() {
        let msg = b"From: a\r\nMessage-ID: <bench.7.00ff@bench.go.kr>\r\n\r\nbody";
        assert_eq!(
            message_id(msg).as_deref(),
            Some("<bench.7.00ff@bench.go.kr>")
        );
        assert_eq!(message_id(b"Subject: x\r\n\r\n"), None);
        assert_eq!(
            appended_uid("b3 OK [APPENDUID 1764 42] APPEND done"),
            Some(42)
        );
        assert_eq!(appended_uid("b3 OK APPEND done"), None);
        assert!(ok("b3 OK done") && !ok("b3 NO [OVERQUOTA] full"));
    }
}
