//! The [`Resolver`] on hickory-resolver, with explicit name servers (the daemon's
//! `[relay] dns_servers`, or those of `/etc/resolv.conf`), so tests and operators can point
//! it at a DNS server of their choice.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use super::route::{DnsFailure, MxAnswer, Resolver};
use crate::error::Error;

/// A hickory resolver over UDP and TCP.
pub struct HickoryResolver {
    inner: TokioResolver,
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
        let inner = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .build()
            .map_err(|e| Error::Dns(e.to_string()))?;
        Ok(Self { inner })
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
                Ok(if hosts.is_empty() {
                    MxAnswer::NoRecords
                } else {
                    MxAnswer::Hosts(hosts)
                })
            }
            Err(e) if e.is_nx_domain() => Ok(MxAnswer::NoDomain),
            Err(e) if e.is_no_records_found() => Ok(MxAnswer::NoRecords),
            Err(e) => Err(DnsFailure(e.to_string())),
        }
    }

    async fn ip(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        match self.inner.lookup_ip(fqdn(host)).await {
            Ok(lookup) => Ok(lookup.iter().collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(DnsFailure(e.to_string())),
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
            Err(e) => Err(DnsFailure(e.to_string())),
        }
    }
}
