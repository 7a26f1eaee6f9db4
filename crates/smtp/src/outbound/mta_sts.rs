//! MTA-STS (RFC 8461): a domain's published promise that its MX hosts speak verified TLS.
//!
//! - [`Policy::parse`] reads a policy file (§3.2) without I/O; [`Policy::allows_mx`] is
//!   the MX name match (§4.1, one wildcard label).
//! - [`MtaSts::policy`] looks up `_mta-sts.<domain>` TXT (§3.1), fetches
//!   `https://mta-sts.<domain>/.well-known/mta-sts.txt` over verified TLS (§3.3: no
//!   redirects, 200 only, a bounded body), and caches the result for its `max_age` (§5.1),
//!   in memory and, when a directory is given, on disk so a restart keeps it. A TXT record
//!   whose `id` has not changed keeps the cached policy; a failed fetch keeps a cached one
//!   that has not expired; with neither, the domain is treated as having no policy (§5).
//!
//! The transport applies the result ([`super::transport`]): `enforce` delivers only to MX
//! hosts the policy names and only over TLS whose certificate verifies for the MX host,
//! else the recipients stay queued (a temporary failure, never cleartext); `testing`
//! delivers as the local `tls_policy` says and logs what enforcement would have refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::Clock;
use super::route::Resolver;

/// Largest policy body read (RFC 8461 §3.3 suggests 64 KiB).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// Most policies kept in memory (the disk cache keeps all); when full, expired ones go
/// first, then any.
pub const MAX_CACHED_POLICIES: usize = 10_000;
/// Longest `max_age` honoured (RFC 8461 §3.2: 31557600 seconds, about a year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// What a policy asks of senders (RFC 8461 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deliver only to matching MX hosts over verified TLS.
    Enforce,
    /// Deliver as usual, report what enforcement would refuse.
    Testing,
    /// The domain withdrew its policy.
    None,
}

impl Mode {
    /// The policy file's word for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A parsed policy (RFC 8461 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// MX patterns, lowercase: `mx.example.kr` or `*.example.kr`.
    pub mx: Vec<String>,
    /// Seconds the policy may be cached.
    pub max_age: u64,
}

impl Policy {
    /// Parses a policy file; the error says which line or field is wrong.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let (mut version, mut mode, mut max_age) = (None, None, None);
        let mut mx = Vec::new();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(format!("line without a colon: {line:?}"));
            };
            let value = value.trim();
            match key.trim() {
                "version" => version = Some(value.to_string()),
                "mode" => {
                    mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        other => return Err(format!("unknown mode {other:?}")),
                    })
                }
                "max_age" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| format!("max_age is not a number: {value:?}"))?;
                    max_age = Some(secs.min(MAX_AGE_LIMIT));
                }
                "mx" => mx.push(value.trim_end_matches('.').to_ascii_lowercase()),
                _ => {} // §3.2: unknown fields are ignored
            }
        }
        if version.as_deref() != Some("STSv1") {
            return Err("version is not STSv1".into());
        }
        let mode = mode.ok_or("no mode")?;
        let max_age = max_age.ok_or("no max_age")?;
        if mx.is_empty() && mode != Mode::None {
            return Err("no mx".into());
        }
        Ok(Policy { mode, mx, max_age })
    }

    /// RFC 8461 §4.1: whether `host` matches an `mx` pattern (a wildcard stands for
    /// exactly one leftmost label).
    pub fn allows_mx(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(parent) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
                None => *pattern == host,
            })
    }
}

/// `v=STSv1; id=…` (RFC 8461 §3.1): the id of the one STSv1 record, `None` when there is
/// no such record or more than one.
pub fn record_id(records: &[String]) -> Option<String> {
    let sts: Vec<&String> = records
        .iter()
        .filter(|r| r.trim_start().starts_with("v=STSv1"))
        .collect();
    let [record] = sts.as_slice() else {
        return None;
    };
    record.split(';').find_map(|field| {
        let (k, v) = field.split_once('=')?;
        (k.trim() == "id" && !v.trim().is_empty()).then(|| v.trim().to_string())
    })
}

