//! DANE for SMTP (RFC 7672; TLSA records RFC 6698, RFC 7671): a DNSSEC-secure TLSA RRset
//! at `_<port>._tcp.<mx host>` pins the MX host's certificate.
//!
//! Only DANE-TA(2) and DANE-EE(3) are usable for SMTP (RFC 7672 §3.1.3: PKIX-TA(0) and
//! PKIX-EE(1) are ignored), with selector 0 (the whole certificate) or 1 (its
//! SubjectPublicKeyInfo) and matching type 0 (exact), 1 (SHA-256) or 2 (SHA-512).
//!
//! - **DANE-EE(3)**: the server's own certificate matches; neither its names nor its dates
//!   are checked (RFC 7672 §3.1.1).
//! - **DANE-TA(2)**: a certificate the server sent in its chain matches; the server's
//!   certificate must chain to it and name the MX host (RFC 7672 §3.1.2, §3.2.2). A trust
//!   anchor published only in DNS (not in the chain) is not supported.
//!
//! A host with usable TLSA records gets TLS or nothing: no STARTTLS, a failed handshake or
//! a certificate matching no record is a temporary failure that names DANE, never a
//! cleartext fallback (RFC 7672 §2.2).

use std::sync::Arc;

use ring::digest;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::tls::AnyCertificate;

/// DANE-TA: a trust anchor (RFC 7218 mnemonics).
pub const DANE_TA: u8 = 2;
/// DANE-EE: the end-entity certificate itself.
pub const DANE_EE: u8 = 3;

/// One TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// 0: the full certificate; 1: its SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0: exact; 1: SHA-256; 2: SHA-512.
    pub matching: u8,
    /// The association data.
    pub data: Vec<u8>,
}

impl Tlsa {
    /// Whether SMTP can use this record (RFC 7672 §3.1.3).
    pub fn is_usable(&self) -> bool {
        matches!(self.usage, DANE_TA | DANE_EE) && self.selector <= 1 && self.matching <= 2
    }

    /// Whether `cert` matches the record's selector, matching type and data.
    pub fn matches(&self, cert: &CertificateDer<'_>) -> bool {
        let selected = match self.selector {
            0 => cert.to_vec(),
            1 => match certmail_pki::spki_der(cert) {
                Ok(spki) => spki,
                Err(_) => return false,
            },
            _ => return false,
        };
        match self.matching {
            0 => selected == self.data,
            1 => digest::digest(&digest::SHA256, &selected).as_ref() == self.data.as_slice(),
            2 => digest::digest(&digest::SHA512, &selected).as_ref() == self.data.as_slice(),
            _ => false,
        }
    }
}

impl std::fmt::Display for Tlsa {
    /// Presentation format: `3 1 1 <hex>` (RFC 6698 §2.2).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} ", self.usage, self.selector, self.matching)?;
        self.data.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The usable records of a TLSA RRset (empty: DANE does not apply to the host).
pub fn usable(records: Vec<Tlsa>) -> Vec<Tlsa> {
    records.into_iter().filter(Tlsa::is_usable).collect()
}

/// The rustls verifier of a DANE host: the certificate must match one usable record.
#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<Tlsa>,
    signatures: AnyCertificate,
}

impl DaneVerifier {
    /// A verifier for `records` (the host's usable TLSA records).
    pub fn new(records: Vec<Tlsa>) -> Self {
        Self {
            records,
            signatures: AnyCertificate::new(),
        }
    }

    /// DANE-TA: some certificate of the chain matches a usage-2 record, and the leaf chains
    /// to it and names the host.
    fn trust_anchor_verifies(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> bool {
        let anchors = intermediates.iter().filter(|c| {
            self.records
                .iter()
                .any(|r| r.usage == DANE_TA && r.matches(c))
        });
        anchors.into_iter().any(|anchor| {
            let mut roots = RootCertStore::empty();
            if roots.add(anchor.clone().into_owned()).is_err() {
                return false;
            }
            let Ok(verifier) = WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                self.signatures.provider(),
            )
            .build() else {
                return false;
            };
            verifier
                .verify_server_cert(end_entity, intermediates, server_name, &[], now)
                .is_ok()
        })
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ee = self
            .records
            .iter()
            .any(|r| r.usage == DANE_EE && r.matches(end_entity));
        if ee || self.trust_anchor_verifies(end_entity, intermediates, server_name, now) {
            return Ok(ServerCertVerified::assertion());
        }
        Err(rustls::Error::General(format!(
            "the certificate of {} matches none of its {} usable TLSA records",
            server_name.to_str(),
            self.records.len()
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["mx.dane.test".into()]).expect("params");
        params.self_signed(&key).expect("cert").der().clone()
    }

    #[test]
    fn ee_records_match_by_spki_or_whole_certificate_with_each_hash() {
        let c = cert();
        let spki = certmail_pki::spki_der(&c).expect("spki");
        let sha256 = digest::digest(&digest::SHA256, &spki).as_ref().to_vec();
        let sha512 = digest::digest(&digest::SHA512, &c).as_ref().to_vec();
        let rec = |selector, matching, data: Vec<u8>| Tlsa {
            usage: DANE_EE,
            selector,
            matching,
            data,
        };
        assert!(rec(1, 1, sha256.clone()).matches(&c));
        assert!(rec(0, 2, sha512).matches(&c));
        assert!(rec(0, 0, c.to_vec()).matches(&c));
        assert!(
            !rec(0, 1, sha256.clone()).matches(&c),
            "selector 0 hashes the whole cert"
        );
        assert!(!rec(1, 1, sha256.clone()).matches(&cert()), "another key");
        let pkix = Tlsa {
            usage: 1,
            ..rec(1, 1, sha256)
        };
        assert!(usable(vec![pkix]).is_empty(), "PKIX-EE is ignored for SMTP");
    }

    /// A CA and a leaf for `name` it issued: (leaf, CA), DER.
    fn issued(name: &str) -> (CertificateDer<'static>, CertificateDer<'static>) {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).expect("CA");
        let key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec![name.into()]).expect("params");
        let leaf = leaf.signed_by(&key, &ca).expect("leaf");
        (leaf.der().clone(), ca.der().clone())
    }

    #[test]
    fn a_dane_ta_record_needs_the_anchor_in_the_chain_and_the_mx_name() {
        let (leaf, ca) = issued("mx.dane.test");
        let ta = Tlsa {
            usage: DANE_TA,
            selector: 1,
            matching: 1,
            data: digest::digest(&digest::SHA256, &certmail_pki::spki_der(&ca).expect("spki"))
                .as_ref()
                .to_vec(),
        };
        let verifier = DaneVerifier::new(vec![ta]);
        let verify = |chain: &[CertificateDer<'static>], host: &str| {
            let name = ServerName::try_from(host.to_string()).expect("name");
            verifier.verify_server_cert(&leaf, chain, &name, &[], UnixTime::now())
        };
        assert!(verify(std::slice::from_ref(&ca), "mx.dane.test").is_ok());
        let wrong_name = verify(std::slice::from_ref(&ca), "mx.other.test");
        assert!(wrong_name.is_err(), "RFC 7672 §3.2.2: the MX host's name");
        assert!(
            verify(&[], "mx.dane.test").is_err(),
            "the anchor must be sent"
        );
        let (_, other_ca) = issued("mx.dane.test");
        assert!(verify(&[other_ca], "mx.dane.test").is_err());
    }
}
