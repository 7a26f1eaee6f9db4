//! Retry timing of the queue runner with tokio's paused clock: a destination that always
//! answers 4xx is retried on the schedule, gets one delay notice, and expires with a
//! failure report, with no real waiting.

use std::sync::Arc;
use std::time::Duration;

use certmail_smtp::outbound::client::{Outgoing, Sent};
use certmail_smtp::outbound::reply::RemoteReply;
use certmail_smtp::outbound::{
    Clock, Connection, QueueRunner, RelaySettings, TokioClock, Transport,
};
use certmail_store::{
    Account, Delivery, KeyFile, QueueEntry, QueueRecipient, RecipientStatus, SledStore, Store,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const NOW: i64 = 1_795_305_600;

/// A remote end that always says 451, and reports when each attempt was made.
struct Busy {
    clock: Arc<TokioClock>,
    attempts: mpsc::UnboundedSender<i64>,
    closed: mpsc::UnboundedSender<()>,
}

struct BusyConnection {
    clock: Arc<TokioClock>,
    attempts: mpsc::UnboundedSender<i64>,
    closed: mpsc::UnboundedSender<()>,
}

#[async_trait::async_trait]
impl Transport for Busy {
    fn destination(&self, domain: &str) -> String {
        domain.to_string()
    }
    async fn connect(&self, _destination: &str) -> Result<Box<dyn Connection>, RemoteReply> {
        Ok(Box::new(BusyConnection {
            clock: Arc::clone(&self.clock),
            attempts: self.attempts.clone(),
            closed: self.closed.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl Connection for BusyConnection {
    async fn send(&mut self, message: &Outgoing<'_>) -> Result<Sent, RemoteReply> {
        let _ = self.attempts.send(self.clock.now() - NOW);
        Ok(Sent {
            replies: message
                .recipients
                .iter()
                .map(|_| RemoteReply::local(451, "4.2.1", "mailbox busy, try later"))
                .collect(),
            dsn_passed_on: false,
        })
    }
    fn remote(&self) -> String {
        "mx.remote.kr".into()
    }
    fn reusable(&self) -> bool {
        true
    }
    async fn close(self: Box<Self>) {
        let _ = self.closed.send(());
    }
}

#[tokio::test(start_paused = true)]
async fn a_4xx_is_retried_on_schedule_then_noticed_then_expired() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = KeyFile::generate(&dir.path().join("key")).expect("key");
    let sled: Arc<dyn Store> = Arc::new(
        SledStore::open_async(&dir.path().join("store"), key)
            .await
            .expect("store"),
    );
    let store: Arc<dyn Store> = Arc::new(certmail_testkit::store::still(sled));
    store
        .create_account(Account::new(
            "kim",
            "김철수",
            vec!["kim@test.go.kr".into()],
            NOW,
        ))
        .await
        .expect("account");
    store
        .deliver(Delivery {
            body: "From: kim@test.go.kr\r\nSubject: 보고서\r\n\r\n첨부합니다\r\n".into(),
            internal_date: NOW,
            recipients: Vec::new(),
            queue: vec![QueueEntry {
                id: 0,
                from: "kim@test.go.kr".into(),
                recipients: vec![QueueRecipient {
                    address: "lee@remote.kr".into(),
                    status: RecipientStatus::Pending,
                    attempts: 0,
                    last_error: None,
                    notify: 0,
                }],
                blob: certmail_store::BlobId([0; 32]),
                created_at: NOW,
                next_attempt: NOW,
                envelope_meta: Default::default(),
            }],
            outgoing: Vec::new(),
            quota: certmail_store::MailQuota::Unlimited,
            redirects: Vec::new(),
        })
        .await
        .expect("queued");

    let clock = Arc::new(TokioClock::starting_at(NOW));
    let (attempts_tx, mut attempts) = mpsc::unbounded_channel();
    let (closed_tx, mut closed) = mpsc::unbounded_channel();
    let settings = RelaySettings {
        hostname: "mail.test.go.kr".into(),
        local_domains: vec!["test.go.kr".into()],
        retry_schedule: vec![60, 300, 900],
        expire_after: 2000,
        delay_notice_after: Some(400),
        poll_interval: Duration::from_secs(30),
        ..RelaySettings::default()
    };
    let runner = Arc::new(QueueRunner::new(
        Arc::clone(&store),
        Arc::new(Busy {
            clock: Arc::clone(&clock),
            attempts: attempts_tx,
            closed: closed_tx,
        }),
        clock,
        settings,
    ));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(Arc::clone(&runner).run(shutdown.clone()));

    // Virtual time: the bound is generous because waiting costs nothing.
    let step = Duration::from_secs(10_000);
    let mut seen = Vec::new();
    for _ in 0..5 {
        let at = tokio::time::timeout(step, attempts.recv())
            .await
            .unwrap_or_else(|_| panic!("an attempt in time after {seen:?}"))
            .expect("attempt");
        seen.push(at);
        tokio::time::timeout(step, closed.recv())
            .await
            .expect("the attempt ends")
            .expect("closed");
    }
    // 0, then +60, +300, +900, +900 (the last step repeats); the fifth is past expiry.
    assert_eq!(seen, vec![0, 60, 360, 1260, 2160]);
    assert!(
        store.queue_list().await.expect("list").is_empty(),
        "expired"
    );

    let inbox = store
        .messages("kim", "INBOX", 1..=u32::MAX)
        .await
        .expect("inbox");
    let mut subjects = Vec::new();
    for m in inbox {
        let raw = store.message_body("kim", &m.blob).await.expect("body");
        let parsed = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("parses");
        subjects.push(parsed.subject().unwrap_or_default().to_string());
        let text = String::from_utf8_lossy(&raw).into_owned();
        assert!(text.contains("451 4.2.1 mailbox busy, try later"), "{text}");
    }
    assert_eq!(
        subjects,
        vec![
            "Delayed Mail (still being retried): lee@remote.kr".to_string(),
            "Undelivered Mail Returned to Sender: lee@remote.kr".to_string(),
        ]
    );
    shutdown.cancel();
    tokio::time::timeout(step, task)
        .await
        .expect("drains")
        .expect("runner");
}
