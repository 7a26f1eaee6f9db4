//! One IMAP connection: TLS (implicit or after the plaintext phase), then the read loop
//! ([`LiveConnection`]) around the imap-next driver and the connection's
//! [`crate::session::Session`]. The command course (running a store-backed command
//! against the session's signed-in state, FETCH in batches) is in `course`.

mod course;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use certmail_pki::Pki;
use certmail_session::{Change, KickReason};
use imap_codec::imap_types::{
    core::Tag,
    response::{CommandContinuationRequest, Response, Status},
};
use imap_next::{Interrupt, Io, State as _, server::Event};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::compress::MaybeDeflate;
use super::identity::CertAuthenticator;
use crate::context::ImapContext;
use crate::out::Out;
use crate::proto::driver::{Driver, DriverEvent, DriverLimits};
use crate::proto::plaintext::{PlaintextLimits, PlaintextOutcome, PlaintextPhase};
use crate::proto::response::{bad, bye, code, encode_status};
use crate::session::{Flow as SessionFlow, SessionConfig};

/// An accepted connection and what it needs from the daemon.
pub struct Connection {
    /// The socket.
    pub tcp: TcpStream,
    /// The client.
    pub peer: SocketAddr,
    /// Port 993 (TLS at once) rather than 143 (STARTTLS).
    pub implicit_tls: bool,
    /// The TLS config of this listener (asks for a client certificate).
    pub tls: Arc<ServerConfig>,
    /// The PKI in force, for sign-in.
    pub pki: Arc<Pki>,
    /// Fires when the daemon shuts down.
    pub shutdown: CancellationToken,
}

/// Serves one IMAP connection to the end. Errors are logged, never sent to the client.
pub async fn serve(ctx: Arc<ImapContext>, conn: Connection) {
    let peer = conn.peer;
    if let Err(e) = run(ctx, conn).await {
        tracing::debug!(%peer, error = %e, "imap connection ended with an error");
    }
}

async fn run(ctx: Arc<ImapContext>, conn: Connection) -> std::io::Result<()> {
    let s = &ctx.settings;
    let handshake = Duration::from_secs(s.tls_handshake_timeout_secs);
    let greeting = format!("{} IMAP server ready", s.hostname);
    let mut tcp = conn.tcp;
    if !conn.implicit_tls && !plaintext_phase(&ctx, &mut tcp, &conn.shutdown, &greeting).await? {
        return Ok(());
    }
    let listener = if conn.implicit_tls { "imaps" } else { "imap" };
    let handshake = certmail_auth::handshake::Handshake {
        store: ctx.store.as_ref(),
        state: &ctx.settings.sign_in.state,
        listener,
        ip: conn.peer.ip(),
        timeout: handshake,
    };
    let (tls, cert) = certmail_auth::handshake::accept(conn.tls, tcp, handshake).await?;
    let secured = Secured {
        cert,
        pki: conn.pki,
        peer: conn.peer,
        after_starttls: !conn.implicit_tls,
        shutdown: conn.shutdown,
    };
    serve_secured(ctx, tls, secured).await
}

/// What a connection knows once TLS is up.
struct Secured {
    /// The client certificate's DER, if one was presented.
    cert: Option<Vec<u8>>,
    pki: Arc<Pki>,
    peer: SocketAddr,
    /// Port 143 after STARTTLS (the greeting was already sent).
    after_starttls: bool,
    shutdown: CancellationToken,
}

