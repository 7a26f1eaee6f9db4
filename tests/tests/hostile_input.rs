//! Hostile input from outside must not hurt the server: what an attacker without a
//! certificate can send on port 25 and what a signed-in client then asks of it.
//!
//! F1 of the hostile-input issue: a stray `)` or `]` in an address header (`Cc: a)`) made
//! the IMAP envelope builder loop until the daemon ran out of memory, at every listing of
//! the mailbox, after every restart. Here such messages arrive on port 25, the recipient's
//! client lists the mailbox as every client does (FETCH ALL/ENVELOPE), reads them whole and
//! deletes them, and the daemon stays small and answers throughout.

use certmail_tests::fixtures;
use certmail_tests::lines::{LineClient, imaps_login};
use certmail_tests::procfs::{ensure_rss_within, rss_kib};
use tokio::net::TcpStream;

const PASSWORD: &str = "Gpki-Pass-2026!";

/// Header lines that once looped the address parser, and neighbours of them.
const POISONS: [&str; 5] = [
    "Cc: a)",
    "Reply-To: team]",
    "From: \"김철수\" <kim@other.example>)]), ]lee@other.example",
    "To: ))]]@((",
    "Sender: cc:\u{ff}\u{ff}\u{ff})\t",
];

#[tokio::test(flavor = "multi_thread")]
async fn poisoned_address_headers_from_port_25_are_listed_read_and_deleted() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;

    // Anyone on the internet: no certificate, no sign-in.
    let mut mx = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
    assert!(mx.smtp_reply().await?.starts_with("220"));
    assert!(mx.smtp("EHLO attacker.example").await?.starts_with("250"));
    for (i, poison) in POISONS.iter().enumerate() {
        let message =
            format!("From: x@attacker.example\r\n{poison}\r\nSubject: 독 {i}\r\n\r\n본문 {i}");
        let reply = mx
            .smtp_send("x@attacker.example", "hong@test.go.kr", &message)
            .await?;
        assert!(reply.starts_with("250"), "{poison}: {reply}");
    }
    mx.smtp("QUIT").await?;
    let before = rss_kib(daemon.pid())?;

    let mut c = imaps_login(daemon.addr("imaps"), fx.user_tls()?, "hong", PASSWORD).await?;
    c.send_raw(b"a2 SELECT INBOX\r\n").await?;
    let select = c.until_tagged("a2").await?;
    assert!(select.iter().any(|l| l == "* 5 EXISTS"), "{select:?}");

    // What every client sends to list a mailbox.
    for (tag, items) in [
        ("a3", "ALL"),
        ("a4", "FULL"),
        ("a5", "ENVELOPE"),
        ("a6", "BODYSTRUCTURE"),
    ] {
        c.send_raw(format!("{tag} FETCH 1:* {items}\r\n").as_bytes())
            .await?;
        let reply = c.until_tagged(tag).await?;
        assert!(
            reply
                .last()
                .is_some_and(|l| l.starts_with(&format!("{tag} OK"))),
            "FETCH {items}: {reply:?}"
        );
        assert_eq!(
            reply.iter().filter(|l| l.contains(" FETCH (")).count(),
            5,
            "FETCH {items} answers for every message: {reply:?}"
        );
    }
    // The poison itself reads back whole.
    c.send_raw(b"a7 UID FETCH 1 BODY.PEEK[]\r\n").await?;
    let body = c.until_tagged("a7").await?.join("\n");
    assert!(body.contains("Cc: a)") && body.contains("a7 OK"), "{body}");

    // And it can be deleted.
    c.send_raw(b"a8 STORE 1:* +FLAGS.SILENT (\\Deleted)\r\n")
        .await?;
    assert!(
        c.until_tagged("a8")
            .await?
            .last()
            .is_some_and(|l| l.starts_with("a8 OK"))
    );
    c.send_raw(b"a9 EXPUNGE\r\n").await?;
    let expunge = c.until_tagged("a9").await?;
    assert!(
        expunge.last().is_some_and(|l| l.starts_with("a9 OK")),
        "{expunge:?}"
    );
    assert_eq!(
        expunge.iter().filter(|l| l.ends_with(" EXPUNGE")).count(),
        5
    );

    // The daemon still answers and did not balloon (it once went from 27 MB to 1.5 GB).
    c.send_raw(b"b1 NOOP\r\n").await?;
    assert!(
        c.until_tagged("b1")
            .await?
            .last()
            .is_some_and(|l| l.starts_with("b1 OK"))
    );
    ensure_rss_within(daemon.pid(), before, 100 * 1024)?;
    Ok(())
}
