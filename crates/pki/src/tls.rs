//! rustls server configurations: TLS 1.2 and 1.3 only, the ring provider only.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;

use crate::error::{Error, Result};

/// The ring crypto provider every config in certmail uses (never the process default:
/// a second provider in the graph must not change behaviour).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config from PEM files: `chain_pem` (leaf first) and `key_pem` (PKCS#8, PKCS#1
/// or SEC1). `client_verifier` is `None` on port 25 (no client certificate requested) and
/// [`Pki::client_verifier`](crate::Pki::client_verifier) on user listeners.
pub fn server_config(
    chain_pem: &Path,
    key_pem: &Path,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<ServerConfig> {
    let chain = std::fs::read(chain_pem).map_err(|e| Error::io(chain_pem, e))?;
    let key = std::fs::read(key_pem).map_err(|e| Error::io(key_pem, e))?;
    let pem_err = |path: &Path| {
        let path = path.to_owned();
        move |reason: String| Error::Pem { path, reason }
    };
    build(
        parse_chain(&chain).map_err(pem_err(chain_pem))?,
        parse_key(&key).map_err(pem_err(key_pem))?,
        client_verifier,
    )
}

/// [`server_config`] from PEM bytes already in memory.
pub fn server_config_from_pem(
    chain_pem: &[u8],
    key_pem: &[u8],
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<ServerConfig> {
    let pem_err = |reason: String| Error::Pem {
        path: "<memory>".into(),
        reason,
    };
    build(
        parse_chain(chain_pem).map_err(pem_err)?,
        parse_key(key_pem).map_err(pem_err)?,
        client_verifier,
    )
}

fn parse_chain(pem: &[u8]) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate chain: {e}"))?;
    if chain.is_empty() {
        return Err("certificate chain: no CERTIFICATE block".into());
    }
    Ok(chain)
}

fn parse_key(pem: &[u8]) -> std::result::Result<PrivateKeyDer<'static>, String> {
    // The error names no key material: PemObject errors describe the structure only.
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("private key: {e}"))
}

/// TLS 1.3 and 1.2 only, ring only, with or without client-certificate requests.
fn build(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match client_verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    // The server's suite order wins (AES-GCM before ChaCha20; all of them AEAD with
    // ECDHE): a client must not be able to steer a TLS 1.2 connection to its own pick.
    config.ignore_client_order = true;
    Ok(config)
}
