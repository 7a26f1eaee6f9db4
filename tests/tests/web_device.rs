//! `[web] counts_as_device` in the running daemon: with `false` (the default) a browser
//! session and the mail session of another device leave each other alone; with `true` a
//! browser session is a device like any other under the one-active-session rule and
//! `[auth] session_policy` (a web sign-in ends the IMAP session and vice versa under
//! `replace`; under `reject` the live session refuses the newcomer). The IMAP "device"
//! connects from 127.0.0.2, the browser (curl) from 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr};

use certmail_tests::DaemonProcess;
use certmail_tests::web::{ADMIN_PASSWORD, Client, ImapClient, Web, code, imap_session};
use serde_json::{Value, json};

const OTHER_DEVICE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// kim's IMAP connection from the other device, signed in.
async fn imap_from_other_device(web: &Web, daemon: &DaemonProcess) -> anyhow::Result<ImapClient> {
    let tls = web.tls("kim-imap", &web.k.people.gpki_ecdsa)?;
    let (c, answer) = imap_session(daemon, Some(OTHER_DEVICE), tls, "kim", ADMIN_PASSWORD).await?;
    anyhow::ensure!(answer.starts_with("a1 OK"), "IMAP sign-in: {answer}");
    Ok(c)
}

/// kim's browser: curl with kim's certificate and a cookie jar.
fn browser(web: &Web) -> Client {
    let jar = web.fx.dir.path().join("kim.cookies");
    web.client("kim", Some(&web.k.people.gpki_ecdsa))
        .with_cookies(jar)
}

fn open_web_session(kim: &Client) -> (u16, Value) {
    kim.call(
        "POST",
        "/api/session",
        Some(json!({"password": ADMIN_PASSWORD})),
    )
}

/// A daemon with the `[web]` keys `extra`, kim signed in over IMAP from the other
/// device, and kim's browser (not signed in yet).
async fn kim_on_two_devices(
    extra: &str,
) -> anyhow::Result<(Web, DaemonProcess, ImapClient, Client)> {
    let web = Web::new(extra)?;
    let daemon = web.start()?;
    let imap = imap_from_other_device(&web, &daemon).await?;
    let kim = browser(&web);
    Ok((web, daemon, imap, kim))
}

/// The IMAP session still answers.
async fn still_signed_in(imap: &mut ImapClient) -> anyhow::Result<()> {
    imap.send_raw(b"a2 NOOP\r\n").await?;
    let line = imap.line().await?;
    anyhow::ensure!(
        line.starts_with("a2 OK"),
        "the IMAP session goes on: {line}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn false_a_browser_session_and_the_mail_session_leave_each_other_alone() -> anyhow::Result<()>
{
    let (web, daemon, mut imap, kim) = kim_on_two_devices("counts_as_device = false\n").await?;
    let (s, r) = open_web_session(&kim);
    assert_eq!(s, 200, "{r}");
    still_signed_in(&mut imap).await?;

    // A new IMAP sign-in from yet another address does not end the browser session.
    drop(imap);
    let _imap = imap_from_other_device(&web, &daemon).await?;
    let (s, r) = kim.call("GET", "/api/devices", None);
    assert_eq!(s, 200, "the browser session goes on: {r}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn true_a_web_sign_in_ends_the_imap_session_and_vice_versa() -> anyhow::Result<()> {
    let (web, daemon, mut imap, kim) = kim_on_two_devices("counts_as_device = true\n").await?;
    let (s, r) = open_web_session(&kim);
    assert_eq!(s, 200, "{r}");
    let bye = imap.line().await?;
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE] Signed in from another device (127.0.0.1)"),
        "the IMAP session ends: {bye}"
    );
    let (s, r) = kim.call("GET", "/api/devices", None);
    assert_eq!(s, 200, "the browser session is the live one: {r}");

    // The mail client signs in again from its device: the browser session ends, and says why.
    let _imap = imap_from_other_device(&web, &daemon).await?;
    let (s, r) = kim.call("GET", "/api/devices", None);
    assert_eq!((s, code(&r)), (401, "session_ended"), "{r}");
    let message = r["message"].as_str().unwrap_or("");
    assert!(message.contains("another device (127.0.0.2)"), "{r}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn true_with_reject_the_live_mail_session_refuses_the_browser() -> anyhow::Result<()> {
    let reject = "counts_as_device = true\n\n[auth]\nsession_policy = \"reject\"\n";
    let (_web, _daemon, mut imap, kim) = kim_on_two_devices(reject).await?;
    let (s, r) = open_web_session(&kim);
    assert_eq!((s, code(&r)), (409, "session_rejected"), "{r}");
    let message = r["message"].as_str().unwrap_or("");
    assert!(message.contains("another device (127.0.0.2)"), "{r}");
    still_signed_in(&mut imap).await
}

/// Python's imaplib names itself in ID (RFC 2971); the device record keeps the name, and
/// `certmail device list` and the web's `GET /api/devices` show it.
#[tokio::test(flavor = "multi_thread")]
async fn the_client_name_from_imap_id_is_shown_with_the_device() -> anyhow::Result<()> {
    let web = Web::new("")?;
    let daemon = web.start()?;
    let (cert, key) = web.pem("kim-imaplib", &web.k.people.gpki_ecdsa)?;
    let script = format!(
        r#"
import imaplib, ssl, platform
imaplib.Commands["ID"] = ("NONAUTH", "AUTH", "SELECTED")
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})
M = imaplib.IMAP4_SSL("localhost", {port}, ssl_context=ctx, timeout=20)
M.login("kim", {pw:?})
version = platform.python_version()
typ, data = M._simple_command("ID", '("name" "Python imaplib" "version" "%s")' % version)
assert typ == "OK", data
M.logout()
print("Python imaplib " + version)
"#,
        ca = web.fx.server_ca,
        port = daemon.addr("imaps").port(),
        pw = ADMIN_PASSWORD,
    );
    let mut python = std::process::Command::new("python3");
    let said = certmail_tests::outside::run_ok(python.arg("-c").arg(script))?;
    let name = said.stdout.trim();
    assert!(name.starts_with("Python imaplib 3."), "{name}");

    let (code, out, err) = web.fx.certmail(&["device", "list", "kim", "--json"])?;
    assert_eq!(code, 0, "{out}{err}");
    let listed: Value = serde_json::from_str(&out)?;
    assert_eq!(clients(&listed["data"]), [name], "{out}");
    let (code, table, err) = web.fx.certmail(&["device", "list", "kim"])?;
    assert_eq!(code, 0, "{table}{err}");
    assert!(table.contains("CLIENT") && table.contains(name), "{table}");

    let kim = browser(&web);
    let (s, r) = open_web_session(&kim);
    assert_eq!(s, 200, "{r}");
    let (s, r) = kim.call("GET", "/api/devices", None);
    assert_eq!(s, 200, "{r}");
    assert_eq!(clients(&r), [name], "{r}");
    Ok(())
}

/// The `client` of every device in a `{"devices": [...]}` answer that has one.
fn clients(v: &Value) -> Vec<&str> {
    v["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["client"].as_str())
        .collect()
}
