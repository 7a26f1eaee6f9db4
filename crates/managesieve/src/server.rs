//! The tokio driver: greeting, the plaintext phase up to STARTTLS, the TLS handshake on the
//! daemon's client-certificate config (a failure is written to the audit log as IMAP
//! writes it), then the command loop. One command at a time; the only place that awaits
//! the socket. A connection ends on LOGOUT, idle timeout, a session kick (another device
//! signed in, an admin kick) or shutdown, each with a BYE that says why.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use certmail_session::KickReason;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::proto::{FrameLimits, Framer, Response};
use crate::session::{Next, Session};
use crate::{Connection, ManageSieveContext};

/// How the command loop ended.
enum End {
    StartTls,
    Close,
}

/// How long the last words (a BYE) may take to write before we just close.
const CLOSING_WRITE: Duration = Duration::from_secs(5);

/// Serves one accepted ManageSieve connection to its end (errors are logged).
pub async fn serve(ctx: Arc<ManageSieveContext>, conn: Connection) {
    let peer = conn.peer;
    if let Err(e) = run(ctx, conn).await {
        tracing::debug!(%peer, error = %e, "managesieve connection ended with an error");
    }
}

async fn run(ctx: Arc<ManageSieveContext>, conn: Connection) -> std::io::Result<()> {
    let mut session = Session::new(Arc::clone(&ctx), conn.peer.ip(), conn.pki);
    let mut framer = Framer::new(limits(&session));
    let mut tcp = conn.tcp;
    write(&ctx, &mut tcp, &session.greeting()).await?;
    if let End::Close = drive(&mut tcp, &mut session, &mut framer, &conn.shutdown).await? {
        return Ok(());
    }
    // RFC 5804 §2.2: nothing the client sent after STARTTLS in the clear counts.
    framer.clear();
    let handshake = certmail_auth::handshake::Handshake {
        store: ctx.store.as_ref(),
        state: &ctx.settings.sign_in.state,
        listener: "managesieve",
        ip: conn.peer.ip(),
        timeout: ctx.settings.tls_handshake_timeout,
    };
    let (mut tls, cert) = certmail_auth::handshake::accept(conn.tls, tcp, handshake).await?;
    let capabilities = session.tls_started(cert);
    write(&ctx, &mut tls, &capabilities).await?;
    drive(&mut tls, &mut session, &mut framer, &conn.shutdown).await?;
    let _ = tokio::time::timeout(CLOSING_WRITE, tls.shutdown()).await;
    Ok(())
}

/// The framer's limits in `session`'s state: literals the size of a script once signed
/// in, of a command line before (a stranger's literal is not kept in memory).
fn limits(session: &Session) -> FrameLimits {
    let max_line = session.ctx.settings.max_line;
    let max_literal = match session.signed_in() {
        Some(_) => usize::try_from(session.ctx.settings.quota.max_bytes).unwrap_or(usize::MAX),
        None => max_line,
    };
    FrameLimits {
        max_line,
        max_literal,
    }
}

/// What woke the loop while it waited for input.
enum Wake {
    Read(Result<std::io::Result<usize>, tokio::time::error::Elapsed>),
    Kicked(KickReason),
    Shutdown,
}

type KickFuture = Pin<Box<dyn Future<Output = KickReason> + Send>>;

/// Reads, answers and writes until the connection should close or start TLS.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    session: &mut Session,
    framer: &mut Framer,
    shutdown: &tokio_util::sync::CancellationToken,
) -> std::io::Result<End> {
    let ctx = Arc::clone(&session.ctx);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(frame) = framer.next_frame() {
            let next = session.frame(frame).await;
            framer.set_limits(limits(session));
            match next {
                Next::Reply(out) => write(&ctx, io, &out).await?,
                Next::StartTls(out) => {
                    write(&ctx, io, &out).await?;
                    return Ok(End::StartTls);
                }
                Next::Close(out) => {
                    let _ = tokio::time::timeout(CLOSING_WRITE, io.write_all(&out)).await;
                    return Ok(End::Close);
                }
            }
        }
        let kicked: KickFuture = match session.signed_in() {
            Some(s) => Box::pin(s.guard.kicked()),
            None => Box::pin(std::future::pending()),
        };
        let wake = tokio::select! {
            r = tokio::time::timeout(ctx.settings.idle_timeout, io.read(&mut buf)) => Wake::Read(r),
            reason = kicked => Wake::Kicked(reason),
            _ = shutdown.cancelled() => Wake::Shutdown,
        };
        let bye = match wake {
            Wake::Read(Ok(Ok(0))) => return Ok(End::Close),
            Wake::Read(Ok(Ok(n))) => {
                framer.feed(&buf[..n]);
                continue;
            }
            Wake::Read(Ok(Err(e))) => return Err(e),
            Wake::Read(Err(_)) => Response::bye("Idle for too long; closing"),
            Wake::Shutdown => Response::bye("Server shutting down; reconnect shortly"),
            Wake::Kicked(reason) => {
                record_kick(session, &reason).await;
                Response::bye(reason.imap_bye())
            }
        };
        let _ = tokio::time::timeout(CLOSING_WRITE, io.write_all(&bye.to_bytes())).await;
        return Ok(End::Close);
    }
}

/// DESIGN.md: a replaced session hears why, and the audit log says so.
async fn record_kick(session: &Session, reason: &KickReason) {
    let Some(signed) = session.signed_in() else {
        return;
    };
    let now_ms = certmail_auth::now() * 1000;
    if let Err(e) = certmail_auth::signin::record_kick(
        session.ctx.store.as_ref(),
        &signed.account,
        certmail_auth::signin::Protocol::ManageSieve,
        Some(session.ip),
        reason.code(),
        now_ms,
    )
    .await
    {
        tracing::error!(error = %e, "could not write the audit log");
    }
}

/// Writes `bytes`; a client that stops reading is dropped after the idle timeout.
async fn write<S: AsyncWrite + Unpin>(
    ctx: &ManageSieveContext,
    io: &mut S,
    bytes: &[u8],
) -> std::io::Result<()> {
    match tokio::time::timeout(ctx.settings.idle_timeout, async {
        io.write_all(bytes).await?;
        io.flush().await
    })
    .await
    {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client stopped reading",
        )),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn an_idle_connection_hears_why_it_is_closed() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let ctx = Arc::new(crate::testing::context(dir.path(), Default::default())?);
        let ip = std::net::Ipv4Addr::LOCALHOST.into();
        let mut session = Session::new(ctx, ip, crate::testing::pki(dir.path())?);
        let mut framer = Framer::new(limits(&session));
        let (mut client, mut server) = tokio::io::duplex(4096);
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task =
            tokio::spawn(
                async move { drive(&mut server, &mut session, &mut framer, &shutdown).await },
            );
        client.write_all(b"NOOP\r\n").await?;
        let mut heard = Vec::new();
        client.read_to_end(&mut heard).await?;
        assert_eq!(
            String::from_utf8_lossy(&heard),
            "OK \"Done\"\r\nBYE \"Idle for too long; closing\"\r\n"
        );
        assert!(matches!(task.await??, End::Close));
        Ok(())
    }
}
