//! One SMTP connection: the read loop around the sans-IO session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certmail_auth::signin::{self, Credentials, Protocol as AuthProtocol, SignInPolicy};
use certmail_pki::Pki;
use certmail_session::{Change, ConnectionGuard, DeviceKey, Protocol, SignInError};
use certmail_store::{Delivery, QueueEntry, QueueRecipient, RecipientStatus};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::SmtpContext;
use super::recipients::{self, Target, Unknown};
use crate::proto::{Action, AuthRequest, Envelope, ListenerKind, Reply, Session, SessionConfig};

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

/// Per-connection state beside the protocol session.
struct State {
    ctx: Arc<SmtpContext>,
    pki: Arc<Pki>,
    peer: SocketAddr,
    cert: Option<Vec<u8>>,
    guard: Option<ConnectionGuard>,
    account: Option<certmail_store::Account>,
    targets: Vec<Target>,
    spool: Vec<u8>,
    in_message: bool,
    /// The EHLO/HELO name, for the trace header.
    client_name: String,
    /// Whether the connection is encrypted now.
    tls: bool,
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
    config.offer_external = !s.require_password;
    let handshake = Duration::from_secs(s.tls_handshake_timeout_secs);
    let mut state = State {
        ctx: Arc::clone(&ctx),
        pki: conn.pki,
        peer: conn.peer,
        cert: None,
        guard: None,
        account: None,
        targets: Vec::new(),
        spool: Vec::new(),
        in_message: false,
        client_name: String::new(),
        tls: false,
    };
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
            match action {
                Action::Write(b) => out.extend_from_slice(&b),
                Action::StartTls => {
                    io.write_all(&out).await?;
                    io.flush().await?;
                    return Ok(LoopEnd::StartTls);
                }
                Action::Close => {
                    io.write_all(&out).await?;
                    io.flush().await?;
                    let _ = io.shutdown().await;
                    return Ok(LoopEnd::Closed);
                }
                Action::Authenticate(req) => {
                    let decision = authenticate(state, req).await;
                    let _ = session.auth_result(decision);
                }
                Action::CheckSender { address, .. } => {
                    state.targets.clear();
                    let decision = check_sender(state, &address);
                    let _ = session.mail_result(decision);
                }
                Action::CheckRecipient(rcpt) => {
                    let decision = check_recipient(state, &rcpt.address).await;
                    let _ = session.rcpt_result(decision);
                }
                Action::MessageStart => {
                    state.spool.clear();
                    state.in_message = true;
                }
                Action::MessageChunk(b) => state.spool.extend_from_slice(&b),
                Action::MessageAborted => {
                    state.spool = Vec::new();
                    state.in_message = false;
                }
                Action::MessageComplete(envelope) => {
                    state.in_message = false;
                    let body = std::mem::take(&mut state.spool);
                    state.client_name = session.client_name().unwrap_or("unknown").to_string();
                    state.tls = session.is_tls_active();
                    let reply = deliver(state, envelope, body).await;
                    state.targets.clear();
                    let _ = session.message_result(reply);
                }
            }
        }
        if !out.is_empty() {
            io.write_all(&out).await?;
            io.flush().await?;
            out.clear();
        }
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
        let read = tokio::select! {
            r = tokio::time::timeout(timeout, io.read(&mut buf)) => r,
            reason = kicked => {
                // Another device signed in (or an admin kick): say why, drop any partial message.
                state.spool = Vec::new();
                let line = format!("421 4.7.0 {}\r\n", reason.smtp_reply());
                io.write_all(line.as_bytes()).await?;
                let _ = io.shutdown().await;
                return Ok(LoopEnd::Closed);
            }
            _ = shutdown.cancelled(), if !state.in_message => {
                io.write_all(b"421 4.3.2 The server is shutting down; try again shortly\r\n").await?;
                let _ = io.shutdown().await;
                return Ok(LoopEnd::Closed);
            }
        };
        match read {
            Err(_) => {
                // RFC 5321 §4.5.3.2: the server may close after its timeout, with 421.
                io.write_all(b"421 4.4.2 Idle for too long; closing the connection\r\n")
                    .await?;
                let _ = io.shutdown().await;
                return Ok(LoopEnd::Closed);
            }
            Ok(Ok(0)) => return Ok(LoopEnd::Closed),
            Ok(Ok(n)) => session.feed(&buf[..n]),
            Ok(Err(e)) => return Err(e),
        }
    }
}

