//! What one session sees of another's changes while it works, as imaptest's stress load
//! checks them.
//!
//! - RFC 2180 §4.1: a FETCH under way when another session expunges some of its messages
//!   answers the others and leaves those out, ending `OK [EXPUNGEISSUED]` (RFC 5530),
//!   rather than failing the whole command. The FETCH is answered a batch at a time and
//!   waits while the client does not read, so the expunge lands between the listing and
//!   the last reads.
//! - RFC 3501 §7.2.6: a keyword new to the mailbox is listed in FLAGS before a FETCH shows
//!   it.

mod common;

use common::*;

const MESSAGES: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_leaves_out_what_another_session_expunged_meanwhile() {
    let server = TestServer::start(true).await;
    let mut reader = server.signed_in().await;
    let line = format!("{}\r\n", "예산 보고서 본문입니다. ".repeat(6));
    let body = line.repeat(400_000 / line.len());
    for i in 1..=MESSAGES {
        let reply = append(
            &mut reader,
            "INBOX",
            "",
            &message(&format!("보고 {i:02}"), &body),
        )
        .await;
        assert!(reply.contains("OK"), "{reply}");
    }
    ok(reader.command("SELECT INBOX").await);

    // About 16 MB asked for; the client reads only the first line for now.
    reader
        .send(&format!("f1 FETCH 1:{MESSAGES} (UID BODY.PEEK[])\r\n"))
        .await;
    let first = reader.line().await;
    assert!(first.starts_with("* 1 FETCH (UID 1 BODY[] {"), "{first}");

    // Another session expunges the last message.
    let mut other = server.signed_in().await;
    ok(other.command("SELECT INBOX").await);
    ok(other
        .command(&format!("STORE {MESSAGES} +FLAGS.SILENT (\\Deleted)"))
        .await);
    ok(other.command("EXPUNGE").await);

    let rest = reader.until_tagged("f1").await;
    let fetched = std::iter::once(&first)
        .chain(&rest)
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH (UID "))
        .count();
    assert_eq!(fetched, MESSAGES - 1, "every message but the expunged one");
    let done = tagged(&rest);
    assert!(done.starts_with("f1 OK [EXPUNGEISSUED]"), "{done}");
    // The expunge is told once the FETCH is over.
    let lines = ok(reader.command("NOOP").await);
    assert!(
        lines.contains(&format!("* {MESSAGES} EXPUNGE")),
        "{lines:?}"
    );
}

/// RFC 3501 §7.2.6: FLAGS lists the mailbox's keywords; a keyword another session sets
/// is announced in an updated FLAGS before the FETCH that shows it (imaptest checks this).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyword_set_elsewhere_is_announced_in_flags_first() {
    let server = TestServer::start(true).await;
    let mut watcher = server.signed_in().await;
    let reply = append(&mut watcher, "INBOX", "", &message("회의 안내", "본문")).await;
    assert!(reply.contains("OK"), "{reply}");
    let select = ok(watcher.command("SELECT INBOX").await);
    assert!(
        select
            .iter()
            .any(|l| l.starts_with("* FLAGS (") && !l.contains("$Label1"))
    );

    let mut other = server.signed_in().await;
    ok(other.command("SELECT INBOX").await);
    ok(other.command("STORE 1 +FLAGS.SILENT ($Label1)").await);

    let lines = ok(watcher.command("NOOP").await);
    let flags = lines
        .iter()
        .position(|l| l.starts_with("* FLAGS (") && l.contains("$Label1"));
    let fetch = lines
        .iter()
        .position(|l| l.starts_with("* 1 FETCH") && l.contains("$Label1"));
    assert!(
        matches!((flags, fetch), (Some(f), Some(g)) if f < g),
        "FLAGS before FETCH: {lines:?}"
    );
}
