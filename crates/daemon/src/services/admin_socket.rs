//! The admin socket's server side, inside the daemon: reads [`Request`]s, executes them
//! with [`crate::admin::execute`] on the daemon's [`AdminContext`], writes the answers.

use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::admin::{AdminContext, ControlFuture, DaemonControl, Request, Response};
use crate::context::Daemon;

/// Longest request line: an imported message in base64 (`import-maildir`), up to the
/// effective `[imap] append_limit`, is the largest request; the rest of the request and the
/// JSON around it fit in `REQUEST_ROOM`. The socket is owner-only.
fn max_line(append_limit: u64) -> u64 {
    append_limit.div_ceil(3) * 4 + REQUEST_ROOM
}

/// Bytes of a request line beside an imported message's base64 (names, flags, JSON).
const REQUEST_ROOM: u64 = 1024 * 1024;

/// Binds the socket with mode 0600, replacing a stale one left by a crashed daemon.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt as _;
    if path.exists() {
        // A live daemon would answer; a dead one leaves its socket behind.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "another certmail daemon is already running (admin socket {} answers)",
                path.display()
            );
        }
        std::fs::remove_file(path)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serves admin connections until shutdown.
pub async fn serve(listener: UnixListener, daemon: Arc<Daemon>, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => { tracing::warn!(error = %e, "admin accept failed"); continue; }
            },
        };
        let d = Arc::clone(&daemon);
        tokio::spawn(async move {
            if let Err(e) = connection(stream, d).await {
                tracing::debug!(error = %e, "admin connection ended");
            }
        });
    }
}

async fn connection(stream: UnixStream, daemon: Arc<Daemon>) -> anyhow::Result<()> {
    // The socket is mode 0600, so the peer is the daemon's user or root; the kernel says
    // which (SO_PEERCRED), for the audit log.
    let actor = match stream.peer_cred() {
        Ok(c) => format!("uid={}", c.uid()),
        Err(_) => "uid=?".to_string(),
    };
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    let mut line = String::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(max_line(daemon.config().append_limit()))
            .read_line(&mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if !line.ends_with('\n') {
            let r = Response::fail("bad_request", "request line too long");
            w.write_all(format!("{}\n", serde_json::to_string(&r)?).as_bytes())
                .await?;
            return Ok(());
        }
        let response = match serde_json::from_str::<Request>(line.trim_end()) {
            Ok(req) => crate::admin::execute(&admin_context(&daemon, &actor), req).await,
            Err(e) => Response::fail("bad_request", format!("cannot parse the request: {e}")),
        };
        let mut out = serde_json::to_vec(&response)?;
        out.push(b'\n');
        w.write_all(&out).await?;
    }
}

/// What admin requests may touch on the running daemon.
fn admin_context(daemon: &Arc<Daemon>, actor: &str) -> AdminContext {
    AdminContext {
        store: Arc::clone(&daemon.store),
        pki: Arc::clone(&daemon.tls.current().pki),
        sessions: Some(Arc::clone(&daemon.registry) as _),
        hub: Some(daemon.hub.clone()),
        daemon: Some(Arc::clone(daemon) as _),
        password_rules: daemon.config().password_rules(),
        issuer: daemon.config().server.hostname.clone(),
        local_domains: daemon.config().server.local_domains.clone(),
        max_acl_entries: daemon.config().imap.max_acl_entries,
        sign_in: Arc::clone(&daemon.sign_in_state),
        queue: Arc::clone(&daemon.queue),
        script_quota: crate::admin::context::script_quota(&daemon.config().sieve),
        actor: actor.to_string(),
    }
}

impl DaemonControl for Daemon {
    fn reload(&self) -> ControlFuture<'_> {
        Box::pin(crate::services::reload::reload_and_apply(self))
    }

    fn reload_crls(&self) -> ControlFuture<'_> {
        Box::pin(async move {
            crate::services::revocation::reload_crls(self, true).await?;
            Ok(())
        })
    }

    fn tls_reports(&self, send: bool) -> crate::admin::context::ValueFuture<'_> {
        Box::pin(async move {
            let config = self.config();
            anyhow::ensure!(
                config.relay.tls_reports,
                "TLS reporting is off ([relay] tls_reports = false)"
            );
            if send {
                let s = crate::services::relay::send_tls_reports(self, true).await?;
                return Ok(serde_json::json!({
                    "sent": s.sent, "no_record": s.no_record, "kept": s.kept,
                }));
            }
            let book = crate::services::relay::tls_report_book(&config)?;
            let days = book.days_through("9999-12-31");
            Ok(serde_json::to_value(days)?)
        })
    }
}
