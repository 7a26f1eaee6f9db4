//! Dispatch of accepted connections to the protocol servers.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::listener::{Accepted, ListenerKind};
use crate::serve::Daemon;

/// Serves one accepted connection according to its listener.
pub async fn handle(daemon: Arc<Daemon>, kind: ListenerKind, acc: Accepted) {
    let peer = acc.peer;
    let result = match kind {
        ListenerKind::SubmissionTls | ListenerKind::SubmissionStartTls | ListenerKind::Mx => {
            smtp(&daemon, kind, acc).await;
            Ok(())
        }
        ListenerKind::ImapTls => implicit_tls(&daemon, kind, acc).await,
        ListenerKind::ImapStartTls => plaintext(&daemon, kind, acc).await,
    };
    if let Err(e) = result {
        tracing::debug!(listener = kind.name(), %peer, error = %e, "connection ended with an error");
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
        // Implicit TLS: no plaintext may be sent; just close.
        ListenerKind::ImapTls | ListenerKind::SubmissionTls => b"",
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.write_all(text)).await;
}

/// The SMTP server's settings and shared state from the configuration.
pub fn smtp_context(
    config: &crate::config::Config,
    store: Arc<dyn certmail_store::Store>,
    registry: Arc<dyn certmail_session::SessionRegistry>,
    hub: certmail_session::ChangeHub,
) -> certmail_smtp::inbound::SmtpContext {
    let s = &config.smtp;
    let settings = certmail_smtp::inbound::SmtpSettings {
        hostname: config.server.hostname.clone(),
        local_domains: config
            .server
            .local_domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect(),
        max_message_size: s.max_message_size as usize,
        max_recipients: s.max_recipients,
        max_line_length: s.max_line_length,
        max_errors: s.max_errors as usize,
        max_commands_before_auth: s.max_commands_before_auth as usize,
        command_timeout_secs: s.command_timeout_secs,
        data_timeout_secs: s.data_timeout_secs,
        enforce_from_header: s.enforce_from_header,
        tls_handshake_timeout_secs: config.limits.tls_handshake_timeout_secs,
        require_password: true,
        session_policy: certmail_session::SessionPolicy::Replace,
        quota_bytes: s.quota_bytes,
    };
    certmail_smtp::inbound::SmtpContext {
        store,
        registry,
        hub,
        settings,
    }
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

async fn implicit_tls(daemon: &Daemon, kind: ListenerKind, acc: Accepted) -> anyhow::Result<()> {
    let tls = daemon.tls.current();
    let timeout = Duration::from_secs(daemon.config().limits.tls_handshake_timeout_secs);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.client_auth));
    let mut stream = tokio::time::timeout(timeout, acceptor.accept(acc.tcp)).await??;
    let greeting: &[u8] = match kind {
        ListenerKind::ImapTls => b"* BYE [UNAVAILABLE] certmail: IMAP is not served yet\r\n",
        _ => b"554 5.3.2 certmail: SMTP submission is not served yet\r\n",
    };
    stream.write_all(greeting).await?;
    stream.shutdown().await?;
    Ok(())
}

async fn plaintext(_daemon: &Daemon, kind: ListenerKind, mut acc: Accepted) -> anyhow::Result<()> {
    let greeting: &[u8] = match kind {
        ListenerKind::ImapStartTls => b"* BYE [UNAVAILABLE] certmail: IMAP is not served yet\r\n",
        _ => b"554 5.3.2 certmail: SMTP is not served yet\r\n",
    };
    acc.tcp.write_all(greeting).await?;
    Ok(())
}
