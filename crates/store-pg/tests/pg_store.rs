//! The store on a real PostgreSQL (one server for this test binary, a fresh database per
//! test): the store's conformance checks (`certmail_store::conformance`), then what only
//! PostgreSQL has: concurrent writers from several nodes, chunked bodies, encryption at
//! rest as stored, migrations and the key check.

use std::sync::Arc;

use certmail_store::conformance::{Fixture, body, hong, kim, message};
use certmail_store::prelude::*;
use certmail_store::{KeyFile, StoreError};
use certmail_store_pg::pg_harness::PgServer;
use certmail_store_pg::{OpenError, PgConfig, PgStore};

const KEY: [u8; 32] = [7; 32];

/// Counts rows straight from the database.
struct PgProbe {
    url: String,
}

impl PgProbe {
    async fn count(&self, sql: &str) -> u64 {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("probe connects");
        tokio::spawn(connection);
        let n: i64 = client
            .query_one(sql, &[])
            .await
            .expect("probe query")
            .get(0);
        n as u64
    }
}

async fn open(url: &str) -> PgStore {
    PgStore::open(&PgConfig::new(url), KeyFile::from_bytes(KEY))
        .await
        .expect("open the PostgreSQL store")
}

/// A store open on a fresh database of the shared server, and a probe of that database.
struct PgFixture {
    store: PgStore,
    probe: PgProbe,
}

#[async_trait::async_trait]
impl Fixture for PgFixture {
    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn stored_bodies(&self) -> Option<u64> {
        let bodies = self.probe.count("SELECT count(*) FROM blobs").await;
        let orphans = self
            .probe
            .count("SELECT count(*) FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = c.blob)")
            .await;
        assert_eq!(orphans, 0, "chunks without a body");
        Some(bodies)
    }
}

async fn fresh() -> PgFixture {
    let url = PgServer::shared().create_database().await;
    let store = open(&url).await;
    PgFixture {
        store,
        probe: PgProbe { url },
    }
}

certmail_store::conformance_tests!(fresh, flavor = "multi_thread", worker_threads = 2);

/// Two nodes (two stores, each with its own pool) append to one mailbox at once: every UID
/// is unique, UIDs rise in commit order, and UIDNEXT and the count agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appenders_on_two_nodes_get_unique_increasing_uids() {
    const PER_WRITER: u32 = 40;
    let url = PgServer::shared().create_database().await;
    let node_a = Arc::new(open(&url).await);
    let node_b = Arc::new(open(&url).await);
    node_a.create_account(hong()).await.unwrap();
    let mut writers = Vec::new();
    for (w, node) in [
        node_a.clone(),
        node_b.clone(),
        node_a.clone(),
        node_b.clone(),
    ]
    .into_iter()
    .enumerate()
    {
        writers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..PER_WRITER {
                let n = w as u32 * 1000 + i;
                let (_, uid, modseq) = node.append("hong", "INBOX", message(n)).await.unwrap();
                got.push((uid, modseq, n));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for writer in writers {
        let got = writer.await.unwrap();
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
            "each writer sees its UIDs and MODSEQs rise: {got:?}"
        );
        all.extend(got);
    }
    let total = 4 * PER_WRITER;
    all.sort();
    let uids: Vec<u32> = all.iter().map(|(uid, _, _)| *uid).collect();
    assert_eq!(uids, (1..=total).collect::<Vec<_>>(), "unique, no gaps");
    assert!(
        all.windows(2).all(|w| w[0].1 < w[1].1),
        "MODSEQ rises with UID (allocated under one lock)"
    );
    let inbox = node_b.mailbox("hong", "INBOX").await.unwrap().unwrap();
    assert_eq!((inbox.uid_next, inbox.exists), (total + 1, total));
    let stored = node_a
        .messages("hong", "INBOX", 1..=u32::MAX)
        .await
        .unwrap();
    for (meta, (uid, modseq, n)) in stored.iter().zip(&all) {
        assert_eq!((meta.uid, meta.modseq), (*uid, *modseq));
        assert_eq!(meta.blob, certmail_store::BlobId::of(&body(*n)));
    }
}

