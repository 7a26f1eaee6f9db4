//! The DNS-backed verifier: SPF (HELO and MAIL FROM), DKIM and DMARC through `mail-auth`,
//! on one resolver, and the policy that turns the results into a [`Verdict`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcOutput, DmarcResult,
    MessageAuthenticator, SpfOutput, SpfResult,
};

use super::{Disposition, InboundMessage, InboundVerifier, Verdict};
use crate::Error;
use crate::proto::Reply;

/// What the SPF (MAIL FROM), DKIM and DMARC checks of one message said.
#[derive(Clone, Copy)]
struct Checked<'c, 'x> {
    spf_mail_from: &'c SpfOutput,
    dkim: &'c [DkimOutput<'x>],
    dmarc: &'c DmarcOutput,
}

/// A DMARC policy that replaces the one a domain publishes (`[mailauth]
/// dmarc_policy_override`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcOverride {
    /// Record the result only; deliver to INBOX.
    None,
    /// Failing mail goes to Junk.
    Quarantine,
    /// Failing mail is refused.
    Reject,
}

/// Settings of the verifier (from the daemon's `[mailauth]` and `[server]` sections).
#[derive(Debug, Clone)]
pub struct VerifierSettings {
    /// Our host name: the authserv-id of the header (RFC 8601 §2.5) and SPF's `%{r}`.
    pub hostname: String,
    /// Our local domains, lowercase: mail from outside claiming them must authenticate.
    pub local_domains: Vec<String>,
    /// Name servers to ask (UDP, then TCP); empty uses the system's (/etc/resolv.conf).
    pub dns_servers: Vec<SocketAddr>,
    /// Seconds to wait for one DNS answer.
    pub dns_timeout_secs: u64,
    /// Policies that replace the published DMARC policy, per From: domain (lowercase).
    pub dmarc_policy_override: BTreeMap<String, DmarcOverride>,
}

impl Default for VerifierSettings {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            local_domains: Vec::new(),
            dns_servers: Vec::new(),
            dns_timeout_secs: 5,
            dmarc_policy_override: BTreeMap::new(),
        }
    }
}

/// The real [`InboundVerifier`]: `mail-auth` on a hickory resolver.
pub struct DnsVerifier {
    authenticator: MessageAuthenticator,
    settings: VerifierSettings,
}

