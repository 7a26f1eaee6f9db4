//! QUOTA (RFC 9208) against the in-process server, in the shape of the RFC's examples
//! (`C: A003 GETQUOTAROOT INBOX` / `S: * QUOTAROOT INBOX ""` / `S: * QUOTA "" (STORAGE 10 512)`),
//! with the per-account quota SMTP enforces.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_quota_is_reported_in_kib_and_enforced() {
    let server = TestServer::start_with(true, |s| s.quota_bytes = 4096).await;
    let mut c = server.signed_in().await;
    let caps = ok(c.command("CAPABILITY").await);
    assert!(caps[0].contains(" QUOTA QUOTA=RES-STORAGE"), "{caps:?}");
    assert!(!caps[0].contains("QUOTASET"), "{caps:?}");

    let root = ok(c.command("GETQUOTAROOT INBOX").await);
    assert_eq!(
        root,
        ["* QUOTAROOT INBOX \"\"", "* QUOTA \"\" (STORAGE 0 4)"]
    );

    let body = "홍길동 과장님, 보고서를 보내드립니다. ".repeat(30);
    let first = message("보고서", &body);
    assert!(first.len() > 1024 && first.len() < 2048, "{}", first.len());
    assert!(append(&mut c, "INBOX", "", &first).await.contains("OK"));
    let quota = ok(c.command("GETQUOTA \"\"").await);
    assert_eq!(quota, ["* QUOTA \"\" (STORAGE 2 4)"]);

    // RFC 9208 §5: over the limit, APPEND and COPY fail with OVERQUOTA.
    let big = message("첨부", &"가".repeat(1200));
    let refused = append(&mut c, "INBOX", "", &big).await;
    assert!(refused.contains("NO [OVERQUOTA]"), "{refused}");
    ok(c.command("SELECT INBOX").await);
    assert!(append(&mut c, "INBOX", "", &first).await.contains("OK"));
    let copy = c.command("COPY 1:2 INBOX").await;
    assert!(tagged(&copy).contains("NO [OVERQUOTA]"), "{copy:?}");

    // RFC 9208 §4.1.3: users may not set quotas; other roots do not exist.
    let set = c.command("SETQUOTA \"\" (STORAGE 100000)").await;
    assert!(tagged(&set).contains(" NO [NOPERM]"), "{set:?}");
    let other = c.command("GETQUOTA \"#user/kim\"").await;
    assert!(tagged(&other).contains(" NO "), "{other:?}");
    let missing = c.command("GETQUOTAROOT Archive2019").await;
    assert!(
        tagged(&missing).contains(" NO [NONEXISTENT]"),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quota_there_is_no_quota_root() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    assert_eq!(
        ok(c.command("GETQUOTAROOT INBOX").await),
        ["* QUOTAROOT INBOX"]
    );
    let quota = c.command("GETQUOTA \"\"").await;
    assert!(tagged(&quota).contains(" NO "), "{quota:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_deleted_storage_counts_the_octets_expunge_would_free() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let kept = message("회의록", "김철수 대리님, 회의록입니다.");
    let doomed = message("광고", &"홍길동 상회 특가 안내 ".repeat(20));
    let third = message("메모", "짧은 메모");
    for m in [&kept, &doomed, &third] {
        assert!(append(&mut c, "INBOX", "", m).await.contains("OK"));
    }
    let none = ok(c.command("STATUS INBOX (DELETED DELETED-STORAGE)").await);
    assert_eq!(none, ["* STATUS INBOX (DELETED 0 DELETED-STORAGE 0)"]);

    ok(c.command("SELECT INBOX").await);
    ok(c.command("STORE 2:3 +FLAGS.SILENT (\\Deleted)").await);
    // RFC 9208 §4.2: the sum of the RFC822.SIZEs of the messages with \Deleted.
    let freed = doomed.len() + third.len();
    let status = ok(c
        .command("STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)")
        .await);
    assert_eq!(
        status,
        [format!(
            "* STATUS INBOX (MESSAGES 3 DELETED 2 DELETED-STORAGE {freed})"
        )]
    );
    ok(c.command("EXPUNGE").await);
    let after = ok(c
        .command("STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)")
        .await);
    assert_eq!(
        after,
        ["* STATUS INBOX (MESSAGES 1 DELETED 0 DELETED-STORAGE 0)"]
    );
}
