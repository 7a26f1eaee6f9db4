//! ManageSieve (RFC 5804) in the running daemon (`[sieve] listen`): `sieve-connect` from
//! the distribution uploads, activates, lists and downloads 홍길동's filter with his client
//! certificate and password, and a message then sent over SMTP is filed by it; a raw
//! transcript over rustls checks STARTTLS, AUTHENTICATE "PLAIN", PUTSCRIPT with literals,
//! compile errors with their line, SETACTIVE, the quotas and the refusal to delete the
//! active script, and that no sign-in is taken before TLS.

use std::process::{Command, Stdio};

use base64::Engine as _;
use certmail_store::Store;
use certmail_tests::lines::LineClient;
use certmail_tests::{DaemonProcess, fixtures};
use tokio::net::TcpStream;

const PASSWORD: &str = "Sieve-Pass-2026!";

/// 홍길동's filter: meeting notes into their own mailbox.
const SCRIPT: &str = "require [\"fileinto\", \"mailbox\"];\r\n\
if header :contains \"subject\" \"회의록\" {\r\n    fileinto :create \"회의\";\r\n}\r\n";

/// An installation with 홍길동 (hong) and ManageSieve on.
/// `quota`: `[sieve] max_scripts` and `max_script_size`, when not the defaults.
fn installation(quota: Option<(u32, u64)>) -> anyhow::Result<fixtures::Installation> {
    let mut fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.edit_config(|c| {
        c.sieve.listen = vec!["127.0.0.1:0".parse().expect("literal address")];
        if let Some((scripts, bytes)) = quota {
            c.sieve.max_scripts = scripts;
            c.sieve.max_script_size = bytes;
        }
    })?;
    Ok(fx)
}

fn start(fx: &fixtures::Installation) -> anyhow::Result<DaemonProcess> {
    let config = fx.config_path.to_str().expect("utf-8 temp path");
    let mut expect = fixtures::LISTENERS.to_vec();
    expect.push("managesieve");
    DaemonProcess::start(&["serve", "--config", config], &[], &expect)
}

