//! The daemon's life under systemd: READY/RELOADING/STOPPING on NOTIFY_SOCKET, reload on
//! SIGHUP without dropping connections, a broken config on reload keeps the old one, and
//! SIGTERM drains and exits 0.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use certmail_tests::{DaemonProcess, fixtures, tls};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

fn recv(sock: &UnixDatagram) -> anyhow::Result<String> {
    let mut buf = [0u8; 1024];
    let n = sock.recv(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_reload_and_drain() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let notify_path = fx.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&notify_path)?;
    sock.set_read_timeout(Some(Duration::from_secs(30)))?;
    let config = fx.config_path.to_str().expect("utf-8");
    let mut daemon = DaemonProcess::start(
        &["serve", "--config", config],
        &[("NOTIFY_SOCKET", notify_path.to_str().expect("utf-8"))],
        &fixtures::LISTENERS,
    )?;
    assert!(recv(&sock)?.contains("READY=1"));

    // An SMTP connection opened before the reload must survive it.
    let cfg = fx.user_tls()?;
    let stream = tls::connect(daemon.addr("submissions"), cfg).await?;
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_line(&mut line)).await??;
    assert!(line.starts_with("220 "), "{line}");

    daemon.signal("HUP")?;
    assert!(recv(&sock)?.contains("RELOADING=1"));
    assert!(recv(&sock)?.contains("READY=1"));

    // A broken config on reload: logged, old one stays, still serving.
    let good = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        good.replace("[smtp]", "[smtp]\nmax_line_length = 1"),
    )?;
    daemon.signal("HUP")?;
    assert!(recv(&sock)?.contains("RELOADING=1"));
    assert!(recv(&sock)?.contains("READY=1"));
    std::fs::write(&fx.config_path, good)?;

    stream.get_mut().write_all(b"NOOP\r\n").await?;
    line.clear();
    tokio::time::timeout(Duration::from_secs(10), stream.read_line(&mut line)).await??;
    assert!(
        line.starts_with("250"),
        "the connection opened before the reloads still works: {line:?}"
    );

    // SIGTERM: STOPPING=1, the open connection is told, exit 0.
    daemon.signal("TERM")?;
    assert!(recv(&sock)?.contains("STOPPING=1"));
    line.clear();
    tokio::time::timeout(Duration::from_secs(40), stream.read_line(&mut line)).await??;
    assert!(
        line.is_empty() || line.starts_with("421"),
        "a draining server closes or says 421: {line:?}"
    );
    assert_eq!(daemon.wait_exit(Duration::from_secs(60))?, Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn certmail_reload_waits_and_fails_on_a_broken_config() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let daemon = fx.start()?;
    let (code, out, err) = fx.certmail(&["reload"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("reloaded"), "{out}");

    let good = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        good.replace("[smtp]", "[smtp]\nmax_recipients = 5"),
    )?;
    let (code, _, err) = fx.certmail(&["reload"])?;
    assert_eq!(code, 1, "a broken config fails the reload");
    assert!(
        err.contains("[smtp] max_recipients") && err.contains("not reloaded"),
        "{err}"
    );

    // A certificate file that disappeared is caught by the daemon itself.
    std::fs::write(&fx.config_path, &good)?;
    let key = std::fs::read(&fx.pki.server_key)?;
    std::fs::write(&fx.pki.server_key, b"not a key")?;
    let (code, _, err) = fx.certmail(&["reload"])?;
    assert_eq!(code, 1, "a broken server key fails the reload");
    assert!(
        err.contains("reload_failed") && err.contains("old configuration stays"),
        "{err}"
    );
    std::fs::write(&fx.pki.server_key, key)?;

    // Still serving with the old configuration.
    let cfg = tls::client_config(&fx.server_ca, None, &[&rustls::version::TLS13])?;
    let mut s = BufReader::new(tls::connect(daemon.addr("submissions"), cfg).await?);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_line(&mut line)).await??;
    assert!(line.starts_with("220 "), "{line}");
    Ok(())
}

/// A listener added to the file is not silently ignored: the reload is refused, names the
/// key that needs a restart, and the daemon goes on as before.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_with_a_changed_listener_is_refused_naming_the_key() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let _daemon = fx.start()?;
    let good = std::fs::read_to_string(&fx.config_path)?;
    fx.append_config("[http]\nmetrics_listen = [\"127.0.0.1:0\"]")?;
    let (code, out, err) = fx.certmail(&["reload"])?;
    assert_eq!(code, 1, "a changed listener must fail the reload: {out}");
    assert!(
        !out.contains("reloaded"),
        "claims a reload it did not do: {out}"
    );
    assert!(
        err.contains("[http] metrics_listen") && err.contains("restart"),
        "{err}"
    );

    // Put back, the same file reloads again.
    std::fs::write(&fx.config_path, &good)?;
    let (code, out, err) = fx.certmail(&["reload"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("reloaded"), "{out}");
    Ok(())
}
