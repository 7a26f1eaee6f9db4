//! A throw-away rspamd (Debian package `rspamd`) with its own Redis (`redis-server`, for
//! the Bayes classifier's learning) on 127.0.0.1, configured in a temporary directory.
//!
//! The distribution's /etc/rspamd/rspamd.conf is used as it is; `--var LOCAL_CONFDIR=...`
//! points its `local.d`/`override.d` includes at the temporary directory, which sets the
//! ports, `enable_test_patterns = true` (so the GTUBE variants give `reject`, `add header`
//! and `rewrite subject`), the controller password, and no trusted `secure_ip` (so even
//! loopback must send the password). As root it runs with `-i`. Like slapd, rspamd cannot
//! report a port the OS chose: the helper asks for free ports and retries on a clash.
//! Readiness is probed with `GET /ping` (~10 s); both processes are stopped by pid (SIGTERM) on drop.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The controller password the test rspamd requires.
pub const CONTROLLER_PASSWORD: &str = "학습-test-only-7f3a";

/// A running rspamd and its Redis, killed when dropped.
pub struct Rspamd {
    rspamd: Child,
    redis: Child,
    /// The normal worker (`/checkv2`).
    pub scan: SocketAddr,
    /// The controller worker (`/learnspam`, `/learnham`, `/stat`).
    pub controller: SocketAddr,
}

impl Rspamd {
    /// Whether rspamd and redis-server are installed (scripts/test installs them).
    pub fn installed() -> bool {
        ["/usr/bin/rspamd", "/usr/bin/redis-server"]
            .iter()
            .all(|p| Path::new(p).exists())
    }

    /// Starts Redis and rspamd with their files under `dir`.
    pub fn start(dir: &Path) -> anyhow::Result<Rspamd> {
        anyhow::ensure!(
            Rspamd::installed(),
            "rspamd/redis-server are missing: scripts/test installs them (apt-get install rspamd redis-server)"
        );
        let mut last_error = String::new();
        for attempt in 0..3 {
            let dir = dir.join(format!("try{attempt}"));
            match Rspamd::try_start(&dir) {
                Ok(r) => return Ok(r),
                Err(e) => last_error = format!("{e:#}"),
            }
        }
        anyhow::bail!("rspamd did not start: {last_error}")
    }

    fn try_start(dir: &Path) -> anyhow::Result<Rspamd> {
        for sub in [
            "local/local.d",
            "local/override.d",
            "run",
            "db",
            "log",
            "redis",
        ] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let redis_port = certmail_testkit::ports::free_port()?;
        let mut redis = Command::new("/usr/bin/redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &redis_port.to_string()])
            .arg("--dir")
            .arg(dir.join("redis"))
            .stdin(Stdio::null())
            .stdout(log(dir, "redis.log")?)
            .stderr(log(dir, "redis.err")?)
            .spawn()?;
        if let Err(e) = wait_redis(&mut redis, redis_port) {
            stop(&mut redis);
            return Err(e);
        }
        let (scan, controller) = (
            certmail_testkit::ports::free_port()?,
            certmail_testkit::ports::free_port()?,
        );
        write_config(dir, scan, controller, redis_port)?;
        let mut rspamd = match spawn_rspamd(dir) {
            Ok(child) => child,
            Err(e) => {
                stop(&mut redis);
                return Err(e);
            }
        };
        let (scan, controller) = (local(scan), local(controller));
        let ready = wait_http(&mut rspamd, scan).and_then(|()| wait_http(&mut rspamd, controller));
        if let Err(e) = ready {
            stop(&mut rspamd);
            stop(&mut redis);
            let said = std::fs::read_to_string(dir.join("rspamd.out")).unwrap_or_default();
            let tail: String = said.lines().rev().take(15).collect::<Vec<_>>().join("\n");
            anyhow::bail!("{e}; rspamd said (last lines, newest first):\n{tail}");
        }
        Ok(Rspamd {
            rspamd,
            redis,
            scan,
            controller,
        })
    }

    /// `http://127.0.0.1:PORT` of the normal worker.
    pub fn scan_url(&self) -> String {
        format!("http://{}", self.scan)
    }

    /// `http://127.0.0.1:PORT` of the controller.
    pub fn controller_url(&self) -> String {
        format!("http://{}", self.controller)
    }

    /// How many messages the controller has learned (its `/stat` `learned`).
    pub fn learned(&self) -> anyhow::Result<u64> {
        let (status, body) = http_get(self.controller, "/stat", Some(CONTROLLER_PASSWORD))?;
        anyhow::ensure!(status == 200, "GET /stat answered {status}: {body}");
        let stat: serde_json::Value = serde_json::from_str(&body)?;
        stat["learned"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("no `learned` in /stat: {body}"))
    }

    /// Stops rspamd (Redis stays): the filter is down from now on.
    pub fn stop_filter(&mut self) {
        stop(&mut self.rspamd);
    }
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        stop(&mut self.rspamd);
        stop(&mut self.redis);
    }
}