fn enhanced(s: &str) -> (u8, u16, u16) {
    let mut it = s.split('.').map(|p| p.parse::<u16>().unwrap_or(0));
    let class = it.next().unwrap_or(5) as u8;
    (class, it.next().unwrap_or(0), it.next().unwrap_or(0))
}

async fn authenticate(state: &mut State, req: AuthRequest) -> Result<(), Reply> {
    let ctx = Arc::clone(&state.ctx);
    let credentials = match req {
        AuthRequest::External { authzid } => Credentials::External { authzid },
        AuthRequest::Plain {
            authzid,
            username,
            password,
        } => {
            if let Some(z) = authzid.filter(|z| !z.eq_ignore_ascii_case(&username)) {
                let _ = z;
                return Err(Reply::new(
                    535,
                    (5, 7, 8),
                    "Signing in on behalf of another user is not supported",
                ));
            }
            Credentials::Password {
                user: username,
                password: certmail_auth::Secret::new(password.expose().to_string()),
            }
        }
        AuthRequest::Login { username, password } => Credentials::Password {
            user: username,
            password: certmail_auth::Secret::new(password.expose().to_string()),
        },
    };
    let policy = SignInPolicy {
        require_password: ctx.settings.require_password,
    };
    let attempt = signin::Attempt {
        cert_der: state.cert.as_deref(),
        credentials,
        ip: state.peer.ip(),
        protocol: AuthProtocol::Smtp,
        now: certmail_auth::now(),
    };
    let result = signin::sign_in(ctx.store.as_ref(), &state.pki, &policy, attempt).await;
    let signed = match result {
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed on our side");
            return Err(Reply::new(
                454,
                (4, 7, 0),
                "Temporary problem signing in; try again shortly",
            ));
        }
        Ok(Err(refusal)) => {
            let (code, enh) = refusal.reason.smtp_reply();
            return Err(Reply::new(code, enhanced(enh), refusal.message));
        }
        Ok(Ok(s)) => s,
    };
    let device = DeviceKey::new(signed.identity.spki_sha256, state.peer.ip());
    match ctx
        .registry
        .sign_in(
            &signed.account.id,
            device,
            Protocol::Smtp,
            ctx.settings.session_policy,
        )
        .await
    {
        Ok(guard) => {
            state.guard = Some(guard);
            state.account = Some(signed.account);
            Ok(())
        }
        Err(SignInError::Rejected { ip }) => Err(Reply::new(
            535,
            (5, 7, 8),
            format!("Your account is signed in on another device ({ip}); sign out there first"),
        )),
        Err(e @ SignInError::ConnectionCapReached { .. }) => Err(Reply::new(
            454,
            (4, 7, 0),
            format!("{e}; close some and retry"),
        )),
    }
}

fn check_sender(state: &State, address: &str) -> Result<(), Reply> {
    let Some(account) = &state.account else {
        // MX: any sender (SPF/DMARC are checked by the relay issue's authentication).
        return Ok(());
    };
    let a = address.to_lowercase();
    if account.addresses.contains(&a) {
        Ok(())
    } else {
        Err(Reply::new(
            550,
            (5, 7, 1),
            format!(
                "You may send only as your own address ({}), not as <{address}>",
                account.addresses.join(", ")
            ),
        ))
    }
}