/// Runs sieve-connect against `port` as hong with his certificate; `args` is the action.
fn sieve_connect(fx: &fixtures::Installation, port: u16, args: &[&str]) -> anyhow::Result<String> {
    let (ca, cert, key) = fx.client_pem_paths();
    let mut child = Command::new("sieve-connect")
        .args(["--4", "--server", "127.0.0.1", "--port", &port.to_string()])
        .args(["--user", "hong", "--passwordfd", "0", "--authmech", "PLAIN"])
        .args(["--clientcert", cert, "--clientkey", key, "--tlscafile", ca])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("piped stdin");
        writeln!(stdin, "{PASSWORD}")?;
    }
    let out = child.wait_with_output()?;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    anyhow::ensure!(
        out.status.success(),
        "sieve-connect {args:?} failed: {stdout}{stderr}"
    );
    Ok(format!("{stdout}{stderr}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn sieve_connect_uploads_a_filter_that_delivery_then_runs() -> anyhow::Result<()> {
    let fx = installation(None)?;
    let daemon = start(&fx)?;
    let port = daemon.addr("managesieve").port();
    let local = fx.dir.path().join("회의.sieve");
    std::fs::write(&local, SCRIPT)?;
    let local = local.to_str().expect("utf-8 temp path");

    sieve_connect(
        &fx,
        port,
        &["--upload", "--localsieve", local, "--remotesieve", "회의"],
    )?;
    sieve_connect(&fx, port, &["--activate", "--remotesieve", "회의"])?;
    let listed = sieve_connect(&fx, port, &["--list"])?;
    assert!(
        listed.lines().any(|l| l.trim() == "\"회의\" ACTIVE"),
        "the uploaded script is listed as active: {listed}"
    );
    let downloaded = fx.dir.path().join("받음.sieve");
    let downloaded_s = downloaded.to_str().expect("utf-8 temp path");
    sieve_connect(
        &fx,
        port,
        &[
            "--download",
            "--remotesieve",
            "회의",
            "--localsieve",
            downloaded_s,
        ],
    )?;
    assert_eq!(
        std::fs::read_to_string(&downloaded)?,
        SCRIPT,
        "downloaded as uploaded"
    );

    let smtp = daemon.addr("smtp").port();
    let python = format!(
        r#"
import smtplib
from email.message import EmailMessage
with smtplib.SMTP("127.0.0.1", {smtp}, timeout=20) as s:
    for subject in ["12월 회의록", "점심 메뉴"]:
        m = EmailMessage()
        m["From"] = "김영희 <kim@partner.example>"
        m["To"] = "hong@test.go.kr"
        m["Subject"] = subject
        m.set_content("확인 부탁드립니다.")
        s.send_message(m, from_addr="kim@partner.example", to_addrs=["hong@test.go.kr"])
"#
    );
    certmail_tests::outside::run_ok(Command::new("python3").arg("-c").arg(python))?;
    drop(daemon);

    let store = fx.open_store().await?;
    let filed = bodies(&*store, "회의").await?;
    assert_eq!(
        certmail_tests::outside::subjects(&filed),
        ["12월 회의록"],
        "the script uploaded over ManageSieve filed the meeting notes"
    );
    let inbox = bodies(&*store, "INBOX").await?;
    assert_eq!(certmail_tests::outside::subjects(&inbox), ["점심 메뉴"]);
    let audit = store.audit_by_account("hong", 100).await?;
    for kind in ["sieve.put", "sieve.activate"] {
        assert!(
            audit
                .iter()
                .any(|e| e.kind == kind
                    && e.fields.get("script").map(String::as_str) == Some("회의")),
            "{kind} is audited: {audit:?}"
        );
    }
    Ok(())
}

/// The messages of hong's `mailbox`.
async fn bodies(store: &dyn Store, mailbox: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for m in store.messages("hong", mailbox, 1..=u32::MAX).await? {
        out.push(store.message_body("hong", &m.blob).await?.to_vec());
    }
    Ok(out)
}

/// A ManageSieve client over any stream: commands and responses up to OK/NO/BYE.
struct Client<S>(LineClient<S>);

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Client<S> {
    /// Lines up to and including the final OK, NO or BYE line.
    async fn response(&mut self) -> anyhow::Result<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let line = self.0.line().await?;
            anyhow::ensure!(!line.is_empty() || !lines.is_empty(), "connection closed");
            let last = ["OK", "NO", "BYE"]
                .iter()
                .any(|s| line == *s || line.starts_with(&format!("{s} ")));
            lines.push(line);
            if last {
                return Ok(lines);
            }
        }
    }

    /// Sends `bytes` and returns the final line of the response.
    async fn send(&mut self, text: &str) -> anyhow::Result<String> {
        self.0.send_raw(text.as_bytes()).await?;
        Ok(self.response().await?.pop().unwrap_or_default())
    }

    /// PUTSCRIPT with `script` as a literal of the `plus` (`{n+}`) or plain `{n}` form.
    async fn put(&mut self, name: &str, script: &str, plus: bool) -> anyhow::Result<String> {
        let marker = if plus { "+" } else { "" };
        let command = format!(
            "PUTSCRIPT \"{name}\" {{{}{marker}}}\r\n{script}\r\n",
            script.len()
        );
        self.send(&command).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_transcript_over_starttls() -> anyhow::Result<()> {
    let fx = installation(Some((2, 1024)))?;
    let daemon = start(&fx)?;
    let addr = daemon.addr("managesieve");

    // S: the capabilities in the clear: STARTTLS, and no SASL mechanism before TLS.
    let mut c = Client(LineClient::new(TcpStream::connect(addr).await?));
    let greeting = c.response().await?;
    assert!(
        greeting.contains(&"\"STARTTLS\"".to_string()),
        "{greeting:?}"
    );
    assert!(
        greeting.contains(&"\"SASL\" \"\"".to_string()),
        "{greeting:?}"
    );
    assert!(
        greeting.contains(&"\"VERSION\" \"1.0\"".to_string()),
        "{greeting:?}"
    );
    assert!(
        greeting.iter().any(|l| l.starts_with("\"SIEVE\" \"")
            && l.contains("fileinto")
            && l.contains("vacation")),
        "{greeting:?}"
    );
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{PASSWORD}"));
    let refused = c
        .send(&format!("AUTHENTICATE \"PLAIN\" \"{plain}\"\r\n"))
        .await?;
    assert!(
        refused.starts_with("NO (ENCRYPT-NEEDED) \"Sign-in needs TLS")
            && refused.contains("STARTTLS"),
        "no sign-in in the clear, with a sentence: {refused}"
    );
    assert!(c.send("STARTTLS\r\n").await?.starts_with("OK"));

    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    let tls = tokio_rustls::TlsConnector::from(fx.user_tls()?)
        .connect(name, c.0.into_inner())
        .await?;
    let mut c = Client(LineClient::new(tls));
    let capabilities = c.response().await?;
    assert!(
        capabilities.contains(&"\"SASL\" \"PLAIN\"".to_string()),
        "{capabilities:?}"
    );
    assert!(
        !capabilities.contains(&"\"STARTTLS\"".to_string()),
        "{capabilities:?}"
    );
    let before = c.put("규칙", "keep;", true).await?;
    assert!(before.starts_with("NO \"Sign in first"), "{before}");

    // AUTHENTICATE without an initial response: an empty challenge, then the message.
    c.0.send_raw(b"AUTHENTICATE \"PLAIN\"\r\n").await?;
    assert_eq!(c.0.line().await?, "\"\"");
    let signed = c.send(&format!("\"{plain}\"\r\n")).await?;
    assert!(signed.starts_with("OK"), "{signed}");

    assert!(c.put("규칙", SCRIPT, true).await?.starts_with("OK"));
    let bad = "require \"fileinto\";\r\nfileinto \"보관\";\r\nvacation \"부재중입니다\";\r\n";
    let refused = c.put("틀림", bad, false).await?;
    assert!(
        refused.starts_with("NO \"The script has an error: line 3"),
        "a syntax error is refused with its line: {refused}"
    );
    assert!(c.send("SETACTIVE \"규칙\"\r\n").await?.starts_with("OK"));
    assert!(
        c.send("CHECKSCRIPT {5+}\r\nkeep;\r\n")
            .await?
            .starts_with("OK")
    );

    let big = format!("# {}\r\nkeep;\r\n", "가".repeat(400));
    let too_big = c.put("큰것", &big, true).await?;
    assert!(too_big.starts_with("NO (QUOTA/MAXSIZE)"), "{too_big}");
    assert!(c.put("둘째", "keep;", true).await?.starts_with("OK"));
    let third = c.put("셋째", "keep;", true).await?;
    assert!(
        third.starts_with("NO (QUOTA/MAXSCRIPTS) \"You already have 2 scripts"),
        "{third}"
    );
    let space = c.send("HAVESPACE \"셋째\" 10\r\n").await?;
    assert!(space.starts_with("NO (QUOTA/MAXSCRIPTS)"), "{space}");

    let active = c.send("DELETESCRIPT \"규칙\"\r\n").await?;
    assert!(
        active.starts_with("NO (ACTIVE)") && active.contains("activate another script or none"),
        "{active}"
    );
    let missing = c.send("GETSCRIPT \"없음\"\r\n").await?;
    assert!(missing.starts_with("NO (NONEXISTENT)"), "{missing}");
    let exists = c.send("RENAMESCRIPT \"둘째\" \"규칙\"\r\n").await?;
    assert!(exists.starts_with("NO (ALREADYEXISTS)"), "{exists}");

    c.0.send_raw(b"LISTSCRIPTS\r\n").await?;
    let listed = c.response().await?;
    assert_eq!(
        listed,
        ["\"규칙\" ACTIVE", "\"둘째\"", "OK"],
        "by name, bytewise"
    );
    c.0.send_raw("GETSCRIPT \"규칙\"\r\n".as_bytes()).await?;
    let got = c.response().await?;
    assert_eq!(got[0], format!("{{{}}}", SCRIPT.len()));
    assert_eq!(got[1..got.len() - 1].join("\r\n"), SCRIPT, "{got:?}");

    assert!(c.send("SETACTIVE \"\"\r\n").await?.starts_with("OK"));
    assert!(c.send("DELETESCRIPT \"규칙\"\r\n").await?.starts_with("OK"));
    assert!(c.send("LOGOUT\r\n").await?.starts_with("OK"));
    drop(daemon);

    let store = fx.open_store().await?;
    let names: Vec<String> = store
        .list_scripts("hong")
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["둘째"]);
    let audit = store.audit_by_account("hong", 100).await?;
    assert!(audit.iter().any(|e| e.kind == "sieve.delete"), "{audit:?}");
    Ok(())
}

