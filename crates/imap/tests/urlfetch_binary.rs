//! URLAUTH=BINARY (RFC 5524) against the in-process server, as C:/S: transcripts: the
//! extended URLFETCH that imaptest's `urlauth-binary` group drives, written from the RFC.
//! Where imaptest release-2.3 and the RFC disagree the test follows the RFC and says so.
//! And RFC 4467 §7's URLMECH on SELECT.

mod common;

use common::*;

/// imaptest's `urlauth-binary.mbox` message, its people made 김철수 and 홍길동, with parts
/// in every case BINARY meets: 1 a message/rfc822 (7bit, sent as stored) holding
/// 1.1 base64 "hello world" (7bit once decoded), 1.2 base64 "안녕하세요" (8bit),
/// 1.3 base64 octets with NUL (binary) and 1.4 an encoding nobody can undo.
const MESSAGE: &str = "From: hong@test.go.kr\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\n\
Mime-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"foo\r\n bar\"\r\n\r\n\
Root MIME prologue\r\n\r\n--foo bar\r\nContent-Type: message/rfc822\r\n\r\n\
From: kim@test.go.kr\r\nDate: Sun, 12 Aug 2012 12:34:56 +0300\r\nSubject: submsg\r\n\
Content-Type: multipart/alternative; boundary=\"sub1\"\r\n\r\nSub MIME prologue\r\n\
--sub1\r\nContent-Type: text/x-myown; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\n\
aGVs\r\nbG8gd29y\r\nbGQ=\r\n\r\n\
--sub1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
7JWI64WV7ZWY7IS47JqU\r\n\
--sub1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
AAECAw==\r\n\
--sub1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n\
--sub1--\r\nSub MIME epilogue\r\n\r\n--foo bar--\r\nRoot MIME epilogue\r\n";

/// The message/rfc822 part 1 as stored.
fn part_one() -> &'static str {
    let start = MESSAGE.find("From: kim").expect("inner message");
    let end = MESSAGE.find("\r\n--foo bar--").expect("closing delimiter");
    &MESSAGE[start..end]
}

/// Signs `section` of message 1 in INBOX for hong and returns the full URL.
async fn url(c: &mut Client, section: &str) -> String {
    let rump =
        format!("imap://hong@mail.test.go.kr/INBOX/;uid=1/;section={section};urlauth=user+hong");
    let lines = ok(c.command(&format!("GENURLAUTH \"{rump}\" INTERNAL")).await);
    lines[0]
        .strip_prefix("* GENURLAUTH \"")
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not one URL: {lines:?}"))
        .to_owned()
}

/// The one `* URLFETCH` line of `URLFETCH (url params)`, with the URL replaced by `U`.
async fn fetch(c: &mut Client, url: &str, params: &str) -> String {
    let lines = ok(c.command(&format!("URLFETCH ({url} {params})")).await);
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines[0].replace(&format!("\"{url}\""), "U")
}

async fn inbox(server: &TestServer) -> Client {
    let mut c = server.signed_in().await;
    assert!(append(&mut c, "INBOX", "", MESSAGE).await.contains("OK"));
    c
}

/// RFC 5524 §3.2: BINARY is the part with its transfer encoding undone; each item is its
/// own parenthesised list, BODYPARTSTRUCTURE first, and with BINARY it describes the
/// decoded octets (encoding domain, size, lines).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_bodypartstructure_of_a_leaf() {
    let server = TestServer::start(true).await;
    let mut c = inbox(&server).await;
    let caps = c.command("CAPABILITY").await.join(" ");
    assert!(caps.contains(" URLAUTH URLAUTH=BINARY "), "{caps}");
    let sub = url(&mut c, "1.1").await;
    // C: a URLFETCH (url BINARY) / S: * URLFETCH url (BINARY {11} hello world)
    assert_eq!(
        fetch(&mut c, &sub, "BINARY").await,
        "* URLFETCH U (BINARY {11}\r\nhello world)"
    );
    // The stored structure alone says base64 and the encoded size.
    assert_eq!(
        fetch(&mut c, &sub, "BODYPARTSTRUCTURE").await,
        "* URLFETCH U (BODYPARTSTRUCTURE (\"TEXT\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \
         \"base64\" 22 3 NIL NIL NIL NIL))"
    );
    // imaptest release-2.3 wants `(BODYPARTSTRUCTURE (… "base64" 11 0 …) BINARY {11}…)`:
    // one list, and the stored encoding beside the decoded size. RFC 5524 §4's examples
    // give each item its own list and the decoded data's encoding; so do we.
    assert_eq!(
        fetch(&mut c, &sub, "BINARY BODYPARTSTRUCTURE").await,
        "* URLFETCH U (BODYPARTSTRUCTURE (\"TEXT\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \
         \"7bit\" 11 1 NIL NIL NIL NIL)) (BINARY {11}\r\nhello world)"
    );
    // BODY is the part as stored; the plain form (RFC 4467) is unchanged.
    assert_eq!(
        fetch(&mut c, &sub, "BODY").await,
        "* URLFETCH U (BODY {22}\r\naGVs\r\nbG8gd29y\r\nbGQ=\r\n)"
    );
    let plain = ok(c.command(&format!("URLFETCH {sub}")).await);
    // (The test client drops the line's last CRLF, here the literal's own.)
    assert_eq!(
        plain,
        [format!(
            "* URLFETCH \"{sub}\" {{22}}\r\naGVs\r\nbG8gd29y\r\nbGQ="
        )]
    );
    // UTF-8 text decodes to 8bit; octets with NUL are binary and come as a literal8.
    let korean = url(&mut c, "1.2").await;
    let got = fetch(&mut c, &korean, "BODYPARTSTRUCTURE BINARY").await;
    assert!(
        got.contains("\"8bit\" 15 1 NIL NIL NIL NIL)) (BINARY {15}\r\n안녕하세요)"),
        "{got}"
    );
    let octets = url(&mut c, "1.3").await;
    let got = fetch(&mut c, &octets, "BINARY BODYPARTSTRUCTURE").await;
    assert!(
        got.ends_with("\"binary\" 4 NIL NIL NIL NIL)) (BINARY ~{4}\r\n\0\u{1}\u{2}\u{3})"),
        "{got:?}"
    );
}

