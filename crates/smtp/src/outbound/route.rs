//! Where a domain's mail goes: MX records with the A/AAAA fallback (RFC 5321 §5.1) and
//! null MX (RFC 7505), through a [`Resolver`] that tests replace with a [`StaticResolver`].

use std::collections::HashMap;
use std::net::IpAddr;

use super::dane::Tlsa;
use super::reply::RemoteReply;

/// The answer to an MX query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// MX records: (preference, exchange host without the trailing dot).
    Hosts(Vec<(u16, String)>),
    /// The domain exists and has no MX records: use its A/AAAA records (RFC 5321 §5.1).
    NoRecords,
    /// The domain does not exist (NXDOMAIN).
    NoDomain,
}

/// An answer with its DNSSEC status: `secure` when every record validated up to a trust
/// anchor (RFC 4033 §5); `false` for an unsigned zone or a resolver that does not validate.
/// (A bogus answer is never returned: it is a [`DnsFailure`].)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated<T> {
    /// The answer.
    pub value: T,
    /// Whether it is DNSSEC-secure.
    pub secure: bool,
}

impl<T> Validated<T> {
    /// An answer that is not DNSSEC-secure.
    pub fn insecure(value: T) -> Self {
        Self {
            value,
            secure: false,
        }
    }
}

/// A DNS failure that may go away (SERVFAIL, timeout, no server reachable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsFailure(pub String);

/// DNS lookups the relay needs.
#[async_trait::async_trait]
pub trait Resolver: Send + Sync + 'static {
    /// The MX records of `domain`.
    async fn mx(&self, domain: &str) -> Result<MxAnswer, DnsFailure>;
    /// The IPv4 and IPv6 addresses of `host` (empty if it has none).
    async fn ip(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure>;
    /// The TXT records of `name`, each one's strings joined (empty if none, or the name
    /// does not exist). MTA-STS (RFC 8461 §3.1) asks for `_mta-sts.<domain>`.
    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsFailure> {
        let _ = name;
        Ok(Vec::new())
    }
    /// The MX records of `domain` with their DNSSEC status (DANE, RFC 7672 §2.2.1, needs a
    /// secure MX answer).
    async fn mx_validated(&self, domain: &str) -> Result<Validated<MxAnswer>, DnsFailure> {
        self.mx(domain).await.map(Validated::insecure)
    }
    /// The addresses of `host` with their DNSSEC status (RFC 7672 §2.2.2: TLSA records are
    /// looked up only for a host whose addresses are secure).
    async fn ip_validated(&self, host: &str) -> Result<Validated<Vec<IpAddr>>, DnsFailure> {
        self.ip(host).await.map(Validated::insecure)
    }
    /// The TLSA records at `name` (`_25._tcp.<host>`) with their DNSSEC status; none from a
    /// resolver that does not validate.
    async fn tlsa(&self, name: &str) -> Result<Validated<Vec<Tlsa>>, DnsFailure> {
        let _ = name;
        Ok(Validated::insecure(Vec::new()))
    }
}

/// A resolver answering from tables (tests, and fixed routes).
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    /// MX answers by domain (lowercase); a missing domain is NXDOMAIN.
    pub mx: HashMap<String, MxAnswer>,
    /// Addresses by host (lowercase).
    pub ips: HashMap<String, Vec<IpAddr>>,
    /// TXT records by name (lowercase).
    pub txt: HashMap<String, Vec<String>>,
}

impl StaticResolver {
    /// Adds MX records for a domain.
    pub fn with_mx(mut self, domain: &str, hosts: &[(u16, &str)]) -> Self {
        let hosts = hosts.iter().map(|(p, h)| (*p, h.to_string())).collect();
        self.mx
            .insert(domain.to_ascii_lowercase(), MxAnswer::Hosts(hosts));
        self
    }

    /// Adds a TXT record to a name.
    pub fn with_txt(mut self, name: &str, record: &str) -> Self {
        let name = name.to_ascii_lowercase();
        self.txt.entry(name).or_default().push(record.to_string());
        self
    }

