//! A connection for commands that send many requests (`import-maildir`, `audit tail -f`):
//! one admin socket connection to the running daemon, or the store opened once when the
//! daemon is stopped. Both execute the same [`crate::admin::execute`] code.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::admin::AdminContext;
use crate::admin::{Request, Response};

/// Where requests go.
pub enum AdminLink {
    /// The running daemon, over its admin socket.
    Daemon {
        /// Answers, one JSON line each.
        reader: BufReader<UnixStream>,
        /// Requests, one JSON line each.
        writer: UnixStream,
    },
    /// The stopped daemon's store, opened by this process.
    Store {
        /// Runs the store's async calls.
        runtime: tokio::runtime::Runtime,
        /// The store and PKI.
        ctx: Box<AdminContext>,
    },
}

impl AdminLink {
    /// Connects to the daemon of `config`, or opens its store when none runs.
    pub fn open(config: &crate::config::Config) -> anyhow::Result<AdminLink> {
        if let Some(writer) = connect(&config.server.admin_socket())? {
            writer.set_read_timeout(Some(Duration::from_secs(300)))?;
            let reader = BufReader::new(writer.try_clone()?);
            return Ok(AdminLink::Daemon { reader, writer });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let ctx = runtime.block_on(AdminContext::direct(config))?;
        Ok(AdminLink::Store {
            runtime,
            ctx: Box::new(ctx),
        })
    }

    /// Whether requests go to a running daemon.
    pub fn daemon_running(&self) -> bool {
        matches!(self, AdminLink::Daemon { .. })
    }

    /// Sends one request and waits for its answer.
    pub fn call(&mut self, request: Request) -> anyhow::Result<Response> {
        match self {
            AdminLink::Daemon { reader, writer } => {
                let mut line = serde_json::to_vec(&request)?;
                line.push(b'\n');
                writer.write_all(&line)?;
                let mut answer = String::new();
                reader.read_line(&mut answer)?;
                anyhow::ensure!(
                    !answer.is_empty(),
                    "the daemon closed the admin connection without answering"
                );
                Ok(serde_json::from_str(answer.trim_end())?)
            }
            AdminLink::Store { runtime, ctx } => {
                Ok(runtime.block_on(crate::admin::execute(ctx, request)))
            }
        }
    }
}

/// Whether a daemon answers on `socket`.
pub fn daemon_answers(socket: &Path) -> anyhow::Result<bool> {
    Ok(connect(socket)?.is_some())
}

fn connect(socket: &Path) -> anyhow::Result<Option<UnixStream>> {
    match UnixStream::connect(socket) {
        Ok(s) => Ok(Some(s)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(e) => anyhow::bail!("cannot reach the daemon at {}: {e}", socket.display()),
    }
}
