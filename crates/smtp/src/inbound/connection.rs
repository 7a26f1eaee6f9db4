//! One SMTP connection: the read loop around the sans-IO session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certmail_auth::signin;
use certmail_pki::Pki;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::SmtpContext;
use super::state::State;
use crate::proto::{Action, Envelope, ListenerKind, Reply, Session, SessionConfig};

/// An accepted connection and what it needs from the daemon.
pub struct Connection {
    /// The socket.
    pub tcp: TcpStream,
    /// The client.
    pub peer: SocketAddr,
    /// Submission (implicit TLS or STARTTLS) or MX.
    pub kind: ListenerKind,
    /// The TLS config for this listener (asks for a client certificate on submission).
    pub tls: Arc<ServerConfig>,
    /// The PKI in force, for sign-in.
    pub pki: Arc<Pki>,
    /// Fires when the daemon shuts down.
    pub shutdown: CancellationToken,
}

/// Why the read loop stopped.
enum LoopEnd {
    /// The session asked for STARTTLS; the 220 has been written.
    StartTls,
    /// The connection is over.
    Closed,
}

/// Serves one SMTP connection to the end. Errors are logged, never sent to the client.
pub async fn serve(ctx: Arc<SmtpContext>, conn: Connection) {
    let peer = conn.peer;
    if let Err(e) = run(ctx, conn).await {
        tracing::debug!(%peer, error = %e, "smtp connection ended with an error");
    }
}

async fn run(ctx: Arc<SmtpContext>, conn: Connection) -> std::io::Result<()> {
    let s = &ctx.settings;
    let mut config = SessionConfig::new(s.hostname.clone(), conn.kind);
    config.max_message_size = s.max_message_size;
    config.max_recipients = s.max_recipients;
    config.max_line_length = s.max_line_length;
    config.max_errors = s.max_errors;
    config.max_commands_before_auth = s.max_commands_before_auth;
    config.offer_external = !s.sign_in.require_password;
    let handshake = Duration::from_secs(s.tls_handshake_timeout_secs);
    let mut state = State::new(Arc::clone(&ctx), conn.pki, conn.peer);
    let acceptor = tokio_rustls::TlsAcceptor::from(conn.tls);
    let implicit = matches!(conn.kind, ListenerKind::Submission { implicit_tls: true });
    let mut tcp = conn.tcp;
    if !implicit {
        let mut session = Session::new(config);
        match drive(&mut state, &mut session, &mut tcp, &conn.shutdown).await? {
            LoopEnd::Closed => return Ok(()),
            LoopEnd::StartTls => {}
        }
        let mut tls =
            handshake_or_audit(&state, acceptor.accept(tcp), handshake, "submission").await?;
        state.cert = peer_cert(&tls);
        // RFC 3207 §4.2: the session starts over; bytes sent before the handshake are gone.
        if session.tls_established().is_err() {
            return Ok(());
        }
        drive(&mut state, &mut session, &mut tls, &conn.shutdown).await?;
        return Ok(());
    }
    let mut tls =
        handshake_or_audit(&state, acceptor.accept(tcp), handshake, "submissions").await?;
    state.cert = peer_cert(&tls);
    let mut session = Session::new(config);
    drive(&mut state, &mut session, &mut tls, &conn.shutdown).await?;
    Ok(())
}

/// Runs a TLS handshake with a timeout; a failure is written to the audit log with the
/// reason rustls gives (e.g. a key that cannot prove possession).
async fn handshake_or_audit(
    state: &State,
    accept: tokio_rustls::Accept<TcpStream>,
    timeout: Duration,
    listener: &str,
) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
    let error = match tokio::time::timeout(timeout, accept).await {
        Ok(Ok(tls)) => return Ok(tls),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the client did not finish the TLS handshake in time".to_string(),
    };
    let now_ms = certmail_auth::now() * 1000;
    if let Err(e) = signin::record_tls_failure(
        state.ctx.store.as_ref(),
        &state.ctx.settings.sign_in.state,
        listener,
        state.peer.ip(),
        &error,
        now_ms,
    )
    .await
    {
        tracing::error!(error = %e, "could not write the audit log");
    }
    Err(std::io::Error::other(error))
}

fn peer_cert(tls: &tokio_rustls::server::TlsStream<TcpStream>) -> Option<Vec<u8>> {
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
}

/// The read loop: perform actions, flush, read, feed. Returns at STARTTLS or the end.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    state: &mut State,
    session: &mut Session,
    io: &mut S,
    shutdown: &CancellationToken,
) -> std::io::Result<LoopEnd> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(action) = session.next_action() {
            if let Some(end) = perform(state, session, io, &mut out, action).await? {
                return Ok(end);
            }
        }
        if !out.is_empty() {
            io.write_all(&out).await?;
            io.flush().await?;
            out.clear();
        }
        match next_input(state, io, &mut buf, shutdown).await? {
            Input::Read(0) => return Ok(LoopEnd::Closed),
            Input::Read(n) => session.feed(&buf[..n]),
            // The session queues the reply and its close; the next round writes them.
            Input::Close(reply) => session.close_with(reply),
        }
    }
}

