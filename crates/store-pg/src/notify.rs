//! Change notices between cluster nodes: every transaction that changes a mailbox sends one
//! `pg_notify` on [`CHANGES_CHANNEL`] before its COMMIT, so the notice is delivered exactly
//! when (and only if) the change is durable. Each node LISTENs (`crate::listen`) and feeds
//! what other nodes sent into its own change hub, where IDLE and NOOP hear it as if a local
//! connection had made the change; a node skips its own notices (its connections already
//! published them in-process).
//!
//! The payload is JSON: `{"node", "account", "change": {"kind", ...}}`. PostgreSQL caps a
//! payload at 8000 bytes; a notice that would be longer (an EXPUNGE of thousands of UIDs)
//! is sent as `resync`, which makes the account's listeners re-read the mailbox from the
//! store: nothing is lost, it only costs a re-read.

use certmail_session::Change;
use certmail_store::StoreError;
use serde::{Deserialize, Serialize};

use crate::Tx;
use crate::error::db;

/// The channel mailbox changes travel on.
pub const CHANGES_CHANNEL: &str = "certmail_changes";

/// Longest payload sent as is; PostgreSQL refuses 8000 bytes and more.
const MAX_PAYLOAD: usize = 7900;

/// What changed in one account, as one node tells the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// Messages were added; `uid` is the highest new UID.
    Exists {
        /// The mailbox's name.
        mailbox: String,
        /// The highest UID added.
        uid: u32,
    },
    /// Messages were expunged.
    Expunged {
        /// The mailbox's name.
        mailbox: String,
        /// The UIDs removed, ascending.
        uids: Vec<u32>,
    },
    /// Messages' flags changed at `modseq`.
    Flags {
        /// The mailbox's name.
        mailbox: String,
        /// The UIDs whose flags changed.
        uids: Vec<u32>,
        /// The mailbox MODSEQ of the change.
        modseq: u64,
    },
    /// A mailbox was created.
    Created {
        /// Its name.
        mailbox: String,
    },
    /// A mailbox was deleted.
    Deleted {
        /// Its name.
        mailbox: String,
    },
    /// A mailbox was renamed.
    Renamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// Too much changed to say in one notice: re-read the account's state.
    Resync,
}

impl Notice {
    /// The hub changes this notice stands for (one per UID for flag changes, as the hub
    /// carries them).
    pub fn changes(self) -> Vec<Change> {
        match self {
            Self::Exists { mailbox, uid } => vec![Change::Exists { mailbox, uid }],
            Self::Expunged { mailbox, uids } => vec![Change::Expunged { mailbox, uids }],
            Self::Flags {
                mailbox,
                uids,
                modseq,
            } => uids
                .into_iter()
                .map(|uid| Change::Flags {
                    mailbox: mailbox.clone(),
                    uid,
                    modseq,
                })
                .collect(),
            Self::Created { mailbox } => vec![Change::MailboxCreated { mailbox }],
            Self::Deleted { mailbox } => vec![Change::MailboxDeleted { mailbox }],
            Self::Renamed { from, to } => vec![Change::MailboxRenamed { from, to }],
            Self::Resync => vec![Change::Resync],
        }
    }
}

/// One notice on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The node whose transaction made the change.
    pub node: String,
    /// The account changed (canonical, lowercase).
    pub account: String,
    /// What changed.
    pub change: Notice,
}

impl Envelope {
    /// The JSON payload, or a `resync` notice when the full one is too long for NOTIFY.
    fn payload(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        if text.len() <= MAX_PAYLOAD && !text.is_empty() {
            return text;
        }
        let resync = Envelope {
            change: Notice::Resync,
            ..self.clone()
        };
        serde_json::to_string(&resync).unwrap_or_default()
    }

    /// Reads a payload; `None` for one this build does not understand.
    pub fn parse(payload: &str) -> Option<Envelope> {
        serde_json::from_str(payload).ok()
    }
}

/// Sends `change` of `account` from `node` inside `tx`: delivered to listeners at COMMIT,
/// never if the transaction rolls back.
pub(crate) async fn send(
    tx: &Tx<'_>,
    node: &str,
    account: &str,
    change: Notice,
) -> Result<(), StoreError> {
    let envelope = Envelope {
        node: node.to_owned(),
        account: account.to_owned(),
        change,
    };
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANGES_CHANNEL, &envelope.payload()],
    )
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
            change: Notice::Flags {
                mailbox: "보관함/2026".into(),
                uids: vec![3, 9],
                modseq: 41,
            },
        };
        assert_eq!(Envelope::parse(&flags.payload()), Some(flags.clone()));
        assert_eq!(flags.change.changes().len(), 2);

        let huge = Envelope {
            change: Notice::Expunged {
                mailbox: "INBOX".into(),
                uids: (1..5000).collect(),
            },
            ..flags
        };
        let sent = Envelope::parse(&huge.payload()).expect("a resync notice");
        assert_eq!(sent.change, Notice::Resync);
        assert_eq!(sent.account, "hong");
        assert!(Envelope::parse("{not json").is_none());
    }
}
