//! BINARY (RFC 3516) against the in-process server: APPEND with a literal8 holding NUL
//! octets, then BINARY[section]<partial>, BINARY.PEEK, BINARY.SIZE and UNKNOWN-CTE, in the
//! shape of the RFC's examples (`C: A003 FETCH 7 (BINARY[1.2])`).

mod common;

use common::*;

fn message() -> Vec<u8> {
    let mut m = b"From: =?UTF-8?B?6rmA7LKg7IiY?= <kim@test.go.kr>\r\nTo: hong@test.go.kr\r\n\
Subject: binary\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
=ED=99=8D=EA=B8=B8=EB=8F=99 =EB=8B=98\r\n--b\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
AAEC/w==\r\n--b\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    m.extend_from_slice(b"raw\0bytes");
    m.extend_from_slice(b"\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n--b--\r\n");
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_fetches_decode_parts_and_append_takes_literal8() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let caps = ok(c.command("CAPABILITY").await);
    assert!(caps[0].contains(" BINARY"), "{caps:?}");

    // RFC 3516 §4.1: APPEND with literal8 (~{n}); the message holds a NUL octet.
    let body = message();
    c.send(&format!("b1 APPEND INBOX ~{{{}}}\r\n", body.len()))
        .await;
    let cont = c.line().await;
    assert!(cont.starts_with('+'), "{cont}");
    c.send_bytes(&body).await;
    c.send("\r\n").await;
    let reply = c.until_tagged("b1").await;
    assert!(tagged(&reply).contains("OK [APPENDUID "), "{reply:?}");
    ok(c.command("SELECT INBOX").await);

    // Quoted-printable undone; the size is of the decoded octets.
    let text = ok(c.command("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])").await);
    assert_eq!(text.len(), 1, "{text:?}");
    assert!(
        text[0].starts_with("* 1 FETCH (BINARY.SIZE[1] 13 BINARY[1] "),
        "{text:?}"
    );
    assert!(text[0].ends_with("홍길동 님)"), "{text:?}");
    // A partial fetch counts decoded octets: 홍길동 is 9 octets in UTF-8.
    let part = ok(c.command("FETCH 1 (BINARY.PEEK[1]<0.9>)").await);
    assert!(part[0].ends_with("홍길동)"), "{part:?}");
    // Base64 decoded to octets with a NUL: sent as a literal8.
    let octets = ok(c.command("FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2])").await);
    assert!(
        octets[0].starts_with("* 1 FETCH (BINARY.SIZE[2] 4 BINARY[2] ~{4}\r\n\0\u{1}\u{2}"),
        "{octets:?}"
    );
    let raw = ok(c.command("FETCH 1 (BINARY.PEEK[3])").await);
    assert!(raw[0].contains("~{9}\r\nraw\0bytes"), "{raw:?}");

    // BINARY.PEEK left \Seen alone; BINARY sets it and reports FLAGS.
    let flags = ok(c.command("FETCH 1 (FLAGS)").await);
    assert!(!flags[0].contains("\\Seen"), "{flags:?}");
    let seen = ok(c.command("FETCH 1 (BINARY[1])").await);
    assert!(seen[0].contains("\\Seen"), "{seen:?}");

    // RFC 3516 §4.3: a transfer encoding we cannot undo.
    let unknown = c.command("FETCH 1 (BINARY[4])").await;
    assert!(tagged(&unknown).contains("NO [UNKNOWN-CTE]"), "{unknown:?}");
    // A part the message does not have.
    let missing = ok(c.command("FETCH 1 (BINARY.PEEK[9])").await);
    assert_eq!(missing, ["* 1 FETCH (BINARY[9] NIL)"]);
}
