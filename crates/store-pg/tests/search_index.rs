//! The PostgreSQL search index beyond the shared conformance checks: mail stored before
//! migration 0012 (no `search_docs` row) is a candidate of every search until `reindex`,
//! and a body's row goes with the body.

use certmail_store::prelude::*;
use certmail_store::{Account, FlagChange, FlagOp, KeyFile, NewMessage};
use certmail_store_pg::pg_harness::PgServer;
use certmail_store_pg::{PgConfig, PgStore};

async fn sql(url: &str, statement: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connects");
    tokio::spawn(connection);
    let rows = client.query(statement, &[]).await.expect("statement runs");
    rows.first().map_or(0, |r| r.get(0))
}

fn mail(text: &str) -> NewMessage {
    let body = format!("From: 김민준 <minjun@example.kr>\r\nSubject: 안내\r\n\r\n{text}\r\n");
    NewMessage {
        body: body.into_bytes(),
        flags: vec![],
        internal_date: 1_700_000_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_from_before_the_index_is_searched_then_reindexed() {
    let url = PgServer::shared().create_database().await;
    let store = PgStore::open(&PgConfig::new(&url), KeyFile::from_bytes([4; 32]))
        .await
        .unwrap();
    let account = Account::new("hong", "홍길동", vec!["hong@example.kr".into()], 1);
    store.create_account(account).await.unwrap();
    let many = vec![mail("분기 보고서입니다"), mail("점심 메뉴")];
    store
        .append_many("hong", "INBOX", many, certmail_store::MailQuota::Unlimited)
        .await
        .unwrap();
    assert_eq!(sql(&url, "SELECT count(*) FROM search_docs").await, 2);
    // As a database migrated from version 10 holds it: bodies, no index rows.
    sql(&url, "DELETE FROM search_docs").await;

    let metas = store.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    let blobs: Vec<_> = metas.iter().map(|m| m.blob).collect();
    let ask = || store.search_candidates("hong", blobs.clone(), vec!["보고서".into()]);
    assert_eq!(ask().await.unwrap(), Some(vec![true, true]));
    assert_eq!(store.reindex().await.unwrap(), 2);
    assert_eq!(ask().await.unwrap(), Some(vec![true, false]));
    assert_eq!(store.reindex().await.unwrap(), 0);

    // Expunging the only copy removes the body, and its index row with it.
    let change = FlagChange {
        uids: vec![1],
        op: FlagOp::Add,
        flags: vec!["\\Deleted".into()],
        unchanged_since: None,
    };
    store.set_flags("hong", "INBOX", change).await.unwrap();
    store.expunge("hong", "INBOX", None).await.unwrap();
    assert_eq!(sql(&url, "SELECT count(*) FROM search_docs").await, 1);
}
