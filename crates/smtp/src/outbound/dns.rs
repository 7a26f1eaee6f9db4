//! The [`Resolver`] on hickory-resolver, with explicit name servers (the daemon's
//! `[relay] dns_servers`, or those of `/etc/resolv.conf`), so tests and operators can point
//! it at a DNS server of their choice.
//!
//! With DNSSEC validation on ([`HickoryResolver::validating`], the daemon's `[relay] dane`)
//! hickory validates every answer itself up to its trust anchors (the root KSKs it ships,
//! or the DNSKEY records of `[relay] dnssec_trust_anchor`): a bogus answer is a
//! [`DnsFailure`] (the mail waits), a secure one is marked so for DANE. The name servers'
//! AD bit is never trusted.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::dnssec::TrustAnchors;
use hickory_resolver::proto::rr::{RData, Record, RecordType};

use super::dane::Tlsa;
use super::route::{DnsFailure, MxAnswer, Resolver, Validated};
use crate::error::Error;

/// A hickory resolver over UDP and TCP.
pub struct HickoryResolver {
    inner: TokioResolver,
    validates: bool,
}

/// Where a validating resolver's trust anchors come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustAnchor {
    /// The root zone's KSKs that hickory ships (IANA's).
    Root,
    /// DNSKEY records in a file (zone-file syntax), e.g. a test zone's KSK.
    File(std::path::PathBuf),
}

impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryResolver").finish_non_exhaustive()
    }
}

impl HickoryResolver {
    /// A resolver asking `servers` (address and port each); with none, those listed in
    /// `/etc/resolv.conf`.
    pub fn new(servers: &[SocketAddr]) -> Result<Self, Error> {
        Self::build(servers, None)
    }

    /// A resolver like [`HickoryResolver::new`] that validates DNSSEC up to `anchor`.
    pub fn validating(servers: &[SocketAddr], anchor: &TrustAnchor) -> Result<Self, Error> {
        let anchors = match anchor {
            TrustAnchor::Root => TrustAnchors::default(),
            TrustAnchor::File(path) => TrustAnchors::from_file(path)
                .map_err(|e| Error::Dns(format!("DNSSEC trust anchor {}: {e}", path.display())))?,
        };
        Self::build(servers, Some(std::sync::Arc::new(anchors)))
    }

    fn build(
        servers: &[SocketAddr],
        anchors: Option<std::sync::Arc<TrustAnchors>>,
    ) -> Result<Self, Error> {
        let servers = if servers.is_empty() {
            system_servers()?
        } else {
            servers.to_vec()
        };
        let name_servers = servers
            .iter()
            .map(|s| {
                let mut udp = ConnectionConfig::udp();
                udp.port = s.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = s.port();
                NameServerConfig::new(s.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_parts(None, Vec::new(), name_servers);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        let validates = anchors.is_some();
        if let Some(anchors) = anchors {
            builder = builder.with_trust_anchor(anchors);
        }
        let inner = builder.build().map_err(|e| Error::Dns(e.to_string()))?;
        Ok(Self { inner, validates })
    }

    async fn mx_lookup(&self, domain: &str) -> Result<Validated<MxAnswer>, DnsFailure> {
        match self.inner.mx_lookup(fqdn(domain)).await {
            Ok(lookup) => {
                let hosts: Vec<(u16, String)> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some((mx.preference, mx.exchange.to_utf8())),
                        _ => None,
                    })
                    .collect();
                let secure = self.all_secure(lookup.answers(), RecordType::MX);
                Ok(Validated {
                    value: if hosts.is_empty() {
                        MxAnswer::NoRecords
                    } else {
                        MxAnswer::Hosts(hosts)
                    },
                    secure,
                })
            }
            // A missing domain or MX RRset is not marked secure: DANE then does not apply
            // to the implicit MX (a documented limit).
            Err(e) if e.is_nx_domain() => Ok(Validated::insecure(MxAnswer::NoDomain)),
            Err(e) if e.is_no_records_found() => Ok(Validated::insecure(MxAnswer::NoRecords)),
            Err(e) => Err(failure(e)),
        }
    }

    /// Whether this resolver validates and every record of type `kind` is secure.
    fn all_secure(&self, records: &[Record], kind: RecordType) -> bool {
        let mut of_kind = records
            .iter()
            .filter(|r| r.record_type() == kind)
            .peekable();
        self.validates && of_kind.peek().is_some() && of_kind.all(|r| r.proof.is_secure())
    }
}

/// A lookup error as the relay reports it (a bogus answer says so).
fn failure(e: impl std::fmt::Display) -> DnsFailure {
    let text = e.to_string();
    if text.to_ascii_lowercase().contains("bogus") {
        DnsFailure(format!("DNSSEC validation failed (bogus answer): {text}"))
    } else {
        DnsFailure(text)
    }
}

/// The `nameserver` lines of `/etc/resolv.conf`, port 53.
fn system_servers() -> Result<Vec<SocketAddr>, Error> {
    let text = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| Error::Dns(format!("/etc/resolv.conf: {e}")))?;
    let servers: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if servers.is_empty() {
        return Err(Error::Dns("no nameserver in /etc/resolv.conf".into()));
    }
    Ok(servers)
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

#[async_trait::async_trait]
impl Resolver for HickoryResolver {
    async fn mx(&self, domain: &str) -> Result<MxAnswer, DnsFailure> {
        self.mx_lookup(domain).await.map(|v| v.value)
    }

    async fn mx_validated(&self, domain: &str) -> Result<Validated<MxAnswer>, DnsFailure> {
        self.mx_lookup(domain).await
    }

    async fn ip_validated(&self, host: &str) -> Result<Validated<Vec<IpAddr>>, DnsFailure> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Validated::insecure(vec![ip]));
        }
        match self.inner.lookup_ip(fqdn(host)).await {
            Ok(lookup) => {
                let records = lookup.as_lookup().answers();
                let secure = self.all_secure(records, RecordType::A)
                    || self.all_secure(records, RecordType::AAAA);
                Ok(Validated {
                    value: lookup.iter().collect(),
                    secure,
                })
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => {
                Ok(Validated::insecure(Vec::new()))
            }
            Err(e) => Err(failure(e)),
        }
    }

    async fn tlsa(&self, name: &str) -> Result<Validated<Vec<Tlsa>>, DnsFailure> {
        if !self.validates {
            return Ok(Validated::insecure(Vec::new()));
        }
        match self.inner.lookup(fqdn(name), RecordType::TLSA).await {
            Ok(lookup) => {
                let records = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::TLSA(t) => Some(Tlsa {
                            usage: t.cert_usage.into(),
                            selector: t.selector.into(),
                            matching: t.matching.into(),
                            data: t.cert_data.clone(),
                        }),
                        _ => None,
                    })
                    .collect();
                let secure = self.all_secure(lookup.answers(), RecordType::TLSA);
                Ok(Validated {
                    value: records,
                    secure,
                })
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => {
                Ok(Validated::insecure(Vec::new()))
            }
            Err(e) => Err(failure(e)),
        }
    }

    async fn ip(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        match self.inner.lookup_ip(fqdn(host)).await {
            Ok(lookup) => Ok(lookup.iter().collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(failure(e)),
        }
    }

    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsFailure> {
        match self.inner.txt_lookup(fqdn(name)).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(failure(e)),
        }
    }
}
