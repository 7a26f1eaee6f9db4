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
    server_config_from_pem(&chain, &key, client_verifier).map_err(|e| match e {
        Error::Pem { reason, .. } if reason.contains("key") => Error::Pem {
            path: key_pem.to_owned(),
            reason,
        },
        Error::Pem { reason, .. } => Error::Pem {
            path: chain_pem.to_owned(),
            reason,
        },
        other => other,
    })
}

/// [`server_config`] from PEM bytes already in memory.
pub fn server_config_from_pem(
    chain_pem: &[u8],
    key_pem: &[u8],
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<ServerConfig> {
    let pem_err = |reason: String| Error::Pem {
        path: Default::default(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(format!("certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(pem_err("certificate chain: no CERTIFICATE block".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| pem_err(format!("private key: {e}")))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match client_verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    Ok(builder.with_single_cert(chain, key)?)
}
