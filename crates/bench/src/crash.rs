//! `certmail-bench crash`: N rounds of `kill -9` under load, each followed by a restart
//! and a check that every change the daemon acknowledged before the kill held.
//!
//! Each round runs the load of [`crate::crash_load`] (SMTP submissions, IMAP APPENDs and
//! flag changes, all with client certificates) against a fresh daemon process on the same
//! store; a pseudo-random while (0.5–1.5 × the load time) after the round's first
//! acknowledgement, the daemon gets SIGKILL mid-load. It is restarted and every recipient's INBOX is read over IMAP: each
//! acknowledged message must be there exactly once with its bytes intact (APPEND:
//! `BODY[]` identical; SMTP: `BODY[]` ends with the submitted message, after the header
//! the server adds), each acknowledged `\Flagged` must be set, and nothing an acknowledged
//! EXPUNGE removed may come back. The INBOXes are then emptied (STORE `\Deleted`, EXPUNGE:
//! a change the next round checks in turn).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::task::JoinSet;

use crate::crash_load::{self, Ledger, Target, message_id, ok};
use crate::daemon::DaemonProcess;
use crate::install::{self, Account, Setup};
use crate::message::Rng;
use crate::report::percentile;

/// `certmail-bench crash` as the command line gave it.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    /// The certmail binary.
    pub certmail: PathBuf,
    /// Kill -9 rounds.
    pub rounds: u64,
    /// The mean load time before the kill.
    pub load: Duration,
    /// Concurrent SMTP clients (each its own sender account and certificate).
    pub smtp_clients: usize,
    /// Concurrent IMAP clients (each signed in as its own recipient).
    pub imap_clients: usize,
    /// Bytes per message.
    pub size: usize,
    /// The longest wait for any one reply.
    pub timeout: Duration,
    /// Keep the installation and print its path.
    pub keep_dir: bool,
}

/// What the rounds found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Acknowledged messages not found after the restart.
    pub lost: u64,
    /// Acknowledged messages found more than once.
    pub duplicated: u64,
    /// Acknowledged messages found with other bytes.
    pub altered: u64,
    /// Acknowledged `\Flagged` not set after the restart.
    pub flags_lost: u64,
    /// Messages an acknowledged EXPUNGE removed, found again.
    pub resurrected: u64,
    /// Messages found that were in flight at the kill (allowed either way).
    pub unacknowledged_found: u64,
    /// Messages removed by acknowledged EXPUNGEs (checked the round after).
    pub expunged: u64,
    /// The first few problems, in words.
    pub problems: Vec<String>,
}

impl Findings {
    fn problem(&mut self, text: String) {
        if self.problems.len() < 20 {
            self.problems.push(text);
        }
    }

    /// Whether any acknowledged change did not hold.
    pub fn any_loss(&self) -> bool {
        self.lost + self.duplicated + self.altered + self.flags_lost + self.resurrected > 0
    }
}

/// Runs the rounds, prints the summary; an error when any acknowledged change was lost.
pub async fn run(opts: CrashOptions) -> anyhow::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix("certmail-bench-crash-")
        .tempdir()?;
    if opts.keep_dir {
        tmp.disable_cleanup(true);
        eprintln!("keeping {}", tmp.path().display());
    }
    let (senders, recipients) = (opts.smtp_clients, opts.imap_clients);
    let bin = opts.certmail.clone();
    let inst = tokio::task::spawn_blocking(move || {
        install::write_files(tmp, &bin, (senders, recipients), "warn", |_| {})
    })
    .await??;
    inst.create_accounts().await?;
    let started = Instant::now();
    let outcome = rounds(&opts, &inst).await;
    let (ledger, findings, restarts) = outcome?;
    print_summary(&opts, &ledger, &findings, restarts, started.elapsed());
    anyhow::ensure!(
        !findings.any_loss(),
        "acknowledged changes did not survive kill -9: {}",
        findings.problems.join("; ")
    );
    Ok(())
}