    /// Adds addresses for a host (and makes its domain exist without MX records).
    pub fn with_host(mut self, host: &str, ips: &[IpAddr]) -> Self {
        let host = host.to_ascii_lowercase();
        self.mx.entry(host.clone()).or_insert(MxAnswer::NoRecords);
        self.ips.insert(host, ips.to_vec());
        self
    }
}

#[async_trait::async_trait]
impl Resolver for StaticResolver {
    async fn mx(&self, domain: &str) -> Result<MxAnswer, DnsFailure> {
        Ok(self
            .mx
            .get(&domain.to_ascii_lowercase())
            .cloned()
            .unwrap_or(MxAnswer::NoDomain))
    }

    async fn ip(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        Ok(self
            .ips
            .get(&host.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default())
    }

    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsFailure> {
        Ok(self
            .txt
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default())
    }
}

/// The hosts to try for `domain`, most preferred first; or the reply that fails its
/// recipients (permanent for null MX and a missing domain, temporary for DNS trouble).
pub async fn mx_hosts(resolver: &dyn Resolver, domain: &str) -> Result<Vec<String>, RemoteReply> {
    mx_hosts_validated(resolver, domain).await.map(|v| v.value)
}

/// [`mx_hosts`] with the DNSSEC status of the MX answer (DANE needs it secure).
pub async fn mx_hosts_validated(
    resolver: &dyn Resolver,
    domain: &str,
) -> Result<Validated<Vec<String>>, RemoteReply> {
    let answer = resolver
        .mx_validated(domain)
        .await
        .map_err(|DnsFailure(e)| {
            RemoteReply::local(451, "4.4.3", format!("DNS lookup of {domain} failed: {e}"))
        })?;
    let secure = answer.secure;
    hosts_of(answer.value, domain).map(|value| Validated { value, secure })
}

fn hosts_of(answer: MxAnswer, domain: &str) -> Result<Vec<String>, RemoteReply> {
    match answer {
        MxAnswer::NoDomain => Err(RemoteReply::local(
            550,
            "5.1.2",
            format!("the domain {domain} does not exist"),
        )),
        // RFC 5321 §5.1: no MX records: the domain itself is the implicit MX.
        MxAnswer::NoRecords => Ok(vec![domain.to_string()]),
        MxAnswer::Hosts(mut hosts) => {
            let is_null = |h: &str| h.is_empty() || h == ".";
            // RFC 7505 §3: a single MX of "." with preference 0 says "no mail here".
            if hosts.iter().any(|(_, h)| is_null(h)) {
                return Err(RemoteReply::local(
                    556,
                    "5.1.10",
                    format!("the domain {domain} accepts no mail (null MX)"),
                ));
            }
            hosts.sort_by_key(|(pref, _)| *pref); // stable: DNS order within a preference
            let mut out: Vec<String> = Vec::new();
            for (_, h) in hosts {
                let h = h.trim_end_matches('.').to_ascii_lowercase();
                if !out.contains(&h) {
                    out.push(h);
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mx_order_fallback_null_mx_and_missing_domain() {
        let r = StaticResolver::default()
            .with_mx("a.kr", &[(20, "mx2.a.kr."), (10, "mx1.a.kr")])
            .with_mx("null.kr", &[(0, ".")])
            .with_host("plain.kr", &["192.0.2.1".parse().expect("ip")]);
        assert_eq!(
            mx_hosts(&r, "a.kr").await,
            Ok(vec!["mx1.a.kr".to_string(), "mx2.a.kr".to_string()])
        );
        assert_eq!(mx_hosts(&r, "plain.kr").await, Ok(vec!["plain.kr".into()]));
        let null = mx_hosts(&r, "null.kr").await.expect_err("null MX");
        assert_eq!((null.code, null.status()), (556, "5.1.10".to_string()));
        let missing = mx_hosts(&r, "nowhere.kr").await.expect_err("NXDOMAIN");
        assert!(missing.is_permanent());
    }
}
