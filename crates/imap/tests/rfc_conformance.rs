//! Behaviours Dovecot's imaptest scripted suite (release-2.3) checks, each written from the
//! RFC text it follows, as C:/S: transcripts against the in-process server, so CI holds them
//! without imaptest. One test per imaptest group; where imaptest and an RFC disagree the
//! test follows the RFC and says so.

mod common;

use common::*;

/// Appends each of `messages` to INBOX and selects it.
async fn inbox_with(server: &TestServer, messages: &[&str]) -> Client {
    let mut c = server.signed_in().await;
    for m in messages {
        assert!(append(&mut c, "INBOX", "", m).await.contains("OK"));
    }
    ok(c.command("SELECT INBOX").await);
    c
}

fn sorted(lines: Vec<String>) -> String {
    ok(lines).join("\n")
}

/// imaptest `sort-addresses`. RFC 5256 §3: FROM, TO and CC sort by "the [IMAP] addr-mailbox
/// of the first" address; the first address of a list that opens with a group is the group
/// start, whose addr-mailbox is the group's name (RFC 3501 §7.4.2), not its first member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_by_address_uses_the_envelope_addr_mailbox() {
    let server = TestServer::start(true).await;
    let mut c = inbox_with(
        &server,
        &[
            "From: user2@domain2.org\r\nTo: foo bar <user2@domain2.org>\r\n\
Cc: user2@domain2.org (foo bar)\r\n\r\n1\r\n",
            "From: user2@domain1.org\r\nTo: user2@domain1.org\r\n\
Cc: user2: blah@domain1.org;\r\n\r\n2\r\n",
            "From: user1@domain1.org\r\nTo: user1@domain1.org\r\nCc: user1@domain1.org\r\n\r\n3\r\n",
        ],
    )
    .await;
    for key in ["FROM", "TO", "CC"] {
        // C: a SORT (CC) US-ASCII ALL / S: * SORT 3 1 2 ("user1" < "user2" = "user2")
        assert_eq!(
            sorted(c.command(&format!("SORT ({key}) US-ASCII ALL")).await),
            "* SORT 3 1 2",
            "{key}"
        );
        assert_eq!(
            sorted(
                c.command(&format!("SORT (REVERSE {key}) US-ASCII ALL"))
                    .await
            ),
            "* SORT 1 2 3",
            "{key}"
        );
    }
}

/// imaptest `sort-subject`. RFC 5256 §3 compares base subjects with i;ascii-casemap, which
/// RFC 4790 §9.2.1 defines as mapping a-z to A-Z: so "_" (0x5F) sorts after every letter
/// and "[" (0x5B) after "Z", where a lower-casing comparison would put them first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_by_subject_folds_to_upper_case() {
    let server = TestServer::start(true).await;
    let subjects = ["b", "_", "A", "[x]y", "c"];
    let messages: Vec<String> = subjects
        .iter()
        .map(|s| format!("From: a@b.example\r\nSubject: {s}\r\n\r\nbody\r\n"))
        .collect();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    let mut c = inbox_with(&server, &refs).await;
    // Base subjects A, B, C, Y ("[x]" is a subj-blob), "_" last.
    assert_eq!(
        sorted(c.command("SORT (SUBJECT) US-ASCII ALL").await),
        "* SORT 3 1 5 4 2"
    );
    assert_eq!(
        sorted(c.command("SORT (REVERSE SUBJECT) US-ASCII ALL").await),
        "* SORT 2 4 5 1 3"
    );
}

/// imaptest `thread`. RFC 5256 §3 REFERENCES step 1.C: "Set the parent of this message to
/// be the last element in References ... this message may have a parent already ... throw
/// away the old parent and use this new one." Here b's References presume a → c → b; then
/// c arrives naming b as its parent. c leaves a first; the link b → c would be a loop (b is
/// c's child) and is not made, so c heads its own thread and a stands alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_references_drops_a_presumed_parent() {
    let server = TestServer::start(true).await;
    let mut c = inbox_with(
        &server,
        &[
            "Message-ID: <a@b>\r\nDate: Fri, 22 Feb 2008 17:06:23 +0000\r\n\r\nbody\r\n",
            "Message-Id: <b@b>\r\nDate: Fri, 22 Feb 2008 15:06:23 +0000\r\n\
References: <a@b> <c@b>\r\n\r\nbody\r\n",
            "Message-Id: <c@b>\r\nDate: Fri, 22 Feb 2008 16:06:25 +0000\r\n\
References: <b@b>\r\n\r\nbody\r\n",
        ],
    )
    .await;
    assert_eq!(
        ok(c.command("THREAD REFERENCES US-ASCII ALL").await),
        ["* THREAD (3 2)(1)"]
    );
    ok(c.command("STORE 1 +FLAGS (\\Deleted)").await);
    ok(c.command("EXPUNGE").await);
    assert_eq!(
        ok(c.command("THREAD REFERENCES US-ASCII ALL").await),
        ["* THREAD (2 1)"]
    );
}

