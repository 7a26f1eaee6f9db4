//! Store behaviour as generic checks over `&dyn Store`, independent of the backend: each
//! function gets a fresh, empty store. `pg_store.rs` runs them against PostgreSQL; they are
//! written so that the store's conformance suite can run them against sled too (they use
//! nothing but the trait and [`Probe`]).
#![allow(dead_code)] // each test binary uses a different subset

pub mod accounts;
pub mod delivery;
pub mod mailboxes;
pub mod messages;
pub mod model;

use std::collections::BTreeMap;
use std::sync::Arc;

use certmail_store::{
    Account, AuditEvent, BlobId, CertBinding, NewMessage, QueueEntry, QueueRecipient,
    RecipientStatus, Store, notify,
};

/// What a backend can tell about its storage that the trait cannot: how many message
/// bodies are physically stored (single-instance storage, freeing the last reference).
#[async_trait::async_trait]
pub trait Probe: Send + Sync {
    /// Bodies stored, whatever their reference counts; `None` if the backend cannot tell
    /// while the store is open (sled: its trees are read after closing it).
    async fn stored_bodies(&self) -> Option<u64>;
}

/// A fresh store under test.
pub struct Subject {
    pub store: Arc<dyn Store>,
    pub probe: Box<dyn Probe>,
}

impl Subject {
    /// Checks how many bodies are physically stored, where the backend can tell.
    pub async fn assert_stored_bodies(&self, expected: u64, why: &str) {
        if let Some(n) = self.probe.stored_bodies().await {
            assert_eq!(n, expected, "bodies stored: {why}");
        }
    }
}

/// 홍길동's account: id "Hong" (stored lowercase), two addresses in mixed case.
pub fn hong() -> Account {
    let mut a = Account::new(
        "Hong",
        "홍길동",
        vec!["Hong@Example.kr".into(), "gildong@example.kr".into()],
        1_700_000_000,
    );
    a.organisation = "행정안전부".into();
    a
}

/// 김철수's account: id "kim".
pub fn kim() -> Account {
    Account::new(
        "kim",
        "김철수",
        vec!["kim@example.kr".into()],
        1_700_000_100,
    )
}

/// A small message with a Korean subject; `n` makes it unique.
pub fn body(n: u32) -> Vec<u8> {
    format!(
        "From: 김철수 <kim@example.kr>\r\nTo: 홍길동 <hong@example.kr>\r\n\
         Subject: 회의 안내 {n}\r\n\r\n안녕하세요, 회의는 {n}시입니다.\r\n"
    )
    .into_bytes()
}

pub fn message(n: u32) -> NewMessage {
    NewMessage {
        body: body(n),
        flags: vec![],
        internal_date: 1_700_000_000 + i64::from(n),
    }
}

pub fn flags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn binding(account: &str, spki_byte: u8, subject: &str) -> CertBinding {
    CertBinding {
        account: account.into(),
        spki_sha256: [spki_byte; 32],
        issuer_dn: "CN=CA134100031,OU=GPKI,O=Government of Korea,C=KR".into(),
        subject_dn: subject.into(),
        serial_hex: format!("{spki_byte:02x}01"),
        not_after: 1_800_000_000,
        bound_at: 1_700_000_000,
    }
}

pub fn queue_entry(to: &[&str]) -> QueueEntry {
    QueueEntry {
        id: 0,
        from: "hong@example.kr".into(),
        recipients: to
            .iter()
            .map(|a| QueueRecipient {
                address: a.to_string(),
                status: RecipientStatus::Pending,
                attempts: 0,
                last_error: None,
                notify: notify::FAILURE | notify::DELAY,
            })
            .collect(),
        blob: BlobId::default(),
        created_at: 1_700_000_000,
        next_attempt: 1_700_000_000,
        envelope_meta: BTreeMap::from([("envid".to_string(), "회의-1".to_string())]),
    }
}

pub fn event(time: i64, account: Option<&str>, kind: &str) -> AuditEvent {
    AuditEvent {
        time,
        account: account.map(str::to_owned),
        kind: kind.into(),
        ip: Some("192.0.2.7".into()),
        fields: BTreeMap::from([("name".to_string(), "홍길동".to_string())]),
    }
}

/// Marks `uids` \Deleted and expunges them.
pub async fn delete_messages(s: &dyn Store, mailbox: &str, uids: &[u32]) -> Vec<u32> {
    s.set_flags(
        "hong",
        mailbox,
        uids,
        certmail_store::FlagOp::Add,
        &flags(&["\\Deleted"]),
        None,
    )
    .await
    .unwrap();
    s.expunge("hong", mailbox, Some(uids)).await.unwrap()
}