/// RFC 5524 §3.1: a part whose encoding the server cannot undo is `BINARY NIL`, beside
/// its structure as stored; BINARY of a message/rfc822 part is the part as stored (its
/// encoding is 7bit: RFC 3516 has nothing to undo). imaptest release-2.3 expects the
/// inner parts decoded and relabelled `binary` there; its later revision, and the RFC,
/// the part as stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_nil_and_encapsulated_messages() {
    let server = TestServer::start(true).await;
    let mut c = inbox(&server).await;
    let odd = url(&mut c, "1.4").await;
    assert_eq!(
        fetch(&mut c, &odd, "BINARY BODYPARTSTRUCTURE").await,
        "* URLFETCH U (BODYPARTSTRUCTURE (\"TEXT\" \"plain\" NIL NIL NIL \"x-uuencode\" 5 1 \
         NIL NIL NIL NIL)) (BINARY NIL)"
    );
    let one = url(&mut c, "1").await;
    let part = part_one();
    assert_eq!(
        fetch(&mut c, &one, "BINARY").await,
        format!("* URLFETCH U (BINARY {{{}}}\r\n{part})", part.len())
    );
    let alone = fetch(&mut c, &one, "BODYPARTSTRUCTURE").await;
    assert!(
        alone.starts_with(&format!(
            "* URLFETCH U (BODYPARTSTRUCTURE (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" {} \
             (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"kim\" \"test.go.kr\"))",
            part.len()
        )),
        "{alone}"
    );
    // With BINARY, the message part's structure is the same: nothing was decoded.
    let both = fetch(&mut c, &one, "BINARY BODYPARTSTRUCTURE").await;
    assert_eq!(
        both,
        format!("{alone} (BINARY {{{}}}\r\n{part})", part.len())
    );
}

/// What cannot be served is `* URLFETCH url NIL` with the reason in the OK (RFC 4467
/// §6.3): BINARY names a body part, not a header. A URL with no parameter is BODY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_refusals_and_defaults() {
    let server = TestServer::start(true).await;
    let mut c = inbox(&server).await;
    let header = url(&mut c, "1.HEADER").await;
    let lines = c.command(&format!("URLFETCH ({header} BINARY)")).await;
    assert_eq!(lines[0], format!("* URLFETCH \"{header}\" NIL"));
    assert!(
        tagged(&lines).ends_with("NIL for one URL: BINARY and BODYPARTSTRUCTURE take a body part, and its SECTION is a header or text"),
        "{lines:?}"
    );
    let got = fetch(&mut c, &header, "BODY").await;
    assert!(got.starts_with("* URLFETCH U (BODY {"), "{got}");
    let empty = ok(c.command(&format!("URLFETCH ({header})")).await);
    assert_eq!(empty[0].replace(&format!("\"{header}\""), "U"), got);
    // BODY and BINARY together are a syntax error (RFC 5524 §3.1).
    let lines = c.command(&format!("URLFETCH ({header} BODY BINARY)")).await;
    assert!(tagged(&lines).contains("BAD"), "{lines:?}");
}

/// RFC 4467 §7: SELECT and EXAMINE name the mailbox's URLAUTH mechanisms in an untagged
/// `OK [URLMECH INTERNAL]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_and_examine_announce_urlmech() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    for command in ["SELECT INBOX", "EXAMINE INBOX"] {
        let lines = ok(c.command(command).await);
        assert!(
            lines.contains(&"* OK [URLMECH INTERNAL] URLAUTH mechanisms".to_owned()),
            "{command}: {lines:?}"
        );
    }
}

/// RFC 4467 §6.2: after RESETKEY, the user's other sessions with that mailbox selected
/// are told `OK [URLMECH INTERNAL]` (RESETKEY alone: with any mailbox selected); one with
/// another mailbox selected is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resetkey_tells_the_users_other_sessions() {
    let server = TestServer::start(true).await;
    let mut a = server.signed_in().await;
    let mut b = server.signed_in().await;
    ok(b.command("SELECT INBOX").await);
    let told = "* OK [URLMECH INTERNAL] URLAUTH key reset; mechanisms".to_owned();
    ok(a.command("RESETKEY Sent").await);
    assert!(!ok(b.command("NOOP").await).contains(&told));
    ok(a.command("RESETKEY INBOX").await);
    assert_eq!(ok(b.command("NOOP").await), std::slice::from_ref(&told));
    assert!(ok(b.command("NOOP").await).is_empty(), "told once");
    ok(a.command("RESETKEY").await);
    assert_eq!(ok(b.command("NOOP").await), [told]);
}