/// The read loop over `io`, a stream whose TLS is up (or, for fuzzing, stands in for it).
async fn serve_secured<S: AsyncRead + AsyncWrite + Unpin + Send>(
    ctx: Arc<ImapContext>,
    io: S,
    secured: Secured,
) -> std::io::Result<()> {
    let s = &ctx.settings;
    let greeting = format!("{} IMAP server ready", s.hostname);
    let limits = DriverLimits {
        max_literal: s.append_limit,
        max_command: s.append_limit.saturating_add(s.max_command_line),
        max_line: s.max_command_line,
        auth_external: !s.sign_in.require_password,
        max_literal_before_login: s.max_literal_before_login,
    };
    let driver = Driver::new(
        limits,
        Arc::clone(&ctx.literals),
        &greeting,
        secured.after_starttls,
    );
    let config = SessionConfig {
        append_limit: s.append_limit,
        max_bad_commands: s.max_bad_commands,
        auth_external: !s.sign_in.require_password,
        ..SessionConfig::default()
    };
    let authenticator = CertAuthenticator {
        ctx: Arc::clone(&ctx),
        pki: secured.pki,
        cert: secured.cert,
        ip: secured.peer.ip(),
    };
    let mut live = LiveConnection {
        ctx,
        io: MaybeDeflate::new(io),
        driver,
        session: crate::session::Session::new(config, authenticator),
        shutdown: secured.shutdown,
        idle: None,
        buf: vec![0; 16 * 1024],
        outbuf: Vec::new(),
        client_recorded: None,
    };
    live.run().await
}

/// Serves one port-993 connection over `io` as if its TLS handshake had presented `cert`
/// (DER): the whole read loop, sign-in and store-backed commands, without TLS. For the
/// fuzz target that drives a signed-in session from arbitrary bytes.
#[cfg(feature = "fuzzing")]
pub async fn fuzz_stream<S: AsyncRead + AsyncWrite + Unpin + Send>(
    ctx: Arc<ImapContext>,
    pki: Arc<Pki>,
    cert: Option<Vec<u8>>,
    io: S,
) -> std::io::Result<()> {
    let secured = Secured {
        cert,
        pki,
        peer: SocketAddr::from(([127, 0, 0, 1], 0)),
        after_starttls: false,
        shutdown: CancellationToken::new(),
    };
    serve_secured(ctx, io, secured).await
}

/// Port 143 before STARTTLS. True when the TLS handshake should start.
async fn plaintext_phase(
    ctx: &ImapContext,
    tcp: &mut TcpStream,
    shutdown: &CancellationToken,
    greeting: &str,
) -> std::io::Result<bool> {
    let s = &ctx.settings;
    let mut phase = PlaintextPhase::new(PlaintextLimits {
        max_command: 8 * 1024,
        max_bad_commands: s.max_bad_commands,
    });
    tcp.write_all(&PlaintextPhase::greeting(greeting)).await?;
    let mut buf = vec![0u8; 4096];
    let limit = Duration::from_secs(s.preauth_timeout_secs);
    loop {
        let n = tokio::select! {
            r = tokio::time::timeout(limit, tcp.read(&mut buf)) => match r {
                Ok(r) => r?,
                Err(_) => {
                    tcp.write_all(&encode_status(bye(None, "Autologout: idle for too long"))).await?;
                    return Ok(false);
                }
            },
            _ = shutdown.cancelled() => {
                let text = "server shutting down";
                tcp.write_all(&encode_status(bye(Some(code("UNAVAILABLE")), text))).await?;
                return Ok(false);
            }
        };
        if n == 0 {
            return Ok(false);
        }
        // RFC 3501 §6.2.1: whatever followed STARTTLS in this read is dropped with `phase`.
        let step = phase.feed(&buf[..n]);
        tcp.write_all(&step.output).await?;
        match step.outcome {
            PlaintextOutcome::Continue => {}
            PlaintextOutcome::StartTls => return Ok(true),
            PlaintextOutcome::Close => return Ok(false),
        }
    }
}

/// What woke the connection while it waited for input.
enum Wake {
    Read(Result<std::io::Result<usize>, tokio::time::error::Elapsed>),
    Kicked(KickReason),
    Shutdown,
    Change(Change),
}

/// Whether to go on after handling something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Close,
}

type KickFuture = Pin<Box<dyn Future<Output = KickReason> + Send>>;

/// A write raced against a kick: true when it finished, false when the kick came first.
fn unless_kicked(written: Result<std::io::Result<()>, KickReason>) -> std::io::Result<bool> {
    match written {
        Ok(r) => r.map(|()| true),
        Err(reason) => {
            tracing::info!(reason = reason.code(), "kicked while writing");
            Ok(false)
        }
    }
}