/// Stops a child by its pid: SIGTERM, so rspamd's main process takes its workers down
/// with it (SIGKILL would leave them orphaned and still listening), then SIGKILL if it is
/// still there after 10 s; reaps it.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn log(dir: &Path, name: &str) -> anyhow::Result<std::fs::File> {
    Ok(std::fs::File::create(dir.join(name))?)
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The override files: ports, one process per worker, no proxy, the password, Redis, test
/// patterns, the log on stdout.
fn write_config(dir: &Path, scan: u16, controller: u16, redis: u16) -> anyhow::Result<()> {
    let local = dir.join("local");
    let files = [
        (
            "override.d/worker-normal.inc",
            format!("bind_socket = \"127.0.0.1:{scan}\";\ncount = 1;\n"),
        ),
        (
            "override.d/worker-controller.inc",
            format!(
                "bind_socket = \"127.0.0.1:{controller}\";\ncount = 1;\n\
                 password = \"{CONTROLLER_PASSWORD}\";\nenable_password = \"{CONTROLLER_PASSWORD}\";\n\
                 secure_ip = \"192.0.2.1\";\n"
            ),
        ),
        (
            "override.d/worker-proxy.inc",
            "enabled = false;\n".to_string(),
        ),
        (
            "override.d/logging.inc",
            "type = \"console\";\nlevel = \"notice\";\n".to_string(),
        ),
        (
            "local.d/options.inc",
            "enable_test_patterns = true;\n".to_string(),
        ),
        (
            "local.d/redis.conf",
            format!("servers = \"127.0.0.1:{redis}\";\n"),
        ),
    ];
    for (name, text) in files {
        std::fs::write(local.join(name), text)?;
    }
    Ok(())
}

fn spawn_rspamd(dir: &Path) -> anyhow::Result<Child> {
    let var = |name: &str, sub: &str| -> PathBuf {
        PathBuf::from(format!("{name}={}", dir.join(sub).display()))
    };
    let mut cmd = Command::new("/usr/bin/rspamd");
    cmd.args(["-f", "-c", "/etc/rspamd/rspamd.conf"]);
    // As root rspamd refuses to keep privileges unless told (`-i`); the temp directory
    // is root's, so it must not drop them to _rspamd either.
    if is_root() {
        cmd.arg("-i");
    }
    for (name, sub) in [
        ("LOCAL_CONFDIR", "local"),
        ("RUNDIR", "run"),
        ("DBDIR", "db"),
        ("LOGDIR", "log"),
    ] {
        cmd.arg("--var").arg(var(name, sub));
    }
    let out = log(dir, "rspamd.out")?;
    Ok(cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()?)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Waits (up to 10 s) for Redis to answer PING.
fn wait_redis(child: &mut Child, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("redis-server exited ({status})");
        }
        let pong = TcpStream::connect_timeout(&local(port), Duration::from_millis(200)).and_then(
            |mut s| {
                s.set_read_timeout(Some(Duration::from_secs(1)))?;
                s.write_all(b"PING\r\n")?;
                let mut buf = [0u8; 16];
                let n = s.read(&mut buf)?;
                Ok(buf[..n].starts_with(b"+PONG"))
            },
        );
        if pong.unwrap_or(false) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "redis-server silent on {port} after 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits (up to 60 s: rspamd compiles its rules first) for `GET /ping` to answer `pong`.
fn wait_http(child: &mut Child, addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("rspamd exited ({status})");
        }
        if http_get(addr, "/ping", None).is_ok_and(|(s, body)| s == 200 && body.contains("pong")) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "rspamd silent on {addr} after 60 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A bare HTTP/1.0 GET: the status and the body.
fn http_get(addr: SocketAddr, path: &str, password: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = password.map_or(String::new(), |p| format!("Password: {p}\r\n"));
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n")?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no HTTP status from {addr}: {head}"))?;
    Ok((status, body.to_string()))
}
