//! `certmail-bench crash` itself, at small N so the command cannot rot: two kill -9
//! rounds against the real daemon (`$CERTMAIL_BIN` or target/debug/certmail, built by
//! scripts/test), with SMTP, APPEND and STORE load from clients with certificates. The
//! command must finish, exit 0, and report acknowledged changes checked with none lost.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn two_kill_rounds_lose_no_acknowledged_change() {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_certmail-bench"))
        .args(["crash", "--rounds", "2", "--load-ms", "800"])
        .args([
            "--smtp-clients",
            "2",
            "--imap-clients",
            "2",
            "--reply-timeout-secs",
            "30",
        ])
        .output()
        .expect("certmail-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
    let row = |prefix: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} row in:\n{stdout}"));
        line.split('|').map(|c| c.trim().to_owned()).collect()
    };
    // | messages (SMTP 250 + APPEND OK) | S + A | lost | duplicated | altered |
    let messages = row("| messages");
    let (smtp, append) = messages[2].split_once(" + ").expect("S + A");
    let smtp: u64 = smtp.parse().expect("a count");
    let append: u64 = append.parse().expect("a count");
    assert!(
        smtp > 0 && append > 0,
        "both loads were acknowledged: {messages:?}"
    );
    assert_eq!(&messages[3..6], ["0", "0", "0"], "{stdout}");
    let flags = row("| flag changes");
    assert!(flags[2].parse::<u64>().expect("a count") > 0, "{flags:?}");
    assert_eq!(flags[3], "0", "{stdout}");
    assert!(row("| expunged")[3].starts_with("0 "), "{stdout}");
    assert!(stdout.contains("crash: 2 rounds of kill -9"), "{stdout}");
}
