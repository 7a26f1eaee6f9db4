//! SORT and THREAD (RFC 5256) against the in-process server: a small discussion among
//! colleagues, sorted by each key and threaded by ORDEREDSUBJECT and REFERENCES.

mod common;

use common::*;

/// (subject, sender, hour of the Date header, Message-ID, References, body)
const MAIL: [(&str, &str, u32, &str, &str, &str); 6] = [
    ("회의 안내", "kim", 10, "a@test.go.kr", "", "내일 10시"),
    (
        "Re: 회의 안내",
        "lee",
        12,
        "b@test.go.kr",
        "<a@test.go.kr>",
        "참석합니다. 감사합니다.",
    ),
    (
        "예산안",
        "park",
        9,
        "c@test.go.kr",
        "",
        "2027년 예산안을 첨부합니다, 검토 부탁드립니다.",
    ),
    (
        "Re: Re: 회의 안내",
        "choi",
        13,
        "d@test.go.kr",
        "<a@test.go.kr> <b@test.go.kr>",
        "저도 참석",
    ),
    (
        "[총무과] 예산안 (fwd)",
        "ahn",
        11,
        "e@test.go.kr",
        "",
        "전달합니다",
    ),
    (
        "Re: 회의 안내",
        "jung",
        14,
        "f@test.go.kr",
        "<a@test.go.kr>",
        "불참합니다. 죄송합니다, 다음에 뵙겠습니다.",
    ),
];

