//! Client certificates held in memory, including keys ring refuses to load.
//!
//! [`crate::tls::client_config`] reads PEM files and loads the key with ring. The identity
//! matrix also needs a client that really signs with an RSA-1024 key (ring will not load
//! one): [`openssl_rsa_key`] signs through `openssl dgst` (rsa_pss_rsae_sha256), so the
//! server's proof-of-possession check is what fails, not the client.

use std::sync::Arc;

use certmail_pki::testpki::{UserCert, openssl};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{ClientConfig, RootCertStore, SignatureAlgorithm, SignatureScheme};

#[derive(Debug)]
struct Present(Arc<CertifiedKey>);

impl ResolvesClientCert for Present {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// The user's key loaded by ring (ECDSA, RSA ≥ 2048, and the KCDSA-like certificate, whose
/// key bits are really ECDSA).
pub fn ring_key(user: &UserCert) -> anyhow::Result<Arc<dyn SigningKey>> {
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(user.key_pkcs8_der.clone()));
    Ok(rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(der)?)
}

/// An RSA key used through `openssl dgst` (any size, RSA-PSS with SHA-256).
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

/// A client config trusting the server CA in `server_ca_pem`, limited to `version`, and
/// presenting `cert_der` signed with `key` when given (through a resolver, which does not
/// re-parse the certificate: EPKI's critical certificatePolicies passes).
pub fn client_config(
    server_ca_pem: &std::path::Path,
    client: Option<(&[u8], Arc<dyn SigningKey>)>,
    version: &'static rustls::SupportedProtocolVersion,
) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(server_ca_pem)? {
        roots.add(c?)?;
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])?
        .with_root_certificates(roots);
    Ok(Arc::new(match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = vec![CertificateDer::from(cert.to_vec())];
            builder.with_client_cert_resolver(Arc::new(Present(Arc::new(CertifiedKey::new(
                chain, key,
            )))))
        }
    }))
}
