//! `certmail store copy` at the store level: a sled store filled through the store API is
//! copied to PostgreSQL and back to a fresh sled store; every record reads back the same
//! from all three (UIDs, UIDVALIDITY, MODSEQs, flags, bodies, summaries, ACLs, seen sets,
//! scripts, queue, audit), the counts agree, and a non-empty target is refused.

use std::collections::BTreeMap;

use certmail_store::copy::{RecordCopy, RecordKind, SilentProgress, copy_installation};
use certmail_store::prelude::*;
use certmail_store::{
    Account, Alias, AuditEvent, CertBinding, CopyError, Delivery, Device, FlagChange, FlagOp,
    KeyFile, NewMessage, QueueEntry, QueueRecipient, RecipientStatus, ReplyMark, Rights,
    ScriptQuota, SledStore, SpecialUse,
};
use certmail_store_pg::pg_harness::PgServer;
use certmail_store_pg::{PgConfig, PgStore};

const KEY: [u8; 32] = [9; 32];
/// Audit events written: more than one page of the copy (1000), with runs of one time.
const AUDIT_EVENTS: i64 = 2_300;

fn korean_account(id: &str, name: &str) -> Account {
    let mut a = Account::new(id, name, vec![format!("{id}@example.kr")], 1_700_000_000);
    a.organisation = "행정안전부".into();
    a.password_hash = Some(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$해시{id}"));
    a.totp_secret = Some(vec![1, 2, 3, 4, 5]);
    a.settings.insert("role".into(), "admin".into());
    a.settings.insert("kind".into(), "person".into());
    a
}

fn mail(subject: &str, filler: usize) -> Vec<u8> {
    let mut body = format!(
        "From: 김민준 <minjun@example.kr>\r\nTo: 이서연 <seoyeon@example.kr>\r\n\
         Subject: {subject}\r\n\r\n안녕하세요.\r\n"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'x', filler));
    body
}

/// Fills a store through its API with one of every kind of record.
async fn fill(store: &SledStore) {
    for (id, name) in [("minjun", "김민준"), ("seoyeon", "이서연")] {
        store
            .create_account(korean_account(id, name))
            .await
            .unwrap();
    }
    store
        .bind_cert(CertBinding {
            account: "minjun".into(),
            spki_sha256: [4; 32],
            issuer_dn: "CN=행정전자서명 CA".into(),
            subject_dn: "CN=김민준".into(),
            serial_hex: "0a1b".into(),
            not_after: 1_900_000_000,
            bound_at: 1_700_000_001,
        })
        .await
        .unwrap();
    store
        .put_device(Device {
            account: "minjun".into(),
            spki_sha256: [4; 32],
            network: "192.0.2.0/24".into(),
            first_seen: 1_700_000_002,
            last_seen: 1_700_000_003,
            totp_at: Some(1_700_000_004),
            client: Some("Thunderbird".into()),
        })
        .await
        .unwrap();
    store
        .create_mailbox("minjun", "프로젝트/보고서", Some(SpecialUse::Archive))
        .await
        .unwrap();
    for n in 0..5 {
        let message = NewMessage {
            body: mail(&format!("회의 {n}"), 0),
            flags: vec!["$중요".into()],
            internal_date: 1_700_000_100 + n,
        };
        store.append("minjun", "INBOX", message).await.unwrap();
    }
    // One large body: several chunks in both backends.
    let large = NewMessage {
        body: mail("큰 첨부", 3 * 1024 * 1024 + 17),
        flags: vec![],
        internal_date: 1_700_000_200,
    };
    store
        .append("minjun", "프로젝트/보고서", large)
        .await
        .unwrap();
    let flags = |uids: Vec<u32>, op, list: &[&str]| FlagChange {
        uids,
        op,
        flags: list.iter().map(|s| s.to_string()).collect(),
        unchanged_since: None,
    };
    store
        .set_flags(
            "minjun",
            "INBOX",
            flags(vec![1, 2], FlagOp::Add, &["\\Seen"]),
        )
        .await
        .unwrap();
    store
        .set_flags(
            "minjun",
            "INBOX",
            flags(vec![3], FlagOp::Add, &["\\Deleted"]),
        )
        .await
        .unwrap();
    store.expunge("minjun", "INBOX", None).await.unwrap();
    store
        .copy(
            "minjun",
            "INBOX",
            &[1],
            "프로젝트/보고서",
            certmail_store::MailQuota::Unlimited,
        )
        .await
        .unwrap();
    fill_shared(store).await;
    fill_rest(store).await;
}

