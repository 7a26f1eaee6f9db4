//! The identity check: from a client certificate to an [`Identity`] or a [`Refusal`],
//! in DESIGN.md's order (rows 1–8 of the refusal table; crates/auth does the rest).

use const_oid::ObjectIdentifier;
use der::asn1::UintRef;
use der::{Decode, Encode, Reader, SliceReader};
use x509_cert::Certificate;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::name::DistributionPointName;
use x509_cert::ext::pkix::{BasicConstraints, CertificatePolicies, CrlDistributionPoints};

use crate::config::oid_under;
use crate::issuer::{IssuingCa, verify_by};
use crate::refusal::{Refusal, RefusalReason as R};
use crate::{Pki, crl, name, x509};

/// Which government PKI issued a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PkiKind {
    /// 행정전자서명 (civil servants, public institutions).
    Gpki,
    /// 교육기관 전자서명 (teachers, education staff).
    Epki,
}

impl PkiKind {
    /// `"GPKI"` or `"EPKI"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PkiKind::Gpki => "GPKI",
            PkiKind::Epki => "EPKI",
        }
    }
}

/// An accepted certificate: who it names and what the audit log records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Subject DN, RFC 4514 (`CN=043김철수001,OU=people,OU=통계청,O=Government of Korea,C=KR`).
    pub subject_dn: String,
    /// Issuer DN, RFC 4514.
    pub issuer_dn: String,
    /// Serial number, lower-case hex of the DER INTEGER contents.
    pub serial_hex: String,
    /// SHA-256 of the DER SubjectPublicKeyInfo (binding and device key).
    pub spki_sha256: [u8; 32],
    /// SHA-256 of the whole certificate (audit fingerprint).
    pub cert_sha256: [u8; 32],
    /// GPKI or EPKI.
    pub pki: PkiKind,
    /// The accepted certificate policy OID.
    pub policy_oid: String,
    /// The person's name per PKI.md (NFC); empty when the certificate names nobody, which
    /// the name check then refuses.
    pub name: String,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// CRL distribution point URIs.
    pub cdp_uris: Vec<String>,
}

impl Identity {
    /// Whether the certificate is special-purpose (특수목적, PKI.md): an institution's
    /// mailbox certificate, accepted only where `[pki] allow_special_purpose` is on.
    pub fn is_special_purpose(&self) -> bool {
        self.policy_oid == crate::config::OID_GPKI_SPECIAL
            || self.policy_oid == crate::config::OID_EPKI_SPECIAL
    }
}

/// What the audit log records about any certificate, accepted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject DN, RFC 4514.
    pub subject_dn: String,
    /// Issuer DN, RFC 4514.
    pub issuer_dn: String,
    /// Serial number, lower-case hex.
    pub serial_hex: String,
    /// SHA-256 of the whole certificate, lower-case hex.
    pub sha256_hex: String,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Certificate policy OIDs (empty without a readable extension).
    pub policy_oids: Vec<String>,
    /// CRL distribution point URIs.
    pub cdp_uris: Vec<String>,
}

/// The audit summary of a certificate; `None` when it does not parse.
pub fn cert_summary(cert_der: &[u8]) -> Option<CertSummary> {
    let cert = Certificate::from_der(cert_der).ok()?;
    let tbs = cert.tbs_certificate();
    Some(CertSummary {
        subject_dn: tbs.subject().to_string(),
        issuer_dn: tbs.issuer().to_string(),
        serial_hex: hex::encode(tbs.serial_number().as_bytes()),
        sha256_hex: hex::encode(sha256(cert_der)),
        not_before: x509::unix(&tbs.validity().not_before),
        not_after: x509::unix(&tbs.validity().not_after),
        policy_oids: policy_oids(&cert).unwrap_or_default(),
        cdp_uris: cdp_uris(&cert),
    })
}

/// The CRL distribution point URIs of a certificate (what `certmail crl fetch --cert`
/// fetches); `None` when it does not parse.
pub fn cdp_uris_of(cert_der: &[u8]) -> Option<Vec<String>> {
    Certificate::from_der(cert_der).ok().map(|c| cdp_uris(&c))
}

