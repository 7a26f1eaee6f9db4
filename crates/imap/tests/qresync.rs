//! QRESYNC (RFC 7162 §3.2) against the in-process server, in the shape of the RFC's
//! examples: ENABLE QRESYNC, SELECT (QRESYNC ...) after another connection expunged and
//! flagged, UID FETCH (CHANGEDSINCE n VANISHED), and VANISHED in place of EXPUNGE.

mod common;

use common::*;

/// The number in `* OK [NAME n] ...` among SELECT's responses.
fn code_number(lines: &[String], name: &str) -> u64 {
    let prefix = format!("* OK [{name} ");
    let line = lines
        .iter()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} in {lines:#?}"));
    line[prefix.len()..]
        .split(']')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

/// Lines a resync is made of: VANISHED and FETCH.
fn resync_lines(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("* VANISHED") || l.contains(" FETCH ("))
        .cloned()
        .collect()
}

/// Four messages in INBOX; returns (UIDVALIDITY, HIGHESTMODSEQ) as the client saw them.
async fn four_messages(server: &TestServer) -> (u64, u64) {
    let mut c = server.signed_in().await;
    for (subject, body) in [
        ("회의 안내", "내일 10시"),
        ("출장 보고", "부산 출장"),
        ("예산안", "2027년 예산"),
        ("인사 발령", "김철수 과장"),
    ] {
        let reply = append(&mut c, "INBOX", "", &message(subject, body)).await;
        assert!(reply.contains("OK"), "{reply}");
    }
    let select = ok(c.command("SELECT INBOX").await);
    let known = (
        code_number(&select, "UIDVALIDITY"),
        code_number(&select, "HIGHESTMODSEQ"),
    );
    ok(c.command("LOGOUT").await);
    known
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_back_after_others_changes_hears_exactly_vanished_and_changed() {
    let server = TestServer::start(true).await;
    let (uid_validity, modseq) = four_messages(&server).await;

    // Another connection expunges UID 2 and flags UID 3 while the first is away.
    let mut other = server.signed_in().await;
    ok(other.command("SELECT INBOX").await);
    ok(other.command("UID STORE 2 +FLAGS.SILENT (\\Deleted)").await);
    assert_eq!(ok(other.command("EXPUNGE").await), ["* 2 EXPUNGE"]);
    ok(other.command("UID STORE 3 +FLAGS.SILENT (\\Flagged)").await);
    ok(other.command("LOGOUT").await);

    // RFC 7162 §3.2.5.1: the client comes back and resynchronises in one SELECT.
    let mut c = server.signed_in().await;
    assert_eq!(ok(c.command("ENABLE QRESYNC").await), ["* ENABLED QRESYNC"]);
    let select = c
        .command(&format!(
            "SELECT INBOX (QRESYNC ({uid_validity} {modseq} 1:4))"
        ))
        .await;
    let tagged = tagged(&select).to_owned();
    assert!(tagged.contains("OK [READ-WRITE]"), "{select:#?}");
    let resync = resync_lines(&select);
    assert_eq!(resync.len(), 2, "{select:#?}");
    assert_eq!(resync[0], "* VANISHED (EARLIER) 2");
    assert!(
        resync[1].starts_with("* 2 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ ("),
        "{resync:#?}"
    );
    assert!(select.contains(&"* 3 EXISTS".to_owned()), "{select:#?}");
    let new_modseq = code_number(&select, "HIGHESTMODSEQ");
    assert!(new_modseq > modseq);

    // RFC 7162 §3.2.6: the same answer from UID FETCH (CHANGEDSINCE n VANISHED).
    let fetch = ok(c
        .command(&format!(
            "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)"
        ))
        .await);
    assert_eq!(fetch.len(), 2, "{fetch:#?}");
    assert_eq!(fetch[0], "* VANISHED (EARLIER) 2");
    assert!(
        fetch[1].starts_with("* 2 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ ("),
        "{fetch:#?}"
    );
    // Nothing changed since the current HIGHESTMODSEQ.
    let none = ok(c
        .command(&format!(
            "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {new_modseq} VANISHED)"
        ))
        .await);
    assert!(none.is_empty(), "{none:#?}");

    // RFC 7162 §3.2.10: once enabled, expunges are told as VANISHED, not EXPUNGE.
    ok(c.command("UID STORE 1 +FLAGS.SILENT (\\Deleted)").await);
    assert_eq!(ok(c.command("EXPUNGE").await), ["* VANISHED 1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_uids_limit_the_resync_and_a_new_uidvalidity_gives_none() {
    let server = TestServer::start(true).await;
    let (uid_validity, modseq) = four_messages(&server).await;
    let mut other = server.signed_in().await;
    ok(other.command("SELECT INBOX").await);
    ok(other
        .command("UID STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        .await);
    ok(other.command("EXPUNGE").await);
    ok(other.command("LOGOUT").await);

    let mut c = server.signed_in().await;
    ok(c.command("ENABLE QRESYNC").await);
    // The client only knew UID 2 (and 3:4): UID 1 is not its business.
    let select = ok(c
        .command(&format!(
            "EXAMINE INBOX (QRESYNC ({uid_validity} {modseq} 2:4))"
        ))
        .await);
    assert_eq!(resync_lines(&select), ["* VANISHED (EARLIER) 2"]);
    // A UIDVALIDITY the client knew from before: the mailbox is new to it, no resync.
    let other_validity = uid_validity + 1;
    let select = ok(c
        .command(&format!(
            "SELECT INBOX (QRESYNC ({other_validity} {modseq}))"
        ))
        .await);
    assert!(resync_lines(&select).is_empty(), "{select:#?}");
    // RFC 7162 §3.2.11: that SELECT closed the EXAMINEd mailbox first, and said so.
    assert_eq!(select[0], "* OK [CLOSED] Previous mailbox closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qresync_forms_without_enable_are_bad() {
    let server = TestServer::start(true).await;
    let (uid_validity, modseq) = four_messages(&server).await;
    let mut c = server.signed_in().await;
    // RFC 7162 §3.2.5: SELECT (QRESYNC ...) before ENABLE QRESYNC is BAD.
    let select = c
        .command(&format!("SELECT INBOX (QRESYNC ({uid_validity} {modseq}))"))
        .await;
    assert!(tagged(&select).contains(" BAD "), "{select:#?}");
    ok(c.command("SELECT INBOX").await);
    // RFC 7162 §3.2.6: VANISHED needs QRESYNC, and CHANGEDSINCE, and UID FETCH.
    let fetch = c
        .command(&format!(
            "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)"
        ))
        .await;
    assert!(tagged(&fetch).contains(" BAD "), "{fetch:#?}");
    // Without QRESYNC an expunge is still told as EXPUNGE.
    ok(c.command("UID STORE 4 +FLAGS.SILENT (\\Deleted)").await);
    assert_eq!(ok(c.command("EXPUNGE").await), ["* 4 EXPUNGE"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idling_qresync_client_hears_vanished_with_modseq_flags() {
    let server = TestServer::start(true).await;
    four_messages(&server).await;
    let mut idler = server.signed_in().await;
    ok(idler.command("ENABLE QRESYNC").await);
    ok(idler.command("SELECT INBOX").await);
    idler.send("i1 IDLE\r\n").await;
    assert!(idler.line().await.starts_with('+'));

    let mut other = server.signed_in().await;
    ok(other.command("SELECT INBOX").await);
    // RFC 7162 §3.2.4: QRESYNC implies CONDSTORE, so flag changes carry MODSEQ.
    ok(other.command("UID STORE 3 +FLAGS.SILENT (\\Deleted)").await);
    let fetch = idler.line().await;
    assert!(
        fetch.starts_with("* 3 FETCH (UID 3 FLAGS (\\Deleted) MODSEQ ("),
        "{fetch}"
    );
    // RFC 7162 §3.2.10: the expunge another connection made is told as VANISHED.
    ok(other.command("EXPUNGE").await);
    assert_eq!(idler.line().await, "* VANISHED 3");
    idler.send("DONE\r\n").await;
    assert_eq!(idler.line().await, "i1 OK IDLE terminated");
    let fetch = ok(idler.command("FETCH 1:* (UID)").await);
    assert_eq!(fetch.len(), 3, "{fetch:#?}");
}
