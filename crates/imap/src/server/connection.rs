//! One IMAP connection: TLS (implicit or after the plaintext phase), then the read loop
//! around the imap-next driver.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use certmail_pki::Pki;
use certmail_session::{Change, KickReason};
use imap_codec::imap_types::{
    auth::AuthenticateData,
    command::{Command, CommandBody},
    core::Tag,
    response::{CommandContinuationRequest, Response, Status},
};
use imap_next::{
    Interrupt, Io, State as _,
    server::{Error as NextError, Event},
};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::signin::{self, Mechanism};
use super::{ImapContext, Out, SignedIn};
use crate::proto::driver::{Driver, DriverLimits};
use crate::proto::literal::line_tag;
use crate::proto::plaintext::{PlaintextLimits, PlaintextOutcome, PlaintextPhase};
use crate::proto::response::{bad, bye, code, encode_status, no};

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
    let acceptor = tokio_rustls::TlsAcceptor::from(conn.tls);
    let listener = if conn.implicit_tls { "imaps" } else { "imap" };
    let tls = match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        failed => {
            // A key that cannot prove possession (KCDSA, RSA-1024) never reaches sign-in:
            // the audit log is where a helpdesk finds out why.
            let error = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => "the client did not finish the TLS handshake in time".to_string(),
            };
            let now_ms = certmail_auth::now() * 1000;
            let ip = conn.peer.ip();
            if let Err(e) = certmail_auth::signin::record_tls_failure(
                ctx.store.as_ref(),
                listener,
                ip,
                &error,
                now_ms,
            )
            .await
            {
                tracing::error!(error = %e, "could not write the audit log");
            }
            return Err(std::io::Error::other(error));
        }
    };
    let cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec());
    let limits = DriverLimits {
        max_literal: s.append_limit,
        max_command: s.append_limit.saturating_add(s.max_command_line),
        max_line: s.max_command_line,
    };
    let driver = Driver::new(
        limits,
        Arc::clone(&ctx.literals),
        &greeting,
        !conn.implicit_tls,
    );
    let mut session = Session {
        ctx,
        io: tls,
        driver,
        peer: conn.peer,
        pki: conn.pki,
        cert,
        shutdown: conn.shutdown,
        signed_in: None,
        sasl: None,
        idle: None,
        bad_commands: 0,
        buf: vec![0; 16 * 1024],
    };
    session.run().await
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

