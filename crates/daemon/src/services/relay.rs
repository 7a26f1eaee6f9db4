//! The outbound relay in the daemon: builds the queue runner from `[relay]` and runs it
//! until shutdown (it then lets deliveries in progress finish their message).
//!
//! Reload: [`build_parts`] makes the new transport, settings and DKIM signer (an error
//! fails the reload, the old ones stay), then [`crate::context::RelayHandle::apply`] swaps them into the
//! running runner, starts the runner (`enabled` turned on) or stops it after its deliveries
//! in progress (`enabled` turned off). No connection is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use certmail_smtp::outbound::tlsrpt::TlsReportBook;
use certmail_smtp::outbound::tlsrpt_send::{self, ReportTargets, SendSummary};
use certmail_smtp::outbound::{
    ClientIdentity, ClientTls, HickoryResolver, MessageSigner, MtaSts, MtaStsSettings, QueueRunner,
    RelaySettings, Route, Smarthost, SmarthostTls, SmtpTransport, SystemClock, Timeouts,
    TrustAnchor,
};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, RelaySection, SmarthostTlsName, parse_host_port};
use crate::context::{Daemon, RelayParts};

/// Builds the parts of `[relay]` (transport, settings, DKIM signer) for a reload to apply;
/// `None` when `[relay] enabled = false`.
pub fn build_parts(config: &Config) -> anyhow::Result<Option<RelayParts>> {
    if !config.relay.enabled {
        return Ok(None);
    }
    Ok(Some(RelayParts {
        transport: Arc::new(transport(config)?),
        settings: settings(config),
        signer: signer(config)?,
    }))
}

/// Runs the queue runner until `shutdown` while `[relay] enabled` (reloads may turn it on and
/// off); logs and waits for a reload if `[relay]` cannot be set up.
pub async fn run(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    loop {
        if let Some((runner, stop)) = start(&daemon, &shutdown) {
            runner.run(stop).await;
            *daemon.relay.lock() = None;
            if shutdown.is_cancelled() {
                return;
            }
            tracing::info!("outbound relay stopped ([relay] enabled = false)");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = daemon.relay.changed().notified() => {}
        }
    }
}

/// Builds and records the runner from the configuration in force (under the handle's lock,
/// so a reload either sees it or is seen by it).
fn start(
    daemon: &Arc<Daemon>,
    shutdown: &CancellationToken,
) -> Option<(Arc<QueueRunner>, CancellationToken)> {
    let mut running = daemon.relay.lock();
    let config = daemon.config();
    if !config.relay.enabled {
        tracing::info!("outbound relay disabled ([relay] enabled = false)");
        return None;
    }
    let runner = match build(&config, daemon) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "outbound relay not started");
            return None;
        }
    };
    if config.relay.smarthost.is_empty() {
        tracing::info!("outbound relay running, delivering to each domain's MX");
    } else {
        tracing::info!(smarthost = %config.relay.smarthost, "outbound relay running");
    }
    let stop = shutdown.child_token();
    *running = Some((Arc::clone(&runner), stop.clone()));
    Some((runner, stop))
}

fn build(config: &Config, daemon: &Daemon) -> anyhow::Result<QueueRunner> {
    let runner = QueueRunner::new(
        Arc::clone(&daemon.store),
        Arc::new(transport(config)?),
        Arc::new(SystemClock),
        settings(config),
    )
    .with_hub(daemon.hub.clone())
    .with_signals(Arc::clone(&daemon.queue))
    .with_counters(Arc::clone(&daemon.mail_counters));
    Ok(match signer(config)? {
        Some(s) => runner.with_signer(s),
        None => runner,
    })
}

fn transport(config: &Config) -> anyhow::Result<SmtpTransport> {
    let r = &config.relay;
    let route = route(r)?;
    let tls = client_tls(r)?;
    let mta_sts = match &route {
        Route::Mx { resolver, .. } if r.mta_sts => Some(MtaSts::new(
            Arc::clone(resolver),
            MtaStsSettings {
                tls: tls.verified(),
                port: r.mta_sts_port,
                fetch_timeout: Duration::from_secs(r.mta_sts_timeout_secs),
                cache_dir: Some(config.server.data_dir.join("mta-sts")),
            },
            Arc::new(SystemClock),
        )),
        _ => None,
    };
    let transport = SmtpTransport::new(
        route,
        tls,
        &helo_name(config),
        Timeouts {
            connect: Duration::from_secs(r.connect_timeout_secs),
            command: Duration::from_secs(r.command_timeout_secs),
            data: Duration::from_secs(r.data_timeout_secs),
        },
    )
    .with_tls_policy(
        r.tls_policy.policy(),
        r.domain_tls_policy
            .iter()
            .map(|(d, p)| (d.to_ascii_lowercase(), p.policy()))
            .collect::<HashMap<_, _>>(),
    );
    let transport = match mta_sts {
        Some(source) => transport.with_mta_sts(Arc::new(source)),
        None => transport,
    };
    Ok(if r.tls_reports && r.smarthost.is_empty() {
        transport.with_tls_reports(tls_report_book(config)?, Arc::new(SystemClock))
    } else {
        transport
    })
}

