//! A client's day against the in-process server: SELECT, APPEND, FETCH, STORE, SEARCH,
//! COPY, MOVE, EXPUNGE, IDLE woken by another connection and by a delivery, CONDSTORE.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_select_fetch_store_search_expunge() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let first = message("회의 안내", "내일 10시에 회의가 있습니다.");
    let reply = append(&mut c, "INBOX", "", &first).await;
    assert!(reply.contains("OK [APPENDUID "), "{reply}");
    let second = message("Report", "quarterly numbers");
    let reply = append(&mut c, "INBOX", "\\Flagged", &second).await;
    assert!(reply.contains("OK [APPENDUID "), "{reply}");

    let select = ok(c.command("SELECT INBOX").await);
    assert!(select.contains(&"* 2 EXISTS".to_owned()), "{select:#?}");
    assert!(select.contains(&"* 2 RECENT".to_owned()), "{select:#?}");
    assert!(select.iter().any(|l| l.starts_with("* OK [UIDVALIDITY ")));
    assert!(select.iter().any(|l| l.starts_with("* OK [UIDNEXT 3]")));
    assert!(select.iter().any(|l| l.starts_with("* OK [HIGHESTMODSEQ ")));
    assert!(select.iter().any(|l| l.starts_with("* OK [UNSEEN 1]")));

    let fetch = ok(c
        .command("FETCH 1:2 (UID FLAGS RFC822.SIZE ENVELOPE)")
        .await);
    assert_eq!(fetch.len(), 2, "{fetch:#?}");
    assert!(
        fetch[0].starts_with("* 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE "),
        "{}",
        fetch[0]
    );
    assert!(fetch[1].contains("\\Flagged"), "{}", fetch[1]);

    // BODY.PEEK leaves \Seen alone; BODY[] sets it and reports the new FLAGS.
    let peek = ok(c.command("FETCH 1 (BODY.PEEK[TEXT])").await);
    assert!(peek[0].contains("내일 10시에 회의가 있습니다."), "{peek:?}");
    let flags = ok(c.command("FETCH 1 (FLAGS)").await);
    assert!(!flags[0].contains("\\Seen"), "{flags:?}");
    let body = ok(c.command("FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])").await);
    assert!(
        body[0].contains("\\Seen"),
        "implicit \\Seen reported: {body:?}"
    );
    assert!(body[0].contains("Subject: 회의 안내"), "{body:?}");
    let partial = ok(c.command("UID FETCH 2 (BODY.PEEK[]<0.5>)").await);
    assert!(partial[0].contains("BODY[]<0> \"From:\""), "{partial:?}");

    let search = ok(c.command("SEARCH UNSEEN").await);
    assert_eq!(search, ["* SEARCH 2"]);
    let search = ok(c
        .command("UID SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n회의")
        .await);
    assert_eq!(search, ["* SEARCH 1"], "decoded UTF-8 subject search");
    let search = ok(c.command("SEARCH FLAGGED BODY quarterly").await);
    assert_eq!(search, ["* SEARCH 2"]);

    let store = ok(c.command("STORE 1 +FLAGS (\\Deleted)").await);
    assert_eq!(store.len(), 1, "{store:?}");
    assert!(
        store[0].contains("\\Deleted") && store[0].contains("\\Seen"),
        "{store:?}"
    );
    let silent = ok(c.command("STORE 2 +FLAGS.SILENT ($Important)").await);
    assert!(silent.is_empty(), "{silent:?}");
    let expunge = ok(c.command("EXPUNGE").await);
    assert_eq!(expunge, ["* 1 EXPUNGE"]);
    let fetch = ok(c.command("FETCH 1 (UID FLAGS)").await);
    // RFC 3501 §7.2.6: the new keyword is listed in FLAGS before a FETCH shows it.
    assert_eq!(
        fetch[0], "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)",
        "{fetch:?}"
    );
    assert!(
        fetch[1].starts_with("* 1 FETCH (UID 2 FLAGS ("),
        "{fetch:?}"
    );
    assert!(fetch[1].contains("$Important"), "{fetch:?}");
    let again = ok(c.command("FETCH 1 (FLAGS)").await);
    assert_eq!(again.len(), 1, "told once: {again:?}");
    let status = ok(c.command("STATUS INBOX (MESSAGES UNSEEN UIDNEXT)").await);
    assert_eq!(status, ["* STATUS INBOX (MESSAGES 1 UNSEEN 1 UIDNEXT 3)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_move_answer_copyuid_and_trycreate() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    for subject in ["하나", "둘", "셋"] {
        append(&mut c, "INBOX", "", &message(subject, "본문")).await;
    }
    ok(c.command("SELECT INBOX").await);
    let reply = c.command("COPY 1 Nowhere").await;
    assert!(tagged(&reply).contains("NO [TRYCREATE]"), "{reply:?}");
    let reply = c.command("COPY 1:2 Archive").await;
    assert!(tagged(&reply).contains("OK [COPYUID "), "{reply:?}");
    assert!(tagged(&reply).contains(" 1:2 1:2]"), "{reply:?}");
    let moved = ok(c.command("UID MOVE 3 Trash").await);
    assert!(moved[0].starts_with("* OK [COPYUID "), "{moved:?}");
    assert_eq!(moved[1], "* 3 EXPUNGE");
    let status = ok(c.command("STATUS Trash (MESSAGES)").await);
    assert_eq!(status, ["* STATUS Trash (MESSAGES 1)"]);
    let status = ok(c.command("STATUS Archive (MESSAGES)").await);
    assert_eq!(status, ["* STATUS Archive (MESSAGES 2)"]);
    let status = ok(c.command("STATUS INBOX (MESSAGES)").await);
    assert_eq!(status, ["* STATUS INBOX (MESSAGES 2)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailboxes_create_rename_delete_with_korean_names() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    // "결재" in modified UTF-7.
    let name = certmail_imap::proto::mailbox_name::encode_utf7("결재/2026년");
    ok(c.command(&format!("CREATE \"{name}\"")).await);
    let list = ok(c.command("LIST \"\" \"%\"").await);
    let parent = certmail_imap::proto::mailbox_name::encode_utf7("결재");
    let line = list
        .iter()
        .find(|l| l.ends_with(&parent))
        .unwrap_or_else(|| panic!("{list:#?}"));
    assert!(line.contains("\\HasChildren"), "{line}");
    let reply = c.command(&format!("CREATE \"{name}\"")).await;
    assert!(tagged(&reply).contains("NO [ALREADYEXISTS]"), "{reply:?}");
    ok(c.command(&format!("RENAME \"{parent}\" Approvals")).await);
    let list = ok(c.command("LIST \"\" \"Approvals/*\"").await);
    assert_eq!(list.len(), 1, "{list:#?}");
    let child = certmail_imap::proto::mailbox_name::encode_utf7("Approvals/2026년");
    ok(c.command(&format!("DELETE \"{child}\"")).await);
    let reply = c.command("DELETE INBOX").await;
    assert!(tagged(&reply).contains("NO [CANNOT]"), "{reply:?}");
    ok(c.command("UNSUBSCRIBE Junk").await);
    let lsub = ok(c.command("LSUB \"\" \"*\"").await);
    assert!(!lsub.iter().any(|l| l.ends_with(" Junk")), "{lsub:#?}");
    assert!(lsub.iter().any(|l| l.ends_with(" Sent")), "{lsub:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_wakes_on_another_connections_append_and_flag_change() {
    let server = TestServer::start(true).await;
    let mut idler = server.signed_in().await;
    let mut other = server.signed_in().await;
    append(&mut other, "INBOX", "", &message("first", "a")).await;
    ok(idler.command("SELECT INBOX").await);
    idler.send("i1 IDLE\r\n").await;
    assert!(idler.line().await.starts_with('+'));

    append(&mut other, "INBOX", "", &message("second", "b")).await;
    assert_eq!(idler.line().await, "* 2 EXISTS");
    // RFC 3501 §7.3.2: RECENT is the total (message 1 became recent at SELECT).
    assert_eq!(idler.line().await, "* 2 RECENT");

    ok(other.command("SELECT INBOX").await);
    ok(other.command("STORE 1 +FLAGS.SILENT (\\Answered)").await);
    let fetch = idler.line().await;
    assert!(
        fetch.starts_with("* 1 FETCH (UID 1 FLAGS (\\Answered"),
        "{fetch}"
    );

    // RFC 3501 §7.4.1: expunges reach an IDLE at once too.
    ok(other.command("STORE 1 +FLAGS.SILENT (\\Deleted)").await);
    assert!(idler.line().await.contains("FETCH"));
    ok(other.command("EXPUNGE").await);
    assert_eq!(idler.line().await, "* 1 EXPUNGE");
    idler.send("DONE\r\n").await;
    assert_eq!(idler.line().await, "i1 OK IDLE terminated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_wakes_on_a_store_delivery_published_to_the_hub() {
    let server = TestServer::start(true).await;
    let mut idler = server.signed_in().await;
    ok(idler.command("SELECT INBOX").await);
    idler.send("i1 IDLE\r\n").await;
    assert!(idler.line().await.starts_with('+'));
    // What SMTP delivery does: store the message, then publish (no connection as origin).
    let delivery = certmail_store::Delivery {
        body: message("배달", "SMTP로 왔습니다").into_bytes(),
        internal_date: certmail_auth::now(),
        recipients: vec![(ACCOUNT.into(), "INBOX".into(), Vec::new())],
        queue: Vec::new(),
        outgoing: Vec::new(),
        quota: certmail_store::MailQuota::Unlimited,
        redirects: Vec::new(),
    };
    let receipt = server.ctx.store.deliver(delivery).await.expect("delivered");
    let copy = &receipt.stored[0];
    server.ctx.hub.publish(
        ACCOUNT,
        None,
        certmail_session::Change::Exists {
            mailbox: copy.mailbox.clone(),
            uid: copy.uid,
        },
    );
    assert_eq!(idler.line().await, "* 1 EXISTS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expunge_waits_for_a_command_that_allows_it() {
    let server = TestServer::start(true).await;
    let mut a = server.signed_in().await;
    let mut b = server.signed_in().await;
    for s in ["1", "2"] {
        append(&mut a, "INBOX", "\\Deleted", &message(s, s)).await;
    }
    ok(a.command("SELECT INBOX").await);
    ok(b.command("SELECT INBOX").await);
    ok(b.command("EXPUNGE").await);
    // RFC 3501 §7.4.1: not during FETCH, STORE or SEARCH; the client's numbers stay.
    let fetch = ok(a.command("FETCH 1:2 (FLAGS)").await);
    assert!(!fetch.iter().any(|l| l.contains("EXPUNGE")), "{fetch:#?}");
    let search = ok(a.command("SEARCH ALL").await);
    assert!(!search.iter().any(|l| l.contains("EXPUNGE")), "{search:#?}");
    let noop = ok(a.command("NOOP").await);
    assert_eq!(noop, ["* 1 EXPUNGE", "* 1 EXPUNGE"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn condstore_modseq_changedsince_and_unchangedsince() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    for s in ["가", "나", "다"] {
        append(&mut c, "INBOX", "", &message(s, s)).await;
    }
    let enable = ok(c.command("ENABLE CONDSTORE").await);
    assert_eq!(enable, ["* ENABLED CONDSTORE"]);
    ok(c.command("SELECT INBOX (CONDSTORE)").await);
    let fetch = ok(c.command("FETCH 1:3 (MODSEQ)").await);
    let modseq = |line: &str| -> u64 {
        let start = line.find("MODSEQ (").expect("MODSEQ") + 8;
        line[start..]
            .split(')')
            .next()
            .expect("number")
            .parse()
            .expect("u64")
    };
    let base = fetch.iter().map(|l| modseq(l)).max().expect("three");
    let stored = ok(c.command("STORE 2 +FLAGS (\\Flagged)").await);
    assert!(stored[0].contains("MODSEQ ("), "{stored:?}");
    let changed = ok(c
        .command(&format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {base})"))
        .await);
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert!(changed[0].starts_with("* 2 FETCH"), "{changed:?}");
    assert!(modseq(&changed[0]) > base);
    // Message 2 changed after `base`: UNCHANGEDSINCE refuses it and names it in MODIFIED.
    let reply = c
        .command(&format!(
            "STORE 1:2 (UNCHANGEDSINCE {base}) +FLAGS (\\Seen)"
        ))
        .await;
    assert!(tagged(&reply).contains("OK [MODIFIED 2]"), "{reply:#?}");
    let flags = ok(c.command("FETCH 1:2 (FLAGS)").await);
    assert!(flags[0].contains("\\Seen"), "{flags:?}");
    assert!(!flags[1].contains("\\Seen"), "{flags:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examine_is_read_only() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    append(&mut c, "INBOX", "", &message("읽기", "전용")).await;
    let reply = c.command("EXAMINE INBOX").await;
    assert!(tagged(&reply).contains("OK [READ-ONLY]"), "{reply:?}");
    let reply = c.command("STORE 1 +FLAGS (\\Deleted)").await;
    assert!(tagged(&reply).contains("NO"), "{reply:?}");
    let body = ok(c.command("FETCH 1 (BODY[])").await);
    assert!(
        !body[0].contains("\\Seen"),
        "EXAMINE must not set \\Seen: {body:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_are_followed_by_connections_that_have_the_mailbox_selected() {
    let server = TestServer::start(true).await;
    let mut a = server.signed_in().await;
    let mut b = server.signed_in().await;
    ok(a.command("CREATE Projects").await);
    append(&mut a, "Projects", "", &message("계획", "초안")).await;
    ok(b.command("SELECT Projects").await);
    ok(a.command("RENAME Projects Plans").await);
    // b follows the rename: a new message in Plans reaches it.
    append(&mut a, "Plans", "", &message("계획 2", "수정안")).await;
    let noop = ok(b.command("NOOP").await);
    assert!(noop.contains(&"* 2 EXISTS".to_owned()), "{noop:#?}");

    // Renaming INBOX moves its messages out (RFC 3501 §6.3.5): a client with INBOX
    // selected hears them expunged.
    append(&mut a, "INBOX", "", &message("받은 편지", "본문")).await;
    ok(b.command("SELECT INBOX").await);
    ok(a.command("RENAME INBOX Old").await);
    let noop = ok(b.command("NOOP").await);
    assert_eq!(noop, ["* 1 EXPUNGE"]);
    let status = ok(a.command("STATUS Old (MESSAGES)").await);
    assert_eq!(status, ["* STATUS Old (MESSAGES 1)"]);
}