/// Signs hong in over ManageSieve from the local address `from` (STARTTLS, his certificate,
/// AUTHENTICATE "PLAIN" with an initial response).
async fn signed_in_from(
    from: std::net::IpAddr,
    fx: &fixtures::Installation,
    addr: std::net::SocketAddr,
) -> anyhow::Result<Client<tokio_rustls::client::TlsStream<TcpStream>>> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::new(from, 0))?;
    let mut c = Client(LineClient::new(socket.connect(addr).await?));
    c.response().await?;
    anyhow::ensure!(c.send("STARTTLS\r\n").await?.starts_with("OK"));
    let tls = certmail_tests::tls::handshake(c.0.into_inner(), fx.user_tls()?).await?;
    let mut c = Client(LineClient::new(tls));
    c.response().await?;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0hong\0{PASSWORD}"));
    let signed = c
        .send(&format!("AUTHENTICATE \"PLAIN\" \"{plain}\"\r\n"))
        .await?;
    anyhow::ensure!(signed.starts_with("OK"), "{signed}");
    Ok(c)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_session_with_imap_whichever_signs_in_last() -> anyhow::Result<()> {
    let fx = installation(None)?;
    let daemon = start(&fx)?;
    let (imaps, sieve) = (daemon.addr("imaps"), daemon.addr("managesieve"));
    let elsewhere: std::net::IpAddr = "127.0.0.2".parse()?;

    let mut imap =
        certmail_tests::lines::imaps_login(imaps, fx.user_tls()?, "hong", PASSWORD).await?;
    let mut c = signed_in_from(elsewhere, &fx, sieve).await?;
    let bye = imap.line().await?;
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE] Signed in from another device"),
        "a ManageSieve sign-in from another device ends the IMAP session: {bye}"
    );
    assert!(c.send("LISTSCRIPTS\r\n").await?.starts_with("OK"));

    let _imap = certmail_tests::lines::imaps_login(imaps, fx.user_tls()?, "hong", PASSWORD).await?;
    let bye = c.0.line().await?;
    assert!(
        bye.starts_with("BYE \"Signed in from another device"),
        "and an IMAP sign-in from another device ends the ManageSieve one: {bye}"
    );
    Ok(())
}
