//! Limits and framing against the in-process server: APPENDLIMIT, the literal memory shared
//! by all connections, the pre-sign-in timeout, commands split at every byte, and the
//! responses that follow a connection's own changes.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_memory_across_connections_is_capped() {
    let server = TestServer::start_with(true, |s| s.max_literal_memory = 64).await;
    let mut c = server.signed_in().await;
    let big = message("큰 메일", &"가".repeat(40));
    assert!(big.len() > 64);
    c.send(&format!("m1 APPEND INBOX {{{}}}\r\n", big.len()))
        .await;
    // Refused before the client sends the literal: no "+" continuation.
    let reply = c.line().await;
    assert!(reply.starts_with("m1 NO [LIMIT]"), "{reply}");
    assert_eq!(server.ctx.literal_memory_in_use(), 0);
    // A small one still fits.
    let small = "Subject: s\r\n\r\nx\r\n";
    let reply = append(&mut c, "INBOX", "", small).await;
    assert!(reply.contains("OK [APPENDUID"), "{reply}");
    assert_eq!(
        server.ctx.literal_memory_in_use(),
        0,
        "released after APPEND"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_literal_over_appendlimit_is_refused_and_framing_survives() {
    let server = TestServer::start_with(true, |s| s.append_limit = 100).await;
    let mut c = server.signed_in().await;
    c.send("m1 APPEND INBOX {5000}\r\n").await;
    let reply = c.line().await;
    // RFC 7889 §4: TOOBIG, without "+", so the client never sends the octets.
    assert_eq!(
        reply,
        "m1 NO [TOOBIG] The message is larger than APPENDLIMIT (100 octets)"
    );
    let caps = ok(c.command("CAPABILITY").await);
    assert!(caps[0].contains("APPENDLIMIT=100"), "{caps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_before_sign_in_ends_the_connection() {
    let server = TestServer::start_with(true, |s| s.preauth_timeout_secs = 1).await;
    let mut c = server.connect().await;
    let bye = c.line().await;
    assert!(bye.starts_with("* BYE"), "{bye}");
    assert!(c.closed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_split_at_every_byte_are_understood() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let command = "s1 LIST \"\" \"*\"\r\n";
    for byte in command.as_bytes() {
        c.send_bytes(&[*byte]).await;
    }
    let lines = c.until_tagged("s1").await;
    assert!(tagged(&lines).starts_with("s1 OK"), "{lines:?}");
    assert_eq!(lines.len(), 7, "six folders and OK: {lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_append_to_the_selected_mailbox_is_told_before_ok() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    ok(c.command("SELECT INBOX").await);
    let mail = message("자기 자신", "보낸 편지");
    c.send(&format!(
        "a9 APPEND INBOX {{{}+}}\r\n{mail}\r\n",
        mail.len()
    ))
    .await;
    let lines = c.until_tagged("a9").await;
    assert_eq!(lines[0], "* 1 EXISTS", "{lines:?}");
    assert_eq!(lines[1], "* 1 RECENT", "{lines:?}");
    assert!(lines[2].starts_with("a9 OK [APPENDUID "), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_an_empty_pattern_gives_the_delimiter() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let list = ok(c.command("LIST \"\" \"\"").await);
    assert_eq!(list, ["* LIST (\\Noselect) \"/\" \"\""]);
    let ns = ok(c.command("NAMESPACE").await);
    assert_eq!(
        ns,
        ["* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) NIL"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_copy_over_quota_are_refused() {
    let mail = message("할당량", &"x".repeat(200));
    // Room for two copies (RFC822.SIZE counts the CRLF APPEND adds).
    let size = mail.len() as u64 + 2;
    let server = TestServer::start_with(true, |s| s.quota_bytes = 2 * size + 10).await;
    let mut c = server.signed_in().await;
    let reply = append(&mut c, "INBOX", "", &mail).await;
    assert!(reply.contains("OK [APPENDUID"), "{reply}");
    ok(c.command("SELECT INBOX").await);
    let reply = c.command("COPY 1 Archive").await;
    assert!(tagged(&reply).contains("OK [COPYUID"), "{reply:?}");
    let reply = c.command("COPY 1 Archive").await;
    assert!(tagged(&reply).contains("NO [OVERQUOTA]"), "{reply:?}");
    let reply = append(&mut c, "INBOX", "", &mail).await;
    assert!(reply.contains("NO [OVERQUOTA]"), "{reply}");
    // MOVE adds nothing: still allowed.
    ok(c.command("MOVE 1 Trash").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_numbers_beyond_exists_are_bad_but_star_ranges_pass() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    ok(c.command("SELECT Drafts").await);
    let fetch = ok(c.command("FETCH 1:* (FLAGS)").await);
    assert!(fetch.is_empty(), "{fetch:?}");
    let reply = c.command("FETCH 1 (FLAGS)").await;
    assert!(tagged(&reply).contains("BAD"), "{reply:?}");
    let uid = ok(c.command("UID FETCH 1:* (FLAGS)").await);
    assert!(uid.is_empty(), "{uid:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_larger_than_a_batch_arrives_whole_and_in_order() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    ok(c.command("SELECT INBOX").await);
    // Three messages of about 2.5 MB: the server writes them in more than one batch.
    let line = "0123456789abcdefghijklmnopqrstuvwxyz한글본문\r\n";
    for n in 1..=3 {
        let body = format!("{n}\r\n{}", line.repeat(2_500_000 / line.len()));
        let reply = append(
            &mut c,
            "INBOX",
            "",
            &message(&format!("큰 메일 {n}"), &body),
        )
        .await;
        assert!(reply.contains("OK"), "{reply}");
    }
    let lines = c.command("FETCH 1:3 (UID BODY[TEXT])").await;
    let fetches: Vec<&String> = lines.iter().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(fetches.len(), 3, "{}", lines.len());
    for (i, fetch) in fetches.iter().enumerate() {
        let n = i + 1;
        assert!(
            fetch.starts_with(&format!("* {n} FETCH (UID {n} ")),
            "{}",
            &fetch[..40]
        );
        assert!(
            fetch.contains(&format!("}}\r\n{n}\r\n0123")),
            "message {n}'s own body"
        );
        assert!(fetch.contains("\\Seen"), "implicit \\Seen reported");
    }
    assert!(
        tagged(&lines).contains("OK FETCH completed"),
        "{}",
        tagged(&lines)
    );
    let flags = ok(c.command("SEARCH UNSEEN").await);
    assert_eq!(flags, ["* SEARCH"]);
}