impl std::fmt::Debug for DnsVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsVerifier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl DnsVerifier {
    /// A verifier asking `settings.dns_servers` (or the system's name servers).
    pub fn new(settings: VerifierSettings) -> Result<Self, Error> {
        let mut options = ResolverOpts::default();
        options.timeout = Duration::from_secs(settings.dns_timeout_secs.max(1));
        options.attempts = 2;
        // SPF and DMARC names are never in /etc/hosts; a hosts entry must not answer them.
        options.use_hosts_file = ResolveHosts::Never;
        let authenticator = if settings.dns_servers.is_empty() {
            let (config, _) = mail_auth::hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| Error::Resolver(e.to_string()))?;
            MessageAuthenticator::new(config, options)
        } else {
            let servers = settings
                .dns_servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            MessageAuthenticator::new(ResolverConfig::from_name_servers(servers), options)
        }
        .map_err(|e| Error::Resolver(e.to_string()))?;
        Ok(Self {
            authenticator,
            settings,
        })
    }

    /// The resolver this verifier asks (cheap to clone), so outbound MX lookups can share
    /// its configuration and cache (issue 8: "using the same resolver").
    pub fn resolver(&self) -> &mail_auth::hickory_resolver::TokioResolver {
        self.authenticator.resolver()
    }

    /// Runs SPF, DKIM and DMARC on a parsed message.
    async fn check(&self, m: &InboundMessage<'_>, parsed: &AuthenticatedMessage<'_>) -> Verdict {
        let auth = &self.authenticator;
        let host = self.settings.hostname.as_str();
        let helo = m.helo;
        // RFC 7208 §2.3 and §2.4: check HELO, and MAIL FROM (postmaster@HELO when null).
        let spf_helo = auth
            .verify_spf(SpfParameters::verify_ehlo(m.client_ip, helo, host))
            .await;
        let spf_mail_from = if m.mail_from.is_empty() {
            spf_helo.clone()
        } else {
            auth.verify_spf(SpfParameters::verify_mail_from(
                m.client_ip,
                helo,
                host,
                m.mail_from,
            ))
            .await
        };
        let dkim = auth.verify_dkim(parsed).await;
        let mail_from_domain = domain_of(m.mail_from).unwrap_or(helo);
        let dmarc = auth
            .verify_dmarc(DmarcParameters::new(
                parsed,
                &dkim,
                mail_from_domain,
                &spf_mail_from,
            ))
            .await;
        let header = AuthenticationResults::new(host)
            .with_dkim_results(&dkim, parsed.from())
            .with_spf_ehlo_result(&spf_helo, m.client_ip, helo)
            .with_spf_mailfrom_result(&spf_mail_from, m.client_ip, m.mail_from, helo)
            .with_dmarc_result(&dmarc)
            .to_header();
        let checked = Checked {
            spf_mail_from: &spf_mail_from,
            dkim: &dkim,
            dmarc: &dmarc,
        };
        let disposition = self.decide(m, parsed, &checked);
        tracing::info!(
            mail_from = %m.mail_from,
            ip = %m.client_ip,
            spf = ?spf_mail_from.result(),
            dmarc = ?dmarc.result(),
            policy = %dmarc.policy(),
            disposition = ?disposition,
            "mail authentication"
        );
        Verdict {
            header,
            disposition,
        }
    }

    /// The policy: our own domains first, then DMARC.
    fn decide(
        &self,
        m: &InboundMessage<'_>,
        parsed: &AuthenticatedMessage<'_>,
        checked: &Checked<'_, '_>,
    ) -> Disposition {
        if let Some(refusal) = self.own_domain_check(m, parsed, checked) {
            return Disposition::Reject(refusal);
        }
        let dmarc = checked.dmarc;
        if !matches!(dmarc.result(), DmarcResult::Fail(_)) {
            return Disposition::Deliver;
        }
        let domain = dmarc.domain().to_ascii_lowercase();
        let policy = match self.settings.dmarc_policy_override.get(&domain) {
            Some(o) => *o,
            None => match dmarc.policy() {
                Policy::Reject => DmarcOverride::Reject,
                Policy::Quarantine => DmarcOverride::Quarantine,
                Policy::None | Policy::Unspecified => DmarcOverride::None,
            },
        };
        match policy {
            DmarcOverride::None => Disposition::Deliver,
            DmarcOverride::Quarantine => Disposition::Junk,
            // RFC 7489 §6.6.3 / §10.3: reject during the SMTP transaction.
            DmarcOverride::Reject => Disposition::Reject(Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "The message claims to be from {domain}, but it is neither signed by that domain nor sent from its servers, and {domain} asks that such mail be refused (DMARC p=reject)"
                ),
            )),
        }
    }
    /// Mail from outside that claims one of our domains: the envelope sender needs an SPF
    /// pass; a From: header needs DMARC to pass, or (when the domain publishes no DMARC
    /// record) an SPF pass or DKIM signature of that same domain. DNS trouble is a `451`,
    /// so a real sender retries.
    fn own_domain_check(
        &self,
        m: &InboundMessage<'_>,
        parsed: &AuthenticatedMessage<'_>,
        checked: &Checked<'_, '_>,
    ) -> Option<Reply> {
        let Checked {
            spf_mail_from,
            dkim,
            dmarc,
        } = *checked;
        let local = |d: &str| {
            self.settings
                .local_domains
                .iter()
                .any(|l| l.eq_ignore_ascii_case(d))
        };
        let spf = spf_mail_from.result();
        if let Some(d) = domain_of(m.mail_from).filter(|d| local(d))
            && spf != SpfResult::Pass
        {
            if spf == SpfResult::TempError {
                return Some(dns_trouble(d));
            }
            return Some(Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "The sender <{}> is in our own domain {d}, but your server {} is not allowed to send for it (SPF)",
                    m.mail_from, m.client_ip
                ),
            ));
        }
        let d = parsed
            .froms()
            .iter()
            .filter_map(|a| domain_of(a))
            .find(|d| local(d))?;
        let dkim_aligned = dkim.iter().any(|o| {
            *o.result() == DkimResult::Pass
                && o.signature().is_some_and(|s| s.d.eq_ignore_ascii_case(d))
        });
        let spf_aligned = spf == SpfResult::Pass
            && domain_of(m.mail_from).is_some_and(|f| f.eq_ignore_ascii_case(d));
        match dmarc.result() {
            DmarcResult::Pass => None,
            DmarcResult::None if dkim_aligned || spf_aligned => None,
            DmarcResult::TempError(_) => Some(dns_trouble(d)),
            _ => Some(Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "The From: header claims our own domain {d}, but the message is neither signed by it nor sent from its servers (DMARC)"
                ),
            )),
        }
    }
}

#[async_trait::async_trait]
impl InboundVerifier for DnsVerifier {
    async fn verify(&self, m: InboundMessage<'_>) -> Verdict {
        let Some(parsed) = AuthenticatedMessage::parse(m.message) else {
            // Nothing to check (no header section mail-auth can read): say so, deliver.
            return Verdict {
                header: format!(
                    "Authentication-Results: {}; none (message could not be parsed)\r\n",
                    self.settings.hostname
                ),
                disposition: Disposition::Deliver,
            };
        };
        self.check(&m, &parsed).await
    }
}

/// A temporary refusal when DNS could not say whether mail for our domain is genuine.
fn dns_trouble(domain: &str) -> Reply {
    Reply::new(
        451,
        (4, 4, 3),
        format!(
            "Could not check in DNS whether your server may send for {domain}; try again later"
        ),
    )
}

/// The domain part of an address, if any.
fn domain_of(address: &str) -> Option<&str> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}
