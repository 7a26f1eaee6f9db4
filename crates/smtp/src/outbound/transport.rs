//! From a destination to an open connection: the [`Transport`] the queue runner uses, and
//! [`SmtpTransport`], which routes by MX or to a smarthost and opens [`SmtpClient`]s.
//!
//! The runner only sees the traits, so its tests can script a remote end without sockets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::Clock;
use super::client::{
    ClientError, ConnectOptions, Outgoing, Sent, SmtpClient, Timeouts, TlsRequirement,
};
use super::dane;
use super::mta_sts::{Mode, MtaSts, Policy};
use super::reply::RemoteReply;
use super::route::{Resolver, mx_hosts_validated};
use super::tls::ClientTls;
use super::tlsrpt::{Outcome, PolicyKey, TlsReportBook};

/// Where mail is delivered, as the runner sees it.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// The destination mail for `domain` goes to: recipients with the same destination
    /// share a transaction, and destinations are the unit of connection reuse and limits.
    fn destination(&self, domain: &str) -> String;
    /// Opens a connection to a destination, or says why not (a local reply: permanent for
    /// null MX or a missing domain, temporary otherwise).
    async fn connect(&self, destination: &str) -> Result<Box<dyn Connection>, RemoteReply>;
}

/// An open connection to a destination.
#[async_trait::async_trait]
pub trait Connection: Send {
    /// Runs one transaction; `Err` applies to every recipient of the message.
    async fn send(&mut self, message: &Outgoing<'_>) -> Result<Sent, RemoteReply>;
    /// The remote host, for DSNs (`Remote-MTA`).
    fn remote(&self) -> String;
    /// Whether another message may follow on this connection.
    fn reusable(&self) -> bool;
    /// Whether the server takes 8-bit content (8BITMIME, RFC 6152); mail for one that
    /// does not is converted to 7-bit first.
    fn takes_8bit(&self) -> bool {
        true
    }
    /// Ends the connection politely.
    async fn close(self: Box<Self>);
}

#[async_trait::async_trait]
impl Connection for SmtpClient {
    async fn send(&mut self, message: &Outgoing<'_>) -> Result<Sent, RemoteReply> {
        SmtpClient::send(self, message).await.map_err(|e| e.reply())
    }
    fn remote(&self) -> String {
        self.host().to_string()
    }
    fn reusable(&self) -> bool {
        self.is_reusable()
    }
    fn takes_8bit(&self) -> bool {
        self.capabilities().eight_bit_mime
    }
    async fn close(self: Box<Self>) {
        self.quit().await;
    }
}

/// A per-domain TLS policy for MX delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// STARTTLS if offered, any certificate; cleartext otherwise (the default; Postfix `may`).
    May,
    /// STARTTLS required, any certificate (Postfix `encrypt`).
    Encrypt,
    /// STARTTLS required with a certificate that verifies for the MX host (Postfix `secure`).
    Verify,
}

impl TlsPolicy {
    fn requirement(self) -> TlsRequirement {
        match self {
            TlsPolicy::May => TlsRequirement::Opportunistic,
            TlsPolicy::Encrypt => TlsRequirement::Encrypt,
            TlsPolicy::Verify => TlsRequirement::Verify,
        }
    }
}

/// How the smarthost connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmarthostTls {
    /// STARTTLS, required.
    StartTls,
    /// TLS from the first byte (usually port 465).
    Implicit,
    /// STARTTLS if offered (any certificate), else cleartext.
    Opportunistic,
}

/// A relay all outbound mail goes through.
#[derive(Debug, Clone)]
pub struct Smarthost {
    /// Host name (or IP address) to connect to; also the certificate name checked.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS mode.
    pub tls: SmarthostTls,
    /// With TLS, whether the certificate must verify for `host` (on by default).
    pub verify: bool,
}

/// The route of all outbound mail.
#[derive(Clone)]
pub enum Route {
    /// MX lookup per domain, port `port` (25 except in tests).
    Mx {
        /// The DNS resolver.
        resolver: Arc<dyn Resolver>,
        /// The port of every MX host.
        port: u16,
    },
    /// Everything through one relay.
    Smarthost(Smarthost),
}

/// The real transport: SMTP over TCP with TLS.
pub struct SmtpTransport {
    route: Route,
    tls: ClientTls,
    helo: String,
    timeouts: Timeouts,
    default_policy: TlsPolicy,
    domain_policies: HashMap<String, TlsPolicy>,
    mta_sts: Option<Arc<MtaSts>>,
    tls_reports: Option<(Arc<TlsReportBook>, Arc<dyn Clock>)>,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("helo", &self.helo)
            .finish_non_exhaustive()
    }
}

