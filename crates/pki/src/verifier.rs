//! [`GpkiClientVerifier`]: the rustls client-certificate verifier for user listeners.
//!
//! It refuses nothing but an unparseable certificate and a failed proof of possession:
//! a TLS alert carries no text, so every other check is answered at sign-in with a
//! sentence ([`Pki::check`](crate::Pki::check), DESIGN.md "Identity"). It does not use
//! webpki's end-entity parser, which rejects the critical certificatePolicies that EPKI
//! certificates carry; handshake signatures are verified from the raw SubjectPublicKeyInfo.
//! A key TLS cannot use (KCDSA, RSA under 2048 bits) therefore fails the handshake at
//! proof of possession.

use der::{Decode, Encode};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls13_signature_with_raw_key};
use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use x509_cert::Certificate;

use crate::x509;

/// Optional client authentication for GPKI/EPKI certificates (see the module docs).
#[derive(Debug, Clone)]
pub struct GpkiClientVerifier {
    root_hints: Vec<DistinguishedName>,
    algs: WebPkiSupportedAlgorithms,
}

impl GpkiClientVerifier {
    /// A verifier sending `root_hints` (DER subjects of the issuing CAs) in the
    /// CertificateRequest; see [`Pki::client_verifier`](crate::Pki::client_verifier).
    pub fn new(root_hints: Vec<DistinguishedName>) -> Self {
        GpkiClientVerifier {
            root_hints,
            algs: x509::ring_algs(),
        }
    }
}

/// The DER SubjectPublicKeyInfo of a certificate (with its outer SEQUENCE; DANE's
/// selector 1 hashes exactly this, RFC 6698 §2.1.2).
pub fn spki_der(cert: &CertificateDer<'_>) -> Result<Vec<u8>, Error> {
    let cert = Certificate::from_der(cert).map_err(|_| bad_encoding())?;
    cert.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|_| bad_encoding())
}

fn bad_encoding() -> Error {
    Error::InvalidCertificate(CertificateError::BadEncoding)
}

/// A TLS 1.2 CertificateVerify signature over `message` by the key of `spki` (DER), with
/// any of the algorithms `algs` maps the client's scheme to.
fn verify_tls12(
    algs: &WebPkiSupportedAlgorithms,
    message: &[u8],
    spki: &[u8],
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, Error> {
    let spki = SubjectPublicKeyInfoDer::from(spki);
    let key = webpki::RawPublicKeyEntity::try_from(&spki).map_err(|_| bad_encoding())?;
    let candidates = algs
        .mapping
        .iter()
        .filter(|(scheme, _)| *scheme == dss.scheme)
        .flat_map(|(_, algs)| algs.iter());
    for alg in candidates {
        if key.verify_signature(*alg, message, dss.signature()).is_ok() {
            return Ok(HandshakeSignatureValid::assertion());
        }
    }
    Err(Error::InvalidCertificate(CertificateError::BadSignature))
}

impl ClientCertVerifier for GpkiClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    /// A client without a certificate still gets in to hear `no_certificate` at sign-in.
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.root_hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        Certificate::from_der(end_entity).map_err(|_| bad_encoding())?;
        Ok(ClientCertVerified::assertion())
    }

    // RFC 5246 §7.4.8: CertificateVerify is checked with the certificate's public key.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12(&self.algs, message, &spki_der(cert)?, dss)
    }

    // RFC 8446 §4.4.3: CertificateVerify with the scheme the client chose.
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let spki = spki_der(cert)?;
        verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(spki.as_slice()),
            dss,
            &self.algs,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