fn mail(i: usize) -> String {
    let (subject, from, hour, id, refs, body) = MAIL[i];
    let refs = if refs.is_empty() {
        String::new()
    } else {
        format!("References: {refs}\r\n")
    };
    format!(
        "From: {from}@test.go.kr\r\nTo: hong@test.go.kr\r\nSubject: {subject}\r\n\
Date: Mon, 23 Nov 2026 {hour:02}:00:00 +0900\r\nMessage-ID: <{id}>\r\n{refs}\
Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

async fn discussion(server: &TestServer) -> Client {
    let mut c = server.signed_in().await;
    for i in 0..MAIL.len() {
        assert!(append(&mut c, "INBOX", "", &mail(i)).await.contains("OK"));
    }
    ok(c.command("SELECT INBOX").await);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_orders_by_each_key() {
    let server = TestServer::start(true).await;
    let mut c = discussion(&server).await;
    let caps = ok(c.command("CAPABILITY").await);
    assert!(
        caps[0].contains(" SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES"),
        "{caps:?}"
    );
    let sort = |lines: Vec<String>| ok(lines).join("\n");
    // Base subjects: 예산안 (3, 5) before 회의 안내 (1, 2, 4, 6); ties by sequence number.
    assert_eq!(
        sort(c.command("SORT (SUBJECT) UTF-8 ALL").await),
        "* SORT 3 5 1 2 4 6"
    );
    assert_eq!(
        sort(c.command("SORT (DATE) UTF-8 ALL").await),
        "* SORT 3 1 5 2 4 6"
    );
    assert_eq!(
        sort(c.command("SORT (REVERSE DATE) UTF-8 ALL").await),
        "* SORT 6 4 2 5 1 3"
    );
    assert_eq!(
        sort(c.command("SORT (FROM) UTF-8 ALL").await),
        "* SORT 5 4 6 1 2 3"
    );
    assert_eq!(
        sort(c.command("SORT (TO SUBJECT REVERSE DATE) UTF-8 ALL").await),
        "* SORT 5 3 6 4 2 1"
    );
    let mut by_size: Vec<(usize, usize)> =
        (0..MAIL.len()).map(|i| (mail(i).len(), i + 1)).collect();
    by_size.sort();
    let expected: Vec<String> = by_size.iter().map(|(_, n)| n.to_string()).collect();
    assert_eq!(
        sort(c.command("SORT (SIZE) UTF-8 ALL").await),
        format!("* SORT {}", expected.join(" "))
    );
    // Search criteria narrow the set; UID SORT answers UIDs.
    ok(c.command("UID STORE 1 +FLAGS.SILENT (\\Deleted)").await);
    ok(c.command("EXPUNGE").await);
    assert_eq!(
        sort(
            c.command("UID SORT (SUBJECT) UTF-8 SUBJECT {6+}\r\n안내")
                .await
        ),
        "* SORT 2 4 6"
    );
    assert_eq!(
        sort(c.command("SORT (ARRIVAL) UTF-8 SUBJECT {6+}\r\n안내").await),
        "* SORT 1 3 5"
    );
    let bad = c.command("SORT (DATE) X-UNKNOWN ALL").await;
    assert!(
        tagged(&bad).contains("NO [BADCHARSET (UTF-8 US-ASCII EUC-KR)]"),
        "{bad:?}"
    );
}

/// The one untagged line of a successful command, its own tag written as `$tag`.
fn esearch_line(lines: Vec<String>) -> String {
    let tag = tagged(&lines).split(' ').next().unwrap_or("").to_owned();
    let untagged = ok(lines);
    assert_eq!(untagged.len(), 1, "{untagged:?}");
    untagged[0].replace(&format!("(TAG \"{tag}\")"), "(TAG $tag)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esort_answers_in_sort_order_as_esearch() {
    let server = TestServer::start(true).await;
    let mut c = discussion(&server).await;
    // RFC 5267 §3.1: MIN and MAX are the first and last in sort order, ALL keeps it.
    let lines = c
        .command("SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL")
        .await;
    assert_eq!(
        esearch_line(lines),
        "* ESEARCH (TAG $tag) MIN 3 MAX 6 ALL 3,1,5,2,4,6 COUNT 6"
    );
    // RETURN () is RETURN (ALL); UID SORT answers UIDs; ascending runs become ranges.
    let lines = c.command("UID SORT RETURN () (ARRIVAL) UTF-8 2:5").await;
    assert_eq!(esearch_line(lines), "* ESEARCH (TAG $tag) UID ALL 2:5");
    // Nothing found: no ALL, COUNT 0.
    let lines = c
        .command("SORT RETURN (ALL COUNT) (SUBJECT) UTF-8 SUBJECT nothing-like-this")
        .await;
    assert_eq!(esearch_line(lines), "* ESEARCH (TAG $tag) COUNT 0");
    // SAVE is SEARCH's (RFC 5182), not a SORT result option.
    let bad = c.command("SORT RETURN (SAVE) (DATE) UTF-8 ALL").await;
    assert!(tagged(&bad).contains("BAD"), "{bad:?}");
    let plain = ok(c.command("SORT (DATE) UTF-8 ALL").await);
    assert_eq!(plain[0], "* SORT 3 1 5 2 4 6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_display_orders_by_the_shown_name() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let senders = [
        "\"Park Jimin\" <jimin@test.go.kr>",
        "=?UTF-8?B?7ZmN6ri464+Z?= <hong@test.go.kr>",
        "ahn@test.go.kr",
        "\"kim Minji\" <zz@test.go.kr>",
    ];
    for from in senders {
        let message =
            format!("From: {from}\r\nTo: team: a@test.go.kr;\r\nSubject: x\r\n\r\nbody\r\n");
        assert!(append(&mut c, "INBOX", "", &message).await.contains("OK"));
    }
    ok(c.command("SELECT INBOX").await);
    // RFC 5957: the decoded name (홍길동), else the address; case-insensitive.
    let lines = ok(c.command("SORT (DISPLAYFROM) UTF-8 ALL").await);
    assert_eq!(lines[0], "* SORT 3 4 1 2");
    let lines = ok(c.command("SORT (REVERSE DISPLAYFROM) UTF-8 ALL").await);
    assert_eq!(lines[0], "* SORT 2 1 4 3");
    // FROM compares the mailbox part instead.
    let lines = ok(c.command("SORT (FROM) UTF-8 ALL").await);
    assert_eq!(lines[0], "* SORT 3 2 1 4");
    // A To list that opens with a group is shown by the group's name: all equal here.
    let lines = ok(c.command("SORT (DISPLAYTO) UTF-8 ALL").await);
    assert_eq!(lines[0], "* SORT 1 2 3 4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_by_subject_and_by_references() {
    let server = TestServer::start(true).await;
    let mut c = discussion(&server).await;
    // RFC 5256 §3 ORDEREDSUBJECT: one thread per base subject, the first message the
    // parent of the rest; threads by the date of their first message.
    assert_eq!(
        ok(c.command("THREAD ORDEREDSUBJECT UTF-8 ALL").await),
        ["* THREAD (3 5)(1 (2)(4)(6))"]
    );
    // REFERENCES: 4 answers 2 which answers 1; 6 answers 1; 5 has no references but its
    // base subject is 3's and its subject marks a forward, so it joins 3's thread.
    assert_eq!(
        ok(c.command("THREAD REFERENCES UTF-8 ALL").await),
        ["* THREAD (3 5)(1 (2 4)(6))"]
    );
    assert_eq!(
        ok(c.command("UID THREAD REFERENCES UTF-8 FROM choi").await),
        ["* THREAD (4)"]
    );
    let unknown = c.command("THREAD X-FANCY UTF-8 ALL").await;
    assert!(tagged(&unknown).contains(" BAD "), "{unknown:?}");
}

/// A quoted-printable part that is one `=` before its boundary: mail-parser 0.11.9
/// subtracts past zero there (found by the `imap_sort_thread` fuzz target). Overflow checks
/// are off in release builds, and in the dev profile for mail-parser, so the tests' debug
/// server parses it as the one that ships: SORT, THREAD and SEARCH TEXT answer, and the
/// message stays readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quoted_printable_part_of_one_equals_sign_is_sorted_and_searched() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let hostile = "From: =?UTF-8?B?7ZmN6ri464+Z?= <hong@test.go.kr>\r\nSubject: 안내\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\
\r\n=\n--b1--\r\n";
    assert!(append(&mut c, "INBOX", "", hostile).await.contains("OK"));
    assert!(append(&mut c, "INBOX", "", &mail(0)).await.contains("OK"));
    ok(c.command("SELECT INBOX").await);
    let sorted = ok(c.command("SORT (SUBJECT) UTF-8 ALL").await);
    assert!(
        sorted
            .iter()
            .any(|l| l == "* SORT 1 2" || l == "* SORT 2 1"),
        "{sorted:?}"
    );
    ok(c.command("THREAD REFERENCES UTF-8 ALL").await);
    let found = ok(c.command("SEARCH TEXT \"10\"").await);
    assert!(found.iter().any(|l| l == "* SEARCH 2"), "{found:?}");
    let body = ok(c.command("FETCH 1 BODY.PEEK[]").await);
    assert!(body.iter().any(|l| l.contains("--b1--")), "{body:?}");
}

/// RFC 5267 §4 (CONTEXT=SORT): a live SORT is told each change with the position it has
/// in the sort order, and PARTIAL answers a window of that order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_sort_tells_positions() {
    let server = TestServer::start(true).await;
    let mut c = discussion(&server).await;
    // By DATE: 3 1 5 2 4 6. Positions 2..=4 of that order, in that order.
    let lines = c
        .command("SORT RETURN (PARTIAL 2:4) (DATE) UTF-8 ALL")
        .await;
    assert_eq!(
        esearch_line(lines),
        "* ESEARCH (TAG $tag) PARTIAL (2:4 1,5,2)"
    );
    let lines = c
        .command("UID SORT RETURN (UPDATE) (DATE) UTF-8 UNSEEN")
        .await;
    assert_eq!(esearch_line(lines), "* ESEARCH (TAG $tag) UID");
    let tag = |lines: &[String]| tagged(lines).split(' ').next().unwrap_or("").to_owned();
    // Reading the 9 o'clock mail (UID 3, first by date) takes it from position 1.
    let store = c.command("UID STORE 3 +FLAGS.SILENT (\\Seen)").await;
    let context = format!("a{}", tag(&store)[1..].parse::<u32>().unwrap_or(1) - 1);
    let removed = format!("* ESEARCH (TAG \"{context}\") UID REMOVEFROM (1 3)");
    assert!(store.contains(&removed), "{store:?}");
    // Both it and the 12 o'clock one (UID 2) come back: positions 1 and 4 of 3 1 5 2 4 6.
    ok(c.command("UID STORE 2 +FLAGS.SILENT (\\Seen)").await);
    let store = c.command("UID STORE 2:3 -FLAGS.SILENT (\\Seen)").await;
    let added = format!("* ESEARCH (TAG \"{context}\") UID ADDTO (1 3 4 2)");
    assert!(store.contains(&added), "{store:?}");
}