/// A policy with where it came from, as cached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cached {
    id: String,
    fetched_at: i64,
    policy: Policy,
    text: String,
}

impl Cached {
    fn fresh(&self, now: i64) -> bool {
        now < self.fetched_at.saturating_add(self.policy.max_age as i64)
    }
}

/// Where and how policies are fetched (the daemon's `[relay]` MTA-STS settings).
#[derive(Clone)]
pub struct MtaStsSettings {
    /// Verified TLS for the policy host (public roots plus the relay's CA file).
    pub tls: Arc<ClientConfig>,
    /// The HTTPS port (443; tests use another).
    pub port: u16,
    /// Time limit of the whole fetch.
    pub fetch_timeout: Duration,
    /// Where policies are kept across restarts; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
}

/// The MTA-STS policy source of the relay.
pub struct MtaSts {
    resolver: Arc<dyn Resolver>,
    settings: MtaStsSettings,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for MtaSts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtaSts")
            .field("port", &self.settings.port)
            .finish_non_exhaustive()
    }
}

impl MtaSts {
    /// A policy source asking `resolver`, fetching with `settings`, timed by `clock`.
    pub fn new(
        resolver: Arc<dyn Resolver>,
        settings: MtaStsSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            resolver,
            settings,
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The policy in force for `domain` (lowercase), or `None` when it has none.
    pub async fn policy(&self, domain: &str) -> Option<Policy> {
        let now = self.clock.now();
        let cached = self.cached(domain).filter(|c| c.fresh(now));
        let records = match self.resolver.txt(&format!("_mta-sts.{domain}")).await {
            Ok(records) => records,
            Err(e) => {
                tracing::info!(domain, error = %e.0, "MTA-STS TXT lookup failed");
                return cached.map(|c| c.policy);
            }
        };
        let Some(id) = record_id(&records) else {
            // §5.1: without a record a cached policy stays in force until it expires.
            return cached.map(|c| c.policy);
        };
        if let Some(c) = cached.as_ref().filter(|c| c.id == id) {
            return Some(c.policy.clone());
        }
        match self.fetch(domain).await {
            Ok(text) => match Policy::parse(&text) {
                Ok(policy) => {
                    let entry = Cached {
                        id,
                        fetched_at: now,
                        policy: policy.clone(),
                        text,
                    };
                    self.store(domain, entry);
                    Some(policy)
                }
                Err(e) => {
                    tracing::warn!(domain, error = %e, "MTA-STS policy does not parse");
                    cached.map(|c| c.policy)
                }
            },
            Err(e) => {
                tracing::warn!(domain, error = %e, "MTA-STS policy fetch failed");
                cached.map(|c| c.policy)
            }
        }
    }

    fn cached(&self, domain: &str) -> Option<Cached> {
        if let Some(c) = self.cache.lock().expect("MTA-STS cache lock").get(domain) {
            return Some(c.clone());
        }
        let path = self.cache_path(domain)?;
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.splitn(3, '\n');
        let id = lines.next()?.to_string();
        let fetched_at = lines.next()?.parse().ok()?;
        let body = lines.next()?.to_string();
        let policy = Policy::parse(&body).ok()?;
        let entry = Cached {
            id,
            fetched_at,
            policy,
            text: body,
        };
        let mut cache = self.cache.lock().expect("MTA-STS cache lock");
        cache.insert(domain.to_string(), entry.clone());
        Some(entry)
    }

    fn store(&self, domain: &str, entry: Cached) {
        if let Some(path) = self.cache_path(domain) {
            let text = format!("{}\n{}\n{}", entry.id, entry.fetched_at, entry.text);
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&path, text));
            if let Err(e) = written {
                tracing::warn!(domain, error = %e, path = %path.display(), "MTA-STS cache not written");
            }
        }
        let now = self.clock.now();
        let mut cache = self.cache.lock().expect("MTA-STS cache lock");
        if cache.len() >= MAX_CACHED_POLICIES {
            cache.retain(|_, c| c.fresh(now));
        }
        if cache.len() >= MAX_CACHED_POLICIES
            && let Some(any) = cache.keys().next().cloned()
        {
            cache.remove(&any);
        }
        cache.insert(domain.to_string(), entry);
    }

    /// `<cache_dir>/<domain>.policy`, for a domain that is a plain host name.
    fn cache_path(&self, domain: &str) -> Option<PathBuf> {
        let dir = self.settings.cache_dir.as_ref()?;
        let plain = !domain.is_empty()
            && !domain.starts_with('.')
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        plain.then(|| dir.join(format!("{domain}.policy")))
    }

    /// RFC 8461 §3.3: GET the policy over verified HTTPS, no redirects, status 200.
    async fn fetch(&self, domain: &str) -> Result<String, String> {
        let host = format!("mta-sts.{domain}");
        let ips = self.resolver.ip(&host).await.map_err(|e| e.0)?;
        let ip = ips.first().ok_or(format!("{host} has no address"))?;
        let addr = SocketAddr::new(*ip, self.settings.port);
        let name = ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
        let connector = TlsConnector::from(Arc::clone(&self.settings.tls));
        let fetch = async {
            let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}: {e}"))?;
            let request = hyper::Request::get("/.well-known/mta-sts.txt")
                .header(hyper::header::HOST, host.as_str())
                .header(hyper::header::CONNECTION, "close")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .map_err(|e| e.to_string())?;
            crate::http_client::exchange(tls, request, MAX_POLICY_BYTES).await
        };
        let (status, body) = timeout(self.settings.fetch_timeout, fetch)
            .await
            .map_err(|_| format!("{host} did not answer in time"))?
            .map_err(|e| format!("{host}: {e}"))?;
        policy_body(status, &body).map_err(|e| format!("{host}: {e}"))
    }
}