/// The destination key every recipient gets with a smarthost.
pub const SMARTHOST_DESTINATION: &str = "[smarthost]";
/// Most MX hosts tried per connection attempt.
const MAX_MX_HOSTS: usize = 5;
/// Most addresses tried per connection attempt.
const MAX_ADDRESSES: usize = 10;

impl SmtpTransport {
    /// A transport that says EHLO `helo`.
    pub fn new(route: Route, tls: ClientTls, helo: &str, timeouts: Timeouts) -> Self {
        Self {
            route,
            tls,
            helo: helo.to_string(),
            timeouts,
            default_policy: TlsPolicy::May,
            domain_policies: HashMap::new(),
            mta_sts: None,
            tls_reports: None,
        }
    }

    /// Records each MX session's TLS result in `book` (TLS reporting, RFC 8460).
    pub fn with_tls_reports(mut self, book: Arc<TlsReportBook>, clock: Arc<dyn Clock>) -> Self {
        self.tls_reports = Some((book, clock));
        self
    }

    fn record(&self, domain: &str, policy: &PolicyKey, host: &str, outcome: Option<Outcome>) {
        if let (Some((book, clock)), Some(outcome)) = (&self.tls_reports, outcome) {
            book.record(clock.now(), domain, policy, host, outcome);
        }
    }

    /// Looks up and applies MTA-STS policies (RFC 8461) for MX delivery; they take
    /// precedence over the local TLS policy (see [`super::mta_sts`]).
    pub fn with_mta_sts(mut self, mta_sts: Arc<MtaSts>) -> Self {
        self.mta_sts = Some(mta_sts);
        self
    }

    /// The TLS policy of MX delivery: `default` for every domain not in `per_domain`
    /// (lowercase domain names).
    pub fn with_tls_policy(
        mut self,
        default: TlsPolicy,
        per_domain: HashMap<String, TlsPolicy>,
    ) -> Self {
        self.default_policy = default;
        self.domain_policies = per_domain;
        self
    }