/// The TLS report book of `<data_dir>/tls-reports` (one per directory in the process).
pub fn tls_report_book(config: &Config) -> anyhow::Result<Arc<TlsReportBook>> {
    let dir = config.server.data_dir.join("tls-reports");
    TlsReportBook::open(&dir, config.relay.tls_reports_max_domains)
        .with_context(|| format!("opening {}", dir.display()))
}

/// Mails the recorded TLS reports up to yesterday (`include_today`: up to today, for
/// `certmail queue tls-report --send`).
pub async fn send_tls_reports(daemon: &Daemon, include_today: bool) -> anyhow::Result<SendSummary> {
    let config = daemon.config();
    let book = tls_report_book(&config)?;
    let resolver =
        HickoryResolver::new(&config.relay.dns_servers).context("[relay] dns_servers")?;
    let now = certmail_auth::now();
    let last_day = if include_today {
        tlsrpt_send::today(now)
    } else {
        tlsrpt_send::yesterday(now)
    };
    let local_domains = crate::services::protocols::local_domains(&config);
    let sieve = crate::services::protocols::sieve_settings(&config.sieve);
    let targets = ReportTargets {
        store: daemon.store.as_ref(),
        hub: Some(&daemon.hub),
        local_domains: &local_domains,
        sieve: &sieve,
        resolver: &resolver,
        hostname: &config.server.hostname,
    };
    let summary = tlsrpt_send::send_reports(&book, &targets, &last_day, now).await;
    if summary.sent > 0 {
        daemon.queue.queue_changed();
    }
    Ok(summary)
}

/// The DKIM signer of outbound mail: the `[mailauth.dkim]` keys, one per From: domain.
fn signer(config: &Config) -> anyhow::Result<Option<Arc<dyn MessageSigner>>> {
    Ok(config
        .mailauth
        .dkim_signer()?
        .map(|s| s as Arc<dyn MessageSigner>))
}

/// The runner's settings from `[relay]` and `[server]`.
pub fn settings(config: &Config) -> RelaySettings {
    let r = &config.relay;
    RelaySettings {
        hostname: config.server.hostname.clone(),
        local_domains: crate::services::protocols::local_domains(config),
        sieve: crate::services::protocols::sieve_settings(&config.sieve),
        retry_schedule: r.retry_schedule_secs.clone(),
        expire_after: r.expire_hours.saturating_mul(3600),
        delay_notice_after: (r.delay_notice_hours > 0)
            .then(|| r.delay_notice_hours.saturating_mul(3600)),
        max_connections: r.max_connections,
        max_connections_per_destination: r.max_connections_per_destination,
        max_messages_per_connection: r.max_messages_per_connection,
        max_received_headers: r.max_received_headers,
        poll_interval: Duration::from_secs(r.poll_interval_secs),
        drain_timeout: Duration::from_secs(config.server.shutdown_grace_secs),
        claim_lease: Duration::from_secs(config.cluster.queue_lease_secs),
    }
}

fn helo_name(config: &Config) -> String {
    if config.relay.helo_name.is_empty() {
        config.server.hostname.clone()
    } else {
        config.relay.helo_name.clone()
    }
}

fn route(r: &RelaySection) -> anyhow::Result<Route> {
    if r.smarthost.is_empty() {
        let resolver = if r.dane {
            let anchor = if r.dnssec_trust_anchor.as_os_str().is_empty() {
                TrustAnchor::Root
            } else {
                TrustAnchor::File(r.dnssec_trust_anchor.clone())
            };
            HickoryResolver::validating(&r.dns_servers, &anchor)
                .context("[relay] dane / dnssec_trust_anchor")?
        } else {
            HickoryResolver::new(&r.dns_servers).context("[relay] dns_servers")?
        };
        return Ok(Route::Mx {
            resolver: Arc::new(resolver),
            port: r.mx_port,
        });
    }
    let (host, port) =
        parse_host_port(&r.smarthost).context("[relay] smarthost is not host:port")?;
    Ok(Route::Smarthost(Smarthost {
        host,
        port,
        tls: match r.smarthost_tls {
            SmarthostTlsName::Starttls => SmarthostTls::StartTls,
            SmarthostTlsName::Implicit => SmarthostTls::Implicit,
            SmarthostTlsName::Opportunistic => SmarthostTls::Opportunistic,
        },
        verify: r.smarthost_verify,
    }))
}

fn client_tls(r: &RelaySection) -> anyhow::Result<ClientTls> {
    let read = |p: &std::path::Path| -> anyhow::Result<Option<Vec<u8>>> {
        if p.as_os_str().is_empty() {
            return Ok(None);
        }
        Ok(Some(
            std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        ))
    };
    let ca = read(&r.ca_file)?;
    let identity = match (
        read(&r.smarthost_client_cert)?,
        read(&r.smarthost_client_key)?,
    ) {
        (Some(chain_pem), Some(key_pem)) => Some(ClientIdentity { chain_pem, key_pem }),
        _ => None,
    };
    Ok(ClientTls::new(true, ca.as_deref(), identity.as_ref())?)
}
