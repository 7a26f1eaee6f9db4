//! [`WebConfig`]: the `[web]` section. The daemon's config crate embeds it as it is.

use serde::{Deserialize, Serialize};

/// The self-service web (`[web]`). Every field has a default; an empty `listen` (the
/// default) keeps the web off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Addresses to listen on with HTTPS, e.g. `["0.0.0.0:443"]`. Default empty: off.
    pub listen: Vec<String>,
    /// The address people type, e.g. `https://mail.example.go.kr` (scheme, host and port
    /// only). It is the only origin whose state-changing requests are accepted (CSRF), and
    /// IMAP/SMTP quote it in refusals the person can fix on the web (expired password).
    /// Required when `listen` is not empty.
    pub public_url: String,
    /// Organisations a person can choose at sign-up; empty (the default) lets them type one.
    pub organisations: Vec<String>,
    /// Whether a browser session is a device under the one-active-session rule. Default
    /// `false`: signing in on the web neither ends nor is ended by the live mail session
    /// (the web asks for the password on each sensitive step anyway). `true`: a browser
    /// session is a device (certificate SPKI, address) like any other for as long as it
    /// lives; per `[auth] session_policy` opening one ends another device's mail session
    /// (`replace`) or is refused by it (`reject`), and a mail sign-in from another device
    /// ends it.
    pub counts_as_device: bool,
    /// Seconds a browser session (cookie) lasts after it was opened. Default 900 (15
    /// minutes): short, because it stands in for the password.
    pub session_secs: u64,
    /// Largest request body in bytes. Default 16384: every form and JSON body is a few
    /// short fields.
    pub max_body_bytes: usize,
    /// Requests per minute one IP address may make (a token bucket, burst of the same
    /// size). Default 120: a person clicking through pages never meets it.
    pub requests_per_minute: u32,
    /// Open connections at most, all addresses together. Default 1000.
    pub max_connections: usize,
    /// Seconds for the TLS handshake and for the request head. Default 10.
    pub timeout_secs: u64,
    /// Days of the person's own access record shown (`/api/signins`). Default 90.
    pub signins_days: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            public_url: String::new(),
            organisations: Vec::new(),
            counts_as_device: false,
            session_secs: 900,
            max_body_bytes: 16 * 1024,
            requests_per_minute: 120,
            max_connections: 1000,
            timeout_secs: 10,
            signins_days: 90,
        }
    }
}

impl WebConfig {
    /// Every problem at once, each naming its key.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for l in &self.listen {
            if l.parse::<std::net::SocketAddr>().is_err() {
                problems.push(format!("web.listen: `{l}` is not an address:port"));
            }
        }
        if !self.listen.is_empty() && self.origin().is_none() {
            problems.push(format!(
                "web.public_url: `{}` must be https://host[:port] (no path) when web.listen is set",
                self.public_url
            ));
        }
        if self.session_secs == 0 || self.session_secs > 8 * 3600 {
            problems.push("web.session_secs: use 1 to 28800 seconds".into());
        }
        if self.max_body_bytes < 1024 {
            problems.push("web.max_body_bytes: at least 1024".into());
        }
        if self.requests_per_minute == 0 {
            problems.push("web.requests_per_minute: at least 1".into());
        }
        if self.max_connections == 0 {
            problems.push("web.max_connections: at least 1".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The sentence IMAP and SMTP add to an expired-password refusal when the web is on:
    /// `Change it at https://mail.example.go.kr/password.` (`None` when the web is off).
    pub fn password_hint(&self) -> Option<String> {
        if self.listen.is_empty() {
            return None;
        }
        let origin = self.origin()?;
        Some(format!("Change it at {origin}/password."))
    }

    /// The origin of `public_url` as browsers send it in `Origin` (`https://host[:port]`),
    /// if `public_url` is one.
    pub fn origin(&self) -> Option<String> {
        let rest = self.public_url.strip_prefix("https://")?;
        let host = rest.strip_suffix('/').unwrap_or(rest);
        (!host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']))
            .then(|| format!("https://{}", host.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_off_and_valid() {
        let c: WebConfig = toml_like("");
        assert!(c.listen.is_empty());
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported() {
        let c = WebConfig {
            listen: vec!["nope".into()],
            public_url: "http://x".into(),
            requests_per_minute: 0,
            ..WebConfig::default()
        };
        let p = c.validate().expect_err("invalid");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("web.listen"));
    }

    #[test]
    fn origin_of_public_url() {
        let c = WebConfig {
            public_url: "https://Mail.Example.go.kr/".into(),
            ..WebConfig::default()
        };
        assert_eq!(c.origin().as_deref(), Some("https://mail.example.go.kr"));
        let bad = WebConfig {
            public_url: "https://mail.example.go.kr/web".into(),
            ..WebConfig::default()
        };
        assert_eq!(bad.origin(), None);
    }

    #[test]
    fn password_hint_only_when_on() {
        let mut c = WebConfig {
            public_url: "https://mail.example.go.kr".into(),
            ..WebConfig::default()
        };
        assert_eq!(c.password_hint(), None);
        c.listen = vec!["0.0.0.0:443".into()];
        assert_eq!(
            c.password_hint().as_deref(),
            Some("Change it at https://mail.example.go.kr/password.")
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<WebConfig, _> = serde_json::from_str(r#"{"listen":[],"lisen":[]}"#);
        assert!(r.is_err());
    }

    fn toml_like(_: &str) -> WebConfig {
        serde_json::from_str("{}").expect("empty section")
    }
}