/// imaptest `fetch-binary-mime-base64` and `fetch-binary-mime-qp`. RFC 3516 §4.2 (and
/// RFC 9051 §7.5.2, BINARY[<section-binary>]<<number>>): a partial BINARY fetch answers
/// with the origin octet, as BODY[]<origin> does: `BINARY[1]<5>`, the decoded octets from 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_binary_fetch_names_its_origin() {
    let server = TestServer::start(true).await;
    let mut c = inbox_with(
        &server,
        &["From: a@b.example\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\
YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=\r\n--x--\r\n"],
    )
    .await;
    assert_eq!(
        ok(c.command("FETCH 1 (BINARY.PEEK[1]<5.10>)").await),
        ["* 1 FETCH (BINARY[1]<5> \"fghijklmno\")"]
    );
    // The whole part has no origin; other items keep their place around a partial one.
    assert_eq!(
        ok(
            c.command("UID FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[1]<24.10>)")
                .await
        ),
        ["* 1 FETCH (UID 1 BINARY[1] \"abcdefghijklmnopqrstuvwxyz\" BINARY[1]<24> \"yz\")"]
    );
    // Without PEEK the part is read: \Seen is set and FLAGS follow (RFC 3516 §4.2).
    let read = ok(c.command("FETCH 1 (BINARY[1]<0.3>)").await);
    assert!(
        read.len() == 1 && read[0].starts_with("* 1 FETCH (BINARY[1]<0> \"abc\" FLAGS (\\Seen"),
        "{read:?}"
    );
}

/// The number after `key` in `line` (e.g. `modseq_after("... MODSEQ (7))", "MODSEQ (")`).
fn number_after(line: &str, key: &str) -> u64 {
    let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number after {key} in {line}"))
}

/// imaptest `esearch-condstore`. RFC 7162 §3.1: the first CONDSTORE-enabling command
/// (here FETCH MODSEQ) with a mailbox selected is answered with the mailbox's
/// HIGHESTMODSEQ, and from then on every untagged FETCH, a plain STORE's too, carries UID
/// and MODSEQ. RFC 4731 §3.2 with RFC 7162 §3.1.5: ESEARCH's MODSEQ is that of the message
/// MIN or MAX returns when asked alone, the higher of the two for MIN and MAX, and the
/// highest of all matches for ALL or COUNT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn condstore_enabled_by_fetch_and_esearch_modseq() {
    let server = TestServer::start(true).await;
    let m = message("x", "y");
    let mut c = inbox_with(&server, &[&m, &m, &m, &m]).await;
    let first = ok(c.command("FETCH 1 MODSEQ").await);
    assert!(first[0].starts_with("* OK [HIGHESTMODSEQ "), "{first:?}");
    // A second enabling command announces nothing.
    let again = ok(c.command("FETCH 1 MODSEQ").await);
    assert!(
        again.iter().all(|l| !l.contains("HIGHESTMODSEQ")),
        "{again:?}"
    );
    let mut modseq = [0u64; 5];
    for n in [1, 3, 2, 4] {
        let lines = ok(c.command(&format!("STORE {n} +FLAGS (\\Seen)")).await);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(&format!("* {n} FETCH (UID {n} FLAGS (")),
            "{lines:?}"
        );
        modseq[n] = number_after(&lines[0], "MODSEQ (");
    }
    let esearch = |ret: &str, set: &str| {
        format!("SEARCH RETURN ({ret}) {set} MODSEQ \"/flags/\\\\seen\" all 1")
    };
    let answer = |lines: Vec<String>| ok(lines).join("\n");
    let line = answer(c.command(&esearch("MIN", "1:3")).await);
    assert!(
        line.ends_with(&format!(" MIN 1 MODSEQ {}", modseq[1])),
        "{line}"
    );
    let line = answer(c.command(&esearch("MAX", "1:3")).await);
    assert!(
        line.ends_with(&format!(" MAX 3 MODSEQ {}", modseq[3])),
        "{line}"
    );
    let line = answer(c.command(&esearch("", "1:3")).await);
    assert!(
        line.ends_with(&format!(" ALL 1:3 MODSEQ {}", modseq[2])),
        "{line}"
    );
    let line = answer(c.command(&esearch("MIN MAX", "2:3")).await);
    assert!(
        line.ends_with(&format!(" MIN 2 MAX 3 MODSEQ {}", modseq[2].max(modseq[3]))),
        "{line}"
    );
    let line = answer(c.command(&esearch("COUNT", "1:4")).await);
    assert!(
        line.ends_with(&format!(" COUNT 4 MODSEQ {}", modseq[4])),
        "{line}"
    );
}

