//! TLS for outbound connections: rustls client configs (TLS 1.3 and 1.2, ring only).
//!
//! Two configs share one set of trust anchors and the optional client certificate:
//!
//! - **verified**: the server certificate must chain to a trusted root (the public web
//!   roots, plus the CA file of `[relay]` for private government relays) and name the host.
//! - **opportunistic**: any certificate is accepted, but the handshake signature is still
//!   checked, so the session is encrypted against passive listeners. This is Postfix's
//!   `smtp_tls_security_level = may`: over the public Internet an MX certificate rarely
//!   names the MX host, and refusing would send the mail in cleartext instead. After the
//!   handshake the chain is checked anyway ([`ClientTls::is_verified`]) so that a message
//!   queued with REQUIRETLS (RFC 8689 §5) is only sent over a verified connection.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::dane::{DaneVerifier, Tlsa};
use crate::error::Error;

/// The rustls configs of the relay.
#[derive(Clone)]
pub struct ClientTls {
    verified: Arc<ClientConfig>,
    opportunistic: Arc<ClientConfig>,
    verifier: Arc<WebPkiServerVerifier>,
    identity: Option<ClientIdentity>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").finish_non_exhaustive()
    }
}

/// A client certificate chain and its key, PEM (for relays that require one).
#[derive(Clone)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first, PEM.
    pub chain_pem: Vec<u8>,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1). Never printed.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl ClientTls {
    /// Configs trusting the public web roots (if `public_roots`), plus the certificates in
    /// `extra_roots_pem`, presenting `identity` when a server asks for a certificate.
    pub fn new(
        public_roots: bool,
        extra_roots_pem: Option<&[u8]>,
        identity: Option<&ClientIdentity>,
    ) -> Result<Self, Error> {
        let tls = |e: String| Error::Tls(e);
        let mut roots = RootCertStore::empty();
        if public_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if let Some(pem) = extra_roots_pem {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| tls(format!("CA file: {e}")))?;
                roots.add(cert).map_err(|e| tls(format!("CA file: {e}")))?;
            }
        }
        if roots.is_empty() {
            return Err(tls("no trusted roots for verified TLS".into()));
        }
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| tls(format!("verifier: {e}")))?;
        let verified = build(
            Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>,
            identity,
        )?;
        let opportunistic = build(Arc::new(AnyCertificate::new()), identity)?;
        Ok(Self {
            verified: Arc::new(verified),
            opportunistic: Arc::new(opportunistic),
            verifier,
            identity: identity.cloned(),
        })
    }

    /// The config of a DANE host (RFC 7672): its certificate must match one of `records`
    /// (its usable TLSA records), see [`super::dane`].
    pub fn dane(&self, records: Vec<Tlsa>) -> Result<Arc<ClientConfig>, Error> {
        let verifier = Arc::new(DaneVerifier::new(records));
        Ok(Arc::new(build(verifier, self.identity.as_ref())?))
    }

    /// The config that refuses an unverifiable server certificate.
    pub fn verified(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.verified)
    }

    /// The config that accepts any server certificate (see the module docs).
    pub fn opportunistic(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.opportunistic)
    }

    /// Whether the chain a server presented verifies for `host` (checked after an
    /// opportunistic handshake).
    pub fn is_verified(&self, chain: &[CertificateDer<'_>], host: &str) -> bool {
        let (Some(leaf), Ok(name)) = (chain.first(), ServerName::try_from(host.to_string())) else {
            return false;
        };
        self.verifier
            .verify_server_cert(leaf, &chain[1..], &name, &[], UnixTime::now())
            .is_ok()
    }
}

fn build(
    verifier: Arc<dyn ServerCertVerifier>,
    identity: Option<&ClientIdentity>,
) -> Result<ClientConfig, Error> {
    let tls = |e: String| Error::Tls(e);
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some(id) => {
            let chain = CertificateDer::pem_slice_iter(&id.chain_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| tls(format!("client certificate: {e}")))?;
            if chain.is_empty() {
                return Err(tls("client certificate: no CERTIFICATE block".into()));
            }
            // The error names the PEM structure only, never key material.
            let key = PrivateKeyDer::from_pem_slice(&id.key_pem)
                .map_err(|e| tls(format!("client key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls(format!("client certificate: {e}")))
        }
    }
}

/// Accepts any server certificate but checks the handshake signatures with ring.
#[derive(Debug)]
pub(crate) struct AnyCertificate(Arc<CryptoProvider>);

impl AnyCertificate {
    /// With ring's signature algorithms.
    pub(crate) fn new() -> Self {
        Self(provider())
    }

    /// The crypto provider (ring).
    pub(crate) fn provider(&self) -> Arc<CryptoProvider> {
        Arc::clone(&self.0)
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