/// Message content read per FETCH batch before the batch is written out.
const FETCH_BATCH_OCTETS: usize = 4 * 1024 * 1024;

/// How long the last words (BYE, a LOGOUT's OK) may take to write before we just close.
const CLOSING_WRITE: Duration = Duration::from_secs(5);

/// Output held back before it is written even though the connection has more to do: a
/// FETCH batch or a long run of pipelined commands goes out in pieces of about this size.
const OUTPUT_CHUNK: usize = 64 * 1024;

/// The connection after TLS: the socket, the imap-next driver and the connection's one
/// state (`crate::session::Session`, which answers the store-free commands and sign-in
/// and, once signed in, holds the account and the selected mailbox the store-backed
/// commands run against).
struct LiveConnection<S> {
    ctx: Arc<ImapContext>,
    /// The TLS stream, DEFLATE-compressed after COMPRESS (RFC 4978).
    io: MaybeDeflate<S>,
    driver: Driver,
    session: crate::session::Session<CertAuthenticator>,
    shutdown: CancellationToken,
    /// The tag of an IDLE in progress, and the metrics gauge counting it.
    idle: Option<(Tag<'static>, certmail_session::stats::IdleGauge)>,
    buf: Vec<u8>,
    /// Responses encoded but not yet written. They go out together when the connection
    /// next waits for input (or past [`OUTPUT_CHUNK`]): one TLS record and one system
    /// call for a command's whole answer, and for the answers to pipelined commands,
    /// rather than one per response line.
    outbuf: Vec<u8>,
    /// The client name (IMAP ID) last written on this device's record.
    client_recorded: Option<String>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> LiveConnection<S> {
    async fn run(&mut self) -> std::io::Result<()> {
        // The driver can queue a response while feeding input (a refusal for lack of
        // literal memory) and still report NeedMoreInput: ask once more before waiting.
        let mut asked_again = false;
        loop {
            let next = self.driver.next();
            let need_input = matches!(next, Err(Interrupt::Io(Io::NeedMoreInput)));
            if need_input && !asked_again {
                asked_again = true;
                continue;
            }
            asked_again = false;
            let flow = match next {
                // Nothing to decide when a response went out (imap-next says so for each):
                // only LOGOUT's, which the session answers with Close.
                Ok(DriverEvent::Imap(
                    event @ (Event::ResponseSent { .. } | Event::GreetingSent { .. }),
                )) => match self.session.handle_event(self.driver.server(), event).await {
                    SessionFlow::Close => Flow::Close,
                    _ => Flow::Continue,
                },
                Ok(event) => {
                    // A kick wins over a command that arrived at the same moment: a replaced
                    // session answers nothing more.
                    let kicked = self.kicked();
                    let outcome = tokio::select! {
                        biased;
                        reason = kicked => Err(reason),
                        flow = self.on_event(event) => Ok(flow),
                    };
                    match outcome {
                        Ok(flow) => flow?,
                        Err(reason) => return self.close_kicked(reason).await,
                    }
                }
                Err(Interrupt::Io(Io::Output(bytes))) => {
                    if !self.write_unless_kicked(&bytes).await? {
                        return Ok(());
                    }
                    Flow::Continue
                }
                Err(Interrupt::Io(Io::NeedMoreInput)) => {
                    // Everything answered so far goes out before we wait for the client.
                    if !self.flush_unless_kicked().await? {
                        return Ok(());
                    }
                    self.wait_input().await?
                }
                Err(Interrupt::Error(error)) => {
                    match self.session.handle_error(self.driver.server(), &error) {
                        SessionFlow::Close => Flow::Close,
                        _ => Flow::Continue,
                    }
                }
            };
            if flow == Flow::Close {
                self.flush_driver().await?;
                let _ = tokio::time::timeout(CLOSING_WRITE, self.io.shutdown()).await;
                return Ok(());
            }
        }
    }

    fn kicked(&self) -> KickFuture {
        match self.session.signed_in() {
            Some(s) => Box::pin(s.account.guard.kicked()),
            None => Box::pin(std::future::pending()),
        }
    }

    /// [`Self::write`], unless the session is kicked meanwhile: a client that stops
    /// reading must not keep a kicked session alive. False when kicked (mid-response and
    /// the client is not reading: a BYE could neither be framed nor delivered, so the
    /// caller drops the connection).
    async fn write_unless_kicked(&mut self, bytes: &[u8]) -> std::io::Result<bool> {
        let kicked = self.kicked();
        let written = tokio::select! {
            r = self.write(bytes) => Ok(r),
            reason = kicked => Err(reason),
        };
        unless_kicked(written)
    }

    /// [`Self::flush_out`] unless kicked meanwhile (see [`Self::write_unless_kicked`]).
    async fn flush_unless_kicked(&mut self) -> std::io::Result<bool> {
        if self.outbuf.is_empty() {
            return Ok(true);
        }
        let kicked = self.kicked();
        let written = tokio::select! {
            r = self.flush_out() => Ok(r),
            reason = kicked => Err(reason),
        };
        unless_kicked(written)
    }

    /// Queues `bytes` behind the output already held; writes once past [`OUTPUT_CHUNK`]
    /// (a large piece, such as a FETCH batch, goes out as it is, after what was held).
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.outbuf.len() + bytes.len() <= OUTPUT_CHUNK {
            self.outbuf.extend_from_slice(bytes);
            return Ok(());
        }
        self.flush_out().await?;
        if bytes.len() <= OUTPUT_CHUNK {
            self.outbuf.extend_from_slice(bytes);
            return Ok(());
        }
        // A client that stops reading is dropped after the autologout time.
        self.write_within(bytes, self.ctx.settings.autologout())
            .await
    }

    /// Writes the output held back (see `outbuf`).
    async fn flush_out(&mut self) -> std::io::Result<()> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.outbuf);
        let r = self
            .write_within(&bytes, self.ctx.settings.autologout())
            .await;
        // Keep the allocation for the next command's answer.
        self.outbuf = bytes;
        self.outbuf.clear();
        r
    }

    async fn write_within(&mut self, bytes: &[u8], limit: Duration) -> std::io::Result<()> {
        match tokio::time::timeout(limit, async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "client stopped reading",
            )),
        }
    }

    /// Writes the output held back and everything imap-next has queued (on the way out,
    /// or before COMPRESS starts: a client that does not read gets a few seconds, not the
    /// autologout time).
    async fn flush_driver(&mut self) -> std::io::Result<()> {
        loop {
            match self.driver.next() {
                Err(Interrupt::Io(Io::Output(bytes))) => self.outbuf.extend_from_slice(&bytes),
                // Each response sent is reported; keep going until all are out.
                Ok(DriverEvent::Imap(Event::ResponseSent { .. } | Event::GreetingSent { .. })) => {}
                _ => break,
            }
        }
        let bytes = std::mem::take(&mut self.outbuf);
        if bytes.is_empty() {
            return Ok(());
        }
        self.write_within(&bytes, CLOSING_WRITE).await
    }

    /// Says BYE (after anything already queued) and closes.
    async fn close_with(&mut self, status: Status<'static>) -> std::io::Result<()> {
        self.flush_driver().await?;
        self.write_within(&encode_status(status), CLOSING_WRITE)
            .await?;
        let _ = tokio::time::timeout(CLOSING_WRITE, self.io.shutdown()).await;
        Ok(())
    }

    async fn close_kicked(&mut self, reason: KickReason) -> std::io::Result<()> {
        // DESIGN.md: a replaced session hears why, whatever it was doing.
        let status = bye(Some(code("UNAVAILABLE")), &reason.imap_bye());
        if let Some(signed_in) = self.session.signed_in() {
            let now_ms = certmail_auth::now() * 1000;
            let (store, account) = (self.ctx.store.as_ref(), signed_in.account_id());
            let protocol = certmail_auth::signin::Protocol::Imap;
            if let Err(e) = certmail_auth::signin::record_kick(
                store,
                account,
                protocol,
                None,
                reason.code(),
                now_ms,
            )
            .await
            {
                tracing::error!(error = %e, "could not write the audit log");
            }
        }
        self.close_with(status).await
    }

    async fn wait_input(&mut self) -> std::io::Result<Flow> {
        if self.shutdown.is_cancelled() {
            let status = bye(Some(code("UNAVAILABLE")), "server shutting down");
            self.close_with(status).await?;
            return Ok(Flow::Close);
        }
        let s = &self.ctx.settings;
        let limit = match self.session.signed_in() {
            Some(_) => s.autologout(),
            None => Duration::from_secs(s.preauth_timeout_secs),
        };
        let kicked = self.kicked();
        // RFC 5465: with NOTIFY set, changes are told between commands too.
        let notifying = self
            .session
            .signed_in()
            .is_some_and(|s| s.account.notify.is_some());
        let listen = self.idle.is_some() || notifying;
        let LiveConnection {
            io,
            buf,
            session,
            shutdown,
            ..
        } = self;
        let hub = async {
            match (listen, session.signed_in_mut()) {
                (true, Some(s)) => crate::commands::notify_reach::next(s).await,
                _ => std::future::pending().await,
            }
        };
        let wake = tokio::select! {
            biased;
            reason = kicked => Wake::Kicked(reason),
            r = tokio::time::timeout(limit, io.read(buf)) => Wake::Read(r),
            _ = shutdown.cancelled() => Wake::Shutdown,
            change = hub => Wake::Change(change),
        };
        match wake {
            Wake::Read(Ok(Ok(0))) => Ok(Flow::Close),
            Wake::Read(Ok(Ok(n))) => {
                let bytes = self.buf[..n].to_vec();
                self.driver.enqueue_input(&bytes);
                Ok(Flow::Continue)
            }
            Wake::Read(Ok(Err(e))) => Err(e),
            Wake::Read(Err(_)) => {
                // RFC 3501 §5.4 autologout.
                self.close_with(bye(None, "Autologout: idle for too long"))
                    .await?;
                Ok(Flow::Close)
            }
            Wake::Kicked(reason) => {
                self.close_kicked(reason).await?;
                Ok(Flow::Close)
            }
            Wake::Shutdown => {
                let status = bye(Some(code("UNAVAILABLE")), "server shutting down");
                self.close_with(status).await?;
                Ok(Flow::Close)
            }
            Wake::Change(change) => {
                self.idle_change(change).await?;
                Ok(Flow::Continue)
            }
        }
    }

    /// A change arrived during IDLE, or with NOTIFY set: tell the client at once (RFC 2177;
    /// EXPUNGE is allowed because IDLE is a command in progress, RFC 3501 §7.4.1, or where
    /// NOTIFY's `selected` asked for it, RFC 5465 §5.2). Without NOTIFY's `selected`, a
    /// change of the selected mailbox outside IDLE waits for the next command.
    async fn idle_change(&mut self, change: Change) -> std::io::Result<()> {
        let idle = self.idle.is_some();
        let Some(s) = self.session.signed_in_mut() else {
            return Ok(());
        };
        use crate::commands::notify;
        let selected = s.account.notify.as_ref().and_then(notify::Watch::selected);
        if s.account.notify.is_some() && !notify::about_selected(s, &change) {
            notify::keep(s, change);
        } else {
            s.note(&change);
        }
        let mut out = Out::default();
        let told = match (idle, selected) {
            (true, _) => crate::commands::search_context::sync(s, &mut out, true).await,
            (false, Some(expunge)) => {
                crate::commands::search_context::sync(s, &mut out, expunge).await
            }
            (false, None) => notify::tell_pending(s, &mut out).await,
        };
        if let Err(e) = told {
            tracing::error!(error = %e, "imap unsolicited update failed");
        }
        // Through `send`: ESEARCH and LIST lines are written by hand.
        self.send(out).await
    }

    fn enqueue(&mut self, mut out: Out) {
        if let Some(s) = self.session.signed_in_mut() {
            s.announce_new_keywords(&mut out);
        }
        if self.session.imap4rev2_enabled() {
            out.apply_imap4rev2();
        }
        let server = self.driver.server();
        for response in out.responses {
            match response {
                Response::Data(data) => {
                    server.enqueue_data(data);
                }
                Response::Status(status) => {
                    server.enqueue_status(status);
                }
                Response::CommandContinuationRequest(cont) => {
                    server.enqueue_continuation_request(cont);
                }
            }
        }
    }

    /// Hands `out` to imap-next, writing first (directly, in order) any lines imap-codec
    /// cannot express and what precedes them: imap-next's queue is empty while a command
    /// runs, as for FETCH batches.
    async fn send(&mut self, mut out: Out) -> std::io::Result<()> {
        if self.session.imap4rev2_enabled() {
            out.apply_imap4rev2();
        }
        let prefix = out.take_raw_prefix();
        if !prefix.is_empty() {
            self.write(&prefix).await?;
        }
        self.enqueue(out);
        Ok(())
    }

    async fn on_event(&mut self, event: DriverEvent) -> std::io::Result<Flow> {
        let flow = self.session.handle_event(self.driver.server(), event).await;
        if let Some(s) = self.session.signed_in() {
            self.driver.set_signed_in(true);
            self.driver.set_utf8_quoted(s.enabled.imap4rev2);
        }
        self.record_client().await;
        Ok(match flow {
            SessionFlow::Continue => Flow::Continue,
            SessionFlow::Close => Flow::Close,
            SessionFlow::Unhandled(event) => self.on_unhandled(event).await?,
            SessionFlow::Extended(command) => self.on_extended(command).await?,
        })
    }

    /// Writes the name the client gave in ID (before or after sign-in) on its device's
    /// record, once signed in and whenever it changes, so people recognise the device.
    async fn record_client(&mut self) {
        let Some(name) = crate::commands::id::client_name(self.session.client_id()) else {
            return;
        };
        if self.client_recorded.as_deref() == Some(name.as_str()) {
            return;
        }
        let Some(s) = self.session.signed_in() else {
            return;
        };
        let device = s.account.guard.device();
        let store = self.ctx.store.as_ref();
        let account = &s.account.record.id;
        let (spki, ip) = (device.spki_sha256, device.ip);
        if let Err(e) = certmail_auth::record_client(store, account, spki, ip, &name).await {
            tracing::warn!(error = %e, %account, "recording the client name failed");
        }
        self.client_recorded = Some(name);
    }

    /// What the session leaves to us: store-backed commands and IDLE.
    async fn on_unhandled(&mut self, event: Event) -> std::io::Result<Flow> {
        Ok(match event {
            Event::CommandReceived { command } => self.on_command(command).await?,
            Event::IdleCommandReceived { tag } => {
                self.on_idle(tag).await;
                Flow::Continue
            }
            Event::IdleDoneReceived => {
                self.driver.set_idling(false);
                if let Some((tag, _)) = self.idle.take() {
                    let mut out = Out::default();
                    out.ok(tag, None, "IDLE terminated");
                    self.enqueue(out);
                }
                Flow::Continue
            }
            _ => Flow::Continue,
        })
    }

    async fn on_idle(&mut self, tag: Tag<'static>) {
        let Some(s) = self.session.signed_in_mut() else {
            let status = bad(Some(tag), "Sign in first");
            let _ = self.driver.server().idle_reject(status);
            return;
        };
        let gauge = s.account.guard.idle_gauge();
        let mut out = Out::default();
        // RFC 2177: changes already waiting are told right after the continuation.
        // Live-search and NOTIFY lines cannot be queued behind the continuation: they wait
        // for the next change or command, which still finds them.
        let sync = s.sync(&mut out, true).await;
        let cont = CommandContinuationRequest::basic(None, "idling")
            .expect("a static text is a valid continuation");
        if self.driver.server().idle_accept(cont).is_ok() {
            self.driver.set_idling(true);
        }
        if let Err(e) = sync {
            tracing::error!(error = %e, "imap IDLE sync failed");
        }
        self.idle = Some((tag, gauge));
        self.enqueue(out);
    }
}
