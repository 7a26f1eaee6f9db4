//! Transcripts from RFC 3502 (MULTIAPPEND), RFC 4731 (ESEARCH), RFC 5258 §6 (LIST-EXTENDED), RFC 5819
//! (LIST-STATUS), RFC 6154 (CREATE-SPECIAL-USE), RFC 8438 (STATUS=SIZE) and RFC 9051
//! (ENABLE IMAP4rev2), fitted to our mailboxes, against the in-process server.

mod common;

use common::*;

/// Runs a command that must succeed; its untagged lines, with an ESEARCH response's
/// correlator checked against the command's tag and then written as `(TAG "t")`.
async fn run(c: &mut Client, command: &str) -> Vec<String> {
    let lines = c.command(command).await;
    let tag = tagged(&lines)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    ok(lines)
        .into_iter()
        .map(|l| l.replace(&format!("(TAG \"{tag}\")"), "(TAG \"t\")"))
        .collect()
}

/// The lines about the RFC 5258 §6 tree (our accounts also hold INBOX, Sent, ...).
fn tree(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .filter(|l| ["Fruit", "Tofu", "Vegetable"].iter().any(|n| l.contains(n)))
        .collect()
}

async fn fill_inbox(c: &mut Client) -> Vec<usize> {
    let mut sizes = Vec::new();
    for (subject, flags) in [
        ("회의 안내", ""),
        ("Report", "\\Flagged"),
        ("출장 보고", "\\Flagged \\Seen"),
        ("점심", "\\Seen"),
        ("예산", "\\Flagged"),
    ] {
        let m = message(subject, "본문입니다.");
        sizes.push(m.len());
        let reply = append(c, "INBOX", flags, &m).await;
        assert!(reply.contains("OK"), "{reply}");
    }
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4731_esearch() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    fill_inbox(&mut c).await;
    ok(c.command("SELECT INBOX").await);
    // RFC 4731 §3.1 examples (our FLAGGED messages are 2, 3 and 5).
    let lines = run(&mut c, "SEARCH RETURN (MIN COUNT) FLAGGED").await;
    assert_eq!(lines, ["* ESEARCH (TAG \"t\") MIN 2 COUNT 3"]);
    let lines = run(&mut c, "SEARCH RETURN () FLAGGED").await;
    assert_eq!(lines, ["* ESEARCH (TAG \"t\") ALL 2:3,5"]);
    let lines = run(&mut c, "UID SEARCH RETURN (MIN MAX ALL COUNT) UNSEEN").await;
    assert_eq!(
        lines,
        ["* ESEARCH (TAG \"t\") UID MIN 1 MAX 5 ALL 1:2,5 COUNT 3"]
    );
    // Nothing matched: only COUNT 0 (RFC 4731 §3.1).
    let lines = run(&mut c, "SEARCH RETURN (MIN COUNT) SUBJECT NoSuchSubject").await;
    assert_eq!(lines, ["* ESEARCH (TAG \"t\") COUNT 0"]);
    // RFC 5182 §2.1: SAVE alone answers no ESEARCH.
    let lines = run(&mut c, "UID SEARCH RETURN (SAVE) SEEN").await;
    assert!(lines.is_empty(), "{lines:?}");
    // Literals inside the criteria, CHARSET, and an unknown option (BAD).
    let lines = run(
        &mut c,
        "UID SEARCH RETURN (COUNT) CHARSET UTF-8 SUBJECT {6+}\r\n출장",
    )
    .await;
    assert_eq!(lines, ["* ESEARCH (TAG \"t\") UID COUNT 1"]);
    let bad = c.command("SEARCH RETURN (X-UNKNOWN) ALL").await;
    assert!(tagged(&bad).contains(" BAD "), "{bad:?}");
    // RFC 7162 §3.1.5: with a MODSEQ criterion, ESEARCH carries the MODSEQ (of the MAX
    // message, RFC 4731 §3.2). This is the session's first CONDSTORE-enabling command, so
    // the mailbox's HIGHESTMODSEQ comes first (RFC 7162 §3.1).
    let lines = run(&mut c, "SEARCH RETURN (MAX) MODSEQ 1").await;
    assert!(
        lines.len() == 2
            && lines[0].starts_with("* OK [HIGHESTMODSEQ ")
            && lines[1].starts_with("* ESEARCH (TAG \"t\") MAX 5 MODSEQ "),
        "{lines:?}"
    );
    // Without RETURN, IMAP4rev1 SEARCH is unchanged.
    assert_eq!(run(&mut c, "SEARCH FLAGGED").await, ["* SEARCH 2 3 5"]);
}