/// The connection after TLS.
struct Session<S> {
    ctx: Arc<ImapContext>,
    io: S,
    driver: Driver,
    peer: SocketAddr,
    pki: Arc<Pki>,
    cert: Option<Vec<u8>>,
    shutdown: CancellationToken,
    signed_in: Option<SignedIn>,
    /// AUTHENTICATE waiting for the client's response.
    sasl: Option<(Tag<'static>, Mechanism)>,
    /// The tag of an IDLE in progress.
    idle: Option<Tag<'static>>,
    bad_commands: u32,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    async fn run(&mut self) -> std::io::Result<()> {
        loop {
            let flow = match self.driver.next() {
                Ok(event) => {
                    let kicked = self.kicked();
                    let outcome = tokio::select! {
                        flow = self.on_event(event) => Ok(flow),
                        reason = kicked => Err(reason),
                    };
                    match outcome {
                        Ok(flow) => flow?,
                        Err(reason) => return self.close_kicked(reason).await,
                    }
                }
                Err(Interrupt::Io(Io::Output(bytes))) => {
                    self.write(&bytes).await?;
                    Flow::Continue
                }
                Err(Interrupt::Io(Io::NeedMoreInput)) => self.wait_input().await?,
                Err(Interrupt::Error(error)) => self.on_protocol_error(error),
            };
            if flow == Flow::Close {
                self.flush_driver().await?;
                let _ = self.io.shutdown().await;
                return Ok(());
            }
        }
    }

    fn kicked(&self) -> KickFuture {
        match &self.signed_in {
            Some(s) => Box::pin(s.guard.kicked()),
            None => Box::pin(std::future::pending()),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        // A client that stops reading is dropped after the autologout time.
        let limit = self.ctx.settings.autologout();
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

    /// Writes everything imap-next has queued.
    async fn flush_driver(&mut self) -> std::io::Result<()> {
        while let Err(Interrupt::Io(Io::Output(bytes))) = self.driver.next() {
            self.write(&bytes).await?;
        }
        Ok(())
    }

    /// Says BYE (after anything already queued) and closes.
    async fn close_with(&mut self, status: Status<'static>) -> std::io::Result<()> {
        self.flush_driver().await?;
        self.write(&encode_status(status)).await?;
        let _ = self.io.shutdown().await;
        Ok(())
    }

    async fn close_kicked(&mut self, reason: KickReason) -> std::io::Result<()> {
        // DESIGN.md: a replaced session hears why, whatever it was doing.
        let status = bye(Some(code("UNAVAILABLE")), &reason.imap_bye());
        self.close_with(status).await
    }

    async fn wait_input(&mut self) -> std::io::Result<Flow> {
        if self.shutdown.is_cancelled() {
            let status = bye(Some(code("UNAVAILABLE")), "server shutting down");
            self.close_with(status).await?;
            return Ok(Flow::Close);
        }
        let s = &self.ctx.settings;
        let limit = match self.signed_in {
            Some(_) => s.autologout(),
            None => Duration::from_secs(s.preauth_timeout_secs),
        };
        let kicked = self.kicked();
        let idle = self.idle.is_some();
        let Session {
            io,
            buf,
            signed_in,
            shutdown,
            ..
        } = self;
        let hub = async {
            match (idle, signed_in.as_mut()) {
                (true, Some(s)) => s.changes.recv().await,
                _ => std::future::pending().await,
            }
        };
        let wake = tokio::select! {
            r = tokio::time::timeout(limit, io.read(buf)) => Wake::Read(r),
            reason = kicked => Wake::Kicked(reason),
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
                self.idle_change(change).await;
                Ok(Flow::Continue)
            }
        }
    }

    /// A change arrived during IDLE: tell the client at once (RFC 2177; EXPUNGE is allowed
    /// because IDLE is a command in progress, RFC 3501 §7.4.1).
    async fn idle_change(&mut self, change: Change) {
        let Some(s) = &mut self.signed_in else { return };
        if let Some(selected) = &mut s.selected {
            selected.note(&change);
        }
        let mut out = Out::default();
        if let Err(e) = s.sync(&mut out, true).await {
            tracing::error!(error = %e, "imap IDLE update failed");
        }
        self.enqueue(out);
    }

    fn enqueue(&mut self, out: Out) {
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

    fn on_protocol_error(&mut self, error: NextError) -> Flow {
        let text = match &error {
            // imap-next already answered `<tag> BAD` for an over-long synchronizing literal.
            NextError::LiteralTooLong { .. } => None,
            NextError::CommandTooLong { discarded_bytes } => {
                Some((discarded_bytes, "Command too long"))
            }
            NextError::ExpectedCrlfGotLf { discarded_bytes } => {
                Some((discarded_bytes, "Lines must end with CRLF"))
            }
            NextError::MalformedMessage { discarded_bytes } => {
                Some((discarded_bytes, "Syntax error in command"))
            }
        };
        if let Some((bytes, text)) = text {
            let tag = line_tag(bytes.declassify())
                .and_then(|t| Tag::try_from(t.to_vec()).ok())
                .map(|t| t.into_static_tag());
            self.driver.server().enqueue_status(bad(tag, text));
        }
        self.count_bad()
    }

    fn count_bad(&mut self) -> Flow {
        self.bad_commands += 1;
        if self.bad_commands >= self.ctx.settings.max_bad_commands {
            self.driver
                .server()
                .enqueue_status(bye(None, "Too many bad commands"));
            return Flow::Close;
        }
        Flow::Continue
    }

    async fn on_event(&mut self, event: Event) -> std::io::Result<Flow> {
        match event {
            Event::GreetingSent { .. } | Event::ResponseSent { .. } => Ok(Flow::Continue),
            Event::CommandReceived { command } => Ok(self.on_command(command).await),
            Event::CommandAuthenticateReceived {
                command_authenticate: c,
            } => {
                self.on_authenticate(c.tag, c.mechanism.as_ref(), c.initial_response)
                    .await;
                Ok(Flow::Continue)
            }
            Event::AuthenticateDataReceived { authenticate_data } => {
                self.on_authenticate_data(authenticate_data).await;
                Ok(Flow::Continue)
            }
            Event::IdleCommandReceived { tag } => {
                self.on_idle(tag).await;
                Ok(Flow::Continue)
            }
            Event::IdleDoneReceived => {
                if let Some(tag) = self.idle.take() {
                    let mut out = Out::default();
                    out.ok(tag, None, "IDLE terminated");
                    self.enqueue(out);
                }
                Ok(Flow::Continue)
            }
        }
    }

    async fn on_idle(&mut self, tag: Tag<'static>) {
        let Some(s) = &mut self.signed_in else {
            let status = bad(Some(tag), "Sign in first");
            let _ = self.driver.server().idle_reject(status);
            return;
        };
        let mut out = Out::default();
        // RFC 2177: changes already waiting are told right after the continuation.
        let sync = s.sync(&mut out, true).await;
        let cont = CommandContinuationRequest::basic(None, "idling")
            .expect("a static text is a valid continuation");
        let _ = self.driver.server().idle_accept(cont);
        if let Err(e) = sync {
            tracing::error!(error = %e, "imap IDLE sync failed");
        }
        self.idle = Some(tag);
        self.enqueue(out);
    }

    async fn on_authenticate(
        &mut self,
        tag: Tag<'static>,
        mechanism: &str,
        initial: Option<imap_codec::imap_types::secret::Secret<std::borrow::Cow<'static, [u8]>>>,
    ) {
        if self.signed_in.is_some() {
            let _ = self
                .driver
                .server()
                .authenticate_finish(bad(Some(tag), "Already signed in"));
            return;
        }
        let Some(mechanism) = Mechanism::from_name(mechanism) else {
            let text = "Unsupported mechanism; use PLAIN or EXTERNAL";
            let _ = self
                .driver
                .server()
                .authenticate_finish(no(tag, None, text));
            return;
        };
        match initial {
            // RFC 4959 SASL-IR.
            Some(data) => self.finish_sasl(tag, mechanism, data.declassify()).await,
            None => {
                self.sasl = Some((tag, mechanism));
                let _ = self
                    .driver
                    .server()
                    .authenticate_continue(CommandContinuationRequest::base64(b""));
            }
        }
    }

    async fn on_authenticate_data(&mut self, data: AuthenticateData<'static>) {
        let Some((tag, mechanism)) = self.sasl.take() else {
            return;
        };
        match data {
            AuthenticateData::Continue(data) => {
                self.finish_sasl(tag, mechanism, data.declassify()).await
            }
            AuthenticateData::Cancel => {
                // RFC 3501 §6.2.2: a cancelled exchange is answered BAD.
                let status = bad(Some(tag), "Authentication cancelled");
                let _ = self.driver.server().authenticate_finish(status);
            }
        }
    }

    async fn finish_sasl(&mut self, tag: Tag<'static>, mechanism: Mechanism, data: &[u8]) {
        let status = match mechanism.credentials(data) {
            Err(text) => no(tag, Some(code("AUTHENTICATIONFAILED")), text),
            Ok(credentials) => self.sign_in(tag, credentials).await,
        };
        let _ = self.driver.server().authenticate_finish(status);
    }

    async fn sign_in(
        &mut self,
        tag: Tag<'static>,
        credentials: certmail_auth::signin::Credentials,
    ) -> Status<'static> {
        let result = signin::decide(
            &self.ctx,
            &self.pki,
            self.cert.as_deref(),
            self.peer.ip(),
            tag,
            credentials,
        )
        .await;
        match result {
            Ok((state, status)) => {
                self.signed_in = Some(state);
                status
            }
            Err(status) => status,
        }
    }

    async fn on_command(&mut self, command: Command<'static>) -> Flow {
        let tag = command.tag;
        let mut out = Out::default();
        let flow = match command.body {
            CommandBody::Login { username, password } => {
                if self.signed_in.is_some() {
                    out.bad(tag, "Already signed in");
                } else {
                    match signin::login_credentials(
                        username.as_ref(),
                        password.declassify().as_ref(),
                    ) {
                        Ok(credentials) => {
                            let status = self.sign_in(tag, credentials).await;
                            out.status(status);
                        }
                        Err(text) => out.no_code(tag, "AUTHENTICATIONFAILED", text),
                    }
                }
                Flow::Continue
            }
            body => {
                let name = body.name();
                match crate::commands::dispatch::dispatch(
                    self.signed_in.as_mut(),
                    self.ctx.settings.append_limit,
                    &mut out,
                    tag,
                    body,
                )
                .await
                {
                    crate::commands::Outcome::Done => Flow::Continue,
                    crate::commands::Outcome::Logout => Flow::Close,
                    crate::commands::Outcome::Bad => {
                        tracing::debug!(command = name, "imap command refused as BAD");
                        self.count_bad()
                    }
                }
            }
        };
        self.enqueue(out);
        flow
    }
}

/// `Tag::into_static` without importing the trait at every use.
trait IntoStaticTag {
    fn into_static_tag(self) -> Tag<'static>;
}

impl IntoStaticTag for Tag<'_> {
    fn into_static_tag(self) -> Tag<'static> {
        imap_codec::imap_types::IntoStatic::into_static(self)
    }
}