async fn start(opts: &CrashOptions, inst: &Setup) -> anyhow::Result<DaemonProcess> {
    let ready = Duration::from_secs(60);
    DaemonProcess::start(
        &opts.certmail,
        &inst.install.config_path,
        &inst.log,
        "submissions",
        ready,
    )
    .await
}

type RoundsOutcome = (Ledger, Findings, Vec<Duration>);

async fn rounds(opts: &CrashOptions, inst: &Setup) -> anyhow::Result<RoundsOutcome> {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut findings = Findings::default();
    let mut restarts = Vec::new();
    let mut validity: HashMap<usize, String> = HashMap::new();
    let recipients = Arc::new(inst.recipients.clone());
    let mut rng = Rng::seeded(0x0063_7261_7368);
    let mut daemon = start(opts, inst).await?;
    for round in 1..=opts.rounds {
        let clients = crash_load::Load {
            target: target(opts, inst, &daemon, round)?,
            recipients: recipients.clone(),
            ledger: ledger.clone(),
        };
        let mut load = JoinSet::new();
        for (i, sender) in inst.senders.iter().enumerate() {
            load.spawn(clients.clone().smtp_client(i, sender.clone()));
        }
        for i in 0..opts.imap_clients {
            load.spawn(clients.clone().imap_client(opts.smtp_clients + i, i));
        }
        // The kill comes a while after the first acknowledgement: sign-ins can take
        // seconds on a busy machine, and a kill before any load would prove nothing.
        first_acknowledgement(&ledger, opts.timeout)
            .await
            .with_context(|| format!("round {round}"))?;
        let share = 0.5 + (rng.next_u64() % 1000) as f64 / 1000.0;
        tokio::time::sleep(opts.load.mul_f64(share)).await;
        daemon.kill9().await?;
        load.abort_all();
        while load.join_next().await.is_some() {}
        let restart = Instant::now();
        daemon = start(opts, inst)
            .await
            .with_context(|| format!("restarting after kill {round}"))?;
        restarts.push(restart.elapsed());
        let target = self::target(opts, inst, &daemon, round)?;
        for (index, account) in recipients.iter().enumerate() {
            let seen = validity.get(&index).cloned();
            let now = check_account(&target, account, index, &ledger, &mut findings, seen)
                .await
                .with_context(|| format!("round {round}: checking {}", account.id))
                .map_err(|e| crate::daemon::with_log_tail(e, &inst.log))?;
            validity.insert(index, now);
        }
        if round % 10 == 0 || round == opts.rounds {
            eprintln!(
                "crash: {round}/{} rounds, {} problems",
                opts.rounds,
                findings.problems.len()
            );
        }
    }
    daemon.stop(Duration::from_secs(10)).await;
    let ledger = std::mem::take(&mut *ledger.lock().unwrap_or_else(|p| p.into_inner()));
    Ok((ledger, findings, restarts))
}

