//! `certmail dev`: one command makes a PKI, an account and a config, serves on every port,
//! and a real TLS client presenting the demo certificate gets through the handshake.

use std::time::Duration;

use certmail_tests::{DaemonProcess, tls};
use tokio::io::AsyncReadExt as _;

const LISTENERS: [&str; 5] = ["imaps", "imap", "submissions", "submission", "smtp"];

#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_creates_everything_and_accepts_the_demo_certificate() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("dev");
    let data_s = data.to_str().expect("utf-8 temp path");
    let daemon = DaemonProcess::start(
        &["dev", "--data", data_s, "--ephemeral-ports"],
        &[],
        &LISTENERS,
    )?;

    // What the first run created.
    for f in [
        "certmail.toml",
        "demo-password.txt",
        "pki/server/ca.pem",
        "pki/user/cert.pem",
        "pki/user/key.pem",
        "pki/user/user.p12",
    ] {
        assert!(data.join(f).is_file(), "{f} was not created");
    }
    let out = daemon.stdout.join("\n");
    assert!(
        out.contains("hong") && out.contains("홍길동"),
        "dev mode should print the demo account:\n{out}"
    );
    let password = std::fs::read_to_string(data.join("demo-password.txt"))?;
    assert!(
        out.contains(password.trim()),
        "dev mode should print the demo password"
    );
    let config = data.join("certmail.toml");
    assert!(
        out.contains(&format!("export CERTMAIL_CONFIG={}", config.display())),
        "admin commands need the config path:\n{out}"
    );
    // The printed examples, run as printed (PORT: the port the OS chose).
    let imaps = daemon.addr("imaps").port().to_string();
    let example = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|l| l.replace("PORT", &imaps))
            .unwrap_or_else(|| panic!("no {prefix} line in:\n{out}"))
    };
    let curl = std::process::Command::new("sh")
        .args(["-c", &example("curl:")])
        .output()?;
    let shown = String::from_utf8_lossy(&curl.stdout);
    assert!(
        curl.status.success() && shown.contains("EXISTS"),
        "the curl example prints the mailbox: {shown} {}",
        String::from_utf8_lossy(&curl.stderr)
    );
    assert!(example("openssl:").contains(" -crlf "), "{out}");
    let (code, help, _) = certmail_tests::run_certmail(&["dev", "--help"], &[])?;
    assert_eq!(code, 0);
    assert!(
        help.contains("--data <DIR>"),
        "the help's DIR is --data:\n{help}"
    );

    // A real TLS client with the demo certificate, over TLS 1.2 and 1.3, on both implicit-TLS ports.
    let pki = data.join("pki");
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let cfg = tls::client_config(
            &pki.join("server/ca.pem"),
            Some(tls::ClientCert::from_pem_files(
                &pki.join("user/cert.pem"),
                &pki.join("user/key.pem"),
            )?),
            versions,
        )?;
        for name in ["imaps", "submissions"] {
            let mut s = tokio::time::timeout(
                Duration::from_secs(10),
                tls::connect(daemon.addr(name), cfg.clone()),
            )
            .await??;
            let mut buf = [0u8; 512];
            let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await??;
            let greeting = String::from_utf8_lossy(&buf[..n]);
            let expected = if name == "imaps" { "* OK" } else { "220 " };
            assert!(
                greeting.starts_with(expected),
                "{name} greeting over {versions:?}: {greeting:?}"
            );
            let (_, conn) = s.get_ref();
            assert!(
                conn.peer_certificates().is_some(),
                "server presented its certificate"
            );
        }
    }
    drop(daemon);

    // A second run reuses the data: same password, no new PKI.
    let before = std::fs::read(pki.join("user/cert.pem"))?;
    let again = DaemonProcess::start(&["dev", "--data", data_s], &[], &LISTENERS)?;
    assert_eq!(
        std::fs::read(pki.join("user/cert.pem"))?,
        before,
        "the PKI must be reused"
    );
    assert!(again.stdout.join("\n").contains(password.trim()));
    Ok(())
}
