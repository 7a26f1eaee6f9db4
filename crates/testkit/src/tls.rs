//! A rustls client that presents a client certificate, for talking to the daemon.
//!
//! The certificate goes through a `ResolvesClientCert` rather than
//! `with_client_auth_cert`, which re-parses it with webpki and fails on GPKI/EPKI shapes
//! (a critical certificatePolicies extension; notes/crates.md).

use std::path::Path;
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesClientCert for Fixed {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// A client config trusting `ca_pem`, presenting `cert_pem` + `key_pem` when given, limited
/// to `versions` (e.g. `&[&rustls::version::TLS13]`).
pub fn client_config(
    ca_pem: &Path,
    client: Option<(&Path, &Path)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_pem)? {
        roots.add(c?)?;
    }
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_file_iter(cert)?.collect::<Result<_, _>>()?;
            let key = PrivateKeyDer::from_pem_file(key)?;
            let signing = provider.key_provider.load_private_key(key)?;
            builder.with_client_cert_resolver(Arc::new(Fixed(Arc::new(CertifiedKey::new(
                chain, signing,
            )))))
        }
    };
    Ok(Arc::new(config))
}

/// Connects to `addr` from the local address `from` (e.g. 127.0.0.2, another "device" on
/// loopback) and completes a TLS handshake as `localhost`.
pub async fn connect_from(
    from: std::net::IpAddr,
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
) -> anyhow::Result<TlsStream<TcpStream>> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::new(from, 0))?;
    let tcp = socket.connect(addr).await?;
    let name = ServerName::try_from("localhost")?;
    Ok(tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?)
}

/// Connects to `addr` and completes a TLS handshake as `localhost`.
pub async fn connect(
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
) -> anyhow::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost")?;
    Ok(tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?)
}
