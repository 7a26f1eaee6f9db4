//! Change notices between cluster nodes: every transaction that changes a mailbox sends one
//! `pg_notify` on [`CHANGES_CHANNEL`] before its COMMIT, so the notice is delivered exactly
//! when (and only if) the change is durable. Each node LISTENs (`crate::listen`) and feeds
//! what other nodes sent into its own change hub, where IDLE and NOOP hear it as if a local
//! connection had made the change; a node skips its own notices (its connections already
//! published them in-process).
//!
//! The payload is JSON: `{"node", "account", "changes": [{"kind", ...}]}`, the hub's own
//! [`Change`]s. PostgreSQL caps a payload at 8000 bytes; a notice that would be longer (an
//! EXPUNGE of thousands of UIDs) is sent as `resync`, which makes the account's listeners
//! re-read the mailbox from the store: nothing is lost, it only costs a re-read.

use certmail_session::Change;
use certmail_store::StoreError;
use serde::{Deserialize, Serialize};

use crate::Tx;
use crate::error::db;

/// The channel mailbox changes travel on.
pub const CHANGES_CHANNEL: &str = "certmail_changes";

/// Longest payload sent as is; PostgreSQL refuses 8000 bytes and more.
const MAX_PAYLOAD: usize = 7900;

/// One notice on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The node whose transaction made the change.
    pub node: String,
    /// The account changed (canonical, lowercase).
    pub account: String,
    /// What changed, in order.
    pub changes: Vec<Change>,
}

impl Envelope {
    /// The JSON payload, or a `resync` notice when the full one is too long for NOTIFY.
    fn payload(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        if text.len() <= MAX_PAYLOAD && !text.is_empty() {
            return text;
        }
        let resync = Envelope {
            changes: vec![Change::Resync],
            ..self.clone()
        };
        serde_json::to_string(&resync).unwrap_or_default()
    }

    /// Reads a payload; `None` for one this build does not understand.
    pub fn parse(payload: &str) -> Option<Envelope> {
        serde_json::from_str(payload).ok()
    }
}

/// Sends `changes` of `account` from `node` inside `tx`: delivered to listeners at COMMIT,
/// never if the transaction rolls back.
pub(crate) async fn send(
    tx: &Tx<'_>,
    node: &str,
    account: &str,
    changes: Vec<Change>,
) -> Result<(), StoreError> {
    let envelope = Envelope {
        node: node.to_owned(),
        account: account.to_owned(),
        changes,
    };
    // In every changing transaction: prepared once per pooled connection.
    let statement = tx
        .prepare_cached("SELECT pg_notify($1, $2)")
        .await
        .map_err(db)?;
    tx.execute(&statement, &[&CHANGES_CHANNEL, &envelope.payload()])
        .await
        .map_err(db)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_long_ones_become_resync() {
        let flags = Envelope {
            node: "mail1".into(),
            account: "hong".into(),
            changes: [3, 9]
                .map(|uid| Change::Flags {
                    mailbox: "보관함/2026".into(),
                    uid,
                    modseq: 41,
                })
                .into(),
        };
        assert_eq!(Envelope::parse(&flags.payload()), Some(flags.clone()));

        let huge = Envelope {
            changes: vec![Change::Expunged {
                mailbox: "INBOX".into(),
                uids: (1..5000).collect(),
            }],
            ..flags
        };
        let sent = Envelope::parse(&huge.payload()).expect("a resync notice");
        assert_eq!(sent.changes, [Change::Resync]);
        assert_eq!(sent.account, "hong");
        assert!(Envelope::parse("{not json").is_none());
    }
}
