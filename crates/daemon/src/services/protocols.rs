//! Dispatch of accepted connections to the protocol servers.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::context::Daemon;
use crate::services::listener::{Accepted, ListenerKind};

/// Serves one accepted connection according to its listener (each protocol server logs
/// its own errors).
pub async fn handle(daemon: Arc<Daemon>, kind: ListenerKind, acc: Accepted) {
    let _open = daemon.connections.open(kind);
    match kind {
        ListenerKind::SubmissionTls | ListenerKind::SubmissionStartTls | ListenerKind::Mx => {
            smtp(&daemon, kind, acc).await
        }
        ListenerKind::ImapTls | ListenerKind::ImapStartTls => imap(&daemon, kind, acc).await,
        ListenerKind::Web => crate::services::web::handle(&daemon, acc).await,
        ListenerKind::ManageSieve => managesieve(&daemon, acc).await,
    }
}

/// Tells a client over its per-IP limit why it is refused, where the protocol allows text.
pub async fn refuse_busy(_daemon: Arc<Daemon>, kind: ListenerKind, mut tcp: TcpStream) {
    let text: &[u8] = match kind {
        ListenerKind::ImapStartTls => {
            b"* BYE [UNAVAILABLE] Too many connections from your address; close some and retry\r\n"
        }
        ListenerKind::SubmissionStartTls | ListenerKind::Mx => {
            b"421 4.7.0 Too many connections from your address; close some and retry\r\n"
        }
        ListenerKind::ManageSieve => {
            b"BYE \"Too many connections from your address; close some and retry\"\r\n"
        }
        // Implicit TLS: no plaintext may be sent; just close.
        ListenerKind::ImapTls | ListenerKind::SubmissionTls | ListenerKind::Web => b"",
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.write_all(text)).await;
}

/// The SMTP server's settings and shared state from the configuration. `sign_in` is the
/// daemon's one sign-in policy (its per-IP throttle is shared with IMAP).
pub fn smtp_context(
    config: &crate::config::Config,
    sign_in: certmail_auth::signin::SignInPolicy,
    store: Arc<dyn certmail_store::Store>,
    registry: Arc<dyn certmail_session::SessionRegistry>,
    hub: certmail_session::ChangeHub,
) -> certmail_smtp::inbound::SmtpContext {
    let s = &config.smtp;
    let settings = certmail_smtp::inbound::SmtpSettings {
        hostname: config.server.hostname.clone(),
        local_domains: local_domains(config),
        max_message_size: s.max_message_size as usize,
        max_recipients: s.max_recipients,
        max_line_length: s.max_line_length,
        max_errors: s.max_errors as usize,
        max_commands_before_auth: s.max_commands_before_auth as usize,
        command_timeout_secs: s.command_timeout_secs,
        data_timeout_secs: s.data_timeout_secs,
        enforce_from_header: s.enforce_from_header,
        tls_handshake_timeout_secs: config.limits.tls_handshake_timeout_secs,
        sign_in,
        session_policy: config.session_policy(),
        quota_bytes: s.quota_bytes,
        sieve: sieve_settings(&config.sieve),
    };
    let mail_auth = config
        .mailauth
        .verifier(&config.server)
        .unwrap_or_else(|e| {
            // check-config cannot see a broken resolv.conf; say it loudly and go on unchecked.
            tracing::error!(error = %e, "[mailauth] check_inbound is on but no resolver could be built; port 25 mail is NOT checked");
            None
        });
    certmail_smtp::inbound::SmtpContext {
        store,
        registry,
        hub,
        settings,
        mail_auth,
        spam: config.spam.scanner().map(Arc::new),
        message_memory: certmail_smtp::inbound::spool::MessageMemory::new(s.max_message_memory),
        queue: Default::default(),
        counters: Default::default(),
    }
}

/// Delivery's Sieve settings from `[sieve]` (SMTP delivery and the server's own mail).
pub fn sieve_settings(
    s: &certmail_config::SieveSection,
) -> certmail_smtp::inbound::filter::SieveSettings {
    let limits = certmail_sieve::Limits {
        max_script_bytes: usize::try_from(s.max_script_size).unwrap_or(usize::MAX),
        max_steps: s.max_steps,
        min_vacation_days: s.vacation_min_days,
        max_vacation_days: s.vacation_max_days,
        ..certmail_sieve::Limits::default()
    };
    certmail_smtp::inbound::filter::SieveSettings {
        limits,
        max_redirects_per_day: s.max_redirects_per_day,
    }
}

/// Where the server's own mail (notices, reports) goes: `[server]` and `[sieve]`.
pub fn postbox_settings(config: &crate::config::Config) -> certmail_smtp::notice::PostboxSettings {
    certmail_smtp::notice::PostboxSettings {
        hostname: config.server.hostname.clone(),
        local_domains: local_domains(config),
        sieve: sieve_settings(&config.sieve),
    }
}

