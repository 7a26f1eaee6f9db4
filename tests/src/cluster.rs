//! Clusters on loopback: nodes of one installation sharing a database on the test
//! PostgreSQL server (`certmail_store_pg::pg_harness`), each with its own data directory
//! (admin socket) and the first node's key file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use certmail_store_pg::pg_harness::PgServer;

use crate::lines::LineClient;
use crate::{DaemonProcess, fixtures, tls};

/// An IMAP connection over TLS.
pub type Tls = LineClient<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// IMAP LOGIN as hong with `password` at `imaps` from `from` with the demo certificate:
/// the client and the tagged answer.
pub async fn imap_login(
    fx: &fixtures::Installation,
    imaps: SocketAddr,
    from: &str,
    password: &str,
) -> anyhow::Result<(Tls, String)> {
    let cfg = fx.user_tls()?;
    let mut c = LineClient::new(tls::connect_from(from.parse()?, imaps, cfg).await?);
    anyhow::ensure!(c.line().await?.starts_with("* OK"));
    c.send_raw(format!("a1 LOGIN hong \"{password}\"\r\n").as_bytes())
        .await?;
    let answer = c.line().await?;
    Ok((c, answer))
}

/// The password of 홍길동 (`hong`) in cluster installations; ASCII, as imaplib sends LOGIN
/// arguments as ASCII.
pub const PASSWORD: &str = "Gpki-Pass-2026!";

/// An installation whose store is a fresh database on the shared test server, named
/// `node-a`, with `extra` appended to its configuration and 홍길동 (`hong`) created in that
/// database by the CLI (the daemon stopped: the CLI opens the PostgreSQL store itself).
/// Returns the database URL too.
pub async fn on_postgres(extra: &str) -> anyhow::Result<(fixtures::Installation, String)> {
    let url = PgServer::shared().create_database().await;
    Ok((on_postgres_at(&url, extra)?, url))
}

/// [`on_postgres`] on the database at `url` (e.g. of a server the test stops and starts).
pub fn on_postgres_at(url: &str, extra: &str) -> anyhow::Result<fixtures::Installation> {
    let fx = fixtures::Installation::new()?;
    fx.append_config(&format!(
        "[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\npostgres_pool_size = 4\n\
         \n{extra}\n[cluster]\nnode_name = \"node-a\"\nsession_lease_secs = {LEASE_SECS}\n\
         queue_lease_secs = {QUEUE_LEASE_SECS}\n"
    ))?;
    fx.add_user("hong", "홍길동", PASSWORD, &fx.user_cert)?;
    Ok(fx)
}

/// `[cluster]` leases of test clusters: short, so a dead node's sessions and outbound
/// mail are taken over within a test (the same as every installation on PostgreSQL).
pub use certmail_testkit::backend::{LEASE_SECS, QUEUE_LEASE_SECS};

/// Another node of `fx`'s cluster, named `name`: the same configuration with its own data
/// directory (admin socket) and `fx`'s key file; returns its configuration file.
pub fn other_node(fx: &fixtures::Installation, name: &str) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(&fx.config_path)?;
    let data = fx.dir.path().join("data");
    let key = data.join("store.key");
    let data_line = format!("data_dir = {:?}", data.display().to_string());
    anyhow::ensure!(text.contains(&data_line), "no {data_line} in {text}");
    let node = text
        .replacen(
            &data_line,
            &format!(
                "data_dir = {:?}\nkey_file = {:?}",
                fx.dir
                    .path()
                    .join(format!("data-{name}"))
                    .display()
                    .to_string(),
                key.display().to_string()
            ),
            1,
        )
        .replacen(
            "node_name = \"node-a\"",
            &format!("node_name = \"{name}\""),
            1,
        );
    let path = fx.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, node)?;
    Ok(path)
}

/// Starts the daemon of the configuration at `config`, waiting for its mail listeners
/// and any `more` listeners (e.g. "metrics").
pub fn start(config: &Path, more: &[&str]) -> anyhow::Result<DaemonProcess> {
    let config = config.to_str().expect("utf-8 temp path");
    let mut expect = fixtures::LISTENERS.to_vec();
    expect.extend_from_slice(more);
    DaemonProcess::start(&["serve", "--config", config], &[], &expect)
}

/// `certmail ARGS --config CONFIG`: exit code, stdout, stderr.
pub fn certmail_at(config: &Path, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let mut all = args.to_vec();
    all.extend(["--config", config.to_str().expect("utf-8 temp path")]);
    crate::run_certmail(&all, &[])
}

/// Runs `body` in Python after `M` (imaplib, signed in as hong with the demo certificate
/// from 127.0.0.1) is connected to `daemon`'s IMAPS listener; returns what it printed.
pub fn imaplib(
    fx: &fixtures::Installation,
    daemon: &DaemonProcess,
    body: &str,
) -> anyhow::Result<String> {
    imaplib_at(fx, daemon.addr("imaps").port(), body)
}

/// [`imaplib`] on the IMAPS listener at `port` of 127.0.0.1.
pub fn imaplib_at(fx: &fixtures::Installation, port: u16, body: &str) -> anyhow::Result<String> {
    let (ca, cert, key) = fx.client_pem_paths();
    let script = format!(
        r#"
import imaplib, ssl
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})
M = imaplib.IMAP4_SSL("localhost", {port}, ssl_context=ctx, timeout=20)
M.login("hong", {PASSWORD:?})
{body}
"#
    );
    let mut python = std::process::Command::new("python3");
    Ok(crate::outside::run_ok(python.arg("-c").arg(script))?.stdout)
}
