//! The TLS handshake of a user listener (IMAP, ManageSieve after STARTTLS or on an
//! implicit-TLS port): bounded in time, the client certificate taken from it, and a failure
//! written to the audit log. A key that cannot prove possession (KCDSA, RSA-1024) never
//! reaches sign-in: the audit log is where a helpdesk finds out why.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use certmail_store::Store;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;

use crate::signin::{SignInState, record_tls_failure};

/// Who is shaking hands, for the audit log.
pub struct Handshake<'a> {
    /// The store the audit event goes to.
    pub store: &'a dyn Store,
    /// The sign-in counters (`tls_handshake_failed` by listener).
    pub state: &'a SignInState,
    /// The listener's name, e.g. "imap", "managesieve".
    pub listener: &'a str,
    /// The client's address.
    pub ip: IpAddr,
    /// How long the client has to finish.
    pub timeout: Duration,
}

/// Completes the handshake over `io` with `config`; the stream and the client
/// certificate's DER, if one was presented. A failure (or the time running out) is
/// recorded and returned as an error.
pub async fn accept<IO: AsyncRead + AsyncWrite + Unpin>(
    config: Arc<rustls::ServerConfig>,
    io: IO,
    h: Handshake<'_>,
) -> std::io::Result<(TlsStream<IO>, Option<Vec<u8>>)> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let error = match tokio::time::timeout(h.timeout, acceptor.accept(io)).await {
        Ok(Ok(tls)) => {
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec());
            return Ok((tls, cert));
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the client did not finish the TLS handshake in time".to_string(),
    };
    let now_ms = crate::now() * 1000;
    if let Err(e) = record_tls_failure(h.store, h.state, h.listener, h.ip, &error, now_ms).await {
        tracing::error!(error = %e, "could not write the audit log");
    }
    Err(std::io::Error::other(error))
}
