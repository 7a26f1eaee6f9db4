//! SEARCH CHARSET (RFC 3501 §6.4.4) end to end: a message whose subject and body are in
//! EUC-KR (RFC 2047 header, base64 body) found by search keys sent in EUC-KR, UTF-8 and
//! US-ASCII; an unknown charset gets `NO [BADCHARSET (...)]`.

mod common;

use common::*;

/// Sends `prefix`, a synchronizing literal with `key`'s octets, and returns the responses.
async fn search_with_literal(c: &mut Client, tag: &str, prefix: &str, key: &[u8]) -> Vec<String> {
    c.send(&format!("{tag} {prefix} {{{}}}\r\n", key.len()))
        .await;
    let cont = c.line().await;
    assert!(cont.starts_with('+'), "{cont}");
    c.send_bytes(key).await;
    c.send("\r\n").await;
    c.until_tagged(tag).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn euc_kr_keys_find_euc_kr_mail() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let euckr = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/04-korean-euckr.eml"),
    )
    .expect("corpus file");
    let euckr = String::from_utf8_lossy(&euckr).into_owned(); // the file is ASCII (RFC 2047 + base64)
    assert!(append(&mut c, "INBOX", "", &euckr).await.contains("OK"));
    let other = message("주간 보고", "이번 주 실적입니다.");
    assert!(append(&mut c, "INBOX", "", &other).await.contains("OK"));
    ok(c.command("SELECT INBOX").await);

    // "회의" (meeting) in EUC-KR: C8 B8 C0 C7; the subject is =?euc-kr?B?...?= "회의 안내".
    let meeting = [0xC8, 0xB8, 0xC0, 0xC7];
    let found = search_with_literal(&mut c, "s1", "SEARCH CHARSET EUC-KR SUBJECT", &meeting).await;
    assert_eq!(ok(found), ["* SEARCH 1"]);
    // "회의는 3시" in EUC-KR, inside the base64 EUC-KR body.
    let body = [0xC8, 0xB8, 0xC0, 0xC7, 0xB4, 0xC2, 0x20, 0x33, 0xBD, 0xC3];
    let found = search_with_literal(&mut c, "s2", "UID SEARCH CHARSET euc-kr BODY", &body).await;
    assert_eq!(ok(found), ["* SEARCH 1"]);
    // "홍길동" (the From name, RFC 2047 EUC-KR) with TEXT; the other message is from 김철수.
    let name = [0xC8, 0xAB, 0xB1, 0xE6, 0xB5, 0xBF];
    let found = search_with_literal(&mut c, "s3", "SEARCH CHARSET EUC-KR TEXT", &name).await;
    assert_eq!(ok(found), ["* SEARCH 1"]);
    // The same words in UTF-8 find the same message; the UTF-8 one by its own subject.
    let found = ok(c.command("SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n회의").await);
    assert_eq!(found, ["* SEARCH 1"]);
    let found = ok(c.command("SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n주간").await);
    assert_eq!(found, ["* SEARCH 2"]);
    let found = ok(c
        .command("SEARCH CHARSET US-ASCII FROM example.go.kr")
        .await);
    assert_eq!(found, ["* SEARCH 1"]);
    // SORT takes the charset too.
    let found = search_with_literal(&mut c, "s4", "SORT (DATE) EUC-KR SUBJECT", &meeting).await;
    assert_eq!(ok(found), ["* SORT 1"]);

    let refused = c.command("SEARCH CHARSET X-MARTIAN SUBJECT x").await;
    assert!(
        tagged(&refused).contains("NO [BADCHARSET (UTF-8 US-ASCII EUC-KR)]"),
        "{refused:?}"
    );
}
