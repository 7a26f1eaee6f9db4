//! [`IssuingCa`]: a configured CA certificate reduced to what verification needs, and the
//! signature check with its key. Below both [`crate::trust`] (which loads them) and
//! [`crate::crl`] / [`crate::identity`] (which verify with them).

use std::path::{Path, PathBuf};

use der::Encode;
use x509_cert::Certificate;
use x509_cert::ext::pkix::BasicConstraints;

use crate::error::{Error, Result};
use crate::{PkiConfig, x509};

/// A configured CA certificate, reduced to what verification needs.
#[derive(Debug, Clone)]
pub(crate) struct IssuingCa {
    /// The file it came from.
    pub(crate) path: PathBuf,
    /// Subject DN, DER.
    pub(crate) subject_der: Vec<u8>,
    /// Subject DN, RFC 4514.
    pub(crate) subject_dn: String,
    /// Contents of the SPKI AlgorithmIdentifier.
    pub(crate) spki_alg: Vec<u8>,
    /// The raw public key (SPKI BIT STRING contents).
    pub(crate) spki_key: Vec<u8>,
    /// Validity, Unix seconds.
    pub(crate) not_before: i64,
    /// Validity end, Unix seconds.
    pub(crate) not_after: i64,
    /// Validity end, readable.
    pub(crate) not_after_text: String,
    /// Whether it issues EPKI certificates (by CN, from the configuration).
    pub(crate) is_epki: bool,
}

/// Reduce a CA certificate to an [`IssuingCa`]; refuse one that is not a CA.
pub(crate) fn issuing_ca(path: &Path, cert: &Certificate, config: &PkiConfig) -> Result<IssuingCa> {
    let bad = |reason: String| Error::CaCertificate {
        path: path.to_owned(),
        reason,
    };
    let tbs = cert.tbs_certificate();
    let is_ca = matches!(
        tbs.get_extension::<BasicConstraints>(),
        Ok(Some((_, BasicConstraints { ca: true, .. })))
    );
    if !is_ca {
        return Err(bad(
            "not a CA certificate (basicConstraints cA is not set)".into()
        ));
    }
    let spki = tbs.subject_public_key_info();
    let cn = tbs
        .subject()
        .common_name()
        .ok()
        .flatten()
        .map(|d| d.value().into_owned());
    let is_epki = cn
        .as_deref()
        .is_some_and(|cn| config.epki_issuer_cns.iter().any(|e| e == cn));
    Ok(IssuingCa {
        path: path.to_owned(),
        subject_der: tbs.subject().to_der().map_err(|e| bad(e.to_string()))?,
        subject_dn: tbs.subject().to_string(),
        spki_alg: x509::alg_contents(&spki.algorithm)
            .ok_or_else(|| bad("bad key algorithm".into()))?,
        spki_key: spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| bad("bad public key".into()))?
            .to_vec(),
        not_before: x509::unix(&tbs.validity().not_before),
        not_after: x509::unix(&tbs.validity().not_after),
        not_after_text: x509::utc(&tbs.validity().not_after),
        is_epki,
    })
}

/// Verify the signature on `cert` (DER `der`) with the key of `issuer`.
pub(crate) fn verify_by(der: &[u8], cert: &Certificate, issuer: &IssuingCa) -> Result<(), String> {
    // RFC 5280 §4.1.1.2: signatureAlgorithm MUST equal the TBS signature field.
    if cert.tbs_certificate().signature() != cert.signature_algorithm() {
        return Err("inner and outer signature algorithms differ".into());
    }
    let alg = x509::find_alg(cert.signature_algorithm(), &issuer.spki_alg).ok_or_else(|| {
        format!(
            "signature algorithm {} is unsupported or does not match the key of {}",
            cert.signature_algorithm().oid,
            issuer.subject_dn
        )
    })?;
    let tbs = x509::raw_tbs(der).ok_or("malformed certificate")?;
    let sig = cert.signature().as_bytes().ok_or("malformed signature")?;
    alg.verify_signature(&issuer.spki_key, tbs, sig)
        .map_err(|_| {
            format!(
                "signature does not verify with the key of {}",
                issuer.subject_dn
            )
        })
}
