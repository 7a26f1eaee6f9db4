//! `[spam]`: spam filtering through rspamd (scanning on port 25, learning from Junk).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use certmail_smtp::spam::{DEFAULT_TIMEOUT_SECS, Rspamd, SpamSettings, http::check_url};

/// Default messages waiting to be learned; past it, new learn requests are dropped (and
/// logged) rather than held in memory.
pub const DEFAULT_MAX_LEARN_QUEUE: usize = 1000;

/// `[spam]`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpamSection {
    /// rspamd's normal worker, e.g. "http://127.0.0.1:11333". Empty (the default): mail is
    /// not scanned (an MX without rspamd installed keeps working).
    pub scan_url: String,
    /// rspamd's controller worker, e.g. "http://127.0.0.1:11334", where messages users move
    /// into or out of Junk are learned. Empty (the default): nothing is learned.
    pub controller_url: String,
    /// The controller's `password`. Empty: none is sent (rspamd trusts its `secure_ip`
    /// addresses, loopback by default, without one).
    pub controller_password: String,
    /// Seconds to wait for one scan or one learn.
    pub timeout_secs: u64,
    /// When rspamd does not answer in time: true (the default) accepts the message, marked
    /// `X-Spam-Status: Unknown`, because losing mail is worse than letting spam in; false
    /// answers 451 so the sender's server retries later.
    pub fail_open: bool,
    /// Scan mail signed-in users submit too (to catch a compromised account). Off by
    /// default: users are known and signed in with certificates.
    pub scan_submissions: bool,
    /// Messages waiting to be learned at most (each holds a message in memory).
    pub max_learn_queue: usize,
}

impl Default for SpamSection {
    fn default() -> Self {
        Self {
            scan_url: String::new(),
            controller_url: String::new(),
            controller_password: String::new(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            fail_open: true,
            scan_submissions: false,
            max_learn_queue: DEFAULT_MAX_LEARN_QUEUE,
        }
    }
}

/// The password never reaches a log.
impl std::fmt::Debug for SpamSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpamSection")
            .field("scan_url", &self.scan_url)
            .field("controller_url", &self.controller_url)
            .field("controller_password", &"[redacted]")
            .field("timeout_secs", &self.timeout_secs)
            .field("fail_open", &self.fail_open)
            .field("scan_submissions", &self.scan_submissions)
            .field("max_learn_queue", &self.max_learn_queue)
            .finish()
    }
}

impl SpamSection {
    /// The rspamd client for scanning, when `scan_url` is set.
    pub fn scanner(&self) -> Option<Rspamd> {
        (!self.scan_url.is_empty()).then(|| self.client())
    }

    /// The rspamd client for learning, when `controller_url` is set.
    pub fn learner(&self) -> Option<Rspamd> {
        (!self.controller_url.is_empty()).then(|| self.client())
    }

    fn client(&self) -> Rspamd {
        Rspamd::new(SpamSettings {
            scan_url: self.scan_url.clone(),
            controller_url: self.controller_url.clone(),
            controller_password: self.controller_password.clone().into(),
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
            fail_open: self.fail_open,
            scan_submissions: self.scan_submissions,
        })
    }

    /// Checks what types cannot: the URLs and the bounds.
    pub fn validate(&self, bad: &mut impl FnMut(&str, String)) {
        for (key, url) in [
            ("[spam] scan_url", &self.scan_url),
            ("[spam] controller_url", &self.controller_url),
        ] {
            if let Err(e) = (!url.is_empty()).then(|| check_url(url)).transpose() {
                bad(key, e);
            }
        }
        if self.timeout_secs == 0 {
            bad("[spam] timeout_secs", "must be at least 1".into());
        }
        if self.max_learn_queue == 0 {
            bad(
                "[spam] max_learn_queue",
                "must be at least 1 (set controller_url = \"\" to learn nothing)".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::check;

    const PKI: &str = "[pki]\ncerts_dir = \"/nonexistent\"\ncrl_dir = \"/nonexistent\"\n";

    fn spam_problems(section: &str) -> Vec<(String, String)> {
        let problems = check(&format!("{PKI}[spam]\n{section}")).expect_err("no PKI here");
        problems
            .into_iter()
            .filter(|p| p.key.starts_with("[spam]"))
            .map(|p| (p.key, p.message))
            .collect()
    }

    #[test]
    fn each_bad_spam_key_is_reported_by_name() {
        let p = spam_problems(
            "scan_url = \"https://rspamd.test.go.kr\"\ncontroller_url = \"127.0.0.1:11334\"\n\
             timeout_secs = 0\nfail_open = \"yes\"\nmax_learn_queue = 0\n",
        );
        let keys: Vec<_> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "[spam] fail_open",
                "[spam] scan_url",
                "[spam] controller_url",
                "[spam] timeout_secs",
                "[spam] max_learn_queue"
            ],
            "{p:?}"
        );
        assert!(p[1].1.contains("only http://"), "{p:?}");
    }

    #[test]
    fn a_good_section_builds_a_client_and_hides_the_password() {
        let p = spam_problems(
            "scan_url = \"http://127.0.0.1:11333\"\ncontroller_url = \"http://127.0.0.1:11334\"\n\
             controller_password = \"비밀-learn\"\n",
        );
        assert!(p.is_empty(), "{p:?}");
        let section: super::SpamSection = toml::from_str(
            "scan_url = \"http://127.0.0.1:11333\"\ncontroller_password = \"비밀-learn\"\n",
        )
        .expect("valid section");
        let client = section.scanner().expect("scanning is on");
        assert!(section.learner().is_none(), "no controller_url");
        assert!(client.settings().fail_open && !client.settings().scan_submissions);
        assert!(!format!("{section:?}{client:?}").contains("비밀"));
        assert!(super::SpamSection::default().scanner().is_none());
    }
}
