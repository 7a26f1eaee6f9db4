//! `certmail-bench kick`: how long a sign-in from another device takes to end the old
//! device's connections (the single-session rule; target under a second).
//!
//! Each round, device A (one loopback address) opens K IMAP connections, signs in and
//! enters IDLE on each; then device B (another address) signs in with the same account.
//! The figure is the time from B's LOGIN to the last of A's `* BYE`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rustls::ClientConfig;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_rustls::client::TlsStream;

use crate::report::percentile;
use crate::{daemon, install};

type Conn = BufReader<TlsStream<tokio::net::TcpStream>>;

const STEP: Duration = Duration::from_secs(20);

async fn connect_from(
    from: IpAddr,
    addr: SocketAddr,
    cfg: Arc<ClientConfig>,
) -> anyhow::Result<Conn> {
    Ok(BufReader::new(
        crate::tls::connect_from(from, addr, cfg).await?,
    ))
}

async fn line(c: &mut Conn) -> anyhow::Result<String> {
    let mut l = String::new();
    tokio::time::timeout(STEP, c.read_line(&mut l))
        .await
        .context("no reply in time")??;
    Ok(l)
}

async fn sign_in(c: &mut Conn, user: &str, password: &str) -> anyhow::Result<()> {
    anyhow::ensure!(line(c).await?.starts_with("* OK"), "no greeting");
    c.get_mut().write_all(&login(user, password)).await?;
    let answer = line(c).await?;
    anyhow::ensure!(answer.starts_with("a1 OK"), "sign-in refused: {answer}");
    Ok(())
}

/// `a1 LOGIN user {n+}` with the password as a non-synchronizing literal (RFC 7888): the
/// bench's passwords are UTF-8, which a quoted string cannot carry.
fn login(user: &str, password: &str) -> Vec<u8> {
    format!("a1 LOGIN {user} {{{}+}}\r\n{password}\r\n", password.len()).into_bytes()
}

/// Runs `rounds` rounds with `connections` IMAP connections on the old device.
pub async fn run(certmail: PathBuf, rounds: usize, connections: usize) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("certmail-bench-kick-")
        .tempdir()?;
    let bin = certmail.clone();
    let inst = tokio::task::spawn_blocking(move || {
        install::write_files(tmp, &bin, (1, 1), "warn", |_| {})
    })
    .await??;
    inst.create_accounts().await?;
    let d = daemon::DaemonProcess::start(
        &certmail,
        &inst.install.config_path,
        &inst.log,
        "imaps",
        Duration::from_secs(60),
    )
    .await?;
    let addr = d.listener("imaps").context("no imaps listener")?;
    let user = &inst.senders[0];
    let cfg = crate::tls::client_config(&inst.install.server_ca, &user.cert, &user.key)?;

    let mut kicks = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let octet = u8::try_from(round % 200 + 10).expect("below 256");
        let (a, b) = (
            IpAddr::from([127, 0, 1, octet]),
            IpAddr::from([127, 0, 2, octet]),
        );
        let mut old = Vec::with_capacity(connections);
        for _ in 0..connections {
            let mut c = connect_from(a, addr, cfg.clone()).await?;
            sign_in(&mut c, &user.id, &user.password).await?;
            c.get_mut().write_all(b"i1 IDLE\r\n").await?;
            anyhow::ensure!(line(&mut c).await?.starts_with('+'), "IDLE refused");
            old.push(c);
        }
        let mut new = connect_from(b, addr, cfg.clone()).await?;
        anyhow::ensure!(line(&mut new).await?.starts_with("* OK"), "no greeting");
        let start = Instant::now();
        new.get_mut()
            .write_all(&login(&user.id, &user.password))
            .await?;
        for c in &mut old {
            let bye = line(c).await?;
            anyhow::ensure!(bye.starts_with("* BYE"), "expected BYE, got {bye:?}");
        }
        kicks.push(start.elapsed());
        anyhow::ensure!(
            line(&mut new).await?.starts_with("a1 OK"),
            "the new device was not signed in"
        );
    }
    d.stop(Duration::from_secs(10)).await;
    kicks.sort();
    println!(
        "kick latency: a sign-in from another device until all {connections} IMAP connections (in IDLE) of the old device heard BYE"
    );
    println!();
    println!("| rounds | p50 | p90 | p99 | max |");
    println!("| --- | --- | --- | --- | --- |");
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!(
        "| {rounds} | {} | {} | {} | {} |",
        ms(percentile(&kicks, 50.0)),
        ms(percentile(&kicks, 90.0)),
        ms(percentile(&kicks, 99.0)),
        ms(kicks.last().copied().unwrap_or_default())
    );
    println!();
    println!(
        "(includes the new device's sign-in: certificate check and argon2id password verification)"
    );
    Ok(())
}