    async fn connect_host(
        &self,
        host: &str,
        addrs: &[SocketAddr],
        implicit_tls: bool,
        requirement: TlsRequirement,
        dane: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<SmtpClient, RemoteReply> {
        let mut last = RemoteReply::local(451, "4.4.4", format!("{host} has no address"));
        for addr in addrs.iter().take(MAX_ADDRESSES) {
            let mut options = ConnectOptions {
                addr: *addr,
                host: host.to_string(),
                helo: self.helo.clone(),
                implicit_tls,
                requirement,
                dane: dane.clone(),
                timeouts: self.timeouts,
            };
            match SmtpClient::connect(&options, &self.tls).await {
                Ok(c) => return Ok(c),
                // Postfix `may`: a failed handshake is retried in cleartext.
                Err(ClientError::TlsHandshake(e))
                    if requirement == TlsRequirement::Opportunistic && !implicit_tls =>
                {
                    tracing::info!(host, %addr, error = %e, "TLS handshake failed; trying without TLS");
                    options.requirement = TlsRequirement::None;
                    match SmtpClient::connect(&options, &self.tls).await {
                        Ok(c) => return Ok(c),
                        Err(e) => last = e.reply(),
                    }
                }
                Err(e) => last = e.reply(),
            }
            tracing::info!(host, %addr, error = %last, "connection attempt failed");
        }
        Err(last)
    }

    /// MX delivery, TLS by precedence: per host DANE (a secure MX answer, secure addresses
    /// and usable TLSA records), else the domain's MTA-STS policy in `enforce` mode, else
    /// the local `tls_policy`.
    async fn connect_mx(
        &self,
        resolver: &dyn Resolver,
        port: u16,
        domain: &str,
    ) -> Result<SmtpClient, RemoteReply> {
        let mx = mx_hosts_validated(resolver, domain).await?;
        let policy = *self
            .domain_policies
            .get(domain)
            .unwrap_or(&self.default_policy);
        let sts = match &self.mta_sts {
            Some(source) => source.policy(domain).await,
            None => None,
        };
        let enforced = sts.as_ref().is_some_and(|p| p.mode == Mode::Enforce);
        let hosts = sts_hosts(domain, sts.as_ref(), mx.value)?;
        let plan = DomainPlan {
            domain,
            port,
            mx_secure: mx.secure,
            enforced,
            // RFC 8461 §4.2: an enforce policy needs a verified certificate.
            requirement: if enforced {
                TlsRequirement::Verify
            } else {
                policy.requirement()
            },
            sts: sts_key(sts.as_ref()),
        };
        let mut last = RemoteReply::local(451, "4.4.4", format!("no mail host for {domain}"));
        for host in hosts.iter().take(MAX_MX_HOSTS) {
            match self.try_host(resolver, &plan, host).await {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// One MX host of a domain: DANE when it applies, else the domain's policy; the
    /// session's TLS result is recorded for TLS reporting.
    async fn try_host(
        &self,
        resolver: &dyn Resolver,
        plan: &DomainPlan<'_>,
        host: &str,
    ) -> Result<SmtpClient, RemoteReply> {
        let (domain, port) = (plan.domain, plan.port);
        let ips = resolver.ip_validated(host).await.map_err(|e| {
            RemoteReply::local(451, "4.4.3", format!("DNS lookup of {host}: {}", e.0))
        })?;
        let addrs: Vec<SocketAddr> = (ips.value.iter())
            .map(|ip| SocketAddr::new(*ip, port))
            .collect();
        // RFC 7672 §2.2: TLSA records count only under a secure MX and address chain.
        let dane = if plan.mx_secure && ips.secure {
            self.dane_config(resolver, host, port)
                .await
                .inspect_err(|e| {
                    let failed = Outcome::Failure("dnssec-invalid".into(), e.text());
                    self.record(domain, &tlsa_unknown(), host, Some(failed));
                })?
        } else {
            None
        };
        let (attempt, policy) = match dane {
            Some((config, policy)) => {
                let r = self.connect_host(host, &addrs, false, TlsRequirement::Dane, Some(config));
                let r = r.await.map_err(|e| {
                    let why = format!("DANE (TLSA records of {host}): {}", e.text());
                    RemoteReply::local(e.code, &e.status(), why)
                });
                (r, policy)
            }
            None => {
                let r = self.connect_host(host, &addrs, false, plan.requirement, None);
                let r = r.await.map_err(|e| {
                    if plan.enforced {
                        let why = format!("MTA-STS policy of {domain} (enforce): {}", e.text());
                        RemoteReply::local(e.code, &e.status(), why)
                    } else {
                        e
                    }
                });
                (r, plan.sts.clone())
            }
        };
        self.record(domain, &policy, host, outcome_of(&attempt));
        attempt
    }

    /// The DANE config of `host` when its TLSA RRset is secure and has usable records;
    /// `None` when DANE does not apply; a temporary failure when the TLSA lookup failed
    /// (bogus or unanswered: RFC 7672 §2.2 forbids delivering without it).
    async fn dane_config(
        &self,
        resolver: &dyn Resolver,
        host: &str,
        port: u16,
    ) -> Result<Option<(Arc<rustls::ClientConfig>, PolicyKey)>, RemoteReply> {
        let name = format!("_{port}._tcp.{host}");
        let tlsa = resolver.tlsa(&name).await.map_err(|e| {
            RemoteReply::local(
                451,
                "4.7.5",
                format!(
                    "DANE: the TLSA lookup of {name} failed, so {host} is not tried: {}",
                    e.0
                ),
            )
        })?;
        let records = dane::usable(tlsa.value);
        if !tlsa.secure || records.is_empty() {
            return Ok(None);
        }
        let policy = PolicyKey {
            kind: "tlsa".into(),
            strings: records.iter().map(dane::Tlsa::to_string).collect(),
        };
        let config = self.tls.dane(records);
        config
            .map(|c| Some((c, policy)))
            .map_err(|e| RemoteReply::local(451, "4.7.5", format!("DANE config for {host}: {e}")))
    }

    async fn connect_smarthost(&self, relay: &Smarthost) -> Result<SmtpClient, RemoteReply> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((relay.host.as_str(), relay.port))
            .await
            .map_err(|e| {
                RemoteReply::local(451, "4.4.3", format!("looking up {}: {e}", relay.host))
            })?
            .collect();
        let requirement = match (relay.tls, relay.verify) {
            (SmarthostTls::Opportunistic, _) => TlsRequirement::Opportunistic,
            (_, true) => TlsRequirement::Verify,
            (_, false) => TlsRequirement::Encrypt,
        };
        let implicit = relay.tls == SmarthostTls::Implicit;
        self.connect_host(&relay.host, &addrs, implicit, requirement, None)
            .await
    }
}

/// What holds for every MX host of one domain.
struct DomainPlan<'a> {
    domain: &'a str,
    port: u16,
    mx_secure: bool,
    enforced: bool,
    requirement: TlsRequirement,
    /// The TLS-RPT policy without DANE.
    sts: PolicyKey,
}

/// The TLS-RPT policy of a session without DANE: the MTA-STS policy, or none.
fn sts_key(policy: Option<&Policy>) -> PolicyKey {
    match policy.filter(|p| p.mode != Mode::None) {
        Some(p) => PolicyKey {
            kind: "sts".into(),
            strings: std::iter::once("version: STSv1".to_string())
                .chain(std::iter::once(format!("mode: {}", p.mode.as_str())))
                .chain(p.mx.iter().map(|m| format!("mx: {m}")))
                .chain(std::iter::once(format!("max_age: {}", p.max_age)))
                .collect(),
        },
        None => PolicyKey {
            kind: "no-policy-found".into(),
            strings: Vec::new(),
        },
    }
}

/// A DANE policy whose records could not be read (the TLSA lookup failed).
fn tlsa_unknown() -> PolicyKey {
    PolicyKey {
        kind: "tlsa".into(),
        strings: Vec::new(),
    }
}

/// The TLS result of one connection attempt (RFC 8460 §4.3 result types); `None` for a
/// failure that is no TLS matter (network, a refusing greeting).
fn outcome_of(attempt: &Result<SmtpClient, RemoteReply>) -> Option<Outcome> {
    let e = match attempt {
        Ok(c) if c.is_tls() => return Some(Outcome::Success),
        Ok(_) => {
            let why = "delivered in cleartext: no STARTTLS, or its handshake failed";
            return Some(Outcome::Failure(
                "starttls-not-supported".into(),
                why.into(),
            ));
        }
        Err(e) => e,
    };
    let text = e.text();
    let lower = text.to_ascii_lowercase();
    let has = |a: &str, b: &str| lower.contains(a) || lower.contains(b);
    let kind = if e.status() == "4.7.10" {
        "starttls-not-supported"
    } else if !text.contains("TLS handshake failed") {
        return None;
    } else if text.contains("usable TLSA records") {
        "tlsa-invalid"
    } else if has("notvalidforname", "not valid for name") {
        "certificate-host-mismatch"
    } else if lower.contains("expired") {
        "certificate-expired"
    } else if has("unknownissuer", "unknown issuer") {
        "certificate-not-trusted"
    } else {
        "validation-failure"
    };
    Some(Outcome::Failure(kind.into(), text))
}

/// RFC 8461 §4.1: the MX hosts an `enforce` policy allows (none: a temporary failure
/// that says so); `testing` keeps them all and logs the ones enforcement would skip.
fn sts_hosts(
    domain: &str,
    policy: Option<&Policy>,
    hosts: Vec<String>,
) -> Result<Vec<String>, RemoteReply> {
    let Some(policy) = policy.filter(|p| p.mode != Mode::None) else {
        return Ok(hosts);
    };
    let (allowed, refused): (Vec<String>, Vec<String>) =
        hosts.into_iter().partition(|h| policy.allows_mx(h));
    if policy.mode == Mode::Testing {
        for host in &refused {
            tracing::warn!(domain, host, patterns = ?policy.mx, "MTA-STS (testing): MX host not in the policy; delivering anyway");
        }
        return Ok(allowed.into_iter().chain(refused).collect());
    }
    if allowed.is_empty() {
        return Err(RemoteReply::local(
            451,
            "4.7.5",
            format!(
                "MTA-STS policy of {domain} (enforce): none of its MX hosts ({}) is among the \
                 policy's ({}); the mail stays queued until DNS or the policy is fixed",
                refused.join(", "),
                policy.mx.join(", ")
            ),
        ));
    }
    Ok(allowed)
}

#[async_trait::async_trait]
impl Transport for SmtpTransport {
    fn destination(&self, domain: &str) -> String {
        match &self.route {
            Route::Mx { .. } => domain.to_ascii_lowercase(),
            Route::Smarthost(_) => SMARTHOST_DESTINATION.to_string(),
        }
    }

    async fn connect(&self, destination: &str) -> Result<Box<dyn Connection>, RemoteReply> {
        let client = match &self.route {
            Route::Mx { resolver, port } => {
                self.connect_mx(resolver.as_ref(), *port, destination)
                    .await?
            }
            Route::Smarthost(relay) => self.connect_smarthost(relay).await?,
        };
        Ok(Box::new(client))
    }
}
