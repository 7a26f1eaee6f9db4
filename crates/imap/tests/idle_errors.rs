//! RFC 2177 §3: during IDLE the client may send only DONE. A command sent instead is
//! refused alike whichever parser would read it (imap-codec for NOOP and plain LIST, our
//! own for extended LIST, CREATE and `$`), nothing runs, and DONE still ends the IDLE.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_during_idle_are_refused_alike_and_do_not_run() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    ok(c.command("SELECT INBOX").await);
    c.send("i1 IDLE\r\n").await;
    assert!(c.line().await.starts_with("+ "));

    // imap-codec's command: the reference for how the IDLE state answers.
    c.send("n1 NOOP\r\n").await;
    let noop = c.line().await;
    assert!(noop.starts_with("n1 BAD "), "{noop}");
    for (tag, command) in [
        ("l1", "LIST \"\" \"*\""),
        ("l2", "LIST (SUBSCRIBED) \"\" \"*\""),
        ("c1", "CREATE 보고서"),
        ("c3", "CREATE Reports"),
        ("c2", "CREATE Drafts2 (USE (\\Drafts))"),
        ("s1", "FETCH $ (FLAGS)"),
    ] {
        c.send(&format!("{tag} {command}\r\n")).await;
        let answer = c.line().await;
        assert!(
            answer.starts_with(&format!("{tag} BAD ")),
            "{command}: {answer}"
        );
    }
    c.send("DONE\r\n").await;
    assert_eq!(c.line().await, "i1 OK IDLE terminated");
    // Nothing sent during IDLE ran.
    let list = ok(c.command("LIST \"\" \"*\"").await);
    assert!(
        !list
            .iter()
            .any(|l| l.contains("Drafts2") || l.contains("Reports")),
        "{list:#?}"
    );
}
