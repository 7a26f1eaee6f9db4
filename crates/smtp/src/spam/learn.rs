//! [`LearnQueue`]: messages users file into or out of Junk, learned by rspamd's controller
//! in the background. The IMAP command only queues (a bounded channel, never waiting); one
//! task reads each message from the store and sends it to `/learnspam` or `/learnham`.
//!
//! Which way (as Dovecot's IMAPSieve antispam set-ups do): into the `\Junk` mailbox (or one
//! named `Junk`) from elsewhere is spam; out of Junk into anything but `\Trash` (or `Trash`)
//! is ham; anything else teaches nothing.

use std::sync::{Arc, Mutex, RwLock};

use certmail_store::{Mailbox, SpecialUse, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Learn, Rspamd};

/// Messages a user filed: `uids` of mailbox `to`, which came from `from`.
#[derive(Debug)]
struct Filed {
    account: String,
    from: String,
    to: String,
    uids: Vec<u32>,
}

/// The queue between the IMAP commands and the learning task.
pub struct LearnQueue {
    tx: mpsc::Sender<Filed>,
    rx: Mutex<Option<mpsc::Receiver<Filed>>>,
    rspamd: RwLock<Option<Arc<Rspamd>>>,
}

impl LearnQueue {
    /// A queue holding at most `capacity` filings; `rspamd` is the controller's client
    /// (`None`: nothing is queued).
    pub fn new(capacity: usize, rspamd: Option<Rspamd>) -> LearnQueue {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        LearnQueue {
            tx,
            rx: Mutex::new(Some(rx)),
            rspamd: RwLock::new(rspamd.map(Arc::new)),
        }
    }

    /// Replaces the controller's client (a reload); filings already queued use the new one.
    pub fn configure(&self, rspamd: Option<Rspamd>) {
        *self.rspamd.write().unwrap_or_else(|p| p.into_inner()) = rspamd.map(Arc::new);
    }

    fn client(&self) -> Option<Arc<Rspamd>> {
        self.rspamd
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Queues messages a user just copied or moved: `uids` in mailbox `to` of `account`,
    /// from mailbox `from`. Returns at once; when the queue is full the filing is dropped
    /// and logged (learning is a hint, never worth slowing IMAP down).
    pub fn filed(&self, account: &str, from: &str, to: &str, uids: &[u32]) {
        if self.client().is_none() || uids.is_empty() {
            return;
        }
        let filed = Filed {
            account: account.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            uids: uids.to_vec(),
        };
        if let Err(e) = self.tx.try_send(filed) {
            tracing::warn!(%account, error = %e, "spam learning queue full ([spam] max_learn_queue); not learning this move");
        }
    }

    /// The learning task: runs until `shutdown`. Only the first call runs; later ones
    /// return at once.
    pub async fn run(&self, store: Arc<dyn Store>, shutdown: CancellationToken) {
        let taken = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut rx) = taken else {
            return;
        };
        loop {
            let filed = tokio::select! {
                _ = shutdown.cancelled() => return,
                filed = rx.recv() => filed,
            };
            let Some(filed) = filed else {
                return;
            };
            if let Some(rspamd) = self.client() {
                learn(store.as_ref(), &rspamd, &filed).await;
            }
        }
    }
}

/// Learns one filing's messages, logging what fails.
async fn learn(store: &dyn Store, rspamd: &Rspamd, filed: &Filed) {
    let account = filed.account.as_str();
    let boxes = match store.list_mailboxes(account).await {
        Ok(boxes) => boxes,
        Err(e) => {
            tracing::warn!(%account, error = %e, "spam learning: cannot list mailboxes");
            return;
        }
    };
    let Some(kind) = direction(&boxes, &filed.from, &filed.to) else {
        return;
    };
    for &uid in &filed.uids {
        let message = match store.messages(account, &filed.to, uid..=uid).await {
            Ok(metas) => match metas.first() {
                Some(meta) => store.message_body(account, &meta.blob).await,
                // Expunged again before we got to it: nothing to learn.
                None => continue,
            },
            Err(e) => Err(e),
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(%account, uid, error = %e, "spam learning: cannot read the message");
                continue;
            }
        };
        match rspamd.learn(kind, message).await {
            Ok(learned) => {
                tracing::info!(%account, mailbox = %filed.to, uid, ?kind, learned, "spam learning: sent to rspamd")
            }
            Err(e) => tracing::warn!(%account, uid, error = %e, "spam learning failed"),
        }
    }
}

/// Which way a move from `from` to `to` teaches the classifier, if at all.
fn direction(boxes: &[Mailbox], from: &str, to: &str) -> Option<Learn> {
    let is = |name: &str, usage: SpecialUse, plain: &str| {
        boxes
            .iter()
            .find(|m| m.name == name)
            .is_some_and(|m| m.special_use == Some(usage))
            || name.eq_ignore_ascii_case(plain)
    };
    let (from_junk, to_junk) = (
        is(from, SpecialUse::Junk, "Junk"),
        is(to, SpecialUse::Junk, "Junk"),
    );
    if to_junk && !from_junk {
        Some(Learn::Spam)
    } else if from_junk && !to_junk && !is(to, SpecialUse::Trash, "Trash") {
        Some(Learn::Ham)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(name: &str, special_use: Option<SpecialUse>) -> Mailbox {
        Mailbox {
            id: 1,
            name: name.into(),
            uid_validity: 1,
            uid_next: 1,
            highest_modseq: 1,
            special_use,
            subscribed: true,
            exists: 0,
            size: 0,
        }
    }

    #[test]
    fn into_junk_is_spam_out_of_junk_is_ham_except_to_trash() {
        let boxes = [
            mailbox("INBOX", None),
            mailbox("스팸", Some(SpecialUse::Junk)),
            mailbox("휴지통", Some(SpecialUse::Trash)),
            mailbox("보관/2026", None),
        ];
        assert_eq!(direction(&boxes, "INBOX", "스팸"), Some(Learn::Spam));
        assert_eq!(direction(&boxes, "보관/2026", "Junk"), Some(Learn::Spam));
        assert_eq!(direction(&boxes, "스팸", "INBOX"), Some(Learn::Ham));
        assert_eq!(direction(&boxes, "스팸", "휴지통"), None);
        assert_eq!(direction(&boxes, "스팸", "Junk"), None);
        assert_eq!(direction(&boxes, "INBOX", "보관/2026"), None);
    }

    #[test]
    fn filing_never_waits_and_drops_past_the_bound() {
        let settings = super::super::SpamSettings {
            scan_url: String::new(),
            controller_url: "http://127.0.0.1:9".into(),
            controller_password: String::new().into(),
            timeout: std::time::Duration::from_secs(1),
            fail_open: true,
            scan_submissions: false,
        };
        let queue = LearnQueue::new(1, Some(Rspamd::new(settings)));
        queue.filed("hong", "INBOX", "Junk", &[1]);
        queue.filed("hong", "INBOX", "Junk", &[2]);
        let mut rx = queue.rx.lock().expect("lock").take().expect("receiver");
        assert_eq!(rx.try_recv().expect("first queued").uids, [1]);
        assert!(rx.try_recv().is_err(), "the second was dropped, not queued");
        queue.configure(None);
        queue.filed("hong", "INBOX", "Junk", &[3]);
        assert!(rx.try_recv().is_err(), "no controller: nothing queued");
    }
}
