//! Account policy end to end (issue 7, DESIGN.md "Identity" rows 12, 13, 15, 16): lockout
//! and unlock, the per-IP throttle shared by IMAP and SMTP, an expired password, a
//! temporary password, network allowlists, password rules; each refusal with its exact
//! code, and in the audit log as `sign_in_refused` with its reason.

use std::time::Duration;

use base64::Engine as _;
use certmail_store::AuditEvent;
use certmail_tests::lines::LineClient;
use certmail_tests::{DaemonProcess, fixtures, tls};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const PASSWORD: &str = "Gpki-Pass-2026!";

type Tls = LineClient<TlsStream<TcpStream>>;

fn start(fx: &fixtures::Installation) -> anyhow::Result<DaemonProcess> {
    fx.start()
}

/// An installation with 홍길동 (`hong`) and their bound certificate, plus `auth` as its
/// `[auth]` section.
fn installation(auth: &str) -> anyhow::Result<fixtures::Installation> {
    let fx = fixtures::Installation::new()?;
    fx.append_config(&format!("[auth]\n{auth}"))?;
    fx.add_user("hong", "홍길동", PASSWORD, &fx.user_cert)?;
    Ok(fx)
}

async fn imap_connect(daemon: &DaemonProcess, fx: &fixtures::Installation) -> anyhow::Result<Tls> {
    let cfg = fx.user_tls()?;
    let mut c = LineClient::new(tls::connect(daemon.addr("imaps"), cfg).await?);
    anyhow::ensure!(c.line().await?.starts_with("* OK"));
    Ok(c)
}

/// IMAP LOGIN as hong from 127.0.0.1 with the bound certificate: the tagged reply.
async fn imap_login(
    daemon: &DaemonProcess,
    fx: &fixtures::Installation,
    password: &str,
) -> anyhow::Result<String> {
    let mut c = imap_connect(daemon, fx).await?;
    c.send_raw(format!("a1 LOGIN hong \"{password}\"\r\n").as_bytes())
        .await?;
    c.line().await
}

/// SMTP AUTH PLAIN as hong on port 465 with the bound certificate: the reply.
async fn smtp_auth(
    daemon: &DaemonProcess,
    fx: &fixtures::Installation,
    password: &str,
) -> anyhow::Result<String> {
    let cfg = fx.user_tls()?;
    let mut c = LineClient::new(tls::connect(daemon.addr("submissions"), cfg).await?);
    anyhow::ensure!(c.smtp_reply().await?.starts_with("220 "));
    c.smtp("EHLO client.test").await?;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{password}"));
    c.smtp(&format!("AUTH PLAIN {plain}")).await
}

fn starts(reply: &str, prefix: &str) {
    assert!(
        reply.starts_with(prefix),
        "expected {prefix:?}, got {reply:?}"
    );
}

/// Stops the daemon cleanly and reads the whole audit log.
async fn stop_and_read_audit(
    fx: &fixtures::Installation,
    mut daemon: DaemonProcess,
) -> anyhow::Result<Vec<AuditEvent>> {
    daemon.signal("TERM")?;
    daemon.wait_exit(Duration::from_secs(30))?;
    let store = fx.open_store().await?;
    let events = store.audit_range(0, i64::MAX, 100_000).await?;
    tokio::task::spawn_blocking(move || drop(store)).await?;
    Ok(events)
}

/// The reasons of refused sign-ins, in order, with their protocol.
fn refusals(events: &[AuditEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e.kind == "sign_in_refused")
        .map(|e| (e.fields["protocol"].clone(), e.fields["reason"].clone()))
        .collect()
}

fn pair(proto: &str, reason: &str) -> (String, String) {
    (proto.to_string(), reason.to_string())
}

