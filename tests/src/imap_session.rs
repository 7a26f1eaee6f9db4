//! An IMAP session as a mail program opens it: TLS with the user's certificate on 993,
//! the greeting, then `LOGIN` (async-imap, a real client library). Every step is bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A signed-in async-imap session over TLS.
pub type Session = async_imap::Session<TlsStream<TcpStream>>;

/// How long each step may take.
const STEP: Duration = Duration::from_secs(30);

/// Connects to `addr` with `tls` (which carries the client certificate), reads the
/// greeting and signs in as `user` with `password`.
pub async fn login(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    user: &str,
    password: &str,
) -> anyhow::Result<Session> {
    let stream = crate::tls::connect(addr, tls).await?;
    let mut client = async_imap::Client::new(stream);
    tokio::time::timeout(STEP, client.read_response()).await??;
    Ok(tokio::time::timeout(STEP, client.login(user, password))
        .await?
        .map_err(|(e, _)| e)?)
}