/// Carries out one action of the session. `Some` when the read loop is over.
async fn perform<S: AsyncRead + AsyncWrite + Unpin>(
    state: &mut State,
    session: &mut Session,
    io: &mut S,
    out: &mut Vec<u8>,
    action: Action,
) -> std::io::Result<Option<LoopEnd>> {
    match action {
        Action::Write(b) => out.extend_from_slice(&b),
        Action::StartTls => {
            io.write_all(out).await?;
            io.flush().await?;
            return Ok(Some(LoopEnd::StartTls));
        }
        Action::Close => {
            io.write_all(out).await?;
            io.flush().await?;
            let _ = io.shutdown().await;
            return Ok(Some(LoopEnd::Closed));
        }
        Action::Authenticate(req) => {
            let decision = super::decide::authenticate(state, req).await;
            answered(session.auth_result(decision))?;
        }
        Action::CheckSender { address, .. } => {
            state.targets.clear();
            let decision = super::decide::check_sender(state, &address);
            answered(session.mail_result(decision))?;
        }
        Action::CheckRecipient(rcpt) => {
            let decision = super::decide::check_recipient(state, &rcpt.address).await;
            answered(session.rcpt_result(decision))?;
        }
        Action::MessageStart => {
            state.spool.clear();
            state.in_message = true;
        }
        Action::MessageChunk(b) => state.spool.push(&b),
        Action::MessageAborted => {
            state.spool.clear();
            state.in_message = false;
        }
        Action::MessageComplete(envelope) => {
            let reply = complete_message(state, session, envelope).await;
            answered(session.message_result(reply))?;
        }
    }
    Ok(None)
}

/// A `*_result` call the session refused means the read loop answered an action it was not
/// asked (a bug here, never the client's doing): end the connection rather than go on out
/// of step.
fn answered(result: Result<(), crate::Error>) -> std::io::Result<()> {
    result.map_err(|e| {
        tracing::error!(error = %e, "smtp session out of step with its read loop");
        std::io::Error::other(e)
    })
}

/// Delivers the spooled message; the reply for the end of DATA / BDAT LAST.
async fn complete_message(state: &mut State, session: &Session, envelope: Envelope) -> Reply {
    state.in_message = false;
    state.client_name = session.client_name().unwrap_or("unknown").to_string();
    state.tls = session.is_tls_active();
    let reply = match state.spool.take() {
        Ok(body) => super::deliver::deliver(state, envelope, body).await,
        // RFC 3463 4.3.1: mail system full (here: its memory), try later.
        Err(super::spool::OutOfMemory) => Reply::new(
            452,
            (4, 3, 1),
            "The server is receiving too many large messages at once; try again in a few minutes",
        ),
    };
    state.spool.clear();
    state.targets.clear();
    reply
}

/// What the wait for the client brought.
enum Input {
    /// This many bytes are in the buffer (0: the client closed).
    Read(usize),
    /// The connection must end with this reply (kick, shutdown, idle timeout).
    Close(Reply),
}

/// Waits for the client's next bytes, a kick, the daemon's shutdown (not mid-message) or
/// the command/data timeout, whichever comes first.
async fn next_input<S: AsyncRead + Unpin>(
    state: &mut State,
    io: &mut S,
    buf: &mut [u8],
    shutdown: &CancellationToken,
) -> std::io::Result<Input> {
    let s = &state.ctx.settings;
    let timeout = Duration::from_secs(if state.in_message {
        s.data_timeout_secs
    } else {
        s.command_timeout_secs
    });
    let kicked = async {
        match &state.guard {
            Some(g) => g.kicked().await,
            None => std::future::pending().await,
        }
    };
    // A kick wins over input that arrived at the same moment: a replaced session
    // answers nothing more.
    let read = tokio::select! {
        biased;
        reason = kicked => {
            // Another device signed in (or an admin kick): say why, drop any partial message.
            state.spool.clear();
            record_kick(state, &reason).await;
            return Ok(Input::Close(Reply::new(421, (4, 7, 0), reason.smtp_reply())));
        }
        r = tokio::time::timeout(timeout, io.read(buf)) => r,
        _ = shutdown.cancelled(), if !state.in_message => {
            return Ok(Input::Close(Reply::new(
                421,
                (4, 3, 2),
                "The server is shutting down; try again shortly",
            )));
        }
    };
    match read {
        // RFC 5321 §4.5.3.2: the server may close after its timeout, with 421.
        Err(_) => Ok(Input::Close(Reply::new(
            421,
            (4, 4, 2),
            "Idle for too long; closing the connection",
        ))),
        Ok(Ok(n)) => Ok(Input::Read(n)),
        Ok(Err(e)) => Err(e),
    }
}

/// Writes the kick of a signed-in session to the audit log.
async fn record_kick(state: &State, reason: &certmail_session::KickReason) {
    let Some(account) = &state.account else {
        return;
    };
    let now_ms = certmail_auth::now() * 1000;
    let (store, ip) = (state.ctx.store.as_ref(), Some(state.peer.ip()));
    if let Err(e) = signin::record_kick(
        store,
        &account.id,
        signin::Protocol::Smtp,
        ip,
        reason.code(),
        now_ms,
    )
    .await
    {
        tracing::error!(error = %e, "could not write the audit log");
    }
}
