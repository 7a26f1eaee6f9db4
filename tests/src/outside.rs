//! Running outside programs (swaks, curl, mbsync, Python) and reading what they left.

use std::process::Command;

/// What a successful command printed.
pub struct Printed {
    /// Its stdout.
    pub stdout: String,
    /// Its stdout, then its stderr.
    pub all: String,
}

/// Runs `cmd`; an error with everything it printed unless it exits with success.
pub fn run_ok(cmd: &mut Command) -> anyhow::Result<Printed> {
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    anyhow::ensure!(out.status.success(), "{cmd:?} failed:\n{all}");
    Ok(Printed { stdout, all })
}

/// The Subject of each message in `bodies` that has one, sorted.
pub fn subjects(bodies: &[Vec<u8>]) -> Vec<String> {
    let mut s: Vec<String> = bodies
        .iter()
        .filter_map(|b| {
            mail_parser::MessageParser::default()
                .parse(b)
                .and_then(|m| m.subject().map(str::to_string))
        })
        .collect();
    s.sort();
    s
}

/// Delivers a message from another server to hong@test.go.kr over port 25 (`smtp`, no
/// client certificate) with swaks, with `subject` and a Korean body.
pub fn swaks_to_hong(smtp: std::net::SocketAddr, subject: &str) -> anyhow::Result<()> {
    swaks_to(smtp, "hong@test.go.kr", subject)
}

/// Delivers a message from minister@other.example to `to` over port 25 (`smtp`, no client
/// certificate) with swaks, with `subject` and a Korean body.
pub fn swaks_to(smtp: std::net::SocketAddr, to: &str, subject: &str) -> anyhow::Result<()> {
    swaks_from(smtp, "minister@other.example", to, subject)
}

/// Delivers a message from `from` to `to` over port 25 (`smtp`, no client certificate)
/// with swaks, with `subject` and a Korean body.
pub fn swaks_from(
    smtp: std::net::SocketAddr,
    from: &str,
    to: &str,
    subject: &str,
) -> anyhow::Result<()> {
    let port = smtp.port().to_string();
    run_ok(Command::new("swaks").args([
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--from",
        from,
        "--to",
        to,
        "--h-Subject",
        subject,
        "--body",
        "보고서를 확인해 주십시오.",
        "--timeout",
        "20",
    ]))
    .map(|_| ())
    .map_err(|e| {
        e.context(format!(
            "delivering {subject:?} to {to} at {smtp} with swaks"
        ))
    })
}

/// Submits a message from 홍길동 <hong@test.go.kr> with Python's smtplib over implicit TLS
/// to `localhost:port`, presenting `fx`'s demo certificate and signing in as `hong` with
/// `password`; `to` is the To: header (and so the recipients).
pub fn smtplib_submit(
    fx: &certmail_testkit::Installation,
    port: u16,
    password: &str,
    (to, subject, body): (&str, &str, &str),
) -> anyhow::Result<Printed> {
    let (ca, cert, key) = fx.client_pem_paths();
    let script = format!(
        r#"
import smtplib, ssl
from email.message import EmailMessage
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})
m = EmailMessage()
m["From"] = "홍길동 <hong@test.go.kr>"
m["To"] = {to:?}
m["Subject"] = {subject:?}
m.set_content({body:?})
with smtplib.SMTP_SSL("localhost", {port}, context=ctx, timeout=20) as s:
    s.login("hong", {password:?})
    s.send_message(m)
"#
    );
    run_ok(Command::new("python3").arg("-c").arg(script))
}
