//! `certmail stats`, `audit tail|search`, `account totp show` (QR code) against a running
//! daemon, parsed from `--json`, and the exit codes `certmail --help` promises: 0 ok,
//! 1 refused, 2 usage, 3 daemon not running.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use certmail_tests::{certmail_bin, fixtures, tls};

const PASSWORD: &str = "Gpki-Pass-2026!";
const STEP: Duration = Duration::from_secs(30);

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_audit_and_totp_on_a_live_daemon() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", PASSWORD)?;

    // Stopped daemon: commands that need it exit 3; the others open the store.
    for args in [
        &["session", "list", "--json"][..],
        &["reload", "--json"],
        &["audit", "tail", "-f", "--json"],
    ] {
        let (code, out, err) = fx.certmail(args)?;
        assert_eq!(code, 3, "{args:?}: {out}{err}");
        assert_eq!(json(&out)["code"], "not_running", "{args:?}");
    }
    let (code, out, err) = fx.certmail(&["stats", "--json"])?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["data"]["stats"]["daemon_running"], false);

    let daemon = fx.start()?;
    // A signed-in IMAP connection: a live session and a sign_in_ok audit event.
    let mut session =
        certmail_tests::imap_session::login(daemon.addr("imaps"), fx.user_tls()?, "hong", PASSWORD)
            .await?;
    tokio::time::timeout(
        STEP,
        session.append("INBOX", None, None, b"Subject: hi\r\n\r\n1\r\n"),
    )
    .await??;

    let (code, out, err) = fx.certmail(&["stats", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let s = &json(&out)["data"]["stats"];
    assert_eq!(s["daemon_running"], true);
    assert_eq!(s["accounts"], 2);
    assert_eq!(s["accounts_by_state"]["active"], 2);
    assert_eq!(s["messages"], 1);
    assert_eq!(s["queue_depth"], 0);
    assert_eq!(s["sessions"]["live"], 1);
    assert!(s["store_bytes"].as_u64().expect("size") > 0);
    let (code, out, _) = fx.certmail(&["stats"])?;
    assert_eq!(code, 0);
    assert!(out.contains("queue_depth"), "{out}");

    // audit tail: the newest events, oldest first; the sign-in is the last one.
    let (code, out, err) = fx.certmail(&["audit", "tail", "-n", "3", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let events = json(&out)["data"]["events"]
        .as_array()
        .expect("list")
        .clone();
    assert_eq!(events.len(), 3);
    let last = events.last().expect("three");
    assert_eq!(last["kind"], "sign_in_ok");
    assert_eq!(last["account"], "hong");
    assert_eq!(last["ip"], "127.0.0.1");

    // audit search: every filter must hold for every event returned.
    let (code, out, _) = fx.certmail(&["audit", "search", "--account", "kim", "--json"])?;
    assert_eq!(code, 0);
    let kim = json(&out)["data"]["events"]
        .as_array()
        .expect("list")
        .clone();
    assert!(
        !kim.is_empty(),
        "kim's account add and cert-less admin events"
    );
    assert!(kim.iter().all(|e| e["account"] == "kim"));
    let (code, out, _) = fx.certmail(&[
        "audit",
        "search",
        "--ip",
        "127.0.0.1",
        "--since",
        "1h",
        "--json",
    ])?;
    assert_eq!(code, 0);
    let by_ip = json(&out)["data"]["events"]
        .as_array()
        .expect("list")
        .clone();
    assert!(by_ip.iter().any(|e| e["kind"] == "sign_in_ok"));
    assert!(by_ip.iter().all(|e| e["ip"] == "127.0.0.1"));
    let (_, out, _) = fx.certmail(&["audit", "search", "--since", "2099-01-01", "--json"])?;
    assert_eq!(
        json(&out)["data"]["events"].as_array().map(Vec::len),
        Some(0)
    );
    let (code, out, _) = fx.certmail(&["audit", "search", "--since", "어제", "--json"])?;
    assert_eq!(code, 2, "a bad time is a usage error");
    assert_eq!(json(&out)["code"], "invalid");

    // audit tail -f prints new events as they happen.
    follow_sees_a_new_event(&fx, &daemon).await?;

    // TOTP: the URI and, for a person, a QR code of half blocks; JSON stays plain JSON.
    let (code, out, err) = fx.certmail(&["account", "totp", "enable", "kim"])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("otpauth://totp/"), "{out}");
    let qr_rows = out
        .lines()
        .filter(|l| l.contains('▀') || l.contains('▄'))
        .count();
    assert!(qr_rows >= 15, "a QR code is printed: {out}");
    let (code, out, _) = fx.certmail(&["account", "totp", "show", "kim", "--json"])?;
    assert_eq!(code, 0);
    let uri = json(&out)["data"]["otpauth_uri"]
        .as_str()
        .expect("uri")
        .to_string();
    assert!(uri.starts_with("otpauth://totp/"));
    let (code, out, _) = fx.certmail(&["account", "totp", "show", "nobody", "--json"])?;
    assert_eq!(code, 1);
    assert_eq!(json(&out)["code"], "not_found");

    // Usage errors are 2, and --help documents the codes.
    let (code, _, _) = fx.certmail(&["audit", "tail", "-n", "many"])?;
    assert_eq!(code, 2);
    let (code, out, _) = fx.certmail(&["--help"])?;
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes") && out.contains("3  the daemon is not running"));
    session.logout().await?;
    Ok(())
}

/// Starts `audit tail -f --json`, causes a refused sign-in, and reads its event.
async fn follow_sees_a_new_event(
    fx: &fixtures::Installation,
    daemon: &certmail_tests::DaemonProcess,
) -> anyhow::Result<()> {
    let mut child = Command::new(certmail_bin())
        .args(["audit", "tail", "-f", "-n", "1", "--json", "--config"])
        .arg(&fx.config_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(STEP)?;
    assert_eq!(json(&first)["kind"], "sign_in_ok", "{first}");
    // A wrong password: a new event, which -f prints as one JSON line.
    let stream = tls::connect(daemon.addr("imaps"), fx.user_tls()?).await?;
    let mut client = async_imap::Client::new(stream);
    tokio::time::timeout(STEP, client.read_response()).await??;
    let refused = tokio::time::timeout(STEP, client.login("hong", "wrong-password")).await?;
    assert!(refused.is_err(), "a wrong password is refused");
    let line = rx.recv_timeout(STEP)?;
    let event = json(&line);
    assert_eq!(event["kind"], "sign_in_refused", "{line}");
    assert_eq!(event["fields"]["reason"], "bad_password");
    child.kill()?;
    child.wait()?;
    Ok(())
}