/// imaptest `subscribe`. RFC 3501 §6.3.9: with "foo/bar" subscribed and "foo" not, `LSUB
/// "" %` "must return foo, not foo/bar, in the LSUB response, and it MUST be flagged with
/// the \Noselect attribute", whether or not the mailbox foo exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsub_percent_shows_unsubscribed_parents_as_noselect() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    for name in ["t", "t/test", "t/test2", "t/test2/test", "t/test3/test3"] {
        ok(c.command(&format!("CREATE {name}")).await);
    }
    for name in ["t/test", "t/test2/test", "t/test3/test3"] {
        ok(c.command(&format!("SUBSCRIBE {name}")).await);
    }
    assert_eq!(
        ok(c.command("LSUB \"\" t/%").await),
        [
            "* LSUB () \"/\" t/test",
            "* LSUB (\\Noselect) \"/\" t/test2",
            "* LSUB (\\Noselect) \"/\" t/test3",
        ]
    );
    // With * the subscribed children match themselves; no parent is added.
    assert_eq!(
        ok(c.command("LSUB \"\" t/*").await),
        [
            "* LSUB () \"/\" t/test",
            "* LSUB () \"/\" t/test2/test",
            "* LSUB () \"/\" t/test3/test3",
        ]
    );
    // A subscribed parent is listed as itself, without \Noselect.
    ok(c.command("SUBSCRIBE t/test2").await);
    assert!(ok(c.command("LSUB \"\" t/%").await).contains(&"* LSUB () \"/\" t/test2".to_owned()));
}

/// imaptest `move`. RFC 6851 §3.3 (and RFC 9051 §6.4.8) let MOVE name the selected mailbox
/// as its target: the message gets a new UID there (COPYUID in an untagged OK first, §4.3),
/// its old UID is expunged, and the new one is announced with EXISTS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_into_the_selected_mailbox() {
    let server = TestServer::start(true).await;
    let m = message("x", "y");
    let mut c = inbox_with(&server, &[&m, &m]).await;
    let lines = ok(c.command("MOVE 1 INBOX").await);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("* OK [COPYUID ") && lines[0].contains(" 1 3]"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "* 1 EXPUNGE");
    assert_eq!(lines[2], "* 2 EXISTS");
    // Both are \Recent for this session (the moved one arrived while it had INBOX open).
    assert_eq!(lines[3], "* 2 RECENT");
    assert_eq!(ok(c.command("UID SEARCH ALL").await), ["* SEARCH 2 3"]);
}