/// SHA-256 of the DER SubjectPublicKeyInfo of a certificate; `None` when it does not parse.
pub fn spki_sha256_of(cert_der: &[u8]) -> Option<[u8; 32]> {
    let cert = Certificate::from_der(cert_der).ok()?;
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()?;
    Some(sha256(&spki))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Critical extensions a user certificate may carry (PKI.md): KU, CP, SAN, BC, CDP, EKU,
/// AKI, SKI, IAN.
const ALLOWED_CRITICAL: [&str; 9] = [
    "2.5.29.15",
    "2.5.29.32",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.31",
    "2.5.29.37",
    "2.5.29.35",
    "2.5.29.14",
    "2.5.29.18",
];

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

impl Pki {
    /// Decide whether a client certificate may sign in, as far as the certificate alone
    /// goes: rows 1–8 of DESIGN.md's table, first failing check wins. `now` is Unix seconds.
    pub fn check(&self, cert_der: Option<&[u8]>, now: i64) -> Result<Identity, Refusal> {
        let Some(der) = cert_der else {
            return Err(Refusal::generic(R::NoCertificate));
        };
        let cert = Certificate::from_der(der).map_err(|_| {
            Refusal::new(
                R::UnsupportedCertificate,
                "The certificate could not be read (it is not a valid X.509 certificate); use your GPKI or EPKI certificate.",
            )
        })?;
        check_supported(&cert)?;
        let policies = policy_oids(&cert)?;
        let ca = self.find_issuer(der, &cert, &policies, now)?;
        self.check_validity(&cert, now)?;
        let (pki, policy_oid) = self.check_policy(ca, &policies)?;
        let cdp_uris = cdp_uris(&cert);
        self.check_revocation(&cert, &cdp_uris, now)?;
        let tbs = cert.tbs_certificate();
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|_| unreadable())?;
        Ok(Identity {
            subject_dn: tbs.subject().to_string(),
            issuer_dn: tbs.issuer().to_string(),
            serial_hex: hex::encode(tbs.serial_number().as_bytes()),
            spki_sha256: sha256(&spki),
            cert_sha256: sha256(der),
            pki,
            policy_oid,
            name: name::extract_name(&cert).unwrap_or_default(),
            not_after: x509::unix(&tbs.validity().not_after),
            cdp_uris,
        })
    }

    /// Rows 3 and 4: the configured issuing CA whose key verifies the certificate (NPKI
    /// named when none has its issuer name), and that CA's own validity. Several CAs may
    /// share a subject (a renewed CA certificate with a new key): each is tried.
    fn find_issuer(
        &self,
        der: &[u8],
        cert: &Certificate,
        policies: &[String],
        now: i64,
    ) -> Result<&IssuingCa, Refusal> {
        let tbs = cert.tbs_certificate();
        let issuer_der = tbs.issuer().to_der().map_err(|_| unreadable())?;
        let candidates: Vec<&IssuingCa> = self
            .issuers
            .iter()
            .filter(|ca| ca.subject_der == issuer_der)
            .collect();
        if candidates.is_empty() {
            return Err(self.unknown_issuer(&tbs.issuer().to_string(), policies));
        }
        let mut why = String::new();
        let Some(ca) = candidates
            .into_iter()
            .find(|ca| match verify_by(der, cert, ca) {
                Ok(()) => true,
                Err(e) => {
                    why = e;
                    false
                }
            })
        else {
            return Err(Refusal::new(
                R::BadSignature,
                format!(
                    "The certificate's signature is not valid ({why}); it may have been altered. Use the certificate issued to you."
                ),
            ));
        };
        let skew = self.skew();
        if now < ca.not_before - skew || now > ca.not_after + skew {
            return Err(Refusal::new(
                R::UnknownIssuer,
                format!(
                    "The issuing CA certificate {} installed on this server is not valid now (it ends {}); tell the administrator to install the current CA certificate.",
                    ca.subject_dn, ca.not_after_text
                ),
            ));
        }
        Ok(ca)
    }

    /// Row 3 when no configured CA has the issuer's name: NPKI by issuer or policy arc,
    /// else unknown.
    fn unknown_issuer(&self, issuer_dn: &str, policies: &[String]) -> Refusal {
        let lower = issuer_dn.to_lowercase();
        let cfg = &self.config;
        let npki_issuer = cfg
            .npki_issuer_markers
            .iter()
            .any(|m| lower.contains(&m.to_lowercase()));
        let npki_policy = policies
            .iter()
            .any(|p| cfg.npki_policy_arcs.iter().any(|arc| oid_under(p, arc)));
        if npki_issuer || npki_policy {
            return Refusal::new(
                R::NpkiCertificate,
                format!(
                    "Bank/NPKI certificates (issuer {issuer_dn}) are not accepted; use your GPKI or EPKI certificate."
                ),
            );
        }
        Refusal::new(
            R::UnknownIssuer,
            format!(
                "The certificate's issuer {issuer_dn} is not a GPKI or EPKI certificate authority this server trusts; use your GPKI or EPKI certificate."
            ),
        )
    }

    /// Row 5: the certificate's validity period, with the configured clock skew.
    fn check_validity(&self, cert: &Certificate, now: i64) -> Result<(), Refusal> {
        let v = cert.tbs_certificate().validity();
        let skew = self.skew();
        if now > x509::unix(&v.not_after) + skew {
            return Err(Refusal::new(
                R::CertificateExpired,
                format!(
                    "Your certificate expired on {}; renew it with GPKI or EPKI and sign in with the new one.",
                    x509::utc(&v.not_after)
                ),
            ));
        }
        if now < x509::unix(&v.not_before) - skew {
            return Err(Refusal::new(
                R::CertificateNotYetValid,
                format!(
                    "Your certificate is valid only from {}; check your computer's clock or wait until then.",
                    x509::utc(&v.not_before)
                ),
            ));
        }
        Ok(())
    }

    /// Row 6: a personal policy of the certificate's PKI.
    fn check_policy(
        &self,
        ca: &IssuingCa,
        policies: &[String],
    ) -> Result<(PkiKind, String), Refusal> {
        let epki = self.config.effective_epki_policies();
        let gpki = self.config.effective_gpki_policies();
        let kind = if ca.is_epki || policies.iter().any(|p| epki.contains(p)) {
            PkiKind::Epki
        } else {
            PkiKind::Gpki
        };
        let allowed = match kind {
            PkiKind::Epki => &epki,
            PkiKind::Gpki => &gpki,
        };
        if let Some(p) = policies.iter().find(|p| allowed.contains(p)) {
            return Ok((kind, p.clone()));
        }
        let described = if policies.is_empty() {
            "no certificate policy".to_owned()
        } else {
            policies
                .iter()
                .map(|p| format!("{p} ({})", self.describe_policy(p)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Refusal::new(
            R::PolicyNotAllowed,
            format!(
                "This certificate has {described}, which is not a personal {} policy accepted here; sign in with your personal certificate.",
                kind.as_str()
            ),
        ))
    }

    /// Rows 7 and 8: the CRL for one of the certificate's CDP URIs.
    fn check_revocation(
        &self,
        cert: &Certificate,
        uris: &[String],
        now: i64,
    ) -> Result<(), Refusal> {
        let tbs = cert.tbs_certificate();
        let issuer_der = tbs.issuer().to_der().map_err(|_| unreadable())?;
        let serial = tbs.serial_number().as_bytes();
        let store = self.crl_store();
        let crls: Vec<_> = uris
            .iter()
            .filter_map(|u| store.for_uri(u))
            .filter(|c| c.issuer_der == issuer_der)
            .collect();
        if let Some(c) = crls.iter().find(|c| c.is_revoked(serial)) {
            return Err(Refusal::new(
                R::CertificateRevoked,
                format!(
                    "Your certificate (serial {}) has been revoked by {}; get a new certificate from GPKI or EPKI.",
                    hex::encode(serial),
                    c.issuer_dn
                ),
            ));
        }
        let grace = i64::try_from(self.config.crl_grace_secs).unwrap_or(i64::MAX);
        if crls
            .iter()
            .any(|c| now <= c.next_update.saturating_add(grace))
        {
            return Ok(());
        }
        let message = match (uris.first(), crls.first()) {
            (None, _) => "Your certificate names no CRL distribution point, so its revocation status cannot be checked; tell the administrator.".to_owned(),
            (Some(uri), None) => format!("The server has no revocation list (CRL) for your certificate's distribution point {uri}; try again later or tell the administrator."),
            (Some(_), Some(c)) => format!("The server's revocation list (CRL) for your certificate expired on {}; try again later or tell the administrator.", c.next_update_text),
        };
        Err(Refusal::new(R::RevocationUnknown, message))
    }

    /// A plain-words description of a policy OID for refusals and `cert inspect`.
    pub fn describe_policy(&self, oid: &str) -> &'static str {
        if self
            .config
            .npki_policy_arcs
            .iter()
            .any(|arc| oid_under(oid, arc))
        {
            return "a bank/NPKI certificate policy";
        }
        match oid {
            "1.2.410.100001.2.1.1" | "1.2.410.100001.2.1.4" => {
                "a GPKI institution seal certificate"
            }
            "1.2.410.100001.2.1.2" | "1.2.410.100001.2.1.5" => "a GPKI server/computer certificate",
            "1.2.410.100001.2.1.3" | "1.2.410.100001.2.1.6" => "a GPKI special-purpose certificate",
            "1.2.410.100001.2.2.1" => "a GPKI civil-servant personal certificate",
            "1.2.410.100001.2.2.2" => "a GPKI public-institution personal certificate",
            "1.2.410.100001.5.3.1.1" => "an EPKI institution seal certificate",
            "1.2.410.100001.5.3.1.3" => "an EPKI personal certificate",
            "1.2.410.100001.5.3.1.5" => "an EPKI special-purpose certificate",
            "1.2.410.100001.5.3.1.7" => "an EPKI server/computer certificate",
            "1.2.410.100001.5.3.1.9" => "an EPKI SSL certificate",
            _ => "an unknown policy",
        }
    }

    fn skew(&self) -> i64 {
        i64::try_from(self.config.clock_skew_secs).unwrap_or(i64::MAX)
    }
}

fn unreadable() -> Refusal {
    Refusal::new(
        R::UnsupportedCertificate,
        "The certificate could not be read; use your GPKI or EPKI certificate.",
    )
}

/// Row 2: critical extensions, version, CA flag, signature hash and key algorithm.
fn check_supported(cert: &Certificate) -> Result<(), Refusal> {
    let tbs = cert.tbs_certificate();
    let refuse = |why: String| Err(Refusal::new(R::UnsupportedCertificate, why));
    if tbs.version() != Version::V3 {
        return refuse("This is an old-format (X.509 v1/v2) certificate, which cannot be used; use your current GPKI or EPKI certificate.".into());
    }
    // RFC 5280 §4.2: a certificate with an unrecognised critical extension MUST be rejected.
    for ext in tbs.extensions().map(|v| v.as_slice()).unwrap_or(&[]) {
        let oid = ext.extn_id.to_string();
        if ext.critical && !ALLOWED_CRITICAL.contains(&oid.as_str()) {
            return refuse(format!(
                "The certificate has a critical extension this server does not understand ({oid}); use your GPKI or EPKI personal certificate."
            ));
        }
    }
    if let Ok(Some((_, BasicConstraints { ca: true, .. }))) =
        tbs.get_extension::<BasicConstraints>()
    {
        return refuse(
            "This is a certificate authority's certificate, not a personal certificate.".into(),
        );
    }
    if let Some(weak) = weak_signature(&cert.signature_algorithm().oid) {
        return refuse(format!(
            "The certificate is signed with {weak}, which is no longer accepted; renew it to get a current GPKI or EPKI certificate."
        ));
    }
    check_key(tbs.subject_public_key_info())
}

/// The name of a broken signature algorithm, if `oid` is one.
fn weak_signature(oid: &ObjectIdentifier) -> Option<&'static str> {
    match oid.to_string().as_str() {
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => Some("SHA-1 (sha1WithRSAEncryption)"),
        "1.2.840.10045.4.1" => Some("SHA-1 (ecdsa-with-SHA1)"),
        "1.2.840.10040.4.3" => Some("SHA-1 (dsa-with-sha1)"),
        "1.2.840.113549.1.1.4" => Some("MD5"),
        "1.2.840.113549.1.1.2" => Some("MD2"),
        _ => None,
    }
}

