//! Small DER helpers shared by the CA loader, the CRL store and the identity check:
//! raw TBS bytes, algorithm matching against the ring provider, times, PEM/DER files.

use std::path::Path;

use der::asn1::AnyRef;
use der::{Decode, Encode, Reader, SliceReader};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::SignatureVerificationAlgorithm;
use rustls::pki_types::pem::PemObject;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

/// A DER TLV with a one-byte tag: `tag`, the definite length of `content`, `content`.
pub fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The signature algorithms of rustls' ring provider (the only provider we use).
pub(crate) fn ring_algs() -> WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

/// The raw bytes of the first element (TBSCertificate / TBSCertList) of a signed
/// `SEQUENCE { tbs, signatureAlgorithm, signature }`, exactly as signed.
pub(crate) fn raw_tbs(signed_der: &[u8]) -> Option<&[u8]> {
    let mut r = SliceReader::new(signed_der).ok()?;
    let tbs = r
        .sequence(|r| {
            let tbs = r.tlv_bytes()?;
            r.tlv_bytes()?;
            r.tlv_bytes()?;
            Ok::<_, der::Error>(tbs)
        })
        .ok()?;
    r.finish().ok()?;
    Some(tbs)
}

/// The contents (without the outer SEQUENCE header) of an AlgorithmIdentifier, the form
/// webpki's algorithm objects compare against.
pub(crate) fn alg_contents(alg: &AlgorithmIdentifierOwned) -> Option<Vec<u8>> {
    let der = alg.to_der().ok()?;
    let any = AnyRef::from_der(&der).ok()?;
    Some(any.value().to_vec())
}

/// The ring algorithm that verifies signature algorithm `sig_alg` with a key whose
/// AlgorithmIdentifier contents are `key_alg`.
pub(crate) fn find_alg(
    sig_alg: &AlgorithmIdentifierOwned,
    key_alg: &[u8],
) -> Option<&'static dyn SignatureVerificationAlgorithm> {
    let sig = alg_contents(sig_alg)?;
    ring_algs().all.iter().copied().find(|a| {
        a.signature_alg_id().as_ref() == sig.as_slice() && a.public_key_alg_id().as_ref() == key_alg
    })
}

/// Seconds since the Unix epoch of an X.509 time.
pub(crate) fn unix(t: &Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// A UTC date-time for messages: `2026-11-22 06:00:00 UTC`.
pub(crate) fn utc(t: &Time) -> String {
    let d = t.to_date_time();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minutes(),
        d.seconds()
    )
}

/// The DER objects in a file that is either PEM (any number of objects of type `T`) or a
/// single DER object.
pub(crate) fn pem_or_der<T>(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String>
where
    T: PemObject + AsRef<[u8]>,
{
    let looks_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    if !looks_pem {
        return Ok(vec![bytes.to_vec()]);
    }
    T::pem_slice_iter(bytes)
        .map(|r| r.map(|o| o.as_ref().to_vec()).map_err(|e| e.to_string()))
        .collect()
}

/// Regular, non-hidden files of `dir`, sorted by name.
pub(crate) fn dir_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}