async fn rfc5258_mailboxes(c: &mut Client) {
    // RFC 5258 §6's tree, with Korean children.
    for name in [
        "Fruit/Apple",
        "Fruit/Banana",
        "Tofu",
        "Vegetable/Broccoli",
        // 당근 in modified UTF-7: an IMAP4rev1 session has no UTF-8 quoted strings.
        "Vegetable/&svmt,A-",
    ] {
        ok(c.command(&format!("CREATE \"{name}\"")).await);
    }
    for name in ["Fruit/Banana", "Vegetable", "Vegetable/Broccoli"] {
        ok(c.command(&format!("SUBSCRIBE \"{name}\"")).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5258_list_extended() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    rfc5258_mailboxes(&mut c).await;
    // §6 example 3: the subscribed mailboxes, with \Subscribed.
    let lines = tree(ok(c.command("LIST (SUBSCRIBED) \"\" \"*\"").await));
    assert_eq!(
        lines,
        [
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" Fruit/Banana",
            "* LIST (\\HasChildren \\Subscribed) \"/\" Vegetable",
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" Vegetable/Broccoli",
        ]
    );
    // §6 example 5 (A04): RECURSIVEMATCH lists the parents of subscribed children.
    let lines = tree(ok(c
        .command("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)")
        .await));
    assert_eq!(
        lines,
        [
            "* LIST (\\HasChildren) \"/\" \"Fruit\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\HasChildren \\Subscribed) \"/\" \"Vegetable\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
        ]
    );
    // §6 example 7 (A07): several patterns.
    let lines = ok(c
        .command("LIST \"\" (\"INBOX\" \"Vegetable/%\") RETURN (SUBSCRIBED)")
        .await);
    assert_eq!(
        lines,
        [
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX",
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" Vegetable/Broccoli",
            "* LIST (\\HasNoChildren) \"/\" Vegetable/&svmt,A-",
        ]
    );
    // §6 example 8: empty selection options are the basic LIST.
    let basic = ok(c.command("LIST \"\" \"%\"").await);
    assert_eq!(ok(c.command("LIST () \"\" \"%\"").await), basic);
    // REMOTE: we have no remote mailboxes, so the same list.
    assert_eq!(ok(c.command("LIST (REMOTE) \"\" \"%\"").await), basic);
    // RECURSIVEMATCH alone is BAD (RFC 5258 §3).
    let bad = c.command("LIST (RECURSIVEMATCH) \"\" \"%\"").await;
    assert!(tagged(&bad).contains(" BAD "), "{bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5819_list_status_and_rfc8438_status_size() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let sizes = fill_inbox(&mut c).await;
    // 보관함, in modified UTF-7 (RFC 3501 §5.1.3).
    ok(c.command("CREATE &vPStANVo-").await);
    let total: usize = sizes.iter().sum();
    let lines = ok(c
        .command("LIST \"\" \"%\" RETURN (STATUS (MESSAGES UNSEEN SIZE))")
        .await);
    eprintln!("{lines:#?}");
    let inbox = lines
        .iter()
        .position(|l| l.ends_with("\"/\" INBOX"))
        .expect("INBOX listed");
    assert_eq!(
        lines[inbox + 1],
        format!("* STATUS INBOX (MESSAGES 5 UNSEEN 3 SIZE {total})")
    );
    let archive = lines
        .iter()
        .position(|l| l.contains("&vPStANVo-"))
        .expect("보관함 listed");
    assert_eq!(
        lines[archive + 1],
        "* STATUS &vPStANVo- (MESSAGES 0 UNSEEN 0 SIZE 0)"
    );
    // RFC 8438 §4 and RFC 9051 §6.3.11 DELETED.
    ok(c.command("SELECT INBOX").await);
    ok(c.command("STORE 1 +FLAGS (\\Deleted)").await);
    let status = ok(c.command("STATUS INBOX (MESSAGES SIZE DELETED)").await);
    assert_eq!(
        status,
        [format!(
            "* STATUS INBOX (MESSAGES 5 SIZE {total} DELETED 1)"
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc6154_create_special_use() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    // RFC 6154 §5.3 example 2 (we keep one special use per mailbox).
    let two = c.command("CREATE MySpecial (USE (\\Drafts \\Sent))").await;
    assert!(tagged(&two).contains("NO [USEATTR]"), "{two:?}");
    let unknown = c.command("CREATE MySpecial (USE (\\Important))").await;
    assert!(tagged(&unknown).contains("NO [USEATTR]"), "{unknown:?}");
    // 임시 보관함 and 일반 in modified UTF-7 (RFC 3501 §5.1.3).
    ok(c.command("CREATE \"&x4TC3A- &vPStANVo-\" (USE (\\Drafts))")
        .await);
    ok(c.command("CREATE &x3y8GA-").await);
    let lines = ok(c.command("LIST (SPECIAL-USE) \"\" \"*\"").await);
    assert!(
        lines.contains(
            &"* LIST (\\HasNoChildren \\Drafts) \"/\" \"&x4TC3A- &vPStANVo-\"".to_owned()
        ),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("&x3y8GA-")), "{lines:#?}");
    let lines = ok(c.command("LIST \"\" \"%\" RETURN (SPECIAL-USE)").await);
    assert!(lines.iter().any(|l| l.contains("&x3y8GA-")), "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9051_enable_imap4rev2() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    fill_inbox(&mut c).await;
    let caps = ok(c.command("CAPABILITY").await);
    assert!(caps[0].contains(" IMAP4rev2 "), "{caps:?}");
    let enabled = ok(c.command("ENABLE IMAP4rev2").await);
    assert_eq!(enabled, ["* ENABLED IMAP4rev2"]);
    // RFC 9051 Appendix E: no RECENT response, no \Recent flag.
    let select = ok(c.command("SELECT INBOX").await);
    assert!(
        !select
            .iter()
            .any(|l| l.contains("RECENT") || l.contains("\\Recent")),
        "{select:#?}"
    );
    assert!(select.contains(&"* 5 EXISTS".to_owned()), "{select:#?}");
    assert!(
        !select.iter().any(|l| l.contains("[UNSEEN ")),
        "{select:#?}"
    );
    assert!(
        select.contains(&"* LIST () \"/\" INBOX".to_owned()),
        "{select:#?}"
    );
    let fetch = ok(c.command("FETCH 1 (FLAGS)").await);
    assert_eq!(fetch, ["* 1 FETCH (FLAGS ())"]);
    // RFC 9051 §6.4.4: SEARCH answers ESEARCH.
    let search = run(&mut c, "SEARCH FLAGGED").await;
    assert_eq!(search, ["* ESEARCH (TAG \"t\") ALL 2:3,5"]);
    let search = run(&mut c, "UID SEARCH SUBJECT NoSuchSubject").await;
    assert_eq!(search, ["* ESEARCH (TAG \"t\") UID"]);
    // A new message told to this session: EXISTS, but no RECENT.
    let mut other = server.signed_in().await;
    append(&mut other, "INBOX", "", &message("새 메일", "안녕하세요")).await;
    let noop = ok(c.command("NOOP").await);
    assert_eq!(noop, ["* 6 EXISTS"]);
    // A missing parent is \NonExistent (RFC 9051 §7.3.1).
    ok(c.command("CREATE \"부서/인사\"").await);
    ok(c.command("DELETE &vYDBHA-").await);
    let list = ok(c.command("LIST \"\" \"%\"").await);
    assert!(
        list.contains(&"* LIST (\\NonExistent \\HasChildren) \"/\" {6}\r\n부서".to_owned()),
        "{list:#?}"
    );
    // RFC 9051 §6.3.9: \Subscribed only when asked for (INBOX is subscribed).
    assert!(
        list.contains(&"* LIST (\\HasNoChildren) \"/\" INBOX".to_owned()),
        "{list:#?}"
    );
    let asked = ok(c.command("LIST \"\" INBOX RETURN (SUBSCRIBED)").await);
    assert_eq!(asked, ["* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX"]);
    // RFC 9051 §5.1: names are UTF-8 both ways (in literals: quoted strings stay ASCII).
    let status = ok(c.command("STATUS {13+}\r\n부서/인사 (MESSAGES)").await);
    assert_eq!(status, ["* STATUS {13}\r\n부서/인사 (MESSAGES 0)"]);
    ok(c.command("CREATE \"임시 보관\" (USE (\\Junk))").await);
    let list = ok(c.command("LIST (SPECIAL-USE) \"\" \"*\"").await);
    assert!(
        list.contains(&"* LIST (\\HasNoChildren \\Junk) \"/\" {13}\r\n임시 보관".to_owned()),
        "{list:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap4rev1_is_unchanged_without_enable() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    fill_inbox(&mut c).await;
    let select = ok(c.command("SELECT INBOX").await);
    assert!(select.contains(&"* 5 RECENT".to_owned()), "{select:#?}");
    assert_eq!(run(&mut c, "SEARCH FLAGGED").await, ["* SEARCH 2 3 5"]);
    let fetch = ok(c.command("FETCH 1 (FLAGS)").await);
    assert_eq!(fetch, ["* 1 FETCH (FLAGS (\\Recent))"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5182_searchres() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    fill_inbox(&mut c).await;
    ok(c.command("SELECT INBOX").await);
    // RFC 5182 §3 example (A282/A283), fitted: our FLAGGED messages are 2, 3 and 5.
    let saved = ok(c
        .command("SEARCH RETURN (SAVE) FLAGGED NOT FROM \"Smith\"")
        .await);
    assert!(saved.is_empty(), "SAVE alone answers no ESEARCH: {saved:?}");
    let fetch = ok(c.command("FETCH $ (UID)").await);
    assert_eq!(
        fetch,
        [
            "* 2 FETCH (UID 2)",
            "* 3 FETCH (UID 3)",
            "* 5 FETCH (UID 5)"
        ]
    );
    // `$` as a search key, inside parentheses and beside other keys.
    let lines = run(&mut c, "SEARCH RETURN (COUNT) ($ SEEN)").await;
    assert_eq!(lines, ["* ESEARCH (TAG \"t\") COUNT 1"]);
    assert_eq!(
        run(&mut c, "UID SEARCH OR $ SEEN").await,
        ["* SEARCH 2 3 4 5"]
    );
    ok(c.command("UID STORE $ +FLAGS.SILENT (\\Answered)").await);
    assert_eq!(run(&mut c, "SEARCH ANSWERED").await, ["* SEARCH 2 3 5"]);
    // RFC 5182 §2.4: SAVE with MIN only keeps the lowest match.
    ok(c.command("SEARCH RETURN (SAVE MIN) UNSEEN").await);
    assert_eq!(
        ok(c.command("UID FETCH $ (UID)").await),
        ["* 1 FETCH (UID 1)"]
    );
    // An empty result: `$` is the empty set.
    ok(c.command("UID SEARCH RETURN (SAVE) SUBJECT NoSuchSubject")
        .await);
    assert!(ok(c.command("FETCH $ (FLAGS)").await).is_empty());
    assert_eq!(run(&mut c, "SEARCH $").await, ["* SEARCH"]);
    // `$` after a literal: the driver sees the literal's announcement first. The saved
    // result is the flagged messages 2, 3 and 5 again.
    ok(c.command("SEARCH RETURN (SAVE) FLAGGED").await);
    assert_eq!(
        run(&mut c, "SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n보고 $").await,
        ["* SEARCH 3"]
    );
    c.send("s1 SEARCH CHARSET UTF-8 SUBJECT {6}\r\n").await;
    let go = c.line().await;
    assert!(
        go.starts_with("+ "),
        "a synchronizing literal is invited: {go}"
    );
    c.send("회의 NOT $\r\n").await;
    let lines = c.until_tagged("s1").await;
    assert_eq!(lines[0], "* SEARCH 1", "{lines:?}");
    assert!(lines[1].starts_with("s1 OK"), "{lines:?}");
    // A SEARCH with a literal and no `$` reads as it always did.
    assert_eq!(
        run(&mut c, "UID SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n점심").await,
        ["* SEARCH 4"]
    );
    let bad = c.command("SEARCH SUBJECT {1+}\r\nx NOSUCHKEY").await;
    assert!(tagged(&bad).contains(" BAD "), "{bad:?}");
    // SELECT empties the saved result (RFC 5182 §2.1).
    ok(c.command("SEARCH RETURN (SAVE) ALL").await);
    ok(c.command("SELECT INBOX").await);
    assert!(ok(c.command("FETCH $ (UID)").await).is_empty());
    // A command that cannot parse with `$` in it is BAD.
    let bad = c.command("FETCH $ (NOSUCHITEM)").await;
    assert!(tagged(&bad).contains(" BAD "), "{bad:?}");
}

/// RFC 3502 §6.3.11's example, with our own messages: two messages in one APPEND (each
/// with its flags, one with a date), one transaction, `APPENDUID` with both UIDs; into a
/// mailbox that does not exist, none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3502_multiappend() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let caps = ok(c.command("CAPABILITY").await);
    assert!(caps[0].contains(" MULTIAPPEND "), "{caps:?}");
    ok(c.command("SELECT Archive").await);
    let (first, second) = (
        message("첫째 편지", "안녕하세요"),
        message("둘째 편지", "감사합니다"),
    );
    c.send(&format!(
        "A003 APPEND Archive (\\Seen) {{{}+}}\r\n{first} (\\Flagged) \"23-Nov-2026 10:00:00 +0900\" {{{}+}}\r\n{second}\r\n",
        first.len(),
        second.len()
    ))
    .await;
    let lines = c.until_tagged("A003").await;
    let done = tagged(&lines);
    assert!(done.starts_with("A003 OK [APPENDUID "), "{lines:?}");
    assert!(done.contains(" 1:2] "), "both UIDs: {done}");
    assert_eq!(lines[0], "* 2 EXISTS", "{lines:?}");
    let fetched = ok(c
        .command("FETCH 1:2 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await);
    let flat = fetched.join("\n");
    assert!(flat.contains("* 1 FETCH (FLAGS (\\Seen"), "{flat}");
    assert!(flat.contains("* 2 FETCH (FLAGS (\\Flagged"), "{flat}");
    assert!(
        // The instant given, told in UTC.
        flat.contains("INTERNALDATE \"23-Nov-2026 01:00:00 +0000\""),
        "{flat}"
    );
    assert!(
        flat.contains("첫째 편지") && flat.contains("둘째 편지"),
        "{flat}"
    );
    // RFC 3502: if any message cannot be appended, none is.
    c.send(&format!(
        "A004 APPEND Nowhere {{{}+}}\r\n{first} {{{}+}}\r\n{second}\r\n",
        first.len(),
        second.len()
    ))
    .await;
    let lines = c.until_tagged("A004").await;
    assert!(
        tagged(&lines).starts_with("A004 NO [TRYCREATE]"),
        "{lines:?}"
    );
    let status = ok(c.command("STATUS Archive (MESSAGES)").await);
    assert_eq!(status, ["* STATUS Archive (MESSAGES 2)"]);
    // A message of two literals with a bad flag list is BAD, and nothing is stored.
    c.send(&format!(
        "A005 APPEND Archive {{{}+}}\r\n{first} (\\Seen {{{}+}}\r\n{second}\r\n",
        first.len(),
        second.len()
    ))
    .await;
    let lines = c.until_tagged("A005").await;
    assert!(tagged(&lines).starts_with("A005 BAD"), "{lines:?}");
    let status = ok(c.command("STATUS Archive (MESSAGES)").await);
    assert_eq!(status, ["* STATUS Archive (MESSAGES 2)"]);
}

/// RFC 4469 §5's example, fitted to our mailboxes: a forward made of a new header, the
/// text of a message already here (by URL) and a signature; a URL under another
/// UIDVALIDITY, or to a message that is not there, refuses the APPEND with BADURL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4469_catenate() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let original = message("예산안", "첨부한 예산안을 검토해 주세요.");
    assert!(append(&mut c, "INBOX", "", &original).await.contains("OK"));
    let status = ok(c.command("STATUS INBOX (UIDVALIDITY)").await);
    let validity = status[0]
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .trim_end_matches(')')
        .to_owned();
    let header = "From: hong@test.go.kr\r\nTo: lee@test.go.kr\r\nSubject: Fwd: 예산안\r\n\r\n";
    let sign = "\r\n-- \r\n홍길동 드림\r\n";
    c.send(&format!(
        "A003 APPEND Drafts (\\Seen \\Draft) CATENATE (TEXT {{{}+}}\r\n{header} \
         URL \"/INBOX;UIDVALIDITY={validity}/;UID=1/;SECTION=TEXT\" TEXT {{{}+}}\r\n{sign})\r\n",
        header.len(),
        sign.len()
    ))
    .await;
    let lines = c.until_tagged("A003").await;
    assert!(
        tagged(&lines).starts_with("A003 OK [APPENDUID "),
        "{lines:?}"
    );
    ok(c.command("SELECT Drafts").await);
    let body = ok(c.command("FETCH 1 (FLAGS BODY.PEEK[])").await).join("\n");
    assert!(body.contains("FLAGS (\\Draft \\Seen"), "{body}");
    let expected = format!("{header}첨부한 예산안을 검토해 주세요.\r\n{sign}");
    assert!(body.contains(&expected), "{body}");
    // The original stays unread: CATENATE reads without \Seen.
    let flags = ok(c.command("STATUS INBOX (UNSEEN)").await);
    assert_eq!(flags, ["* STATUS INBOX (UNSEEN 1)"]);
    for (tag, url) in [
        ("A004", "/INBOX;UIDVALIDITY=1/;UID=1".to_owned()),
        ("A005", "/INBOX/;UID=9".to_owned()),
        (
            "A006",
            "imap://hong@mail.test.go.kr/INBOX/;UID=1".to_owned(),
        ),
    ] {
        c.send(&format!("{tag} APPEND Drafts CATENATE (URL \"{url}\")\r\n"))
            .await;
        let lines = c.until_tagged(tag).await;
        assert!(
            tagged(&lines).starts_with(&format!("{tag} NO [BADURL {url}] ")),
            "{lines:?}"
        );
    }
    let status = ok(c.command("STATUS Drafts (MESSAGES)").await);
    assert_eq!(status, ["* STATUS Drafts (MESSAGES 1)"]);
    // A missing target is TRYCREATE before any URL is looked at (RFC 4469 §5).
    c.send("A007 APPEND Nowhere CATENATE (URL \"/INBOX/;UID=9\")\r\n")
        .await;
    let lines = c.until_tagged("A007").await;
    assert!(
        tagged(&lines).starts_with("A007 NO [TRYCREATE]"),
        "{lines:?}"
    );
}

/// RFC 5267 §4 (CONTEXT=SEARCH): a live search is told how its result changes, by this
/// connection's STOREs and EXPUNGE and by another connection's APPEND, until CANCELUPDATE;
/// PARTIAL answers a window of the result; past `max_search_contexts`, NOUPDATE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5267_search_contexts() {
    let server = TestServer::start_with(true, |s| s.max_search_contexts = 2).await;
    let mut c = server.signed_in().await;
    fill_inbox(&mut c).await;
    ok(c.command("SELECT INBOX").await);
    // Seen: 3 and 4. The context's first answer is the result as asked (ALL).
    assert_eq!(
        run(&mut c, "SEARCH RETURN (UPDATE ALL) SEEN").await,
        ["* ESEARCH (TAG \"t\") ALL 3:4"]
    );
    let tag = |lines: &[String]| tagged(lines).split(' ').next().unwrap_or("").to_owned();
    let store = c.command("STORE 1 +FLAGS.SILENT (\\Seen)").await;
    // The context is named by the SEARCH's tag: the one before this STORE's (aN).
    let live = tag(&store).replace('a', "");
    let context = format!("a{}", live.parse::<u32>().unwrap_or(0) - 1);
    assert!(
        store.contains(&format!("* ESEARCH (TAG \"{context}\") ADDTO (0 1)")),
        "{store:?}"
    );
    let store = c.command("STORE 3 -FLAGS.SILENT (\\Seen)").await;
    assert!(
        store.contains(&format!("* ESEARCH (TAG \"{context}\") REMOVEFROM (0 3)")),
        "{store:?}"
    );
    // Expunging message 1 removes it before the EXPUNGE renumbers the rest.
    ok(c.command("STORE 1 +FLAGS.SILENT (\\Deleted)").await);
    let expunge = c.command("EXPUNGE").await;
    let removed = expunge
        .iter()
        .position(|l| l.contains("REMOVEFROM (0 1)"))
        .expect("REMOVEFROM for the expunged message");
    let gone = expunge
        .iter()
        .position(|l| l == "* 1 EXPUNGE")
        .expect("EXPUNGE");
    assert!(removed < gone, "{expunge:?}");
    // Another connection's new \Seen message joins the result as this one hears EXISTS.
    let mut other = server.signed_in().await;
    let m = message("새 편지", "읽은 편지");
    assert!(
        append(&mut other, "INBOX", "\\Seen", &m)
            .await
            .contains("OK")
    );
    let noop = c.command("NOOP").await;
    let exists = noop.iter().position(|l| l == "* 5 EXISTS").expect("EXISTS");
    let added = noop
        .iter()
        .position(|l| l.ends_with("ADDTO (0 5)"))
        .expect("ADDTO");
    assert!(exists < added, "{noop:?}");
    // PARTIAL: positions 2..=3 of the matches, either order; past the end, NIL.
    assert_eq!(
        run(&mut c, "SEARCH RETURN (PARTIAL 3:2) ALL").await,
        ["* ESEARCH (TAG \"t\") PARTIAL (2:3 2:3)"]
    );
    assert_eq!(
        run(&mut c, "UID SEARCH RETURN (PARTIAL 9:10) ALL").await,
        ["* ESEARCH (TAG \"t\") UID PARTIAL (9:10 NIL)"]
    );
    for bad in ["PARTIAL 1", "PARTIAL 1:*", "UPDATE SAVE"] {
        let reply = c.command(&format!("SEARCH RETURN ({bad}) ALL")).await;
        assert!(tagged(&reply).contains(" BAD "), "{bad}: {reply:?}");
    }
    // A second context fits; a third is refused with NOUPDATE, its search still answered.
    run(&mut c, "SEARCH RETURN (UPDATE) FLAGGED").await;
    let third = c.command("SEARCH RETURN (UPDATE COUNT) DELETED").await;
    assert!(
        third.iter().any(|l| l.starts_with("* NO [NOUPDATE ")),
        "{third:?}"
    );
    assert!(tagged(&third).contains(" OK "), "{third:?}");
    // After CANCELUPDATE the first context is quiet.
    ok(c.command(&format!("CANCELUPDATE \"{context}\"")).await);
    let store = c.command("STORE 2 +FLAGS.SILENT (\\Seen)").await;
    assert!(!store.iter().any(|l| l.contains(&context)), "{store:?}");
}

/// RFC 5465 (NOTIFY): what another connection does reaches this one without a command:
/// new mail in another mailbox as STATUS, a new mailbox and a subscription as LIST, and
/// the selected mailbox's EXISTS, FETCH and EXPUNGE as they happen; NOTIFY NONE stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5465_notify() {
    let server = TestServer::start(true).await;
    let mut a = server.signed_in().await;
    let mut b = server.signed_in().await;
    ok(a.command("SELECT INBOX").await);
    let refused = a
        .command("NOTIFY SET (personal (MessageNew AnnotationChange))")
        .await;
    assert!(
        tagged(&refused).contains(" NO [BADEVENT (MessageNew "),
        "{refused:?}"
    );
    ok(a.command(
        "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) \
         (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))",
    )
    .await);
    let mail = message("알림", "새 편지가 왔습니다.");
    assert!(append(&mut b, "Archive", "", &mail).await.contains("OK"));
    assert_eq!(a.line().await, "* STATUS Archive (MESSAGES 1 UIDNEXT 2)");
    ok(b.command("CREATE Reports").await);
    assert_eq!(a.line().await, "* LIST () \"/\" \"Reports\"");
    ok(b.command("SUBSCRIBE Reports").await);
    assert_eq!(a.line().await, "* LIST (\\Subscribed) \"/\" \"Reports\"");
    // The selected mailbox: EXISTS, then a flag change, then an expunge, each at once.
    assert!(append(&mut b, "INBOX", "", &mail).await.contains("OK"));
    assert_eq!(a.line().await, "* 1 EXISTS");
    assert_eq!(a.line().await, "* 1 RECENT");
    ok(b.command("SELECT INBOX").await);
    ok(b.command("STORE 1 +FLAGS.SILENT (\\Flagged \\Deleted)")
        .await);
    let fetch = a.line().await;
    assert!(
        fetch.starts_with("* 1 FETCH (") && fetch.contains("\\Flagged"),
        "{fetch}"
    );
    ok(b.command("EXPUNGE").await);
    assert_eq!(a.line().await, "* 1 EXPUNGE");
    // NOTIFY NONE: the next delivery elsewhere is not told, even at the next command.
    ok(a.command("NOTIFY NONE").await);
    assert!(append(&mut b, "Archive", "", &mail).await.contains("OK"));
    let noop = a.command("NOOP").await;
    assert_eq!(noop.len(), 1, "{noop:?}");
}