/// `[server] local_domains`, lowercased (addresses are compared in lower case).
pub fn local_domains(config: &crate::config::Config) -> Vec<String> {
    let domains = config.server.local_domains.iter();
    domains.map(|d| d.to_ascii_lowercase()).collect()
}

/// The IMAP server's settings from the configuration (`sign_in` is the daemon's one
/// sign-in policy: its per-IP throttle is shared with SMTP).
pub fn imap_settings(
    config: &crate::config::Config,
    sign_in: certmail_auth::signin::SignInPolicy,
) -> certmail_imap::server::ImapSettings {
    let i = &config.imap;
    certmail_imap::server::ImapSettings {
        hostname: config.server.hostname.clone(),
        append_limit: u32::try_from(config.append_limit()).unwrap_or(u32::MAX),
        max_command_line: u32::try_from(i.max_command_line).unwrap_or(u32::MAX),
        max_literal_memory: i.max_literal_memory,
        max_literal_before_login: i.max_literal_before_login,
        header_cache_memory: i.header_cache_memory,
        max_bad_commands: i.max_bad_commands,
        autologout_minutes: i.autologout_minutes,
        preauth_timeout_secs: i.preauth_timeout_secs,
        tls_handshake_timeout_secs: config.limits.tls_handshake_timeout_secs,
        sign_in,
        session_policy: config.session_policy(),
        // One quota per account, whichever protocol stores the mail.
        quota_bytes: config.smtp.quota_bytes,
        max_acl_entries: i.max_acl_entries,
        max_search_contexts: i.max_search_contexts,
    }
}

async fn imap(daemon: &Daemon, kind: ListenerKind, acc: Accepted) {
    let tls = daemon.tls.current();
    let conn = certmail_imap::server::Connection {
        tcp: acc.tcp,
        peer: acc.peer,
        implicit_tls: kind == ListenerKind::ImapTls,
        tls: Arc::clone(&tls.client_auth),
        pki: Arc::clone(&tls.pki),
        shutdown: daemon.shutdown.clone(),
    };
    let ctx = Arc::clone(&daemon.imap.read().unwrap_or_else(|p| p.into_inner()));
    certmail_imap::server::serve(ctx, conn).await;
    drop(acc.slot);
}

async fn smtp(daemon: &Daemon, kind: ListenerKind, acc: Accepted) {
    let tls = daemon.tls.current();
    let (proto_kind, tls_config) = match kind {
        ListenerKind::SubmissionTls => (
            certmail_smtp::proto::ListenerKind::Submission { implicit_tls: true },
            &tls.client_auth,
        ),
        ListenerKind::SubmissionStartTls => (
            certmail_smtp::proto::ListenerKind::Submission {
                implicit_tls: false,
            },
            &tls.client_auth,
        ),
        _ => (certmail_smtp::proto::ListenerKind::Mx, &tls.no_client_auth),
    };
    let ctx = Arc::clone(&daemon.smtp.read().unwrap_or_else(|p| p.into_inner()));
    let conn = certmail_smtp::inbound::Connection {
        tcp: acc.tcp,
        peer: acc.peer,
        kind: proto_kind,
        tls: Arc::clone(tls_config),
        pki: Arc::clone(&tls.pki),
        shutdown: daemon.shutdown.clone(),
    };
    certmail_smtp::inbound::serve(ctx, conn).await;
    drop(acc.slot);
}

/// The ManageSieve server's context from `[sieve]` (`sign_in` is the daemon's one sign-in
/// policy: its throttle and lockout are shared with IMAP and SMTP).
pub fn managesieve_context(
    config: &crate::config::Config,
    sign_in: certmail_auth::signin::SignInPolicy,
    store: Arc<dyn certmail_store::Store>,
    registry: Arc<dyn certmail_session::SessionRegistry>,
) -> certmail_managesieve::ManageSieveContext {
    let s = &config.sieve;
    certmail_managesieve::ManageSieveContext {
        store,
        registry,
        settings: certmail_managesieve::Settings {
            hostname: config.server.hostname.clone(),
            sign_in,
            session_policy: config.session_policy(),
            quota: certmail_store::ScriptQuota {
                max_bytes: s.max_script_size,
                max_scripts: s.max_scripts,
            },
            limits: sieve_settings(s).limits,
            max_line: s.max_line_length,
            max_bad_commands: s.max_bad_commands,
            idle_timeout: Duration::from_secs(s.idle_timeout_secs),
            tls_handshake_timeout: Duration::from_secs(config.limits.tls_handshake_timeout_secs),
        },
    }
}

async fn managesieve(daemon: &Daemon, acc: Accepted) {
    let tls = daemon.tls.current();
    let conn = certmail_managesieve::Connection {
        tcp: acc.tcp,
        peer: acc.peer,
        tls: Arc::clone(&tls.client_auth),
        pki: Arc::clone(&tls.pki),
        shutdown: daemon.shutdown.clone(),
    };
    let ctx = Arc::clone(&daemon.managesieve.read().unwrap_or_else(|p| p.into_inner()));
    certmail_managesieve::serve(ctx, conn).await;
    drop(acc.slot);
}
