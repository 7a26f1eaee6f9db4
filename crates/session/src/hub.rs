//! The per-account change hub: mailbox changes carried between the connections of an
//! account (DESIGN.md "One active session per account", last points).
//!
//! Publishers (SMTP delivery; IMAP APPEND, STORE, EXPUNGE, COPY, MOVE, CREATE, DELETE,
//! RENAME) call [`ChangeHub::publish`] after their store transaction commits. Readers (IMAP
//! IDLE and NOOP) hold a [`Subscription`] for the account, optionally narrowed to the selected
//! mailbox. Each account has one `tokio::sync::broadcast` channel, created by its first
//! subscriber and removed with its last; publishing to an account nobody watches costs a map
//! lookup. A subscriber that falls behind by more than the channel capacity is told
//! [`Change::Resync`] and must re-read the mailbox state from the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use crate::registry::ConnectionId;

/// One change to an account's mailboxes. Mailbox names are the full IMAP names (`INBOX`,
/// `Archive/2026`). Serializable: cluster nodes send changes to each other (as JSON in
/// PostgreSQL notifications).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A message was added (delivery, APPEND, COPY, MOVE).
    Exists {
        /// The mailbox it was added to.
        mailbox: String,
        /// Its UID there.
        uid: u32,
    },
    /// Messages were removed (EXPUNGE, MOVE's source, UID EXPUNGE).
    Expunged {
        /// The mailbox they were removed from.
        mailbox: String,
        /// Their UIDs, ascending.
        uids: Vec<u32>,
    },
    /// A message's flags changed (STORE, or `\Seen` set by FETCH BODY[]).
    Flags {
        /// The mailbox that holds it.
        mailbox: String,
        /// Its UID.
        uid: u32,
        /// The mailbox MODSEQ of the change (RFC 7162).
        modseq: u64,
    },
    /// A mailbox was created.
    MailboxCreated {
        /// Its name.
        mailbox: String,
    },
    /// A mailbox was deleted.
    MailboxDeleted {
        /// Its name.
        mailbox: String,
    },
    /// A mailbox was renamed.
    MailboxRenamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A mailbox was subscribed to or unsubscribed from (RFC 5465 SubscriptionChange).
    SubscriptionChanged {
        /// The mailbox name as the subscriber's LIST shows it.
        mailbox: String,
        /// Subscribed now.
        subscribed: bool,
    },
    /// The user reset their URLAUTH access key for a mailbox of theirs, or all of them
    /// (RFC 4467 §6.2: sessions with it selected are told the mechanisms it now has).
    UrlAuthKeysReset {
        /// The mailbox; `None`: every mailbox of the user.
        mailbox: Option<String>,
    },
    /// The subscriber missed changes (it fell behind the channel's capacity): it must re-read
    /// the state of what it watches from the store. Never filtered out.
    Resync,
}

impl Change {
    /// Whether a subscriber watching `mailbox` (or the whole account when `None`) cares.
    fn concerns(&self, watched: Option<&str>) -> bool {
        let Some(watched) = watched else {
            return true;
        };
        match self {
            Self::Exists { mailbox, .. }
            | Self::Expunged { mailbox, .. }
            | Self::Flags { mailbox, .. }
            | Self::MailboxCreated { mailbox }
            | Self::MailboxDeleted { mailbox }
            | Self::SubscriptionChanged { mailbox, .. } => same_mailbox(mailbox, watched),
            Self::MailboxRenamed { from, to } => {
                same_mailbox(from, watched) || same_mailbox(to, watched)
            }
            Self::UrlAuthKeysReset { mailbox } => {
                mailbox.as_deref().is_none_or(|m| same_mailbox(m, watched))
            }
            Self::Resync => true,
        }
    }
}

/// Mailbox names compare exactly, except INBOX, which is case-insensitive (RFC 9051 §5.1).
fn same_mailbox(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
}

/// What travels on an account's channel.
#[derive(Debug)]
struct Published {
    origin: Option<ConnectionId>,
    change: Change,
}

/// Per-account change channels. Cloning shares the hub.
#[derive(Clone)]
pub struct ChangeHub {
    inner: Arc<HubInner>,
}

struct HubInner {
    capacity: usize,
    accounts: Mutex<HashMap<String, AccountChannel>>,
}

struct AccountChannel {
    sender: broadcast::Sender<Arc<Published>>,
    /// Live [`Subscription`]s; the channel is removed when it drops to zero.
    subscribers: usize,
}

