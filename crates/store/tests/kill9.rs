//! A `kill -9` of a writer process loses none of the writes it acknowledged.
//!
//! This test has its own `main` (`harness = false`): run normally it is the parent; run
//! with `CERTMAIL_STORE_KILL9_CHILD=DIR` it is the writer child. The child appends messages
//! from several tasks and prints `ack UID N` after each append returns. The parent reads
//! some acknowledgements, sends SIGKILL (`Child::kill`), reopens the store and checks that
//! every acknowledged message is there with its body.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{body, hong, message};

const CHILD_ENV: &str = "CERTMAIL_STORE_KILL9_CHILD";
/// Acknowledgements to see before the kill.
const ACKS_BEFORE_KILL: usize = 60;
/// Concurrent appenders in the child.
const CHILD_WRITERS: u32 = 4;
/// Longest wait for one line from the child.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match std::env::var_os(CHILD_ENV) {
        Some(dir) => runtime.block_on(writer_child(Path::new(&dir))),
        None => {
            runtime.block_on(parent());
            println!("test kill9_loses_no_acknowledged_write ... ok");
        }
    }
}

/// The child: append forever, acknowledging each durable append on stdout.
async fn writer_child(dir: &Path) {
    let store = common::open(dir).await;
    let tasks: Vec<_> = (0..CHILD_WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in (w..).step_by(CHILD_WRITERS as usize) {
                    let (_, uid, _) = store
                        .append("hong", "INBOX", message(n))
                        .await
                        .expect("append in child");
                    let mut out = std::io::stdout().lock();
                    // The parent stops reading only by killing us; a write error means it died.
                    if writeln!(out, "ack {uid} {n}")
                        .and_then(|_| out.flush())
                        .is_err()
                    {
                        std::process::exit(1);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
}

/// Parses one complete `ack UID N` line.
fn parse_ack(line: &[u8]) -> (u32, u32) {
    let text = std::str::from_utf8(line).expect("ack line is UTF-8");
    let mut parts = text.trim_end().split(' ');
    assert_eq!(
        parts.next(),
        Some("ack"),
        "unexpected child output {text:?}"
    );
    let uid = parts.next().and_then(|p| p.parse().ok()).expect("uid");
    let n = parts.next().and_then(|p| p.parse().ok()).expect("n");
    (uid, n)
}

async fn parent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    store.create_account(hong()).await.expect("account");
    common::close(store);

    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn writer child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                // A line cut by the kill has no newline and was never fully acknowledged.
                Ok(_) if line.ends_with(b"\n") => {
                    if lines_tx.send(line).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    });

    let mut acks = Vec::new();
    while acks.len() < ACKS_BEFORE_KILL {
        let line = lines
            .recv_timeout(LINE_TIMEOUT)
            .expect("child acknowledges appends");
        acks.push(parse_ack(&line));
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap child");
    assert_eq!(
        status.signal(),
        Some(9),
        "child died of SIGKILL, not on its own: {status:?}"
    );
    reader.join().expect("reader thread");
    // Everything printed before the kill was acknowledged too.
    acks.extend(lines.try_iter().map(|line| parse_ack(&line)));

    let store = common::open(dir.path()).await;
    let stored = store
        .messages("hong", "INBOX", 1..=u32::MAX)
        .await
        .expect("read after crash");
    for (uid, n) in &acks {
        let meta = stored
            .iter()
            .find(|m| m.uid == *uid)
            .unwrap_or_else(|| panic!("acknowledged UID {uid} (message {n}) lost"));
        let got = store
            .message_body("hong", &meta.blob)
            .await
            .expect("acknowledged body readable");
        assert_eq!(got, body(*n), "UID {uid} holds message {n}");
    }
    let mut uids: Vec<u32> = acks.iter().map(|a| a.0).collect();
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), acks.len(), "no UID acknowledged twice");
    // The store still takes writes after recovery.
    let (_, uid, _) = store
        .append("hong", "INBOX", message(0))
        .await
        .expect("append after crash");
    assert!(uids.iter().all(|u| *u < uid));
    eprintln!(
        "kill9: {} acknowledged appends all present after SIGKILL",
        acks.len()
    );
}
