//! A small HTTP/1.1 listener for two things: Prometheus metrics (on localhost) and
//! Thunderbird's autoconfig file (for the organisation's web front or port 80).
//!
//! One request per connection, GET only, bounded header size and time: nothing here is
//! worth a web framework.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::context::Daemon;

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    /// `/metrics`.
    Metrics,
    /// `/.well-known/autoconfig/mail/config-v1.1.xml` and `/mail/config-v1.1.xml`.
    Autoconfig,
}

/// Longest request head (request line and headers) read.
const MAX_HEAD: usize = 8 * 1024;

/// Serves HTTP requests until shutdown.
pub async fn serve(
    listener: TcpListener,
    daemon: Arc<Daemon>,
    routes: Routes,
    shutdown: CancellationToken,
) {
    loop {
        let tcp = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let d = Arc::clone(&daemon);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(tcp, &d, routes)).await;
        });
    }
}

async fn answer(tcp: TcpStream, daemon: &Daemon, routes: Routes) -> std::io::Result<()> {
    let mut reader = BufReader::new(tcp);
    let mut head = String::new();
    let mut line = String::new();
    let mut host = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return respond(reader.get_mut(), 400, "text/plain", "bad request\n").await;
        }
        if head.is_empty() {
            head = line.trim_end().to_string();
        } else if line.trim_end().is_empty() {
            break;
        } else if let Some((_, value)) = line
            .split_once(':')
            .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            host = value.trim().to_string();
        }
    }
    let mut parts = head.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" {
        return respond(reader.get_mut(), 405, "text/plain", "only GET\n").await;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match (routes, path) {
        (Routes::Metrics, "/metrics") => {
            let body = crate::services::metrics::render(daemon).await;
            respond(
                reader.get_mut(),
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                &body,
            )
            .await
        }
        (
            Routes::Autoconfig,
            "/.well-known/autoconfig/mail/config-v1.1.xml" | "/mail/config-v1.1.xml",
        ) => match crate::services::metrics::autoconfig(daemon, query, &host) {
            Some(xml) => {
                respond(
                    reader.get_mut(),
                    200,
                    "application/xml; charset=utf-8",
                    &xml,
                )
                .await
            }
            None => {
                respond(
                    reader.get_mut(),
                    404,
                    "text/plain",
                    "not a domain of this server\n",
                )
                .await
            }
        },
        _ => respond(reader.get_mut(), 404, "text/plain", "not found\n").await,
    }
}

async fn respond(
    tcp: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body.as_bytes()).await?;
    tcp.shutdown().await
}
