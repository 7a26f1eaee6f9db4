//! A node killed with SIGKILL under SMTP load loses no acknowledged message (issue 17):
//! four of Python's smtplib connections deliver numbered messages to 홍길동 through node
//! A's MX listener; node A dies mid-run; every message node A answered `250` for is then
//! read back through node B (imaplib), once.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use certmail_tests::cluster::{imaplib, on_postgres, other_node, start};

/// Messages the clients would send if nothing stopped them.
const MESSAGES: usize = 2000;
/// Acknowledgements before node A is killed.
const ACKED_BEFORE_KILL: usize = 60;

/// Python delivering `MESSAGES` numbered messages to hong@test.go.kr at `port` over four
/// connections; it prints `ack N` after each `250` and stops a connection at its first
/// error (the node died).
fn load(port: u16) -> String {
    format!(
        r#"
import smtplib, sys, threading
from email.message import EmailMessage
lock = threading.Lock()
def say(line):
    with lock:
        print(line, flush=True)
def run(t):
    try:
        with smtplib.SMTP("127.0.0.1", {port}, timeout=30) as s:
            for i in range(t, {MESSAGES}, 4):
                m = EmailMessage()
                m["From"] = "이순신 <lee@remote.go.kr>"
                m["To"] = "홍길동 <hong@test.go.kr>"
                m["Subject"] = f"협조 요청 {{i}}호"
                m["X-Certmail-Seq"] = str(i)
                m.set_content("첨부한 공문을 검토해 주십시오. " * 20)
                s.send_message(m)
                say(f"ack {{i}}")
    except Exception as e:
        say(f"stopped {{t}}: {{type(e).__name__}}")
threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
for th in threads: th.start()
for th in threads: th.join()
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_under_smtp_load_loses_no_acknowledged_message() -> anyhow::Result<()> {
    let (fx, _url) = on_postgres("").await?;
    let b_config = other_node(&fx, "node-b")?;
    let mut a = fx.start()?;
    let b = start(&b_config, &[])?;

    let mut client = Command::new("python3")
        .arg("-c")
        .arg(load(a.addr("smtp").port()))
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = client.stdout.take().expect("piped");
    let (lines, heard) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let (mut acked, mut stopped) = (Vec::new(), Vec::new());
    let mut record = |line: String, acked: &mut Vec<usize>| match line.strip_prefix("ack ") {
        Some(n) => acked.push(n.parse::<usize>().expect("a number")),
        None => stopped.push(line),
    };
    while acked.len() < ACKED_BEFORE_KILL {
        let line = heard
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| anyhow::anyhow!("only {} acknowledged in 60 s", acked.len()))?;
        record(line, &mut acked);
    }
    a.kill9()?;
    // The client's connections all fail now; what they heard before is final.
    let status = client.wait()?;
    anyhow::ensure!(status.success(), "the client failed: {status}");
    while let Ok(line) = heard.recv_timeout(Duration::from_secs(5)) {
        record(line, &mut acked);
    }
    assert!(
        acked.len() < MESSAGES,
        "node A died before the load was done ({} acknowledged)",
        acked.len()
    );
    assert_eq!(
        stopped.len(),
        4,
        "every connection saw the node die: {stopped:?}"
    );

    // Node B reads 홍길동's INBOX from the same database.
    let printed = imaplib(
        &fx,
        &b,
        r#"M.select("INBOX")
typ, data = M.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (X-CERTMAIL-SEQ)])")
for part in data:
    if isinstance(part, tuple):
        print(part[1].decode().split(":")[1].strip())
"#,
    )?;
    let mut stored: BTreeMap<usize, usize> = BTreeMap::new();
    for n in printed.lines().filter_map(|l| l.trim().parse().ok()) {
        *stored.entry(n).or_default() += 1;
    }
    let lost: Vec<_> = acked.iter().filter(|n| !stored.contains_key(n)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let twice: Vec<_> = stored.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    eprintln!(
        "{} acknowledged before the kill, {} stored (in flight at the kill: {})",
        acked.len(),
        stored.len(),
        stored.len() - acked.len()
    );
    Ok(())
}
