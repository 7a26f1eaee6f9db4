//! A throwaway PostgreSQL server for tests (feature `test-harness`): this crate's tests use
//! it, and later cluster tests can too.
//!
//! [`PgServer::start`] runs the distribution's PostgreSQL (`/usr/lib/postgresql/<newest>/bin`,
//! or `$CERTMAIL_PG_BIN`): `initdb` and the server run as the `postgres` user when the tests
//! run as root (initdb refuses root), in a fresh temporary directory owned by that user,
//! listening on a Unix socket in that directory and on `127.0.0.1` at a free port, with
//! `trust` authentication. [`PgServer::shared`] is one server per test binary;
//! [`PgServer::create_database`] gives each test a fresh database.
//!
//! Stopping: `Drop` sends SIGTERM to the server's pid and waits (SIGKILL after 30 s). A
//! server in a `static` is never dropped, so each server also gets a watchdog shell that
//! waits on a pipe from this process and stops the server (and removes its directory)
//! when the pipe closes, i.e. when the test binary exits however it exits.

use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The store key of [`PgServer::node`]'s stores.
pub const TEST_KEY: [u8; 32] = [7; 32];

/// How long the server may take to start (a busy 2-core machine runs initdb slowly).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `stop` waits after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running PostgreSQL server in its own temporary directory.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    settings: Vec<(String, String)>,
    server: Option<Child>,
    watchdog: Option<Child>,
    user: Option<(u32, u32)>,
}