impl HubInner {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, AccountChannel>> {
        // Each update under the lock is a single insert, remove or counter change, so the
        // map is consistent even after a panic elsewhere.
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for ChangeHub {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl ChangeHub {
    /// Changes buffered per account before a slow subscriber is told to resync. 1024 covers
    /// a large STORE or EXPUNGE burst on one mailbox while an IDLE client is writing out.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// A hub whose per-account channels hold `capacity` changes (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(HubInner {
                capacity: capacity.max(1),
                accounts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Watches `account`: the whole account when `mailbox` is `None`, else that mailbox.
    /// `me` is the subscribing connection: changes it published itself are skipped (it
    /// already told its client).
    pub fn subscribe(
        &self,
        account: &str,
        me: Option<ConnectionId>,
        mailbox: Option<&str>,
    ) -> Subscription {
        let mut accounts = self.inner.lock();
        let channel = accounts
            .entry(account.to_owned())
            .or_insert_with(|| AccountChannel {
                sender: broadcast::Sender::new(self.inner.capacity),
                subscribers: 0,
            });
        channel.subscribers += 1;
        Subscription {
            hub: Arc::clone(&self.inner),
            account: account.to_owned(),
            me,
            mailbox: mailbox.map(str::to_owned),
            receiver: channel.sender.subscribe(),
        }
    }

    /// Tells every subscriber of `account` about `change`, made by connection `origin` (or
    /// by no connection, e.g. delivery of inbound mail). Call after the store commits.
    /// Returns how many subscriptions received it (0 when nobody watches the account).
    pub fn publish(&self, account: &str, origin: Option<ConnectionId>, change: Change) -> usize {
        let accounts = self.inner.lock();
        let Some(channel) = accounts.get(account) else {
            return 0;
        };
        let published = Arc::new(Published { origin, change });
        // An error only means there is no receiver left, which is fine.
        channel.sender.send(published).unwrap_or(0)
    }

    /// Tells every subscriber of every account to re-read its state from the store
    /// ([`Change::Resync`]): after changes may have been missed, e.g. when a cluster node
    /// lost and regained its notification connection. Returns how many subscriptions heard.
    pub fn resync_all(&self) -> usize {
        let accounts = self.inner.lock();
        accounts
            .values()
            .map(|channel| {
                let published = Arc::new(Published {
                    origin: None,
                    change: Change::Resync,
                });
                channel.sender.send(published).unwrap_or(0)
            })
            .sum()
    }

    /// How many accounts have a channel (at least one live subscription). For metrics, and
    /// to check that no per-account state outlives its subscribers.
    pub fn watched_accounts(&self) -> usize {
        self.inner.lock().len()
    }
}

/// One connection's view of its account's changes. Dropping it unsubscribes.
pub struct Subscription {
    hub: Arc<HubInner>,
    account: String,
    me: Option<ConnectionId>,
    mailbox: Option<String>,
    receiver: broadcast::Receiver<Arc<Published>>,
}

impl Subscription {
    /// The next change this subscription cares about, waiting for it. Cancel-safe (use it in
    /// `tokio::select!` during IDLE): a change is consumed only when this returns it.
    pub async fn recv(&mut self) -> Change {
        loop {
            match self.receiver.recv().await {
                Ok(published) => {
                    if let Some(change) = self.relevant(&published) {
                        return change;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(account = %self.account, missed, "change subscriber lagged");
                    return Change::Resync;
                }
                // The subscription keeps its channel in the hub map, so the sender outlives
                // it; should that ever change, there is simply nothing more to hear.
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }

    /// The next change already waiting, if any, without waiting (for NOOP and for draining
    /// after IDLE woke up).
    pub fn try_recv(&mut self) -> Option<Change> {
        loop {
            match self.receiver.try_recv() {
                Ok(published) => {
                    if let Some(change) = self.relevant(&published) {
                        return Some(change);
                    }
                }
                Err(TryRecvError::Lagged(_)) => return Some(Change::Resync),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            }
        }
    }

    /// Narrows the subscription to `mailbox`, or widens it to the whole account (`None`);
    /// e.g. on SELECT, EXAMINE and UNSELECT.
    pub fn set_mailbox(&mut self, mailbox: Option<&str>) {
        self.mailbox = mailbox.map(str::to_owned);
    }

    /// The mailbox watched, or `None` for the whole account.
    pub fn mailbox(&self) -> Option<&str> {
        self.mailbox.as_deref()
    }

    /// The account watched.
    pub fn account(&self) -> &str {
        &self.account
    }

    fn relevant(&self, published: &Published) -> Option<Change> {
        let own = self.me.is_some() && published.origin == self.me;
        (!own && published.change.concerns(self.mailbox.as_deref()))
            .then(|| published.change.clone())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut accounts = self.hub.lock();
        if let Some(channel) = accounts.get_mut(&self.account) {
            channel.subscribers = channel.subscribers.saturating_sub(1);
            if channel.subscribers == 0 {
                accounts.remove(&self.account);
            }
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("account", &self.account)
            .field("me", &self.me)
            .field("mailbox", &self.mailbox)
            .finish()
    }
}
