//! Spam learning: IMAP's filing hook feeding the [`certmail_smtp::spam::LearnQueue`], and
//! the task that empties it. (Scanning needs no service: the SMTP context holds the
//! rspamd client, see [`crate::services::protocols::smtp_context`].)

use std::sync::Arc;

use certmail_smtp::spam::LearnQueue;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::context::Daemon;

/// The learning queue `config` asks for (`[spam] controller_url`, `max_learn_queue`).
pub fn learn_queue(config: &Config) -> Arc<LearnQueue> {
    Arc::new(LearnQueue::new(
        config.spam.max_learn_queue,
        config.spam.learner(),
    ))
}

/// What IMAP's COPY and MOVE tell: the learning queue.
pub fn filing_observer(queue: &Arc<LearnQueue>) -> Arc<dyn certmail_imap::filing::FilingObserver> {
    Arc::new(Filing(Arc::clone(queue)))
}

struct Filing(Arc<LearnQueue>);

impl certmail_imap::filing::FilingObserver for Filing {
    fn filed(&self, account: &str, from: &str, to: &str, uids: &[u32]) {
        self.0.filed(account, from, to, uids);
    }
}

/// The learning task, until `shutdown`.
pub async fn run(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    let queue = Arc::clone(&daemon.spam_learning);
    queue.run(Arc::clone(&daemon.store), shutdown).await;
}

/// Applies a reloaded `[spam]` to learning (scanning follows the new SMTP context).
pub fn reload(daemon: &Daemon, config: &Config) {
    daemon.spam_learning.configure(config.spam.learner());
}