impl std::fmt::Debug for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgServer")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl PgServer {
    /// The server shared by every test of this test binary, started on first use.
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(|| PgServer::start().expect("start the test PostgreSQL server"))
    }

    /// Initialises a cluster and starts a server on it.
    pub fn start() -> io::Result<PgServer> {
        PgServer::start_with(&[])
    }

    /// Like [`PgServer::start`], with extra server settings (`-c name=value`).
    pub fn start_with(settings: &[(&str, &str)]) -> io::Result<PgServer> {
        let mut server = PgServer::init()?;
        server.run_with(&PgServer::start_settings(settings))?;
        Ok(server)
    }

    /// Owned `-c` settings for [`PgServer::run_with`].
    pub fn start_settings(settings: &[(&str, &str)]) -> Vec<(String, String)> {
        settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Starts the server with extra settings (e.g. `ssl=on`, after writing its
    /// certificate and key with [`PgServer::write_file`]); later [`PgServer::run`]s keep
    /// them.
    pub fn run_with(&mut self, settings: &[(String, String)]) -> io::Result<()> {
        self.settings = settings.to_vec();
        self.run()
    }

    /// Initialises a cluster without starting it (write files, then [`PgServer::run`]).
    pub fn init() -> io::Result<PgServer> {
        let bin = pg_bin()?;
        let user = if running_as_root()? {
            Some(postgres_user()?)
        } else {
            None
        };
        let dir = tempfile::Builder::new().prefix("certmail-pg-").tempdir()?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let server = PgServer {
            dir,
            bin,
            port: free_port()?,
            settings: Vec::new(),
            server: None,
            watchdog: None,
            user,
        };
        let log = server.log_file("initdb.log")?;
        let status = server
            .command("initdb")
            .arg("-D")
            .arg(server.data_dir())
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "initdb failed ({status}): {}",
                server.read_log("initdb.log")
            )));
        }
        Ok(server)
    }

    /// Starts (or restarts) the server on the initialised cluster and waits until it
    /// accepts connections.
    pub fn run(&mut self) -> io::Result<()> {
        let _ = std::fs::remove_file(self.data_dir().join("postmaster.pid"));
        let log = self.log_file("postgres.log")?;
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-k")
            .arg(self.dir.path())
            .arg("-p")
            .arg(self.port.to_string())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=300",
            ])
            // A throwaway cluster: skip the fsyncs (each test's CREATE DATABASE adds
            // thousands of files, whose sync made the shutdown checkpoint take 30 s here).
            // COMMIT semantics are unchanged (synchronous_commit stays on); a test that
            // kills the server itself passes `("fsync", "on")`, which comes later and wins.
            .args(["-c", "fsync=off"]);
        for (name, value) in &self.settings {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        let child = command.stdout(log.try_clone()?).stderr(log).spawn()?;
        let pid = child.id();
        self.server = Some(child);
        self.watchdog = Some(watchdog(pid, self.dir.path())?);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let started = Instant::now();
        let pid_file = self.data_dir().join("postmaster.pid");
        loop {
            if let Some(child) = self.server.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(io::Error::other(format!(
                    "postgres exited ({status}): {}",
                    self.read_log("postgres.log")
                )));
            }
            // Line 8 of postmaster.pid is the server's status (PostgreSQL 10+).
            let ready = std::fs::read_to_string(&pid_file)
                .map(|s| s.lines().nth(7).is_some_and(|l| l.trim() == "ready"))
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(io::Error::other(format!(
                    "postgres not ready after {START_TIMEOUT:?}: {}",
                    self.read_log("postgres.log")
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server: SIGTERM to its pid, then waits for it to exit. SIGTERM is
    /// PostgreSQL's "smart" shutdown, which waits for clients to leave; if some are still
    /// connected after a few seconds, SIGINT (fast shutdown) disconnects them, and SIGKILL
    /// ends a server that is still there after [`STOP_TIMEOUT`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let pid = child.id().to_string();
            let exited = |child: &mut Child, within: Duration| {
                let deadline = Instant::now() + within;
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                !matches!(child.try_wait(), Ok(None))
            };
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            if !exited(&mut child, Duration::from_secs(5)) {
                let _ = Command::new("kill").args(["-INT", &pid]).status();
                if !exited(&mut child, STOP_TIMEOUT) {
                    let _ = child.kill();
                }
            }
            let _ = child.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }

    /// The server's (the postmaster's) process id while it runs; every other server
    /// process (backends, WAL writer, checkpointer) is its child.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the Unix socket (and the cluster).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes a file into the data directory, owned by the server's user, mode 0600 (e.g. a
    /// TLS key, which PostgreSQL refuses if others can read it).
    pub fn write_file(&self, name: &str, contents: &[u8]) -> io::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.data_dir().join(name);
        std::fs::write(&path, contents)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
        }
        Ok(path)
    }

    /// A URL for database `db` over TCP without TLS, as the superuser.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// A URL for database `db` over the Unix socket, as the superuser.
    pub fn unix_url(&self, db: &str) -> String {
        let dir = self.dir.path().to_string_lossy().replace('/', "%2F");
        format!("postgresql://postgres@{dir}:{}/{db}", self.port)
    }

    /// Creates a fresh, uniquely named database and returns its [`PgServer::url`].
    pub async fn create_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let client = self.admin().await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        self.url(&name)
    }

    /// [`PgServer::create_database`] for code outside any runtime (or inside one it must not
    /// block on): runs it on a thread of its own with a one-thread runtime.
    pub fn create_database_blocking(&'static self) -> String {
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a one-thread runtime for CREATE DATABASE")
                .block_on(self.create_database())
        })
        .join()
        .expect("CREATE DATABASE on its own thread")
    }

    /// A superuser connection to the `postgres` database (its connection task runs on the
    /// current runtime).
    pub async fn admin(&self) -> tokio_postgres::Client {
        self.connect("postgres").await
    }

    /// A superuser connection to database `db`.
    pub async fn connect(&self, db: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(db), tokio_postgres::NoTls)
            .await
            .expect("connect to the test server");
        tokio::spawn(connection);
        client
    }

    /// The store of node `name` on database `url` (a [`PgServer::create_database`]), with
    /// the test key: several of these on one URL are the nodes of a test cluster.
    pub async fn node(url: &str, name: &str) -> crate::PgStore {
        let config = crate::PgConfig {
            node_name: name.to_owned(),
            ..crate::PgConfig::new(url)
        };
        crate::PgStore::open(&config, certmail_store::KeyFile::from_bytes(TEST_KEY))
            .await
            .expect("open the store")
    }

    /// Two nodes, `node-a` and `node-b` ([`PgServer::node`]), on a fresh database of the
    /// shared server.
    pub async fn two_nodes() -> (crate::PgStore, crate::PgStore) {
        let url = Self::shared().create_database().await;
        (
            Self::node(&url, "node-a").await,
            Self::node(&url, "node-b").await,
        )
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        if let Some((uid, gid)) = self.user {
            // As `runuser -u postgres`, but the child's pid is the server's own.
            command.uid(uid).gid(gid);
        }
        command
    }

    fn log_file(&self, name: &str) -> io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(name))
    }

    fn read_log(&self, name: &str) -> String {
        let mut text = String::new();
        let _ = std::fs::File::open(self.dir.path().join(name))
            .and_then(|mut f| f.read_to_string(&mut text));
        text
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A shell that stops the server (SIGTERM, then SIGINT) and removes `dir` once its
/// standard input closes: when this process exits, even without running destructors. It
/// waits up to 120 s for the server to exit before removing the directory.
fn watchdog(pid: u32, dir: &Path) -> io::Result<Child> {
    Command::new("sh")
        .arg("-c")
        .arg(
            "cat >/dev/null; kill -TERM \"$0\" 2>/dev/null; kill -INT \"$0\" 2>/dev/null; \
             n=0; while kill -0 \"$0\" 2>/dev/null && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done; \
             rm -rf \"$1\"",
        )
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// The newest installed PostgreSQL's `bin` directory, or `$CERTMAIL_PG_BIN`.
fn pg_bin() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CERTMAIL_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        io::Error::other(
            "no /usr/lib/postgresql/<version>/bin/postgres: apt-get install postgresql",
        )
    })
}

fn running_as_root() -> io::Result<bool> {
    // /proc/self belongs to the effective user.
    Ok(std::fs::metadata("/proc/self")?.uid() == 0)
}

/// The `postgres` user's uid and gid, from /etc/passwd.
fn postgres_user() -> io::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() != Some(&"postgres") {
                return None;
            }
            Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
        })
        .ok_or_else(|| io::Error::other("no postgres user (apt-get install postgresql)"))
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