/// The key must be one TLS can prove possession of: RSA 2048–8192, ECDSA P-256/P-384, Ed25519.
fn check_key(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Result<(), Refusal> {
    let refuse = |why: String| Err(Refusal::new(R::UnsupportedCertificate, why));
    let alg = spki.algorithm.oid.to_string();
    match alg.as_str() {
        OID_RSA => {
            let bits = spki.subject_public_key.as_bytes().and_then(rsa_modulus_bits);
            match bits {
                Some(b) if (2048..=8192).contains(&b) => Ok(()),
                Some(b) => refuse(format!("The certificate's RSA key has {b} bits; at least 2048 are required. Renew it to get a current GPKI or EPKI certificate.")),
                None => refuse("The certificate's RSA key could not be read.".into()),
            }
        }
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .map(|o| o.to_string());
            match curve.as_deref() {
                Some(OID_P256) | Some(OID_P384) => Ok(()),
                other => refuse(format!("The certificate's elliptic-curve key uses a curve TLS sign-in does not support ({}).", other.unwrap_or("unknown"))),
            }
        }
        OID_ED25519 => Ok(()),
        "1.2.410.200004.1.21" => refuse("The certificate has a KCDSA key, which cannot be used with TLS; a KCDSA certificate cannot sign in to mail. Ask GPKI/EPKI for an RSA certificate.".into()),
        other => refuse(format!("The certificate's key algorithm ({other}) cannot be used with TLS; use a GPKI or EPKI certificate with an RSA or ECDSA key.")),
    }
}

