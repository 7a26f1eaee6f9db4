//! A database that goes away: operations fail with a temporary error while it is down
//! (never a user error, never a hang), and the same store works again once it is back,
//! without being reopened.

use certmail_store::prelude::*;
use certmail_store::{Account, KeyFile, NewMessage, StoreError};
use certmail_store_pg::pg_harness::PgServer;
use certmail_store_pg::{PgConfig, PgStore};

fn message(n: u8) -> NewMessage {
    NewMessage {
        body: format!("Subject: {n}\r\n\r\nbody {n}\r\n").into_bytes(),
        flags: vec![],
        internal_date: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_database_gives_temporary_errors_then_recovers() {
    let mut server = PgServer::start().expect("start PostgreSQL");
    let url = server.create_database().await;
    let store = PgStore::open(&PgConfig::new(&url), KeyFile::from_bytes([3; 32]))
        .await
        .expect("open");
    let hong = Account::new("hong", "홍길동", vec!["hong@example.kr".into()], 1);
    store.create_account(hong).await.unwrap();
    store.append("hong", "INBOX", message(1)).await.unwrap();

    tokio::task::block_in_place(|| server.stop());
    let err = store.append("hong", "INBOX", message(2)).await.unwrap_err();
    assert!(!err.is_user_error(), "{err}");
    assert!(
        matches!(err, StoreError::Task(ref text) if text.contains("temporary")),
        "{err}"
    );
    assert!(store.mailbox("hong", "INBOX").await.is_err());

    tokio::task::block_in_place(|| server.run()).expect("restart PostgreSQL");
    let (_, uid, _) = store
        .append("hong", "INBOX", message(3))
        .await
        .expect("the same store works again");
    assert_eq!(uid, 2, "the failed append left nothing behind");
    let inbox = store.mailbox("hong", "INBOX").await.unwrap().unwrap();
    assert_eq!(inbox.exists, 2);
}