async fn check_recipient(state: &mut State, address: &str) -> Result<(), Reply> {
    let ctx = Arc::clone(&state.ctx);
    let may_relay = state.account.is_some();
    let resolved = recipients::resolve(
        ctx.store.as_ref(),
        &ctx.settings.local_domains,
        address,
        may_relay,
    )
    .await;
    let target = match resolved {
        Err(e) => {
            tracing::error!(error = %e, "recipient lookup failed");
            return Err(Reply::new(
                451,
                (4, 3, 0),
                "Temporary problem looking up the recipient; try again later",
            ));
        }
        Ok(Err(Unknown::NoSuchUser)) => {
            return Err(Reply::new(
                550,
                (5, 1, 1),
                format!("No mailbox here by the name <{address}>"),
            ));
        }
        Ok(Err(Unknown::BadAddress)) => {
            return Err(Reply::new(
                501,
                (5, 1, 3),
                format!("<{address}> is not a valid mail address"),
            ));
        }
        Ok(Err(Unknown::Relay)) => {
            return Err(Reply::new(
                554,
                (5, 7, 1),
                format!(
                    "Relaying denied: this server accepts mail only for its own domains, not <{address}>"
                ),
            ));
        }
        Ok(Ok(t)) => t,
    };
    if let (Target::Local(accounts), true) = (&target, ctx.settings.quota_bytes > 0) {
        {
            for a in accounts {
                match ctx.store.account_usage(a).await {
                    Ok(used) if used >= ctx.settings.quota_bytes => {
                        return Err(Reply::new(
                            552,
                            (5, 2, 2),
                            format!(
                                "The mailbox of <{address}> is full; the recipient must delete some mail"
                            ),
                        ));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "quota lookup failed");
                        return Err(Reply::new(
                            451,
                            (4, 3, 0),
                            "Temporary problem looking up the recipient; try again later",
                        ));
                    }
                }
            }
        }
    }
    state.targets.push(target);
    Ok(())
}

async fn deliver(state: &mut State, envelope: Envelope, body: Vec<u8>) -> Reply {
    let ctx = Arc::clone(&state.ctx);
    let now = certmail_auth::now();
    if let (Some(account), true) = (&state.account, ctx.settings.enforce_from_header) {
        {
            let from = crate::message::header_from_addresses(&body);
            let foreign: Vec<_> = from
                .iter()
                .filter(|a| !account.addresses.iter().any(|x| x.eq_ignore_ascii_case(a)))
                .collect();
            if from.is_empty() || !foreign.is_empty() {
                return Reply::new(
                    550,
                    (5, 7, 1),
                    format!(
                        "The From: header must be your own address ({}); the message was not sent",
                        account.addresses.join(", ")
                    ),
                );
            }
        }
    }
    let by_account = state.account.as_ref().map(|a| a.id.as_str());
    let origin = super::headers::Origin {
        peer: state.peer,
        client_name: &state.client_name,
        account: by_account,
        tls: state.tls,
        smtputf8: envelope.params.smtputf8,
    };
    let body = super::headers::prepare(&body, &ctx.settings.hostname, &origin, now);
    let mut local: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut remote = Vec::new();
    for (t, rcpt) in state.targets.iter().zip(&envelope.rcpts) {
        match t {
            Target::Local(accounts) => {
                for a in accounts {
                    if !local.iter().any(|(x, _, _)| x == a) {
                        local.push((a.clone(), "INBOX".to_string(), Vec::new()));
                    }
                }
            }
            Target::Remote(addr) => remote.push(QueueRecipient {
                address: addr.clone(),
                status: RecipientStatus::Pending,
                attempts: 0,
                last_error: None,
                notify: notify_bits(&rcpt.notify),
            }),
        }
    }
    // RFC 3461 NOTIFY=SUCCESS for local recipients: report once they are stored.
    let success: Vec<super::dsn::Delivered> = state
        .targets
        .iter()
        .zip(&envelope.rcpts)
        .filter(|(t, r)| matches!(t, Target::Local(_)) && r.notify.success)
        .map(|(_, r)| super::dsn::Delivered {
            recipient: r.address.clone(),
            original_recipient: r.orcpt.clone(),
        })
        .collect();
    let report_headers = (!success.is_empty() && !envelope.mail_from.is_empty())
        .then(|| super::dsn::header_section(&body).to_vec());
    let mut queue = Vec::new();
    if !remote.is_empty() {
        let mut meta = std::collections::BTreeMap::new();
        if let Some(envid) = &envelope.params.envid {
            meta.insert("envid".to_string(), envid.clone());
        }
        if let Some(a) = by_account {
            meta.insert("auth".to_string(), a.to_string());
        }
        queue.push(QueueEntry {
            id: 0,
            from: envelope.mail_from.clone(),
            recipients: remote,
            blob: certmail_store::BlobId([0; 32]),
            created_at: now,
            next_attempt: now,
            envelope_meta: meta,
        });
    }
    // A session replaced while the body arrived stores nothing (the read loop then says why).
    if let Some(reason) = state.guard.as_ref().and_then(|g| g.kick_reason()) {
        return Reply::new(421, (4, 7, 0), reason.smtp_reply());
    }
    let delivery = Delivery {
        body,
        internal_date: now,
        recipients: local,
        queue,
    };
    match ctx.store.deliver(delivery).await {
        Ok(receipt) => {
            for copy in &receipt.stored {
                ctx.hub.publish(
                    &copy.account,
                    None,
                    Change::Exists {
                        mailbox: copy.mailbox.clone(),
                        uid: copy.uid,
                    },
                );
            }
            tracing::info!(from = %envelope.mail_from, local = receipt.stored.len(), queued = receipt.queued.len(), "message accepted");
            if let Some(headers) = report_headers {
                send_success_report(&ctx, &envelope, &success, &headers, now).await;
            }
            Reply::new(250, (2, 0, 0), "Message accepted for delivery")
        }
        Err(e) => {
            tracing::error!(error = %e, "storing a message failed");
            Reply::new(
                451,
                (4, 3, 0),
                "Temporary problem storing the message; try again later",
            )
        }
    }
}