/// A body delivered to both accounts and queued, a summary, a shared mailbox.
async fn fill_shared(store: &SledStore) {
    let body = mail("공지", 100);
    let receipt = store
        .deliver(Delivery {
            outgoing: Vec::new(),
            body: body.clone(),
            internal_date: 1_700_000_300,
            recipients: vec![
                ("minjun".into(), "INBOX".into(), vec![]),
                ("seoyeon".into(), "INBOX".into(), vec!["\\Flagged".into()]),
            ],
            queue: vec![QueueEntry {
                id: 0,
                from: "minjun@example.kr".into(),
                recipients: vec![QueueRecipient {
                    address: "박지훈@example.org".into(),
                    status: RecipientStatus::Pending,
                    attempts: 2,
                    last_error: Some("451 4.7.1 나중에 다시".into()),
                    notify: 0,
                }],
                blob: Default::default(),
                created_at: 1_700_000_300,
                next_attempt: 1_700_000_900,
                envelope_meta: BTreeMap::from([("size".into(), "123".into())]),
            }],
            quota: certmail_store::MailQuota::Unlimited,
            redirects: Vec::new(),
        })
        .await
        .unwrap();
    store
        .set_message_summary("minjun", &receipt.blob, b"summary".to_vec())
        .await
        .unwrap();
    let rights = Rights::parse("lrsw").unwrap();
    store
        .set_acl("minjun", "프로젝트/보고서", "seoyeon", rights)
        .await
        .unwrap();
    store
        .set_seen_by("minjun", "프로젝트/보고서", "seoyeon", &[1], true)
        .await
        .unwrap();
    // URLAUTH keys: 서연's for 민준's shared mailbox, 민준's for his own INBOX.
    for (user, owner, mailbox, byte) in [
        ("seoyeon", "minjun", "프로젝트/보고서", 7),
        ("minjun", "minjun", "INBOX", 9),
    ] {
        store
            .urlauth_key(user, owner, mailbox, Some([byte; 32]))
            .await
            .unwrap();
    }
}

/// Scripts, subscriptions, an alias, the audit log.
async fn fill_rest(store: &SledStore) {
    let quota = ScriptQuota {
        max_scripts: 5,
        max_bytes: 10_000,
    };
    let script =
        "require \"fileinto\";\nif header :contains \"subject\" \"회의\" { fileinto \"INBOX\"; }\n";
    for name in ["회의", "휴가"] {
        store
            .put_script("seoyeon", name, script, quota)
            .await
            .unwrap();
    }
    store
        .set_active_script("seoyeon", Some("회의"))
        .await
        .unwrap();
    // 서연's vacation answered 박지훈 and stays quiet to him for a week.
    store
        .put_reply_mark(ReplyMark {
            account: "seoyeon".into(),
            handle: "휴가".into(),
            sender: "jihoon@example.org".into(),
            sent_at: 1_700_000_000,
            until: 1_700_604_800,
        })
        .await
        .unwrap();
    store
        .set_subscribed("minjun", "프로젝트/보고서", true)
        .await
        .unwrap();
    store
        .set_alias(Alias {
            address: "team@example.kr".into(),
            members: vec!["minjun@example.kr".into(), "seoyeon@example.kr".into()],
        })
        .await
        .unwrap();
    for n in 0..AUDIT_EVENTS {
        store
            .append_audit(AuditEvent {
                // Runs of seven events share one millisecond, across page boundaries.
                time: 1_700_000_000_000 + n / 7,
                account: Some(if n % 2 == 0 { "minjun" } else { "seoyeon" }.into()),
                kind: "sign_in".into(),
                ip: Some("192.0.2.7".into()),
                fields: BTreeMap::from([("n".into(), n.to_string())]),
            })
            .await
            .unwrap();
    }
}

/// Everything a store holds, as its users see it (mailbox ids are each store's own).
async fn snapshot(store: &dyn RecordCopy) -> String {
    let mut out = String::new();
    let accounts = store.list_accounts().await.unwrap();
    for account in &accounts {
        let mut records = store.export_account(&account.id).await.unwrap().unwrap();
        for m in &mut records.mailboxes {
            for user in &accounts {
                let key = store.urlauth_key(&user.id, &account.id, &m.mailbox.name, None);
                out += &format!("{}: {:?}\n", user.id, key.await.unwrap());
            }
            m.mailbox.id = 0;
            for message in &m.messages {
                let body = store.message_body(&account.id, &message.blob).await;
                let summary = store.message_summary(&account.id, &message.blob).await;
                out += &format!("{} {:?}\n", body.unwrap().len(), summary.unwrap());
            }
        }
        out += &format!("{records:?}\n");
        out += &format!("{:?}\n", account.password_hash);
    }
    out += &format!("{:?}\n", store.list_aliases().await.unwrap());
    for entry in store.queue_list().await.unwrap() {
        let body = store.queue_body(entry.id).await.unwrap();
        out += &format!("{entry:?} {}\n", body.len());
    }
    let audit = store.audit_range(i64::MIN, i64::MAX, usize::MAX).await;
    out += &format!("{:?}\n", audit.unwrap());
    out
}