/// Deliveries (locking two accounts' INBOXes in opposite recipient orders) and copies on
/// two nodes racing on the same mailboxes neither deadlock nor lose counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_and_copies_keep_counts() {
    let url = PgServer::shared().create_database().await;
    let node_a = Arc::new(open(&url).await);
    let node_b = Arc::new(open(&url).await);
    node_a.create_account(hong()).await.unwrap();
    node_a.create_account(kim()).await.unwrap();
    node_a.create_mailbox("hong", "보관", None).await.unwrap();
    for n in 0..3 {
        node_a
            .append("hong", "INBOX", message(10_000 + n))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..4u32 {
        let node = if w % 2 == 0 {
            node_a.clone()
        } else {
            node_b.clone()
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..15u32 {
                // Opposite orders of the same two accounts' mailboxes.
                let mut recipients = vec![
                    ("hong".to_string(), "INBOX".to_string(), vec![]),
                    ("kim".to_string(), "INBOX".to_string(), vec![]),
                ];
                if w % 2 == 1 {
                    recipients.reverse();
                }
                node.deliver(certmail_store::Delivery {
                    body: body(w * 100 + i),
                    internal_date: 1,
                    recipients,
                    queue: vec![],
                    outgoing: vec![],
                    quota: certmail_store::MailQuota::Unlimited,
                    redirects: Vec::new(),
                })
                .await
                .unwrap();
                node.copy(
                    "hong",
                    "INBOX",
                    &[1, 2, 3],
                    "보관",
                    certmail_store::MailQuota::Unlimited,
                )
                .await
                .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let inbox = node_a.mailbox("hong", "INBOX").await.unwrap().unwrap();
    let kim_inbox = node_a.mailbox("kim", "INBOX").await.unwrap().unwrap();
    assert_eq!((inbox.exists, kim_inbox.exists), (63, 60));
    let archive = node_b.mailbox("hong", "보관").await.unwrap().unwrap();
    assert_eq!(archive.exists, 60 * 3);
    let listed = node_b.messages("hong", "보관", 1..=u32::MAX).await.unwrap();
    assert_eq!(listed.len(), 180);
    assert_eq!(archive.uid_next, 181);
}

/// Deleting an account on one node while another creates mailboxes and delivers to it:
/// every call either happens before the deletion or finds no account, nothing is left
/// behind, and no transaction deadlocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_account_races_cleanly_with_other_nodes() {
    let url = PgServer::shared().create_database().await;
    let node_a = Arc::new(open(&url).await);
    let node_b = Arc::new(open(&url).await);
    node_a.create_account(hong()).await.unwrap();
    let creator = {
        let node = node_b.clone();
        tokio::spawn(async move {
            for n in 0..20 {
                match node
                    .create_mailbox("hong", &format!("상자/{n}"), None)
                    .await
                {
                    Ok(_) | Err(StoreError::AccountNotFound(_)) => {}
                    Err(e) => panic!("create_mailbox: {e}"),
                }
            }
        })
    };
    let deliverer = {
        let node = node_b.clone();
        tokio::spawn(async move {
            for n in 0..20 {
                let delivery = certmail_store::Delivery {
                    body: body(n),
                    internal_date: 1,
                    recipients: vec![("hong".into(), "INBOX".into(), vec![])],
                    queue: vec![],
                    outgoing: vec![],
                    quota: certmail_store::MailQuota::Unlimited,
                    redirects: Vec::new(),
                };
                match node.deliver(delivery).await {
                    Ok(_) | Err(StoreError::MailboxNotFound(_)) => {}
                    Err(e) => panic!("deliver: {e}"),
                }
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    node_a.delete_account("hong").await.unwrap();
    creator.await.unwrap();
    deliverer.await.unwrap();
    let probe = PgProbe { url };
    let left = probe.count("SELECT count(*) FROM mailboxes").await;
    let bodies = probe.count("SELECT count(*) FROM blobs").await;
    // A create that ran after the deletion found no account; none can have slipped in.
    assert_eq!((left, bodies), (0, 0));
}

/// A body larger than a chunk round-trips, is stored as several rows, and a damaged chunk
/// is reported as such, never as a shorter body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_are_chunked_and_damage_is_detected() {
    let t = fresh().await;
    let url = t.probe.url.clone();
    t.store.create_account(hong()).await.unwrap();
    let mut body = b"From: hong@test.go.kr\r\nSubject: large attachment\r\n\r\n".to_vec();
    while body.len() < 3 * 1024 * 1024 {
        body.extend_from_slice("첨부 파일 내용입니다. 0123456789 abcdefghij\r\n".as_bytes());
    }
    let new = certmail_store::NewMessage {
        body: body.clone(),
        flags: vec![],
        internal_date: 1,
    };
    t.store.append("hong", "INBOX", new).await.unwrap();
    let meta = &t.store.messages("hong", "INBOX", 1..=1).await.unwrap()[0];
    assert_eq!(
        t.store.message_body("hong", &meta.blob).await.unwrap(),
        body
    );
    let probe = PgProbe { url: url.clone() };
    assert_eq!(probe.count("SELECT count(*) FROM blob_chunks").await, 4);

    let db = PgServer::shared().connect(db_name(&url)).await;
    db.execute(
        "UPDATE blob_chunks SET data = set_byte(data, 100, get_byte(data, 100) # 1) WHERE seq = 1",
        &[],
    )
    .await
    .unwrap();
    let err = t.store.message_body("hong", &meta.blob).await.unwrap_err();
    assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
    db.execute("DELETE FROM blob_chunks WHERE seq = 2", &[])
        .await
        .unwrap();
    let err = t.store.message_body("hong", &meta.blob).await.unwrap_err();
    assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
}

/// What the database holds is sealed: no body text, no password hash, no TOTP secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_and_account_secrets_are_encrypted_at_rest() {
    let t = fresh().await;
    let url = t.probe.url.clone();
    let mut account = hong();
    account.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$secret-hash".into());
    account.totp_secret = Some(b"TOTP-SECRET-BYTES".to_vec());
    t.store.create_account(account).await.unwrap();
    t.store.append("hong", "INBOX", message(1)).await.unwrap();
    let db = PgServer::shared().connect(db_name(&url)).await;
    let chunks: Vec<Vec<u8>> = db
        .query("SELECT data FROM blob_chunks", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let accounts: Vec<Vec<u8>> = db
        .query("SELECT sealed FROM accounts", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert_eq!(chunks.len(), 1);
    assert!(!contains(&chunks[0], "회의".as_bytes()));
    assert!(!contains(&chunks[0], b"Subject"));
    assert_eq!(chunks[0][0], 1, "key id in front, as in sled");
    assert!(!contains(&accounts[0], b"secret-hash"));
    assert!(!contains(&accounts[0], b"TOTP-SECRET"));
    assert!(!contains(&accounts[0], "홍길동".as_bytes()));
}

/// Opening migrates once (two nodes at once), reopening keeps the data, a wrong key is
/// refused at open, and a newer schema is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_reopen_and_key_check() {
    let url = PgServer::shared().create_database().await;
    let config = PgConfig::new(&url);
    assert_eq!(
        PgStore::check(&config)
            .await
            .expect("check an empty database"),
        0
    );
    let (a, b) = tokio::join!(
        PgStore::open(&config, KeyFile::from_bytes(KEY)),
        PgStore::open(&config, KeyFile::from_bytes(KEY)),
    );
    let (a, b) = (a.expect("node a opens"), b.expect("node b opens"));
    a.create_account(hong()).await.unwrap();
    b.append("hong", "INBOX", message(1)).await.unwrap();
    drop((a, b));
    let probe = PgProbe { url: url.clone() };
    // One row per migration (0001 initial, 0002 subscriptions, 0003 device client,
    // 0004 session leases, 0005 Sieve scripts, 0006 queue claims, 0007 failure windows, 0008 access control lists).
    assert_eq!(
        probe.count("SELECT count(*) FROM schema_version").await,
        u64::try_from(certmail_store_pg::schema::SCHEMA_VERSION).expect("positive"),
        "each migration applied once though two nodes opened at once"
    );
    assert_eq!(
        PgStore::check(&config).await.expect("check"),
        certmail_store_pg::schema::SCHEMA_VERSION
    );
    let again = open(&url).await;
    let meta = &again.messages("hong", "INBOX", 1..=1).await.unwrap()[0];
    assert_eq!(
        again.message_body("hong", &meta.blob).await.unwrap(),
        body(1)
    );
    drop(again);
    match PgStore::open(&config, KeyFile::from_bytes([8; 32])).await {
        Err(OpenError::Store(StoreError::WrongKey { key_id: 1 })) => {}
        other => panic!("a wrong key must be refused at open: {other:?}"),
    }
    let db = PgServer::shared().connect(db_name(&url)).await;
    db.execute("INSERT INTO schema_version (version) VALUES (99)", &[])
        .await
        .unwrap();
    match PgStore::open(&config, KeyFile::from_bytes(KEY)).await {
        Err(OpenError::SchemaVersion {
            found: 99,
            expected: certmail_store_pg::schema::SCHEMA_VERSION,
        }) => {}
        other => panic!("a newer schema must be refused: {other:?}"),
    }
    assert!(matches!(
        PgStore::check(&config).await,
        Err(OpenError::SchemaVersion { found: 99, .. })
    ));
}

/// Migration 2 turns the subscribed flags of a schema-1 database into the subscription list
/// (and drops the column), keeping the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_2_moves_subscriptions_into_their_own_list() {
    let url = PgServer::shared().create_database().await;
    let db = PgServer::shared().connect(db_name(&url)).await;
    db.batch_execute(include_str!("../migrations/0001_initial.sql"))
        .await
        .unwrap();
    db.batch_execute(
        "CREATE TABLE schema_version (version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO schema_version (version) VALUES (1);
         INSERT INTO accounts (id, sealed) VALUES ('hong', '\\x00');
         INSERT INTO mailboxes (account, name, uid_validity, uid_next, highest_modseq,
                                special_use, subscribed)
         VALUES ('hong', 'INBOX', 1, 1, 1, NULL, true), ('hong', 'a', 2, 1, 1, NULL, false),
                ('hong', 'a/b', 3, 1, 1, NULL, true);",
    )
    .await
    .unwrap();
    let config = PgConfig::new(&url);
    assert_eq!(PgStore::check(&config).await.expect("check"), 1);
    let store = PgStore::open(&config, KeyFile::from_bytes(KEY))
        .await
        .expect("a schema-1 database opens");
    let probe = PgProbe { url: url.clone() };
    assert_eq!(
        probe.count("SELECT count(*) FROM schema_version").await,
        u64::try_from(certmail_store_pg::schema::SCHEMA_VERSION).expect("positive"),
        "every migration after the first applied once"
    );
    assert_eq!(store.subscriptions("hong").await.unwrap(), ["INBOX", "a/b"]);
    let listed = store.list_mailboxes("hong").await.unwrap();
    let flags: Vec<(&str, bool)> = listed
        .iter()
        .map(|m| (m.name.as_str(), m.subscribed))
        .collect();
    assert_eq!(flags, [("INBOX", true), ("a", false), ("a/b", true)]);
}

/// A database that would acknowledge commits before they are durable is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronous_commit_off_is_refused() {
    let url = PgServer::shared().create_database().await;
    let admin = PgServer::shared().admin().await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} SET synchronous_commit = off",
            db_name(&url)
        ))
        .await
        .unwrap();
    match PgStore::open(&PgConfig::new(&url), KeyFile::from_bytes(KEY)).await {
        Err(OpenError::NotDurable(setting)) => assert_eq!(setting, "off"),
        other => panic!("synchronous_commit=off must be refused: {other:?}"),
    }
    assert!(matches!(
        PgStore::check(&PgConfig::new(&url)).await,
        Err(OpenError::NotDurable(_))
    ));
}

/// The Unix socket works too (no TLS there), and a pool of two serves six writers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_over_the_unix_socket_with_a_small_pool() {
    let server = PgServer::shared();
    let url = server.create_database().await;
    let config = PgConfig {
        url: server.unix_url(db_name(&url)),
        pool_size: 2,
        ..PgConfig::new("")
    };
    let store = Arc::new(
        PgStore::open(&config, KeyFile::from_bytes(KEY))
            .await
            .expect("open"),
    );
    store.create_account(hong()).await.unwrap();
    let writers: Vec<_> = (0..6)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.append("hong", "INBOX", message(n)).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    assert_eq!(
        store
            .mailbox("hong", "INBOX")
            .await
            .unwrap()
            .unwrap()
            .exists,
        6
    );
    assert!(store.stats().writes >= 7);
}

/// The database name at the end of a harness URL.
fn db_name(url: &str) -> &str {
    let path = url.rsplit('/').next().expect("a URL has a path");
    path.split('?').next().expect("split yields one piece")
}
