//! One HTTP/1.1 request on a connection the caller opened (plain TCP for rspamd, verified
//! TLS for an MTA-STS policy), through hyper: framing, chunked bodies and header parsing
//! are hyper's, and the answer's body is bounded.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// Sends `request` on `io` and reads the answer: its status and at most `max_body`
/// octets of body (a longer body is an error). The error says which step failed.
pub async fn exchange<S>(
    io: S,
    request: Request<Full<Bytes>>,
    max_body: usize,
) -> Result<(u16, Bytes), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "an HTTP client connection ended with an error");
        }
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), max_body)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    Ok((status, body))
}
