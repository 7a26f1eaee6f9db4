//! DER surgery for certificates no generator makes: swap a TBS field, then re-sign.
//! A KCDSA-like certificate is an ordinary one whose key algorithm OID is replaced by
//! KCDSA's (1.2.410.200004.1.21); a SHA-1 one has its signature algorithm replaced and is
//! signed again with SHA-1 (by openssl).

use der::{Reader, SliceReader};

use crate::error::{Error, Result};
use crate::x509::der_tlv as tlv;

/// KCDSA public-key algorithm, `1.2.410.200004.1.21`, as a DER OID.
const KCDSA_OID: [u8; 10] = [0x06, 0x08, 0x2A, 0x83, 0x1A, 0x8C, 0x9A, 0x44, 0x01, 0x15];
/// `ecdsa-with-SHA1` AlgorithmIdentifier, DER.
pub(crate) const ECDSA_SHA1_ALG: [u8; 11] = [
    0x30, 0x09, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01,
];

fn bad(what: &str) -> Error {
    Error::TestPki(format!("DER patch: {what}"))
}

/// The TLVs inside a SEQUENCE (`seq_der` is the whole SEQUENCE).
fn elements(seq_der: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut r = SliceReader::new(seq_der).map_err(|_| bad("reader"))?;
    let items = r
        .sequence(|r| {
            let mut items = Vec::new();
            while !r.is_finished() {
                items.push(r.tlv_bytes()?.to_vec());
            }
            Ok::<_, der::Error>(items)
        })
        .map_err(|_| bad("not a SEQUENCE"))?;
    Ok(items)
}

/// The TBS, signature algorithm and signature of a certificate.
pub(crate) fn split_cert(cert_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let parts = elements(cert_der)?;
    let [tbs, alg, _sig] = parts.as_slice() else {
        return Err(bad("certificate is not three elements"));
    };
    Ok((tbs.clone(), alg.clone()))
}

/// Assemble a certificate from its TBS, signature algorithm and signature bytes.
pub(crate) fn join_cert(tbs: &[u8], alg: &[u8], sig: &[u8]) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(sig);
    let mut content = tbs.to_vec();
    content.extend_from_slice(alg);
    content.extend(tlv(0x03, &bits));
    tlv(0x30, &content)
}

/// The TBS with element `index` replaced by `replacement` (index 0 is `[0] version`).
pub(crate) fn replace_tbs_field(tbs: &[u8], index: usize, replacement: Vec<u8>) -> Result<Vec<u8>> {
    let mut parts = elements(tbs)?;
    let slot = parts.get_mut(index).ok_or_else(|| bad("TBS too short"))?;
    *slot = replacement;
    Ok(tlv(0x30, &parts.concat()))
}

/// The SubjectPublicKeyInfo of a TBS (field 6) with its algorithm replaced by KCDSA's.
pub(crate) fn kcdsa_spki(tbs: &[u8]) -> Result<Vec<u8>> {
    let parts = elements(tbs)?;
    let spki = parts.get(6).ok_or_else(|| bad("no SPKI"))?;
    let spki_parts = elements(spki)?;
    let key_bits = spki_parts.get(1).ok_or_else(|| bad("no key"))?;
    let mut content = tlv(0x30, &KCDSA_OID);
    content.extend_from_slice(key_bits);
    Ok(tlv(0x30, &content))
}
