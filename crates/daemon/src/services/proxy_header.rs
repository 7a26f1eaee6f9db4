//! The PROXY protocol (HAProxy's, versions 1 and 2) on connections from the load balancers
//! of `[server] proxy_protocol_from`: a TCP pass-through balancer keeps the client's TLS
//! (and so its certificate) end to end, but the node sees the balancer's address. The
//! balancer sends the client's address first; certmail reads it from listed balancers only
//! (a header from anyone else is never trusted: it is just bad input to the protocol).
//!
//! The header is parsed by the `ppp` crate. It is read without reading past it (the TLS
//! ClientHello may follow in the same segment): byte by byte up to the fixed 16-byte part
//! of version 2, then the length it announces; version 1 byte by byte to its CRLF (at most
//! 107 bytes, its specification's limit).

use std::net::SocketAddr;
use std::time::Duration;

use ppp::{HeaderResult, v1, v2};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

/// The longest version 1 header (the specification's 107 bytes).
const V1_MAX: usize = 107;
/// The fixed part of a version 2 header: signature, version/command, family, length.
const V2_FIXED: usize = 16;
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8; 6] = b"PROXY ";

/// Reads the PROXY header at the start of `tcp` within `timeout`: the client's address, or
/// `None` for a header that names none (version 2 `LOCAL`, version 1 `UNKNOWN`: the
/// balancer's own health check). An error says why, for the log.
pub async fn read(tcp: &mut TcpStream, timeout: Duration) -> Result<Option<SocketAddr>, String> {
    match tokio::time::timeout(timeout, read_header(tcp)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no PROXY header within {} s",
            timeout.as_secs_f32()
        )),
    }
}

async fn read_header(tcp: &mut TcpStream) -> Result<Option<SocketAddr>, String> {
    let mut buf = Vec::with_capacity(V1_MAX);
    loop {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte)
            .await
            .map_err(|e| format!("connection ended inside the PROXY header: {e}"))?;
        buf.push(byte[0]);
        let v2 = V2_SIGNATURE.starts_with(&buf) || buf.starts_with(V2_SIGNATURE);
        let v1 = V1_PREFIX.starts_with(&buf) || buf.starts_with(V1_PREFIX);
        if !v1 && !v2 {
            return Err("the connection does not start with a PROXY header".into());
        }
        if v2 && buf.len() == V2_FIXED {
            let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
            buf.resize(V2_FIXED + len, 0);
            tcp.read_exact(&mut buf[V2_FIXED..])
                .await
                .map_err(|e| format!("connection ended inside the PROXY header: {e}"))?;
            return client_address(HeaderResult::parse(&buf));
        }
        // Version 1 is parsed whole, at its CRLF (a part of it may look wrong).
        if !v2 && buf.ends_with(b"\r\n") {
            return client_address(HeaderResult::parse(&buf));
        }
        if buf.len() >= V1_MAX && !v2 {
            return Err(format!("no PROXY header end within {V1_MAX} bytes"));
        }
    }
}

fn client_address(parsed: HeaderResult<'_>) -> Result<Option<SocketAddr>, String> {
    match parsed {
        HeaderResult::V1(Ok(h)) => Ok(match h.addresses {
            v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            v1::Addresses::Unknown => None,
        }),
        HeaderResult::V2(Ok(h)) => Ok(match (h.command, h.addresses) {
            (v2::Command::Local, _) => None,
            (_, v2::Addresses::IPv4(a)) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            (_, v2::Addresses::IPv6(a)) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            (_, v2::Addresses::Unix(_) | v2::Addresses::Unspecified) => None,
        }),
        HeaderResult::V1(Err(e)) => Err(format!("bad PROXY header: {e}")),
        HeaderResult::V2(Err(e)) => Err(format!("bad PROXY header: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    /// Sends `bytes` then `rest` on a loopback connection; what `read` made of it and the
    /// bytes left on the stream after the header.
    async fn parse(bytes: &[u8], rest: &[u8]) -> (Result<Option<SocketAddr>, String>, Vec<u8>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut sent = bytes.to_vec();
        sent.extend_from_slice(rest);
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(&sent).await.unwrap();
            c.shutdown().await.unwrap();
        });
        let (mut tcp, _) = listener.accept().await.unwrap();
        let r = read(&mut tcp, Duration::from_secs(2)).await;
        let mut left = Vec::new();
        let _ = tcp.read_to_end(&mut left).await;
        client.await.unwrap();
        (r, left)
    }

    #[tokio::test]
    async fn version_1_gives_the_client_and_leaves_the_rest() {
        let (r, left) = parse(
            b"PROXY TCP4 198.51.100.9 10.0.0.5 50123 993\r\n",
            b"\x16\x03\x01hello",
        )
        .await;
        assert_eq!(r, Ok(Some("198.51.100.9:50123".parse().unwrap())));
        assert_eq!(left, b"\x16\x03\x01hello");
        let (r, _) = parse(b"PROXY UNKNOWN\r\n", b"").await;
        assert_eq!(r, Ok(None));
    }

    #[tokio::test]
    async fn version_2_gives_the_client_and_leaves_the_rest() {
        let header = v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Proxy,
            v2::Protocol::Stream,
            (
                "[2001:db8::7]:4000".parse::<SocketAddr>().unwrap(),
                "[2001:db8::1]:993".parse::<SocketAddr>().unwrap(),
            ),
        )
        .build()
        .unwrap();
        let (r, left) = parse(&header, b"\x16\x03\x01hello").await;
        assert_eq!(r, Ok(Some("[2001:db8::7]:4000".parse().unwrap())));
        assert_eq!(left, b"\x16\x03\x01hello");
    }

    #[tokio::test]
    async fn no_or_bad_header_is_an_error_that_says_why() {
        let (r, _) = parse(b"\x16\x03\x01 a TLS hello, no header", b"").await;
        assert!(
            r.unwrap_err()
                .contains("does not start with a PROXY header")
        );
        let (r, _) = parse(&[b'P'; 200], b"").await;
        assert!(r.is_err());
        let (r, _) = parse(b"PROXY TCP4 198.51.100.9", b"").await;
        assert!(r.unwrap_err().contains("ended inside"));
    }
}