/// The size in bits of the modulus of a PKCS#1 RSAPublicKey.
fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Option<usize> {
    let mut r = SliceReader::new(rsa_public_key).ok()?;
    let modulus = r
        .sequence(|r| {
            let n: UintRef<'_> = r.decode()?;
            let _e: UintRef<'_> = r.decode()?;
            Ok::<_, der::Error>(n.as_bytes().to_vec())
        })
        .ok()?;
    let first = *modulus.first()?;
    Some((modulus.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}

/// The certificate's policy OIDs (empty without the extension). A malformed or
/// duplicated extension is unreadable.
fn policy_oids(cert: &Certificate) -> Result<Vec<String>, Refusal> {
    match cert
        .tbs_certificate()
        .get_extension::<CertificatePolicies>()
    {
        Ok(Some((_, cp))) => Ok(cp
            .0
            .iter()
            .map(|p| p.policy_identifier.to_string())
            .collect()),
        Ok(None) => Ok(Vec::new()),
        Err(_) => Err(Refusal::new(
            R::UnsupportedCertificate,
            "The certificate's policy extension could not be read; use your GPKI or EPKI certificate.",
        )),
    }
}

/// The URIs of the certificate's CRL distribution points.
pub(crate) fn cdp_uris(cert: &Certificate) -> Vec<String> {
    let Ok(Some((_, cdps))) = cert
        .tbs_certificate()
        .get_extension::<CrlDistributionPoints>()
    else {
        return Vec::new();
    };
    cdps.0
        .iter()
        .filter_map(|dp| match &dp.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(crl::general_name_uri)
        .collect()
}
