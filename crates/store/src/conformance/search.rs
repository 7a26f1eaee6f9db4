//! Conformance checks: the full-text search index ([`crate::search_index`]) narrows
//! SEARCH BODY/TEXT candidates after every kind of write, never leaves out a message that
//! contains the needle, and cannot narrow a needle shorter than an n-gram.

use crate::{BlobId, Delivery, NewMessage, Store};

use super::{Fixture, delete_messages, hong, kim};

fn mail(subject: &str, text: &str) -> Vec<u8> {
    format!(
        "From: 김민준 <minjun@example.kr>\r\nTo: 홍길동 <hong@example.kr>\r\n\
         Subject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
    .into_bytes()
}

fn new(body: Vec<u8>) -> NewMessage {
    NewMessage {
        body,
        flags: vec![],
        internal_date: 1_700_000_000,
    }
}

/// The candidates among `blobs` of `account` for `needle`; `None`: not narrowed.
async fn candidates(s: &dyn Store, account: &str, blobs: &[BlobId], needle: &str) -> Vec<bool> {
    s.search_candidates(account, blobs.to_vec(), vec![needle.to_lowercase()])
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{needle:?} is long enough to narrow"))
}

async fn blobs_of(s: &dyn Store, account: &str, mailbox: &str) -> Vec<BlobId> {
    let metas = s.messages(account, mailbox, 1..=u32::MAX).await.unwrap();
    metas.into_iter().map(|m| m.blob).collect()
}

/// Appended, many-appended, delivered, copied and moved messages are all narrowed by the
/// index: a message holding the needle (in a header or the body, any case) is always a
/// candidate, one without it is not.
pub async fn search_index_follows_every_write(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    s.create_mailbox("hong", "보관", None).await.unwrap();
    let report = mail("3분기 보고서", "첨부를 확인하세요.");
    let other = mail("점심", "오늘 점심은 12시입니다. See the REPORT.");
    s.append("hong", "INBOX", new(report.clone()))
        .await
        .unwrap();
    let many = vec![new(other.clone()), new(mail("회의", "보고서 초안 검토"))];
    s.append_many("hong", "INBOX", many, crate::MailQuota::Unlimited)
        .await
        .unwrap();
    let inbox = blobs_of(s, "hong", "INBOX").await;
    assert_eq!(
        candidates(s, "hong", &inbox, "보고서").await,
        [true, false, true]
    );
    assert_eq!(
        candidates(s, "hong", &inbox, "Report").await,
        [false, true, false]
    );
    // Both needles required: only the message holding both.
    let both = s
        .search_candidates(
            "hong",
            inbox.clone(),
            vec!["보고서".into(), "첨부를".into()],
        )
        .await
        .unwrap();
    assert_eq!(both, Some(vec![true, false, false]));
    // Shorter than one n-gram: not narrowed, the caller scans.
    let short = s.search_candidates("hong", inbox.clone(), vec!["보".into(), "ab".into()]);
    assert_eq!(short.await.unwrap(), None);

    let delivery = Delivery {
        body: mail("주간 보고서", "배달된 메일"),
        internal_date: 1_700_000_100,
        recipients: vec![
            ("hong".into(), "INBOX".into(), vec![]),
            ("kim".into(), "INBOX".into(), vec![]),
        ],
        queue: vec![],
        outgoing: vec![],
        quota: crate::MailQuota::Unlimited,
        redirects: Vec::new(),
    };
    s.deliver(delivery).await.unwrap();
    let kim_inbox = blobs_of(s, "kim", "INBOX").await;
    assert_eq!(candidates(s, "kim", &kim_inbox, "보고서").await, [true]);
    assert_eq!(candidates(s, "kim", &kim_inbox, "점심은").await, [false]);

    s.copy(
        "hong",
        "INBOX",
        &[1, 2],
        "보관",
        crate::MailQuota::Unlimited,
    )
    .await
    .unwrap();
    s.move_messages("hong", "INBOX", &[4], "보관")
        .await
        .unwrap();
    let archive = blobs_of(s, "hong", "보관").await;
    assert_eq!(
        candidates(s, "hong", &archive, "보고서").await,
        [true, false, true]
    );
    assert_eq!(s.reindex().await.unwrap(), 0, "every body already indexed");
}

/// Expunging the last copy of a body drops its postings for that account without
/// disturbing other holders; the same body appended again is found again.
pub async fn expunged_bodies_leave_the_index(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    let report = mail("보고서", "예산 보고서를 보냅니다.");
    s.append("hong", "INBOX", new(report.clone()))
        .await
        .unwrap();
    s.append("hong", "INBOX", new(mail("안내", "공지 사항")))
        .await
        .unwrap();
    assert_eq!(delete_messages(s, "INBOX", &[1]).await, [1]);
    let left = blobs_of(s, "hong", "INBOX").await;
    assert_eq!(candidates(s, "hong", &left, "보고서").await, [false]);
    s.append("hong", "INBOX", new(report)).await.unwrap();
    let now = blobs_of(s, "hong", "INBOX").await;
    assert_eq!(candidates(s, "hong", &now, "보고서").await, [false, true]);
    assert_eq!(
        candidates(s, "hong", &now, "예산 보고서").await,
        [false, true]
    );
    assert_eq!(s.reindex().await.unwrap(), 0);
}