/// Waits (at most `timeout`) until the daemon acknowledges one more message than now.
async fn first_acknowledgement(ledger: &Mutex<Ledger>, timeout: Duration) -> anyhow::Result<()> {
    let count = || {
        let l = ledger.lock().unwrap_or_else(|p| p.into_inner());
        l.smtp_acked + l.append_acked
    };
    let before = count();
    tokio::time::timeout(timeout, async {
        while count() == before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .context("the load got no acknowledgement in time: the clients could not sign in or send")
}

fn target(
    opts: &CrashOptions,
    inst: &Setup,
    daemon: &DaemonProcess,
    round: u64,
) -> anyhow::Result<Target> {
    Ok(Target {
        submissions: daemon
            .listener("submissions")
            .context("no submissions listener")?,
        imaps: daemon.listener("imaps").context("no imaps listener")?,
        server_ca: inst.install.server_ca.clone(),
        size: opts.size,
        timeout: opts.timeout,
        round,
    })
}

/// One message of the INBOX as `UID FETCH 1:* (FLAGS BODY.PEEK[])` showed it.
struct Found {
    line: String,
    bytes: Vec<u8>,
}

/// Reads `account`'s INBOX after a restart and checks it against the ledger (see the
/// module's docs), then empties it. Returns the INBOX's UIDVALIDITY, which must not
/// change between rounds (`validity`).
async fn check_account(
    target: &Target,
    account: &Account,
    index: usize,
    ledger: &Mutex<Ledger>,
    findings: &mut Findings,
    validity: Option<String>,
) -> anyhow::Result<String> {
    let mut c = crash_load::sign_in(target, account, target.imaps).await?;
    c.keep_literals();
    let select = c.command_ok("SELECT INBOX").await?;
    let now = select
        .untagged
        .iter()
        .find_map(|l| {
            l.split("[UIDVALIDITY ")
                .nth(1)?
                .split(']')
                .next()
                .map(str::to_owned)
        })
        .context("SELECT gave no UIDVALIDITY")?;
    anyhow::ensure!(
        validity.as_ref().is_none_or(|v| *v == now),
        "UIDVALIDITY changed from {validity:?} to {now}: every UID was invalidated"
    );
    let fetch = c.command_ok("UID FETCH 1:* (FLAGS BODY.PEEK[])").await?;
    let mut found: HashMap<String, Vec<Found>> = HashMap::new();
    for (line, bytes) in fetch.untagged.into_iter().zip(fetch.literals) {
        if let Some(id) = message_id(&bytes) {
            found.entry(id).or_default().push(Found { line, bytes });
        }
    }
    judge(
        &mut ledger.lock().unwrap_or_else(|p| p.into_inner()),
        index,
        &found,
        findings,
    );
    if !found.is_empty() {
        c.command_ok("UID STORE 1:* +FLAGS.SILENT (\\Deleted)")
            .await?;
        let expunge = c.command("EXPUNGE").await?;
        if ok(&expunge.tagged) {
            let mut ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
            ledger.expunged.extend(found.keys().cloned());
            findings.expunged += found.len() as u64;
        }
    }
    let _ = c.command("LOGOUT").await;
    Ok(now)
}

/// Compares what one account's INBOX holds with what the ledger says it must; forgets
/// the account's checked entries.
fn judge(
    ledger: &mut Ledger,
    index: usize,
    found: &HashMap<String, Vec<Found>>,
    findings: &mut Findings,
) {
    let mine: Vec<String> = ledger
        .pending
        .iter()
        .filter(|(_, a)| a.account == index)
        .map(|(id, _)| id.clone())
        .collect();
    for id in &mine {
        let acked = ledger.pending.remove(id).expect("listed just above");
        let flagged = ledger.flagged.remove(id);
        match found.get(id).map(Vec::as_slice) {
            None | Some([]) => {
                findings.lost += 1;
                findings.problem(format!("{id} was acknowledged and is gone"));
            }
            Some([one]) => {
                let intact = if acked.appended {
                    one.bytes == *acked.message
                } else {
                    one.bytes.ends_with(&acked.message)
                };
                if !intact {
                    findings.altered += 1;
                    findings.problem(format!("{id} came back with other bytes"));
                }
                if flagged && !one.line.contains("\\Flagged") {
                    findings.flags_lost += 1;
                    findings.problem(format!("{id} lost its acknowledged \\Flagged"));
                }
            }
            Some(many) => {
                findings.duplicated += 1;
                findings.problem(format!("{id} is there {} times", many.len()));
            }
        }
    }
    for id in found.keys() {
        if ledger.expunged.contains(id) {
            findings.resurrected += 1;
            findings.problem(format!("{id} was expunged and came back"));
        } else if !mine.contains(id) {
            findings.unacknowledged_found += 1;
        }
    }
}

fn print_summary(
    opts: &CrashOptions,
    ledger: &Ledger,
    f: &Findings,
    mut restarts: Vec<Duration>,
    took: Duration,
) {
    restarts.sort();
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!("{}", crate::machine_line());
    println!(
        "crash: {} rounds of kill -9 under load ({} SMTP + {} IMAP clients, {} B messages, \
         ~{} ms of load per round), {:.0} s in all",
        opts.rounds,
        opts.smtp_clients,
        opts.imap_clients,
        opts.size,
        opts.load.as_millis(),
        took.as_secs_f64()
    );
    println!();
    println!("| acknowledged | count | lost | duplicated | altered |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| messages (SMTP 250 + APPEND OK) | {} + {} | {} | {} | {} |",
        ledger.smtp_acked, ledger.append_acked, f.lost, f.duplicated, f.altered
    );
    println!(
        "| flag changes (UID STORE OK) | {} | {} | — | — |",
        ledger.flags_acked, f.flags_lost
    );
    println!(
        "| expunged (EXPUNGE OK) | {} | {} came back | — | — |",
        f.expunged, f.resurrected
    );
    println!();
    println!(
        "in flight at the kill and found after it (allowed): {}; restart until listening: \
         p50 {}, max {}",
        f.unacknowledged_found,
        ms(percentile(&restarts, 50.0)),
        ms(restarts.last().copied().unwrap_or_default())
    );
    for p in &f.problems {
        println!("problem: {p}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash_load::Acked;

    fn acked(account: usize, message: &[u8], appended: bool) -> Acked {
        Acked {
            account,
            message: Arc::new(message.to_vec()),
            appended,
        }
    }

    fn found(line: &str, bytes: &[u8]) -> Found {
        Found {
            line: line.to_owned(),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn every_kind_of_loss_is_counted_and_named() {
        let mut ledger = Ledger::default();
        for (id, appended) in [("<kept>", true), ("<gone>", true), ("<twice>", false)] {
            ledger
                .pending
                .insert(id.into(), acked(0, "홍길동 body".as_bytes(), appended));
        }
        ledger
            .pending
            .insert("<changed>".into(), acked(0, b"original", true));
        ledger
            .pending
            .insert("<other account>".into(), acked(1, b"x", true));
        ledger.flagged.insert("<kept>".into());
        ledger.expunged.insert("<old>".into());
        let mut inbox: HashMap<String, Vec<Found>> = HashMap::new();
        inbox.insert(
            "<kept>".into(),
            vec![found("* 1 FETCH (FLAGS ())", "홍길동 body".as_bytes())],
        );
        let received = "Received: by x\r\n홍길동 body".as_bytes();
        let twice = vec![found("* 2 FETCH", received), found("* 3 FETCH", received)];
        inbox.insert("<twice>".into(), twice);
        inbox.insert("<changed>".into(), vec![found("* 4 FETCH", b"0riginal")]);
        inbox.insert("<old>".into(), vec![found("* 5 FETCH", b"x")]);
        inbox.insert("<in flight>".into(), vec![found("* 6 FETCH", b"x")]);
        let mut findings = Findings::default();
        judge(&mut ledger, 0, &inbox, &mut findings);
        assert_eq!(
            (
                findings.lost,
                findings.duplicated,
                findings.altered,
                findings.flags_lost
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(
            (findings.resurrected, findings.unacknowledged_found),
            (1, 1)
        );
        assert!(findings.any_loss());
        let problems = findings.problems.join("\n");
        for id in ["<gone>", "<twice>", "<changed>", "<kept>", "<old>"] {
            assert!(problems.contains(id), "{id} named in {problems}");
        }
        // The other account's entry waits for its own check.
        assert_eq!(ledger.pending.len(), 1);
    }

    #[test]
    fn an_intact_inbox_is_no_loss() {
        let mut ledger = Ledger::default();
        ledger
            .pending
            .insert("<a>".into(), acked(0, b"body", false));
        ledger.flagged.insert("<a>".into());
        let mut inbox: HashMap<String, Vec<Found>> = HashMap::new();
        let line = "* 1 FETCH (UID 1 FLAGS (\\Flagged) BODY[] {20})";
        inbox.insert("<a>".into(), vec![found(line, b"Received: by x\r\nbody")]);
        let mut findings = Findings::default();
        judge(&mut ledger, 0, &inbox, &mut findings);
        assert!(!findings.any_loss(), "{:?}", findings.problems);
        assert!(ledger.pending.is_empty() && ledger.flagged.is_empty());
    }
}
