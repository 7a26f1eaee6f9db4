//! The daemon under test, run as a separate process and always stopped when the
//! [`DaemonProcess`] is dropped (also on error and panic).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::AsyncBufReadExt as _;

use crate::procstat::{self, ProcStat};

/// Finds the `certmail` binary: `explicit`, then `$CERTMAIL_BIN`, then
/// `target/release/certmail`, then `target/debug/certmail` (relative to the current
/// directory, then to this executable's target directory).
pub fn find_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        anyhow::ensure!(p.is_file(), "--certmail {}: no such file", p.display());
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os("CERTMAIL_BIN") {
        let p = PathBuf::from(p);
        anyhow::ensure!(p.is_file(), "$CERTMAIL_BIN={}: no such file", p.display());
        return Ok(p);
    }
    let mut roots = vec![PathBuf::from("target")];
    // target/<profile>/certmail-bench → target
    if let Some(t) = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.to_owned()))
    {
        roots.push(t);
    }
    for root in &roots {
        for profile in ["release", "debug"] {
            let p = root.join(profile).join("certmail");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!(
        "no certmail binary: build it (cargo build --release -p certmail), or pass --certmail PATH \
         or set CERTMAIL_BIN"
    )
}

/// A running `certmail serve`.
pub struct DaemonProcess {
    child: tokio::process::Child,
    pid: u32,
    listeners: HashMap<String, SocketAddr>,
}

impl DaemonProcess {
    /// Starts `certmail serve --config CONFIG` with its stderr in `log`, and waits (at most
    /// `ready_timeout`) until it has printed a `listening NAME ADDR:PORT` line for `need`.
    pub async fn start(
        binary: &Path,
        config: &Path,
        log: &Path,
        need: &str,
        ready_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let mut command = tokio::process::Command::new(binary);
        // The log is a file: no terminal colour codes in it.
        command
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("NO_COLOR", "1");
        Self::start_command(command, log, need, ready_timeout)
            .await
            .with_context(|| format!("running {}", binary.display()))
    }

    async fn start_command(
        mut command: tokio::process::Command,
        log: &Path,
        need: &str,
        ready_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .context("starting the daemon")?;
        let pid = child.id().context("the daemon exited at once")?;
        let stdout = child.stdout.take().context("stdout was piped")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut listeners = HashMap::new();
        let waited = tokio::time::timeout(ready_timeout, async {
            while let Some(line) = lines.next_line().await? {
                if let Some((name, addr)) = parse_listening(&line) {
                    listeners.insert(name, addr);
                    if listeners.contains_key(need) {
                        return Ok(true);
                    }
                }
            }
            Ok::<bool, std::io::Error>(false)
        })
        .await;
        let mut daemon = Self {
            child,
            pid,
            listeners,
        };
        match waited {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                let status =
                    tokio::time::timeout(Duration::from_secs(5), daemon.child.wait()).await;
                bail!(
                    "the daemon exited before listening on {need} ({status:?}); its log:\n{}",
                    log_tail(log)
                )
            }
            Ok(Err(e)) => bail!("reading the daemon's output: {e}"),
            Err(_) => bail!(
                "the daemon printed no `listening {need}` line within {ready_timeout:?}; its log:\n{}",
                log_tail(log)
            ),
        }
        // Keep draining stdout so the daemon never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(daemon)
    }

    /// The address a listener is bound to.
    pub fn listener(&self, name: &str) -> Option<SocketAddr> {
        self.listeners.get(name).copied()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The daemon's memory and CPU time so far.
    pub fn stat(&self) -> anyhow::Result<ProcStat> {
        procstat::read(Some(self.pid))
            .context("reading the daemon's /proc entries (has it crashed?)")
    }

    /// Kills the daemon at once (SIGKILL: no shutdown, no flush) and waits until it is gone.
    pub async fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("killing the daemon")
    }

    /// Asks the daemon to stop (SIGTERM), waits up to `grace`, then kills it.
    pub async fn stop(mut self, grace: Duration) {
        let asked = tokio::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if asked && tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
            return;
        }
        let _ = self.child.kill().await;
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        // kill_on_drop does the same; this says it where a reader looks for it.
        let _ = self.child.start_kill();
    }
}