/// The policy text of an answer, which must be `200` (RFC 8461 §3.3: redirects are not
/// followed) and UTF-8.
fn policy_body(status: u16, body: &[u8]) -> Result<String, String> {
    if status != 200 {
        return Err(format!("answered {status} (only 200 is accepted)"));
    }
    String::from_utf8(body.to_vec()).map_err(|_| "policy is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_parses_and_matches_mx_names_per_rfc_8461() {
        let text = "version: STSv1\r\nmode: enforce\r\nmx: mx.remote.kr\r\nmx: *.backup.remote.kr\r\nmax_age: 86400\r\n";
        let p = Policy::parse(text).expect("valid");
        assert_eq!((p.mode, p.max_age), (Mode::Enforce, 86_400));
        assert!(p.allows_mx("mx.remote.kr"));
        assert!(p.allows_mx("MX.Remote.KR."));
        assert!(p.allows_mx("a.backup.remote.kr"));
        assert!(!p.allows_mx("a.b.backup.remote.kr"), "one label only");
        assert!(!p.allows_mx("backup.remote.kr"));
        assert!(!p.allows_mx("mx.evil.kr"));
    }

    #[test]
    fn bad_policies_are_refused_with_the_reason() {
        let no_version = Policy::parse("mode: enforce\nmx: a.kr\nmax_age: 1\n");
        assert_eq!(no_version, Err("version is not STSv1".into()));
        let mode = Policy::parse("version: STSv1\nmode: strict\nmx: a.kr\nmax_age: 1\n");
        assert_eq!(mode, Err("unknown mode \"strict\"".into()));
        let long = Policy::parse("version: STSv1\nmode: testing\nmx: a.kr\nmax_age: 99999999999\n");
        assert_eq!(long.expect("valid").max_age, MAX_AGE_LIMIT);
    }

    #[test]
    fn the_txt_record_needs_exactly_one_stsv1_with_an_id() {
        let one = vec!["v=STSv1; id=20261207T010101;".to_string()];
        assert_eq!(record_id(&one), Some("20261207T010101".into()));
        let two = vec![one[0].clone(), "v=STSv1; id=other".to_string()];
        assert_eq!(record_id(&two), None);
        assert_eq!(record_id(&["v=spf1 -all".to_string()]), None);
    }

    #[test]
    fn only_a_200_response_gives_a_policy() {
        assert_eq!(policy_body(200, b"hello"), Ok("hello".into()));
        assert!(policy_body(301, b"").expect_err("redirect").contains("301"));
        assert!(policy_body(200, b"\xff").is_err());
    }
}
