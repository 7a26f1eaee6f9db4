//! RFC 9051 §4.3: after ENABLE IMAP4rev2, quoted strings carry UTF-8 in every command,
//! also in those imap-codec parses (SELECT, STATUS, RENAME, DELETE, APPEND); in an
//! IMAP4rev1 session 8-bit in a quoted string stays a BAD.

mod common;

use common::*;

fn status_of(lines: &[String]) -> &str {
    tagged(lines).split(' ').nth(1).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn korean_quoted_mailbox_names_after_enable_imap4rev2() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    // IMAP4rev1: QUOTED-CHAR is 7-bit (RFC 3501 §9).
    let rev1 = c.command("CREATE \"보낸편지함\"").await;
    assert_eq!(status_of(&rev1), "BAD", "{rev1:#?}");

    ok(c.command("ENABLE IMAP4rev2").await);
    ok(c.command("CREATE \"보낸편지함\"").await);
    let tag = append(
        &mut c,
        "\"보낸편지함\"",
        "",
        &message("안부", "홍길동님 안녕하세요"),
    )
    .await;
    assert!(tag.contains(" OK "), "{tag}");
    let status = ok(c.command("STATUS \"보낸편지함\" (MESSAGES)").await);
    assert_eq!(status.len(), 1, "{status:#?}");
    assert!(status[0].contains("보낸편지함"), "{status:#?}");
    assert!(status[0].ends_with("(MESSAGES 1)"), "{status:#?}");
    let select = ok(c.command("SELECT \"보낸편지함\"").await);
    assert!(select.contains(&"* 1 EXISTS".to_owned()), "{select:#?}");
    ok(c.command("CLOSE").await);
    ok(c.command("RENAME \"보낸편지함\" \"받은 \\\"편지\\\"함\"")
        .await);
    let list = ok(c.command("LIST \"\" \"받은*\"").await);
    assert_eq!(list.len(), 1, "{list:#?}");
    assert!(list[0].contains("받은 \"편지\"함"), "{list:#?}");
    let gone = c.command("SELECT \"보낸편지함\"").await;
    assert_eq!(status_of(&gone), "NO", "{gone:#?}");
    ok(c.command("DELETE \"받은 \\\"편지\\\"함\"").await);
    let list = ok(c.command("LIST \"\" \"받은*\"").await);
    assert!(list.is_empty(), "{list:#?}");
}
