//! The admin socket's client side: `certmail account …` and friends. [`send`] asks the
//! running daemon; [`dispatch`] falls back to executing the request on a stopped daemon's
//! store in this process.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::admin::{AdminContext, Request, Response};

/// Sends `request` to a running daemon. `Ok(None)` when no daemon listens on `socket`.
pub fn send(socket: &Path, request: &Request) -> anyhow::Result<Option<Response>> {
    let mut stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => anyhow::bail!("cannot reach the daemon at {}: {e}", socket.display()),
    };
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    anyhow::ensure!(
        !answer.is_empty(),
        "the daemon closed the admin connection without answering"
    );
    Ok(Some(serde_json::from_str(answer.trim_end())?))
}

/// Sends to the running daemon, or executes on the store when none runs.
pub fn dispatch(config_path: &Path, req: Request) -> anyhow::Result<Response> {
    let config = crate::config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(resp) = send(&config.server.admin_socket(), &req)? {
        return Ok(resp);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let ctx = AdminContext::direct(&config).await?;
        Ok(crate::admin::execute(&ctx, req).await)
    })
}
