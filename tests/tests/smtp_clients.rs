//! Real SMTP clients nobody here wrote — swaks, Python's smtplib and the lettre crate —
//! submit with a GPKI-like client certificate and the password; each message lands exactly
//! once in the recipient's INBOX.

use std::process::Command;
use std::time::Duration;

use certmail_tests::fixtures;
use certmail_tests::outside::subjects;

// ASCII: Python's smtplib encodes AUTH PLAIN as ASCII.
const PASSWORD: &str = "Gpki-Pass-2026!";

fn cert_der(pem_file: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    Ok(CertificateDer::from_pem_file(pem_file)?.as_ref().to_vec())
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    Ok(certmail_tests::outside::run_ok(cmd)?.all)
}

#[tokio::test(flavor = "multi_thread")]
async fn swaks_smtplib_and_lettre_deliver_exactly_once() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    let daemon = fx.start()?;
    let (_, cert, key) = fx.client_pem_paths();

    // swaks over implicit TLS (465) and over STARTTLS (587).
    for (flag, listener, subject) in [
        ("--tls-on-connect", "submissions", "swaks 465"),
        ("--tls", "submission", "swaks 587"),
    ] {
        let port = daemon.addr(listener).port().to_string();
        run(Command::new("swaks").args([
            "--server",
            "127.0.0.1",
            "--port",
            &port,
            flag,
            "--tls-cert",
            cert,
            "--tls-key",
            key,
            "--auth",
            "PLAIN",
            "--auth-user",
            "hong",
            "--auth-password",
            PASSWORD,
            "--from",
            "hong@test.go.kr",
            "--to",
            "kim@test.go.kr",
            "--h-From",
            "홍길동 <hong@test.go.kr>",
            "--h-Subject",
            subject,
            "--body",
            "안녕하세요, 김철수 님.",
            "--timeout",
            "20",
        ]))?;
    }

    // Python's smtplib with an SSLContext holding the client certificate.
    let port = daemon.addr("submissions").port();
    let message = ("kim@test.go.kr", "smtplib", "결재 문서를 보냅니다.");
    certmail_tests::outside::smtplib_submit(&fx, port, PASSWORD, message)?;

    // lettre (rustls) with the client certificate as its TLS identity.
    {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::{Certificate, Identity, Tls, TlsParameters};
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
        let tls = TlsParameters::builder("localhost".into())
            .add_root_certificate(Certificate::from_pem(&std::fs::read(&fx.server_ca)?)?)
            // lettre 0.11's rustls path stores the "PEM" argument as a CertificateDer as it
            // is, so the certificate must be handed over in DER (the key stays PEM).
            .identify_with(Identity::from_pem(
                &cert_der(&fx.user_cert)?,
                &std::fs::read(&fx.user_key)?,
            )?)
            .build_rustls()?;
        let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("localhost")
            .port(daemon.addr("submissions").port())
            .tls(Tls::Wrapper(tls))
            .credentials(Credentials::new("hong".into(), PASSWORD.into()))
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let msg = Message::builder()
            .from("홍길동 <hong@test.go.kr>".parse()?)
            .to("kim@test.go.kr".parse()?)
            .subject("lettre")
            .body("회의는 3시입니다.".to_string())?;
        mailer.send(msg).await?;
    }

    // Mail from another server on port 25 to a local address lands too.
    let port = daemon.addr("smtp").port().to_string();
    run(Command::new("swaks").args([
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--from",
        "sender@other.example",
        "--to",
        "kim@test.go.kr",
        "--h-Subject",
        "from another server",
        "--body",
        "hello",
        "--timeout",
        "20",
    ]))?;

    drop(daemon);
    let bodies = fx.mailbox_bodies("kim", "INBOX").await?;
    assert_eq!(
        subjects(&bodies),
        vec![
            "from another server",
            "lettre",
            "smtplib",
            "swaks 465",
            "swaks 587"
        ],
        "each message exactly once in kim's INBOX"
    );
    for b in &bodies {
        let text = String::from_utf8_lossy(b);
        assert!(
            text.starts_with("Received: from ") && text.contains("([127.0.0.1])"),
            "trace header first: {text}"
        );
        let lower = text.to_lowercase();
        assert_eq!(
            lower.matches("\nmessage-id:").count(),
            1,
            "one Message-ID: {text}"
        );
        assert_eq!(lower.matches("\ndate:").count(), 1, "one Date: {text}");
    }
    Ok(())
}

/// A user name with a NUL in it (AUTH LOGIN's base64 decodes to any bytes) is refused as a
/// wrong name, 535 with the sentence, on either backend: not a temporary 454 because the
/// audit event quoting it could not be stored, and the audit log still has the attempt.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_name_holding_nul_is_refused_as_a_wrong_name() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    let (ca, cert, key) = fx.client_pem_paths();
    let port = daemon.addr("submissions").port();
    let script = format!(
        r#"
import base64, smtplib, ssl
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})
with smtplib.SMTP_SSL("localhost", {port}, context=ctx, timeout=20) as s:
    s.ehlo()
    print(s.docmd("AUTH", "LOGIN " + base64.b64encode(b"h\x00ong").decode()))
    print(s.docmd(base64.b64encode({PASSWORD:?}.encode()).decode()))
"#
    );
    let out = run(Command::new("python3").arg("-c").arg(script))?;
    assert!(
        out.contains("(535, b\"5.7.8 Your certificate belongs to another account than h"),
        "{out}"
    );
    drop(daemon);
    let store = fx.open_store().await?;
    let events = store.audit_newest(0, i64::MAX, 20).await?;
    assert!(
        events.iter().any(|e| e.kind == "sign_in_refused"
            && e.fields
                .get("reason")
                .is_some_and(|r| r == "bound_to_other_account")
            && e.fields
                .get("user")
                .is_some_and(|u| u.starts_with('h') && u.ends_with("ong"))),
        "the refusal is in the audit log: {events:?}"
    );
    Ok(())
}