/// Delivers a success DSN to the envelope sender: to their INBOX when they are local, else
/// through the outbound queue with the null sender. Best effort: the message itself is
/// already stored, so a failure here is logged, not reported to the client.
async fn send_success_report(
    ctx: &SmtpContext,
    envelope: &Envelope,
    success: &[super::dsn::Delivered],
    headers: &[u8],
    now: i64,
) {
    let s = &ctx.settings;
    let report = match super::dsn::success_report(
        &s.hostname,
        &envelope.mail_from,
        envelope.params.envid.as_deref(),
        success,
        headers,
        now,
    ) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "building a delivery report failed");
            return;
        }
    };
    let sender = envelope.mail_from.to_lowercase();
    let local = match recipients::resolve(ctx.store.as_ref(), &s.local_domains, &sender, true).await
    {
        Ok(Ok(Target::Local(accounts))) => accounts,
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::error!(error = %e, "looking up the report's recipient failed");
            return;
        }
    };
    let queue = if local.is_empty() {
        vec![QueueEntry {
            id: 0,
            from: String::new(),
            recipients: vec![QueueRecipient {
                address: sender.clone(),
                status: RecipientStatus::Pending,
                attempts: 0,
                last_error: None,
                notify: 0,
            }],
            blob: certmail_store::BlobId([0; 32]),
            created_at: now,
            next_attempt: now,
            envelope_meta: Default::default(),
        }]
    } else {
        Vec::new()
    };
    let recipients = local
        .into_iter()
        .map(|a| (a, "INBOX".to_string(), Vec::new()))
        .collect();
    match ctx
        .store
        .deliver(Delivery {
            body: report,
            internal_date: now,
            recipients,
            queue,
        })
        .await
    {
        Ok(receipt) => {
            for copy in &receipt.stored {
                ctx.hub.publish(
                    &copy.account,
                    None,
                    Change::Exists {
                        mailbox: copy.mailbox.clone(),
                        uid: copy.uid,
                    },
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "storing a delivery report failed"),
    }
}

fn notify_bits(n: &crate::proto::Notify) -> u8 {
    use certmail_store::notify::*;
    let mut b = 0;
    if n.success {
        b |= SUCCESS;
    }
    if n.failure {
        b |= FAILURE;
    }
    if n.delay {
        b |= DELAY;
    }
    if n.never {
        b |= NEVER;
    }
    b
}