/// imaptest `listext`. RFC 3501 §6.3.6: the server "MUST NOT unilaterally remove an
/// existing mailbox name from the subscription list even if a mailbox by that name no
/// longer exists", so DELETE leaves the name subscribed; RFC 5258 §3.1 lists such a name
/// under LIST (SUBSCRIBED) as `\NonExistent \Subscribed` (not \Noselect, not \HasChildren).
/// Plain LIST does not show it; LSUB does; UNSUBSCRIBE takes it off without a mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_outlive_delete_and_list_as_nonexistent() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    for name in ["t/test1", "t/test2/test1", "t/test6", "t/test7/test7"] {
        ok(c.command(&format!("CREATE {name}")).await);
    }
    for name in ["t/test1", "t/test2/test1", "t/test6", "t/test7/test7"] {
        ok(c.command(&format!("SUBSCRIBE {name}")).await);
    }
    ok(c.command("DELETE t/test6").await);
    assert_eq!(
        ok(c.command("LIST (SUBSCRIBED) \"\" t/*").await),
        [
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" t/test1",
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" t/test2/test1",
            "* LIST (\\NonExistent \\Subscribed) \"/\" t/test6",
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" t/test7/test7",
        ]
    );
    let plain = ok(c.command("LIST \"\" t/*").await);
    assert!(plain.iter().all(|l| !l.contains("test6")), "{plain:?}");
    assert!(ok(c.command("LSUB \"\" t/*").await).contains(&"* LSUB () \"/\" t/test6".to_owned()));
    ok(c.command("UNSUBSCRIBE t/test6").await);
    let after = ok(c.command("LIST (SUBSCRIBED) \"\" t/*").await);
    assert!(after.iter().all(|l| !l.contains("test6")), "{after:?}");
    // A mailbox created again under a still-subscribed name is subscribed.
    ok(c.command("DELETE t/test1").await);
    ok(c.command("CREATE t/test1").await);
    assert!(
        ok(c.command("LIST (SUBSCRIBED) \"\" t/test1").await)
            == ["* LIST (\\HasNoChildren \\Subscribed) \"/\" t/test1"]
    );
    // imaptest (listext, its line 89) expects no CHILDINFO for t/test2 here, because its
    // subscribed child matches the second pattern itself. RFC 5258 §3.1 Note 2 has the
    // server return CHILDINFO for a matching parent whose child meets the selection
    // whether or not the child also matches a pattern; we follow the RFC.
    assert_eq!(
        ok(
            c.command("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (t/test2 t/test2/test1)")
                .await
        ),
        [
            "* LIST (\\HasChildren) \"/\" \"t/test2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" t/test2/test1",
        ]
    );
}

/// RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is CONDSTORE-enabling, so as the first enabling
/// command with a mailbox selected it announces that mailbox's HIGHESTMODSEQ; §3.2.4: from
/// then on a plain FETCH that implicitly sets \Seen answers with UID and MODSEQ. A client
/// that never enabled CONDSTORE gets neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_highestmodseq_enables_condstore_and_implicit_seen_carries_uid() {
    let server = TestServer::start(true).await;
    let m = message("보고서", "본문");
    let mut c = inbox_with(&server, &[&m, &m, &m]).await;
    // Without CONDSTORE: FLAGS only, no UID, no MODSEQ.
    let plain = ok(c.command("FETCH 1 BODY[]").await).join("\n");
    assert!(plain.contains("FLAGS (\\Seen"), "{plain}");
    assert!(
        !plain.contains("UID ") && !plain.contains("MODSEQ"),
        "{plain}"
    );
    let status = ok(c.command("STATUS INBOX (MESSAGES HIGHESTMODSEQ)").await);
    assert!(status[0].starts_with("* OK [HIGHESTMODSEQ "), "{status:?}");
    assert!(
        status[1].starts_with("* STATUS INBOX (MESSAGES 3 HIGHESTMODSEQ "),
        "{status:?}"
    );
    let again = ok(c.command("STATUS INBOX (HIGHESTMODSEQ)").await);
    assert!(again.iter().all(|l| !l.starts_with("* OK")), "{again:?}");
    let seen = ok(c.command("FETCH 2 BODY[]").await).join("\n");
    assert!(seen.starts_with("* 2 FETCH (UID 2 "), "{seen}");
    assert!(
        seen.contains("MODSEQ (") && seen.contains("\\Seen"),
        "{seen}"
    );

    // LIST-STATUS (RFC 5819) asking for HIGHESTMODSEQ enables it the same way.
    let mut other = inbox_with(&server, &[]).await;
    let listed = ok(other
        .command("LIST \"\" INBOX RETURN (STATUS (HIGHESTMODSEQ))")
        .await);
    assert!(listed[0].starts_with("* OK [HIGHESTMODSEQ "), "{listed:?}");
    let seen = ok(other.command("FETCH 3 BODY[]").await).join("\n");
    assert!(seen.starts_with("* 3 FETCH (UID 3 "), "{seen}");
}