/// The store's search index narrows (as the copy built it): every message of minjun's
/// INBOX says "안녕하세요", none "큰 첨부".
async fn assert_search_narrows(store: &dyn RecordCopy) {
    let metas = store.messages("minjun", "INBOX", 1..=u32::MAX).await;
    let blobs: Vec<_> = metas.unwrap().into_iter().map(|m| m.blob).collect();
    assert!(!blobs.is_empty());
    for (needle, expected) in [("안녕하세요", true), ("큰 첨부", false)] {
        let found = store
            .search_candidates("minjun", blobs.clone(), vec![needle.into()])
            .await
            .unwrap();
        assert_eq!(found, Some(vec![expected; blobs.len()]), "{needle}");
    }
}

async fn sled(dir: &tempfile::TempDir) -> SledStore {
    SledStore::open_async(dir.path(), KeyFile::from_bytes(KEY))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_to_postgres_and_back_keeps_every_record() {
    let (dir, back_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let source = sled(&dir).await;
    fill(&source).await;
    let url = PgServer::shared().create_database().await;
    let pg = PgStore::open(&PgConfig::new(&url), KeyFile::from_bytes(KEY))
        .await
        .unwrap();

    let report = copy_installation(&source, &pg, 100, &mut SilentProgress)
        .await
        .expect("sled to PostgreSQL");
    assert_eq!(report.source, report.target);
    assert_eq!(report.source.get(RecordKind::Accounts), 2);
    assert_eq!(
        report.source.get(RecordKind::AuditEvents),
        AUDIT_EVENTS as u64
    );
    assert_eq!(report.source.get(RecordKind::Expunged), 1);
    assert_eq!(report.source.get(RecordKind::ReplyMarks), 1);
    assert_eq!(report.source.get(RecordKind::UrlauthKeys), 2);
    // The delivered body is stored once for two messages and a queue entry.
    assert_eq!(report.source.get(RecordKind::Bodies), 6);
    assert_eq!(report.source.get(RecordKind::BodyReferences), 9);
    assert_eq!(report.bodies_checked, 6);
    assert_eq!(
        report.bodies_indexed, 6,
        "the target's search index is built"
    );
    let original = snapshot(&source).await;
    assert_eq!(snapshot(&pg).await, original);

    let back = sled(&back_dir).await;
    let report = copy_installation(&pg, &back, 100, &mut SilentProgress)
        .await
        .expect("PostgreSQL to sled");
    assert_eq!(report.source, report.target);
    assert_eq!(snapshot(&back).await, original);
    assert_search_narrows(&pg).await;
    assert_search_narrows(&back).await;

    // A non-empty target is refused, and left as it was.
    let refused = copy_installation(&source, &pg, 100, &mut SilentProgress).await;
    match refused {
        Err(e @ CopyError::TargetNotEmpty { .. }) => {
            let text = e.to_string();
            assert!(text.contains("2 accounts"), "{text}");
            assert!(text.contains("new, empty store"), "{text}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(snapshot(&pg).await, original);
}

/// The copies go on working: new mailboxes and queue entries do not reuse the copied
/// UIDVALIDITYs and ids, and appends continue from the copied UIDNEXT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_continues_where_the_source_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let source = sled(&dir).await;
    fill(&source).await;
    let url = PgServer::shared().create_database().await;
    let pg = PgStore::open(&PgConfig::new(&url), KeyFile::from_bytes(KEY))
        .await
        .unwrap();
    copy_installation(&source, &pg, 10, &mut SilentProgress)
        .await
        .unwrap();
    assert_search_narrows(&source).await;
    assert_search_narrows(&pg).await;
    for store in [&source as &dyn RecordCopy, &pg] {
        let inbox = store.mailbox("minjun", "INBOX").await.unwrap().unwrap();
        let (validity, uid, _) = store
            .append(
                "minjun",
                "INBOX",
                NewMessage {
                    body: mail("새 메일", 0),
                    flags: vec![],
                    internal_date: 1_700_001_000,
                },
            )
            .await
            .unwrap();
        assert_eq!((validity, uid), (inbox.uid_validity, inbox.uid_next));
        let fresh = store
            .create_mailbox("seoyeon", "새 폴더", None)
            .await
            .unwrap();
        let validities: Vec<u32> = store
            .list_mailboxes("minjun")
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid_validity)
            .collect();
        assert!(!validities.contains(&fresh.uid_validity));
    }
    let receipt = pg
        .deliver(Delivery {
            outgoing: Vec::new(),
            body: mail("재전송", 0),
            internal_date: 1_700_001_000,
            recipients: vec![],
            queue: source.queue_list().await.unwrap(),
            quota: certmail_store::MailQuota::Unlimited,
            redirects: Vec::new(),
        })
        .await
        .unwrap();
    let old = source.queue_list().await.unwrap()[0].id;
    assert!(receipt.queued[0] > old, "{:?} after {old}", receipt.queued);
}
