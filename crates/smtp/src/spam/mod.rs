//! Spam filtering through rspamd (<https://rspamd.com>), over its HTTP protocol.
//!
//! - [`Rspamd`]: the client. [`Rspamd::check`] sends a message to the normal worker's
//!   `/checkv2` with the envelope (`From`, one `Rcpt` per recipient), the client's `IP`, its
//!   `Helo`, the signed-in `User` and our `Queue-Id`; [`Rspamd::learn`] sends one to the
//!   controller's `/learnspam` or `/learnham` with its `Password`. Scanning and learning go
//!   to different URLs: the controller is never asked to scan, the scan port never to learn.
//! - [`SpamVerdict`]: the answer, and the `X-Spam-*` header fields it becomes.
//! - [`LearnQueue`]: what users move into and out of Junk, learned in the background.
//!
//! The inbound driver scans after the SPF/DKIM/DMARC checks (their
//! `Authentication-Results:` header is part of what rspamd reads) and acts on the answer:
//! `reject` → `550 5.7.1` with rspamd's text, `soft reject` and `greylist` → `451 4.7.1`,
//! `add header` and `rewrite subject` → the recipient's `\Junk` mailbox, anything else →
//! INBOX; every stored copy carries the `X-Spam-*` fields. When rspamd does not answer,
//! [`SpamSettings::fail_open`] decides: accept (marked unscanned) or `451 4.3.0`.
//!
//! Rules: every exchange has a deadline ([`SpamSettings::timeout`]) and a bounded answer
//! ([`http::MAX_ANSWER`]); nothing rspamd says reaches a header or a reply unfiltered; the
//! controller password never reaches Debug output.

pub mod http;
mod learn;
mod verdict;

pub use learn::LearnQueue;
pub use verdict::{SpamAction, SpamVerdict, is_spam_field, unscanned_header_field};

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use certmail_auth::Secret;

use crate::Error;

/// Default seconds to wait for rspamd: its own task timeout is 8 s, and a scan slower than
/// this is a broken filter, not a busy one.
pub const DEFAULT_TIMEOUT_SECS: u64 = 20;

/// Settings of the spam filter (the daemon's `[spam]` section).
#[derive(Debug, Clone)]
pub struct SpamSettings {
    /// rspamd's normal worker, `http://host:port` (empty: no scanning).
    pub scan_url: String,
    /// rspamd's controller worker, for learning (empty: no learning).
    pub controller_url: String,
    /// The controller's password (its `password` setting).
    pub controller_password: Secret<String>,
    /// The longest one scan or one learn may take.
    pub timeout: Duration,
    /// Accept mail (marked unscanned) when rspamd does not answer; otherwise ask the
    /// sender to retry later.
    pub fail_open: bool,
    /// Scan mail signed-in users submit too (to catch a compromised account).
    pub scan_submissions: bool,
}

/// What is sent with one message to `/checkv2`.
#[derive(Debug, Clone, Copy)]
pub struct ScanRequest<'a> {
    /// The envelope sender (empty for the null sender).
    pub mail_from: &'a str,
    /// The envelope recipients.
    pub rcpts: &'a [String],
    /// The client's address.
    pub client_ip: IpAddr,
    /// The name the client gave in EHLO/HELO.
    pub helo: &'a str,
    /// The signed-in account, for submissions.
    pub user: Option<&'a str>,
    /// Our id for the message (as in its Received header), for rspamd's log.
    pub queue_id: &'a str,
    /// The message as it will be stored.
    pub message: &'a [u8],
}

/// Which way to teach the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learn {
    /// The user says it is spam (moved into Junk).
    Spam,
    /// The user says it is not (moved out of Junk).
    Ham,
}

impl Learn {
    fn path(self) -> &'static str {
        match self {
            Learn::Spam => "/learnspam",
            Learn::Ham => "/learnham",
        }
    }
}

/// An rspamd client on [`SpamSettings`].
#[derive(Debug, Clone)]
pub struct Rspamd {
    settings: SpamSettings,
}

impl Rspamd {
    /// A client; nothing is contacted until a scan or a learn.
    pub fn new(settings: SpamSettings) -> Rspamd {
        Rspamd { settings }
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &SpamSettings {
        &self.settings
    }

    /// Scans one message. `Err` when rspamd did not answer, or not as rspamd answers.
    pub async fn check(&self, request: &ScanRequest<'_>) -> Result<SpamVerdict, Error> {
        let mut headers = vec![
            ("From", request.mail_from.to_string()),
            ("IP", request.client_ip.to_string()),
            ("Helo", request.helo.to_string()),
            ("Queue-Id", request.queue_id.to_string()),
        ];
        headers.extend(request.rcpts.iter().map(|r| ("Rcpt", r.clone())));
        if let Some(user) = request.user {
            headers.push(("User", user.to_string()));
        }
        let base = &self.settings.scan_url;
        let body = Bytes::copy_from_slice(request.message);
        let answer = http::post(base, "/checkv2", &headers, body, self.settings.timeout).await?;
        if answer.status != 200 {
            return Err(Error::SpamFilter(format!(
                "{base}/checkv2 answered HTTP {}",
                answer.status
            )));
        }
        SpamVerdict::from_json(&answer.body)
            .map_err(|e| Error::SpamFilter(format!("{base}/checkv2: {e}")))
    }

    /// Teaches the classifier one message. `Ok(false)`: rspamd had already learned it
    /// (HTTP 208) or found it too short to learn (204).
    pub async fn learn(&self, learn: Learn, message: Vec<u8>) -> Result<bool, Error> {
        let base = &self.settings.controller_url;
        let headers = [(
            "Password",
            self.settings.controller_password.expose().clone(),
        )];
        let timeout = self.settings.timeout;
        let answer = http::post(base, learn.path(), &headers, message.into(), timeout).await?;
        match answer.status {
            200 => Ok(true),
            204 | 208 => Ok(false),
            401 | 403 => Err(Error::SpamFilter(format!(
                "{base}{} refused the controller_password (HTTP {})",
                learn.path(),
                answer.status
            ))),
            status => Err(Error::SpamFilter(format!(
                "{base}{} answered HTTP {status}: {}",
                learn.path(),
                String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
            ))),
        }
    }
}
