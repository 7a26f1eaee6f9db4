//! TLS clients that talk to the daemon: one [`client_config`] for every test and the
//! benchmark, keys loaded by ring or (for keys ring refuses, such as RSA-1024) used through
//! `openssl dgst`, and connecting as `localhost`.
//!
//! The client certificate is presented through rustls' own [`SingleCertAndKey`] resolver.
//! `with_client_auth_cert` would do the same after re-parsing the certificate with webpki
//! to compare keys, and webpki refuses GPKI/EPKI shapes (a critical certificatePolicies
//! extension; notes/crates.md), so the key pair is handed over as it is.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use certmail_pki::testpki::{UserCert, openssl};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::sign::{CertifiedKey, Signer, SigningKey, SingleCertAndKey};
use rustls::{
    ClientConfig, RootCertStore, SignatureAlgorithm, SignatureScheme, SupportedProtocolVersion,
};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// TLS 1.3 and 1.2, rustls' defaults.
pub const ALL_VERSIONS: &[&SupportedProtocolVersion] = rustls::DEFAULT_VERSIONS;

/// A client certificate chain and the key that signs for it.
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's key.
    pub key: Arc<dyn SigningKey>,
}

impl ClientCert {
    /// A certificate (DER) and its key.
    pub fn new(cert_der: &[u8], key: Arc<dyn SigningKey>) -> ClientCert {
        ClientCert {
            chain: vec![CertificateDer::from(cert_der.to_vec())],
            key,
        }
    }

    /// A PEM certificate chain file and a PEM key file, the key loaded by ring.
    pub fn from_pem_files(cert: &Path, key: &Path) -> anyhow::Result<ClientCert> {
        let chain = CertificateDer::pem_file_iter(cert)
            .with_context(|| format!("reading {}", cert.display()))?
            .collect::<Result<_, _>>()?;
        let der = PrivateKeyDer::from_pem_file(key)
            .with_context(|| format!("reading {}", key.display()))?;
        let key = rustls::crypto::ring::default_provider()
            .key_provider
            .load_private_key(der)?;
        Ok(ClientCert { chain, key })
    }

    /// A test user's certificate with its key loaded by ring (ECDSA, RSA ≥ 2048, and the
    /// KCDSA-like certificate, whose key bits are really ECDSA).
    pub fn of_user(user: &UserCert) -> anyhow::Result<ClientCert> {
        Ok(ClientCert::new(&user.cert_der, ring_key(user)?))
    }
}

/// A client config trusting the CA certificates in `server_ca_pem`, limited to `versions`
/// (e.g. `&[&rustls::version::TLS13]`, or [`ALL_VERSIONS`]), presenting `client` when given.
pub fn client_config(
    server_ca_pem: &Path,
    client: Option<ClientCert>,
    versions: &[&'static SupportedProtocolVersion],
) -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(server_ca_pem)
        .with_context(|| format!("reading {}", server_ca_pem.display()))?
    {
        roots.add(c?)?;
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)?
            .with_root_certificates(roots);
    Ok(Arc::new(match client {
        None => builder.with_no_client_auth(),
        Some(ClientCert { chain, key }) => builder.with_client_cert_resolver(Arc::new(
            SingleCertAndKey::from(CertifiedKey::new(chain, key)),
        )),
    }))
}

/// The user's key loaded by ring.
pub fn ring_key(user: &UserCert) -> anyhow::Result<Arc<dyn SigningKey>> {
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(user.key_pkcs8_der.clone()));
    Ok(rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(der)?)
}

/// An RSA key used through `openssl dgst` (any size, RSA-PSS with SHA-256), so a client
/// really signs with a key ring will not load and the server's proof-of-possession check
/// is what fails, not the client.
pub fn openssl_rsa_key(key: &openssl::RsaKey) -> anyhow::Result<Arc<dyn SigningKey>> {
    Ok(Arc::new(OpensslRsaKey {
        pem: key.pkcs8_pem.clone(),
        work: Arc::new(tempfile::tempdir()?),
    }))
}

struct OpensslRsaKey {
    pem: String,
    work: Arc<tempfile::TempDir>,
}

impl std::fmt::Debug for OpensslRsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpensslRsaKey(<redacted>)")
    }
}

impl SigningKey for OpensslRsaKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered.contains(&SignatureScheme::RSA_PSS_SHA256).then(|| {
            Box::new(OpensslPss {
                pem: self.pem.clone(),
                work: Arc::clone(&self.work),
            }) as Box<dyn Signer>
        })
    }
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

struct OpensslPss {
    pem: String,
    work: Arc<tempfile::TempDir>,
}

impl std::fmt::Debug for OpensslPss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpensslPss(<redacted>)")
    }
}

impl Signer for OpensslPss {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let opts = ["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"];
        openssl::sign(self.work.path(), &self.pem, "sha256", &opts, message)
            .map_err(|e| rustls::Error::General(e.to_string()))
    }
    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::RSA_PSS_SHA256
    }
}

/// Completes a TLS handshake as `localhost` over `tcp`.
pub async fn handshake(
    tcp: TcpStream,
    config: Arc<ClientConfig>,
) -> anyhow::Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from("localhost")?;
    Ok(tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?)
}

/// Connects to `addr` from the local address `from` (e.g. 127.0.0.2, another "device" on
/// loopback), without Nagle's delay, and completes a TLS handshake as `localhost`.
pub async fn connect_from(
    from: std::net::IpAddr,
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
) -> anyhow::Result<TlsStream<TcpStream>> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::new(from, 0))?;
    let tcp = socket.connect(addr).await?;
    tcp.set_nodelay(true)?;
    handshake(tcp, config).await
}

/// Connects to `addr` (without Nagle's delay) and completes a TLS handshake as `localhost`.
pub async fn connect(
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
) -> anyhow::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    handshake(tcp, config).await
}
