//! The daemon's log as an administrator reads it from a file or the journal: no colour
//! escapes unless stderr is a terminal, syslog priorities under journald, no misleading
//! fields on a first start (which says what it made: a sled store, or on PostgreSQL the
//! schema and the node), and a refused reload written there as well as answered.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certmail_testkit::backend;
use certmail_tests::fixtures;

/// `certmail serve` with its stderr in `log`; returns once it reports its listeners.
fn serve(
    fx: &fixtures::Installation,
    log: &std::path::Path,
    envs: &[(&str, &str)],
) -> anyhow::Result<Child> {
    let mut cmd = Command::new(certmail_tests::certmail_bin());
    cmd.args(["serve", "--config", fx.config_path.to_str().expect("utf-8")])
        .env("RUST_LOG", "info")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let out = BufReader::new(child.stdout.take().expect("piped"));
    for line in out.lines() {
        if line?.starts_with("listening smtp") {
            return Ok(child);
        }
    }
    anyhow::bail!(
        "the daemon ended before it listened; log:\n{}",
        std::fs::read_to_string(log)?
    )
}

/// The log once it has a line containing `needle` (up to 10 s).
fn wait_for(log: &std::path::Path, needle: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log)?;
        if text.contains(needle) {
            return Ok(text);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A first start's log says the store is new, with no field suggesting otherwise: sled
/// creates its files (no `recovered=true`); on PostgreSQL the schema is built from its
/// first migration, and the daemon says which node it is.
fn assert_first_start(text: &str) {
    match backend::node_name() {
        None => {
            assert!(text.contains("new store created"), "{text}");
            assert!(
                !text.contains("recovered=true"),
                "a brand-new store:\n{text}"
            );
        }
        Some(node) => {
            assert!(
                text.contains("applying PostgreSQL schema migration version=1\n"),
                "{text}"
            );
            assert!(text.contains("PostgreSQL store open"), "{text}");
            assert!(
                text.contains(&format!("(cluster node) node={node}\n")),
                "{text}"
            );
        }
    }
}

#[test]
fn a_log_file_is_plain_text_and_the_journal_gets_priorities() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let log = fx.dir.path().join("certmail.log");
    let mut daemon = serve(&fx, &log, &[])?;
    let good = std::fs::read_to_string(&fx.config_path)?;
    fx.append_config("[http]\nmetrics_listen = [\"127.0.0.1:0\"]")?;
    let (code, _, _) = fx.certmail(&["reload"])?;
    assert_eq!(code, 1, "a changed listener is refused");
    wait_for(&log, "[http] metrics_listen")?;
    // The refusal is also logged as an admin request, with who asked.
    let text = wait_for(&log, "admin request refused")?;
    let refusal = text
        .lines()
        .find(|l| l.contains("admin request refused"))
        .expect("found above");
    assert!(
        refusal.contains("op=reload") && refusal.contains("actor=uid="),
        "{refusal}"
    );
    daemon.kill()?;
    daemon.wait()?;
    assert!(!text.contains('\u{1b}'), "escape codes in a file:\n{text}");
    assert_first_start(&text);
    assert!(
        !text
            .lines()
            .any(|l| l.contains("smarthost=") && l.trim_end().ends_with("smarthost=")),
        "{text}"
    );

    std::fs::write(&fx.config_path, good)?;
    let journal = fx.dir.path().join("journal.log");
    let mut daemon = serve(&fx, &journal, &[("JOURNAL_STREAM", "8:1234")])?;
    let text = wait_for(&journal, "certmail ready")?;
    daemon.kill()?;
    daemon.wait()?;
    assert!(!text.contains('\u{1b}'), "{text}");
    for line in text.lines().filter(|l| !l.is_empty()) {
        let level = line.get(..3).unwrap_or_default();
        assert!(
            ["<3>", "<4>", "<6>", "<7>"].contains(&level),
            "no syslog priority: {line:?}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("<6>") && l.contains("certmail ready")),
        "{text}"
    );
    Ok(())
}