/// `listening NAME ADDR:PORT` → (NAME, ADDR:PORT).
fn parse_listening(line: &str) -> Option<(String, SocketAddr)> {
    let mut parts = line.split_whitespace();
    (parts.next()? == "listening").then_some(())?;
    let name = parts.next()?.to_owned();
    let addr = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((name, addr))
}

/// `error`, followed by the daemon's last log lines (the error stays first: it is what
/// the reader needs, the log is why).
pub fn with_log_tail(error: anyhow::Error, log: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{error:#}\n--- the daemon's log ends with:\n{}",
        log_tail(log)
    )
}

/// The last lines of the daemon's log, for error messages.
pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(20)..];
    if tail.is_empty() {
        "(empty)".into()
    } else {
        tail.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Duration = Duration::from_secs(10);

    #[test]
    fn parses_listening_lines() {
        assert_eq!(
            parse_listening("listening submissions 127.0.0.1:40123"),
            Some((
                "submissions".into(),
                "127.0.0.1:40123".parse().expect("addr")
            ))
        );
        assert_eq!(
            parse_listening("listening imaps [::1]:993").map(|l| l.1.port()),
            Some(993)
        );
        assert_eq!(parse_listening("certmail ready"), None);
        assert_eq!(parse_listening("listening smtp nowhere"), None);
    }

    fn sh(script: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[tokio::test]
    async fn a_daemon_that_exits_early_is_an_error_with_its_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("log");
        let script = "echo 'config: no such file' >&2; exit 2";
        let err = DaemonProcess::start_command(sh(script), &log, "submissions", STEP)
            .await
            .err()
            .expect("not ready");
        let text = err.to_string();
        assert!(text.contains("exited before listening"), "{text}");
        assert!(
            text.contains("config: no such file"),
            "the log tail is shown: {text}"
        );
    }

    #[tokio::test]
    async fn a_silent_daemon_times_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("log");
        let script = "echo 'listening imaps 127.0.0.1:1'; echo starting >&2; exec sleep 600";
        let err = DaemonProcess::start_command(
            sh(script),
            &log,
            "submissions",
            Duration::from_millis(300),
        )
        .await
        .err()
        .expect("never ready");
        let text = err.to_string();
        assert!(text.contains("no `listening submissions` line"), "{text}");
        assert!(text.contains("starting"), "the log tail is shown: {text}");
    }

    #[tokio::test]
    async fn ready_daemon_reports_its_listeners_and_stops() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("log");
        let script = "echo 'listening imaps 127.0.0.1:1'; echo 'listening submissions 127.0.0.1:2'; exec sleep 600";
        let d = DaemonProcess::start_command(sh(script), &log, "submissions", STEP)
            .await
            .expect("ready");
        assert_eq!(d.listener("submissions").map(|a| a.port()), Some(2));
        assert_eq!(d.listener("imaps").map(|a| a.port()), Some(1));
        assert_eq!(d.listener("smtp"), None);
        let pid = d.pid();
        assert!(d.stat().expect("running").rss > 0);
        tokio::time::timeout(STEP, d.stop(Duration::from_secs(5)))
            .await
            .expect("stopped in time");
        // Reaped: /proc/<pid> is gone (or belongs to some other, newer process).
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(!cmdline.contains("sleep"), "still running: {cmdline}");
    }

    #[tokio::test]
    async fn dropping_the_guard_kills_the_daemon() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("log");
        let script = "echo 'listening submissions 127.0.0.1:2'; exec sleep 600";
        let d = DaemonProcess::start_command(sh(script), &log, "submissions", STEP)
            .await
            .expect("ready");
        let pid = d.pid();
        drop(d);
        // SIGKILL is sent synchronously by the drop; wait (bounded) for the kernel to act.
        let gone = tokio::time::timeout(STEP, async {
            loop {
                let state = procstat::read(Some(pid)).ok();
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                if state.is_none() || status.contains("State:\tZ") {
                    break;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(gone.is_ok(), "process {pid} survived the drop");
    }
}
