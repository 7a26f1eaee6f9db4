//! A user whose bound certificate ends within 7 days finds one notice in their INBOX,
//! in Korean and English, and a restart does not send it again.

use certmail_pki::testpki::{TestPki, UserSpec};
use certmail_tests::cert_kinds::write_pem;
use certmail_tests::fixtures;

#[tokio::test(flavor = "multi_thread")]
async fn expiring_certificate_notice_once() -> anyhow::Result<()> {
    let pki = TestPki::new()?;
    let now = certmail_pki::now_unix();
    let work = tempfile::tempdir()?;
    let mut spec = UserSpec::gpki("홍길동", now);
    spec.not_after = now + 5 * 86_400 + 3600;
    let user = pki.issue(&pki.gpki_ca, &spec, work.path())?;
    let fx = fixtures::Installation::with_gpki(&pki)?;
    let (cert, _) = write_pem(work.path(), "hong", &user)?;
    fx.add_user("hong", "홍길동", "Gpki-Pass-2026!", &cert)?;

    for _ in 0..2 {
        let mut daemon = fx.start()?;
        // The first daily pass completes before the daemon announces its listeners.
        daemon.signal("TERM")?;
        assert_eq!(
            daemon.wait_exit(std::time::Duration::from_secs(30))?,
            Some(0)
        );
    }
    let bodies = fx.mailbox_bodies("hong", "INBOX").await?;
    assert_eq!(bodies.len(), 1, "one notice, not one per start");
    let m = mail_parser::MessageParser::default()
        .parse(&bodies[0])
        .expect("parses");
    assert!(
        m.subject().is_some_and(|s| s.contains("5 day")),
        "{:?}",
        m.subject()
    );
    let text = m.body_text(0).expect("text body");
    assert!(
        text.contains("홍길동 님") && text.contains("expires in 5 day"),
        "{text}"
    );
    Ok(())
}
