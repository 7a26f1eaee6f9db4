//! Issue 19's sign-in cache, seen from outside: a password that matched is recognised
//! again without argon2 (the metrics count it), and nothing that should refuse a sign-in
//! is hidden by it: a password changed by an administrator, a lock, a reload.

use std::io::Write as _;
use std::process::{Command, Stdio};

use certmail_tests::fixtures;
use certmail_tests::metrics::{sample, scrape, start_with_metrics};
use certmail_tests::signin_client::{Auth, Proto, sign_in};
use certmail_tests::tls::ClientCert;

const PASSWORD: &str = "Gpki-Pass-2026!";
const NEW_PASSWORD: &str = "Saeroun-Bimil-2027!";

/// Signs 홍길동 in with his certificate and `password` over `proto`: the reply.
async fn hong(
    fx: &fixtures::Installation,
    daemon: &certmail_tests::DaemonProcess,
    proto: Proto,
    password: &str,
) -> anyhow::Result<String> {
    let cert = ClientCert::from_pem_files(&fx.user_cert, &fx.user_key)?;
    let addr = daemon.addr(proto.listener());
    let v13 = &rustls::version::TLS13;
    let auth = Auth::Plain("hong", password);
    sign_in(&fx.server_ca, addr, proto, v13, Some(cert), auth).await
}

fn accepted(reply: &str) -> bool {
    reply.starts_with("a1 OK") || reply.starts_with("235")
}

fn hits(daemon: &certmail_tests::DaemonProcess) -> anyhow::Result<(f64, f64)> {
    let text = scrape(daemon)?;
    let hits = sample(&text, "certmail_signin_cache_hits_total");
    let entries = sample(&text, "certmail_signin_cache_entries");
    Ok((
        hits.ok_or_else(|| anyhow::anyhow!("no hits sample"))?,
        entries.ok_or_else(|| anyhow::anyhow!("no entries sample"))?,
    ))
}

/// `certmail account passwd hong --password-stdin` against the running daemon.
fn set_password(fx: &fixtures::Installation, password: &str) -> anyhow::Result<()> {
    let mut child = Command::new(certmail_tests::certmail_bin())
        .args(["account", "passwd", "hong", "--password-stdin", "--config"])
        .arg(&fx.config_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    writeln!(child.stdin.take().expect("piped"), "{password}")?;
    let out = child.wait_with_output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.success(), "account passwd: {err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remembered_password_skips_argon2_but_never_a_refusal() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = start_with_metrics(&fx)?;
    assert_eq!(hits(&daemon)?, (0.0, 0.0));

    // The first sign-in pays argon2 and is remembered; the next ones, over either
    // protocol, are recognised without it.
    for proto in [Proto::Imap, Proto::Smtp, Proto::Imap] {
        let r = hong(&fx, &daemon, proto, PASSWORD).await?;
        assert!(accepted(&r), "{proto:?}: {r}");
    }
    assert_eq!(hits(&daemon)?, (2.0, 1.0));
    // A wrong password is never recognised from the cache: refused, and counted.
    let r = hong(&fx, &daemon, Proto::Imap, "Gpki-Pass-2025!").await?;
    assert!(r.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{r}");
    assert_eq!(hits(&daemon)?.0, 2.0);

    // An administrator changes the password: the remembered one is refused at once.
    set_password(&fx, NEW_PASSWORD)?;
    for proto in [Proto::Imap, Proto::Smtp] {
        let r = hong(&fx, &daemon, proto, PASSWORD).await?;
        assert!(!accepted(&r), "{proto:?} with the old password: {r}");
        let r = hong(&fx, &daemon, proto, NEW_PASSWORD).await?;
        assert!(accepted(&r), "{proto:?} with the new password: {r}");
    }

    // A lock refuses the remembered password too.
    let (code, out, err) = fx.certmail(&["account", "lock", "hong"])?;
    assert_eq!(code, 0, "{out}{err}");
    let r = hong(&fx, &daemon, Proto::Imap, NEW_PASSWORD).await?;
    assert!(r.contains("locked"), "{r}");
    let (code, out, err) = fx.certmail(&["account", "unlock", "hong"])?;
    assert_eq!(code, 0, "{out}{err}");

    // A reload forgets every remembered password.
    assert!(hits(&daemon)?.1 >= 1.0);
    let (code, out, err) = fx.certmail(&["reload"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(hits(&daemon)?.1, 0.0);
    let r = hong(&fx, &daemon, Proto::Imap, NEW_PASSWORD).await?;
    assert!(accepted(&r), "{r}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn signin_cache_secs_zero_turns_it_off() -> anyhow::Result<()> {
    let mut fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.edit_config(|c| c.auth.signin_cache_secs = 0)?;
    let daemon = start_with_metrics(&fx)?;
    for proto in [Proto::Imap, Proto::Smtp, Proto::Imap] {
        let r = hong(&fx, &daemon, proto, PASSWORD).await?;
        assert!(accepted(&r), "{proto:?}: {r}");
    }
    assert_eq!(hits(&daemon)?, (0.0, 0.0));
    Ok(())
}
