//! The certmail binary as a child process: [`DaemonProcess`] starts it, waits for its
//! `listening NAME ADDR:PORT` lines and kills it when dropped; [`run_certmail`] runs one
//! command. Every wait is bounded.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The certmail binary under test.
pub fn certmail_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CERTMAIL_BIN") {
        return PathBuf::from(p);
    }
    // The kit's manifest dir is <root>/crates/testkit.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit sits two levels below the workspace root");
    root.join("target/debug/certmail")
}

/// A running daemon, killed when dropped.
pub struct DaemonProcess {
    child: Child,
    /// Listener name -> address, from the daemon's `listening` lines.
    pub listeners: HashMap<String, SocketAddr>,
    /// Every stdout line read so far (the rest keeps arriving on `lines`).
    pub stdout: Vec<String>,
    lines: mpsc::Receiver<String>,
}

impl DaemonProcess {
    /// Starts `certmail ARGS`, waiting (up to 60 s) until every listener in `expect` is
    /// reported. Stderr is inherited so failures show the daemon's log.
    pub fn start(args: &[&str], envs: &[(&str, &str)], expect: &[&str]) -> anyhow::Result<Self> {
        let mut cmd = Command::new(certmail_bin());
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        );
        let mut child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", certmail_bin().display()))?;
        let out = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut me = Self {
            child,
            listeners: HashMap::new(),
            stdout: Vec::new(),
            lines: rx,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !expect.iter().all(|n| me.listeners.contains_key(*n)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match me.lines.recv_timeout(left) {
                Ok(line) => me.take(line),
                Err(_) => {
                    let status = me.child.try_wait()?;
                    anyhow::bail!(
                        "daemon did not report listeners {expect:?} (status {status:?}); stdout so far:\n{}",
                        me.stdout.join("\n")
                    );
                }
            }
        }
        Ok(me)
    }

    fn take(&mut self, line: String) {
        if let Some(rest) = line.strip_prefix("listening ") {
            let mut it = rest.split_whitespace();
            if let (Some(name), Some(Ok(a))) = (it.next(), it.next().map(str::parse)) {
                self.listeners.insert(name.to_string(), a);
            }
        }
        self.stdout.push(line);
    }

    /// The address of listener `name`.
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.listeners[name]
    }

    /// Kills the daemon with SIGKILL (a crash) and reaps it.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`HUP`, `TERM`, …) with kill(1).
    pub fn signal(&self, sig: &str) -> anyhow::Result<()> {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()?;
        anyhow::ensure!(st.success(), "kill -{sig} failed");
        Ok(())
    }

    /// Waits up to `timeout` for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<Option<i32>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait()? {
                return Ok(st.code());
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "daemon did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads stdout lines until one contains `needle` (up to `timeout`).
    pub fn wait_stdout(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        if let Some(l) = self.stdout.iter().find(|l| l.contains(needle)) {
            return Ok(l.clone());
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .map_err(|_| anyhow::anyhow!("no stdout line with {needle:?}"))?;
            self.take(line.clone());
            if line.contains(needle) {
                return Ok(line);
            }
        }
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long one `certmail` command may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `certmail ARGS` to completion (bounded by 120 s) and returns (exit code, stdout, stderr).
pub fn run_certmail(args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<(i32, String, String)> {
    run_certmail_at(&certmail_bin(), args, envs)
}

/// [`run_certmail`] with the binary at `bin`.
pub fn run_certmail_at(
    bin: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> anyhow::Result<(i32, String, String)> {
    let mut cmd = Command::new(bin);
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let out = wait_with_timeout(child, CLI_TIMEOUT)?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Waits for `child` to finish and collects its output, killing it after `timeout`.
pub(crate) fn wait_with_timeout(
    child: Child,
    timeout: Duration,
) -> anyhow::Result<std::process::Output> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => Ok(r?),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            anyhow::bail!("command did not finish within {timeout:?}")
        }
    }
}
