//! An HTTPS server for MTA-STS policies (the relay's MTA-STS and DANE tests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

/// An HTTPS server answering `GET /.well-known/mta-sts.txt` for `host` with `policy`
/// (404 otherwise); counts the requests.
pub struct PolicyServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// GET requests for the policy at the right host so far.
    pub requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl PolicyServer {
    /// Serves `policy` for `host` over `tls`.
    pub async fn start(tls: Arc<rustls::ServerConfig>, host: &str, policy: &str) -> PolicyServer {
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{policy}",
            policy.len()
        );
        Self::answering(tls, host, response).await
    }

    /// The policy in chunked transfer coding, as many web servers send it.
    pub async fn start_chunked(
        tls: Arc<rustls::ServerConfig>,
        host: &str,
        policy: &str,
    ) -> PolicyServer {
        let (a, b) = policy.split_at(policy.len() / 2);
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        );
        Self::answering(tls, host, response).await
    }

    async fn answering(
        tls: Arc<rustls::ServerConfig>,
        host: &str,
        response: String,
    ) -> PolicyServer {
        let wanted = format!("\r\nhost: {host}\r\n");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(mut stream) = TlsAcceptor::from(Arc::clone(&tls)).accept(tcp).await else {
                    continue;
                };
                let mut request = vec![0u8; 2048];
                let n = stream.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]).into_owned();
                // Header names are case-insensitive (RFC 9110 §5.1).
                if head.starts_with("GET /.well-known/mta-sts.txt HTTP/1.1\r\n")
                    && head.to_ascii_lowercase().contains(&wanted)
                {
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = stream.write_all(response.as_bytes()).await;
                } else {
                    let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\n\r\n").await;
                }
                let _ = stream.shutdown().await;
            }
        });
        PolicyServer {
            addr,
            requests,
            task,
        }
    }

    /// Stops answering.
    pub fn stop(&self) {
        self.task.abort();
    }
}
