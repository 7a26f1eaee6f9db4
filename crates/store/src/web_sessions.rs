//! Browser sessions of the self-service web where several nodes serve it
//! ([`WebSessionStore`], implemented by the PostgreSQL store): a session opened on one node
//! is good on every node, an ended one ends everywhere, a TOTP secret offered by one node
//! is confirmed on any, and the form-token key is the same on all. One node keeps all of
//! this in memory instead.

use crate::error::StoreError;

/// A browser session as the database keeps it (only a hash of its token is the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSessionRecord {
    /// The account signed in.
    pub account: String,
    /// SHA-256 of the SubjectPublicKeyInfo of the certificate that opened it: presented
    /// with another certificate, the session is void.
    pub spki_sha256: [u8; 32],
    /// When it expires, Unix seconds.
    pub until: i64,
    /// Why the single-session rule ended it (a kick reason's code and the newcomer's
    /// address), set by the node whose registry ended it.
    pub ended: Option<(String, Option<String>)>,
}

/// Where a cluster keeps what its web servers share.
#[async_trait::async_trait]
pub trait WebSessionStore: Send + Sync + 'static {
    /// Stores session `key` (and forgets sessions that expired before `now`).
    async fn put_web_session(
        &self,
        key: [u8; 32],
        record: WebSessionRecord,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Session `key`, if it is stored.
    async fn web_session(&self, key: [u8; 32]) -> Result<Option<WebSessionRecord>, StoreError>;
    /// Marks session `key` ended by the single-session rule with `reason` (a code) and
    /// the newcomer's address.
    async fn end_web_session_for(
        &self,
        key: [u8; 32],
        reason: &str,
        ip: Option<String>,
    ) -> Result<(), StoreError>;
    /// Forgets session `key` (signed out, or its end was reported).
    async fn forget_web_session(&self, key: [u8; 32]) -> Result<(), StoreError>;
    /// Forgets every session of `account` (a password change).
    async fn forget_web_sessions_of(&self, account: &str) -> Result<(), StoreError>;
    /// Stores the TOTP secret offered to `account` until `until` (sealed at rest).
    async fn offer_totp(&self, account: &str, secret: &[u8], until: i64) -> Result<(), StoreError>;
    /// The TOTP secret offered to `account` and until when, if any.
    async fn totp_offer(&self, account: &str) -> Result<Option<(Vec<u8>, i64)>, StoreError>;
    /// Forgets the TOTP secret offered to `account`.
    async fn forget_totp_offer(&self, account: &str) -> Result<(), StoreError>;
    /// The key of the web's form tokens, the same on every node: `fresh` (random) is
    /// stored if no node stored one before; the stored key is returned (sealed at rest).
    async fn web_form_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], StoreError>;
}