/// Edits hong's account in a stopped daemon's store.
async fn edit_account(
    fx: &fixtures::Installation,
    edit: impl FnOnce(&mut certmail_store::Account),
) -> anyhow::Result<()> {
    let store = fx.open_store().await?;
    let mut a = store
        .account("hong")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no account hong"))?;
    edit(&mut a);
    store.update_account(a).await?;
    tokio::task::spawn_blocking(move || drop(store)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn five_wrong_passwords_lock_the_account_until_an_admin_unlocks_it() -> anyhow::Result<()> {
    let fx = installation("lockout_threshold = 5")?;
    let daemon = start(&fx)?;
    // A live session of the account, which the lock must end.
    let mut live = imap_connect(&daemon, &fx).await?;
    live.send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    starts(&live.line().await?, "a1 OK");
    for _ in 0..4 {
        starts(
            &imap_login(&daemon, &fx, "Wrong-Pass-1").await?,
            "a1 NO [AUTHENTICATIONFAILED]",
        );
    }
    let fifth = smtp_auth(&daemon, &fx, "Wrong-Pass-1").await?;
    starts(&fifth, "535 5.7.8");
    assert!(fifth.contains("locked"), "{fifth}");
    let bye = live.line().await?;
    starts(&bye, "* BYE [UNAVAILABLE]");
    assert!(bye.contains("locked"), "{bye}");
    // The right password no longer opens it, over either protocol.
    let r = imap_login(&daemon, &fx, PASSWORD).await?;
    starts(&r, "a1 NO [CONTACTADMIN]");
    assert!(r.contains("locked"), "{r}");
    starts(&smtp_auth(&daemon, &fx, PASSWORD).await?, "535 5.7.8");

    let (code, out, err) = fx.certmail(&["account", "unlock", "hong"])?;
    assert_eq!(code, 0, "{out}{err}");
    starts(&imap_login(&daemon, &fx, PASSWORD).await?, "a1 OK");

    // An admin lock ends the live session and refuses sign-in.
    let mut c = imap_connect(&daemon, &fx).await?;
    c.send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    starts(&c.line().await?, "a1 OK");
    let (code, out, err) = fx.certmail(&["account", "lock", "hong"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 connection ended"), "{out}");
    let bye = c.line().await?;
    starts(&bye, "* BYE [UNAVAILABLE]");
    starts(
        &imap_login(&daemon, &fx, PASSWORD).await?,
        "a1 NO [CONTACTADMIN]",
    );

    let events = stop_and_read_audit(&fx, daemon).await?;
    let mut want = vec![pair("imap", "bad_password"); 4];
    want.extend([
        pair("smtp", "bad_password"),
        pair("imap", "account_locked"),
        pair("smtp", "account_locked"),
        pair("imap", "account_locked"),
    ]);
    assert_eq!(refusals(&events), want);
    assert!(
        events
            .iter()
            .filter(|e| e.kind == "sign_in_refused")
            .all(|e| e.account.as_deref() == Some("hong")),
        "refusals after the certificate and name checks are filed under the account"
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == "account_locked" && e.account.as_deref() == Some("hong")),
        "the lock itself is audited"
    );
    for op in ["account-unlock", "account-lock"] {
        assert!(
            events.iter().any(|e| e.kind == "admin"
                && e.fields.get("op").map(String::as_str) == Some(op)
                && e.account.as_deref() == Some("hong")),
            "the admin's {op} is audited under the account"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_with_another_certificate_do_not_lock() -> anyhow::Result<()> {
    let fx = installation("lockout_threshold = 2")?;
    // kim has no certificate of their own: hong's certificate signs in as kim, which is
    // bound_to_other_account and must never count against kim.
    fx.add_account("kim", "김철수", "another-Password-1")?;
    let daemon = start(&fx)?;
    let cfg = fx.user_tls()?;
    for _ in 0..3 {
        let mut c = LineClient::new(tls::connect(daemon.addr("imaps"), cfg.clone()).await?);
        c.line().await?;
        c.send_raw(b"a1 LOGIN kim \"guess-Pass-1\"\r\n").await?;
        starts(&c.line().await?, "a1 NO [AUTHENTICATIONFAILED]");
    }
    let (_, out, _) = fx.certmail(&["account", "show", "kim", "--json"])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(v["data"]["account"]["state"], "active");
    assert_eq!(v["data"]["account"]["failed_logins"], 0);
    let events = stop_and_read_audit(&fx, daemon).await?;
    assert_eq!(
        refusals(&events),
        vec![pair("imap", "bound_to_other_account"); 3]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_ip_throttle_counts_imap_and_smtp_together() -> anyhow::Result<()> {
    let fx =
        installation("lockout_threshold = 0\nip_failure_limit = 3\nip_failure_window_secs = 600")?;
    let daemon = start(&fx)?;
    starts(
        &imap_login(&daemon, &fx, "Wrong-Pass-1").await?,
        "a1 NO [AUTHENTICATIONFAILED]",
    );
    starts(
        &imap_login(&daemon, &fx, "Wrong-Pass-2").await?,
        "a1 NO [AUTHENTICATIONFAILED]",
    );
    starts(&smtp_auth(&daemon, &fx, "Wrong-Pass-3").await?, "535 5.7.8");
    // The right password now waits out the window, over both protocols.
    let r = smtp_auth(&daemon, &fx, PASSWORD).await?;
    starts(&r, "454 4.7.0");
    assert!(r.contains("127.0.0.1"), "{r}");
    starts(
        &imap_login(&daemon, &fx, PASSWORD).await?,
        "a1 NO [UNAVAILABLE]",
    );
    let events = stop_and_read_audit(&fx, daemon).await?;
    assert_eq!(
        refusals(&events),
        vec![
            pair("imap", "bad_password"),
            pair("imap", "bad_password"),
            pair("smtp", "bad_password"),
            pair("smtp", "too_many_failures"),
            pair("imap", "too_many_failures"),
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_password_is_refused_with_expired() -> anyhow::Result<()> {
    let fx = installation("password_max_age_days = 90\ncontact = \"the helpdesk (02-000-0000)\"")?;
    edit_account(&fx, |a| {
        a.password_set_at = a.password_set_at.map(|t| t - 91 * 86_400);
    })
    .await?;
    let daemon = start(&fx)?;
    let r = imap_login(&daemon, &fx, PASSWORD).await?;
    starts(&r, "a1 NO [EXPIRED]");
    assert!(r.contains("expired") && r.contains("02-000-0000"), "{r}");
    let r = smtp_auth(&daemon, &fx, PASSWORD).await?;
    starts(&r, "535 5.7.8");
    assert!(
        r.contains("expired") && r.contains("certmail account passwd"),
        "{r}"
    );
    // A new password from the administrator works at once.
    let (code, _, err) = fx.certmail(&["account", "passwd", "hong"])?;
    assert_eq!(code, 0, "{err}");
    let events = stop_and_read_audit(&fx, daemon).await?;
    assert_eq!(
        refusals(&events),
        vec![
            pair("imap", "password_expired"),
            pair("smtp", "password_expired")
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_temporary_password_works_only_for_its_hours() -> anyhow::Result<()> {
    let fx = installation("temporary_password_hours = 72")?;
    let (code, out, err) = fx.certmail(&["account", "passwd", "hong", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let temp = serde_json::from_str::<serde_json::Value>(&out)?["data"]["temporary_password"]
        .as_str()
        .expect("generated")
        .to_string();
    let daemon = start(&fx)?;
    starts(&imap_login(&daemon, &fx, &temp).await?, "a1 OK");
    let events = stop_and_read_audit(&fx, daemon).await?;
    assert!(refusals(&events).is_empty());

    edit_account(&fx, |a| {
        a.password_set_at = a.password_set_at.map(|t| t - 73 * 3600);
    })
    .await?;
    let daemon = start(&fx)?;
    let r = imap_login(&daemon, &fx, &temp).await?;
    starts(&r, "a1 NO [EXPIRED]");
    assert!(r.contains("temporary"), "{r}");
    starts(&smtp_auth(&daemon, &fx, &temp).await?, "535 5.7.8");
    let events = stop_and_read_audit(&fx, daemon).await?;
    assert_eq!(
        refusals(&events),
        vec![
            pair("imap", "temporary_password_expired"),
            pair("smtp", "temporary_password_expired")
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn networks_of_the_organisation_and_of_the_account() -> anyhow::Result<()> {
    let fx = installation("networks = { \"행정안전부\" = [\"10.0.0.0/8\"] }")?;
    let daemon = start(&fx)?;
    // 127.0.0.1 is outside the organisation's 10.0.0.0/8.
    let r = imap_login(&daemon, &fx, PASSWORD).await?;
    starts(&r, "a1 NO [AUTHENTICATIONFAILED]");
    assert!(r.contains("127.0.0.1"), "{r}");
    starts(&smtp_auth(&daemon, &fx, PASSWORD).await?, "535 5.7.8");
    // The account's own list replaces the organisation's.
    let (code, out, err) = fx.certmail(&["account", "networks", "hong", "127.0.0.0/8"])?;
    assert_eq!(code, 0, "{out}{err}");
    starts(&imap_login(&daemon, &fx, PASSWORD).await?, "a1 OK");
    starts(&smtp_auth(&daemon, &fx, PASSWORD).await?, "235 ");
    let (code, _, err) = fx.certmail(&["account", "networks", "hong", "not-a-network"])?;
    assert_eq!(code, 1);
    assert!(err.contains("not-a-network"), "{err}");
    // With no list of its own, the organisation's applies again.
    let (code, _, _) = fx.certmail(&["account", "networks", "hong"])?;
    assert_eq!(code, 0);
    starts(
        &imap_login(&daemon, &fx, PASSWORD).await?,
        "a1 NO [AUTHENTICATIONFAILED]",
    );
    let events = stop_and_read_audit(&fx, daemon).await?;
    assert_eq!(
        refusals(&events),
        vec![
            pair("imap", "network_not_allowed"),
            pair("smtp", "network_not_allowed"),
            pair("imap", "network_not_allowed"),
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_an_administrator_sets_follow_the_rules() -> anyhow::Result<()> {
    let fx = installation("password_min_length = 12")?;
    let passwd = |pw: &str| -> anyhow::Result<(bool, String)> {
        let mut child = std::process::Command::new(certmail_tests::certmail_bin())
            .args(["account", "passwd", "hong", "--password-stdin", "--config"])
            .arg(&fx.config_path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        {
            use std::io::Write as _;
            writeln!(child.stdin.take().expect("piped"), "{pw}")?;
        }
        let out = child.wait_with_output()?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    };
    let (ok, err) = passwd("Short-1!")?;
    assert!(
        !ok && err.contains("weak_password") && err.contains("12"),
        "{err}"
    );
    let (ok, err) = passwd("alllowercaseletters")?;
    assert!(!ok && err.contains("kinds"), "{err}");
    let (ok, err) = passwd("My-hong-Password-1")?;
    assert!(!ok && err.contains("account id"), "{err}");
    let (ok, err) = passwd("새-비밀번호-2026!")?;
    assert!(ok, "Hangul, digits and symbols make three kinds: {err}");
    Ok(())
}

/// RFC 4648 base32 (unpadded, as in otpauth URIs) to bytes.
fn base32_decode(s: &str) -> Vec<u8> {
    let (mut out, mut buf, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {s}"),
        };
        buf = (buf << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn totp_on_a_new_device_with_replays_refused_and_devices_listed() -> anyhow::Result<()> {
    let fx = installation("totp_remember_days = 30")?;
    let (code, out, err) = fx.certmail(&["account", "totp", "enable", "hong", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let uri = v["data"]["otpauth_uri"].as_str().expect("uri").to_string();
    assert!(
        uri.starts_with("otpauth://totp/mail.test.go.kr:hong?secret="),
        "{uri}"
    );
    let secret_b32 = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("secret");
    let secret = base32_decode(secret_b32);
    let step = certmail_auth::totp::step_of(certmail_auth::now());
    let code_for = |s: i64| format!("{:06}", certmail_auth::totp::code_at(&secret, s, 6));

    let daemon = start(&fx)?;
    // A device that never gave a code: the password alone is not enough.
    let r = imap_login(&daemon, &fx, PASSWORD).await?;
    starts(&r, "a1 NO [AUTHENTICATIONFAILED]");
    assert!(r.contains("6-digit code"), "{r}");
    // Password + code: accepted, and the device is remembered.
    let with_code = format!("{PASSWORD}{}", code_for(step));
    starts(&smtp_auth(&daemon, &fx, &with_code).await?, "235 ");
    starts(&imap_login(&daemon, &fx, PASSWORD).await?, "a1 OK");
    let (code, out, err) = fx.certmail(&["device", "list", "hong", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let devices = v["data"]["devices"].as_array().expect("devices").clone();
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0]["network"], "127.0.0.0/24");
    assert!(devices[0]["first_seen"].as_i64() <= devices[0]["last_seen"].as_i64());
    let device_id = devices[0]["id"].as_str().expect("id").to_string();

    // Forgotten, the device must give a code again, and the used one is a replay.
    let (code, out, err) = fx.certmail(&["device", "forget", "hong", &device_id])?;
    assert_eq!(code, 0, "{out}{err}");
    let r = imap_login(&daemon, &fx, &with_code).await?;
    starts(&r, "a1 NO [AUTHENTICATIONFAILED]");
    assert!(r.contains("already used"), "{r}");
    // The next step's code is fresh (±1 step).
    starts(
        &imap_login(&daemon, &fx, &format!("{PASSWORD}{}", code_for(step + 1))).await?,
        "a1 OK",
    );
    let (code, _, _) = fx.certmail(&["device", "forget", "hong", "0000@nowhere"])?;
    assert_eq!(code, 1);

    let events = stop_and_read_audit(&fx, daemon).await?;
    assert_eq!(
        refusals(&events),
        vec![pair("imap", "totp_required"), pair("imap", "totp_invalid")]
    );
    Ok(())
}

/// IMAP LOGIN as hong from `from` with the bound certificate; the connection and reply.
async fn imap_login_from(
    daemon: &DaemonProcess,
    fx: &fixtures::Installation,
    from: &str,
) -> anyhow::Result<(Tls, String)> {
    let cfg = fx.user_tls()?;
    let mut c = LineClient::new(tls::connect_from(from.parse()?, daemon.addr("imaps"), cfg).await?);
    anyhow::ensure!(c.line().await?.starts_with("* OK"));
    c.send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    let reply = c.line().await?;
    Ok((c, reply))
}

#[tokio::test(flavor = "multi_thread")]
async fn session_policy_reject_and_the_connection_cap_come_from_the_config() -> anyhow::Result<()> {
    let fx = installation("session_policy = \"reject\"\nmax_connections_per_session = 2")?;
    let daemon = start(&fx)?;
    let (mut first, r) = imap_login_from(&daemon, &fx, "127.0.0.1").await?;
    starts(&r, "a1 OK");
    let (_second, r) = imap_login_from(&daemon, &fx, "127.0.0.1").await?;
    starts(&r, "a1 OK");
    // The same device's third connection is over the cap.
    let (_, r) = imap_login_from(&daemon, &fx, "127.0.0.1").await?;
    starts(&r, "a1 NO [UNAVAILABLE]");
    // Another device (address) is refused while the first session lives; the first goes on.
    let (_, r) = imap_login_from(&daemon, &fx, "127.0.0.2").await?;
    starts(&r, "a1 NO [UNAVAILABLE]");
    first.send_raw(b"a2 NOOP\r\n").await?;
    starts(&first.line().await?, "a2 OK");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_puts_a_new_auth_policy_in_force_for_imap_and_smtp() -> anyhow::Result<()> {
    let fx = installation("")?;
    let notify_path = fx.dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&notify_path)?;
    sock.set_read_timeout(Some(Duration::from_secs(30)))?;
    let recv = || -> anyhow::Result<String> {
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    let daemon = DaemonProcess::start(
        &["serve", "--config", fx.config_path.to_str().expect("utf-8")],
        &[("NOTIFY_SOCKET", notify_path.to_str().expect("utf-8"))],
        &fixtures::LISTENERS,
    )?;
    assert!(recv()?.contains("READY=1"));
    starts(&imap_login(&daemon, &fx, PASSWORD).await?, "a1 OK");

    let text = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        text.replace(
            "[auth]\n",
            "[auth]\nnetworks = { \"행정안전부\" = [\"10.0.0.0/8\"] }\n",
        ),
    )?;
    daemon.signal("HUP")?;
    assert!(recv()?.contains("RELOADING=1"));
    assert!(recv()?.contains("READY=1"));
    starts(
        &imap_login(&daemon, &fx, PASSWORD).await?,
        "a1 NO [AUTHENTICATIONFAILED]",
    );
    starts(&smtp_auth(&daemon, &fx, PASSWORD).await?, "535 5.7.8");
    let events = stop_and_read_audit(&fx, daemon).await?;
    assert_eq!(
        refusals(&events),
        vec![
            pair("imap", "network_not_allowed"),
            pair("smtp", "network_not_allowed")
        ]
    );
    Ok(())
}
