//! The CRL store: CRL files from a directory, verified and keyed by distribution-point URI.
//!
//! GPKI/EPKI CRLs are partitioned (`cn=crl1p1dp146,cn=CA131100001,…`), so a certificate is
//! checked against the CRL for *its* CDP URI and never against "any CRL of its issuer"
//! (PKI.md, "Pitfalls"). Mapping a file to URIs:
//! - a CRL with an IssuingDistributionPoint serves exactly the URIs in its IDP;
//! - a CRL without IDP serves only the URIs listed in its sidecar `<file>.uri` (one per line,
//!   `#` comments), which the fetch job writes with the URI it fetched from; without a
//!   sidecar it is rejected, because it would otherwise look authoritative for every
//!   partition of its issuer;
//! - a CRL with both must list every sidecar URI in its IDP.
//!
//! URIs are compared after trimming and ASCII lower-casing (LDAP DNs in real certificates
//! vary in case: `c=KR` / `c=kr`). Each CRL's issuer must be a configured issuing CA, its
//! signature must verify with that CA's key, and it must have a nextUpdate. Delta, indirect
//! and reason-partitioned CRLs, and CRLs with unknown critical extensions, are rejected.
//! When a file that loaded before fails on reload, its last good version stays in force.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use const_oid::ObjectIdentifier;
use der::Decode;
use rustls::pki_types::CertificateRevocationListDer;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};

use crate::issuer::IssuingCa;
use crate::x509;

const OID_CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
const OID_DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
const OID_IDP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.28");
const OID_AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const OID_FRESHEST_CRL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.46");
const OID_CERTIFICATE_ISSUER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.29");
const OID_REASON_CODE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.21");
const OID_INVALIDITY_DATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.24");

/// The suffix of a sidecar file naming the CDP URIs a CRL file was fetched from.
pub const SIDECAR_SUFFIX: &str = ".uri";

/// The key a CDP URI is stored under.
pub fn uri_key(uri: &str) -> String {
    uri.trim().to_ascii_lowercase()
}

/// One verified CRL.
#[derive(Debug, Clone)]
pub struct LoadedCrl {
    /// The file it came from.
    pub path: PathBuf,
    /// Issuer DN (RFC 4514).
    pub issuer_dn: String,
    /// Issuer DN, DER (equal to the issuing CA's subject).
    pub(crate) issuer_der: Vec<u8>,
    /// The URIs it serves (as written in the IDP or sidecar).
    pub uris: Vec<String>,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds.
    pub next_update: i64,
    /// nextUpdate as a readable UTC string.
    pub next_update_text: String,
    /// Serial numbers (DER INTEGER contents) of the revoked certificates.
    pub(crate) revoked: HashSet<Vec<u8>>,
}

impl LoadedCrl {
    /// Number of revoked certificates listed.
    pub fn revoked_count(&self) -> usize {
        self.revoked.len()
    }

    /// Whether the serial (DER INTEGER contents) is listed.
    pub fn is_revoked(&self, serial: &[u8]) -> bool {
        self.revoked.contains(serial)
    }
}

/// What a CRL (re)load did, for the log and `check-config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrlLoadReport {
    /// Files loaded and in force.
    pub loaded: Vec<PathBuf>,
    /// Files refused, with the reason.
    pub rejected: Vec<(PathBuf, String)>,
    /// Files refused this time whose previous good version stays in force.
    pub kept_previous: Vec<PathBuf>,
    /// Loaded CRLs already past their nextUpdate (sign-ins fail closed after the grace).
    pub stale: Vec<PathBuf>,
}

/// The verified CRLs, keyed by CDP URI ([`uri_key`]).
#[derive(Debug, Clone, Default)]
pub struct CrlStore {
    by_uri: HashMap<String, Arc<LoadedCrl>>,
}

impl CrlStore {
    /// The CRL serving `uri`, if any.
    pub fn for_uri(&self, uri: &str) -> Option<&Arc<LoadedCrl>> {
        self.by_uri.get(&uri_key(uri))
    }

    /// Every distinct loaded CRL.
    pub fn crls(&self) -> Vec<Arc<LoadedCrl>> {
        let mut seen = HashSet::new();
        let mut out: Vec<Arc<LoadedCrl>> = self
            .by_uri
            .values()
            .filter(|c| seen.insert(Arc::as_ptr(c)))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Load every CRL file of `dir`. A file that fails keeps its entries from `previous`.
    pub(crate) fn load(
        dir: &Path,
        cas: &[IssuingCa],
        previous: Option<&CrlStore>,
        now: i64,
    ) -> std::io::Result<(CrlStore, CrlLoadReport)> {
        let mut store = CrlStore::default();
        let mut report = CrlLoadReport::default();
        for path in x509::dir_files(dir)? {
            let name = path.to_string_lossy();
            if name.ends_with(SIDECAR_SUFFIX) || name.ends_with(".tmp") || name.ends_with('~') {
                continue;
            }
            match load_file(&path, cas) {
                Ok(crls) => {
                    for crl in crls {
                        if crl.next_update < now {
                            report.stale.push(path.clone());
                        }
                        store.insert(Arc::new(crl));
                    }
                    report.loaded.push(path);
                }
                Err(reason) => {
                    tracing::warn!(path = %path.display(), %reason, "CRL refused");
                    if let Some(prev) = previous {
                        let old: Vec<_> =
                            prev.crls().into_iter().filter(|c| c.path == path).collect();
                        if !old.is_empty() {
                            old.into_iter().for_each(|c| store.insert(c));
                            report.kept_previous.push(path.clone());
                        }
                    }
                    report.rejected.push((path, reason));
                }
            }
        }
        Ok((store, report))
    }

    /// Add a CRL under each of its URIs; on a clash the newer (thisUpdate) one wins.
    fn insert(&mut self, crl: Arc<LoadedCrl>) {
        for uri in &crl.uris {
            let key = uri_key(uri);
            let newer = match self.by_uri.get(&key) {
                Some(old) => crl.this_update > old.this_update,
                None => true,
            };
            if newer {
                self.by_uri.insert(key, crl.clone());
            }
        }
    }
}

/// Read, verify and map one CRL file (PEM may hold several CRLs).
fn load_file(path: &Path, cas: &[IssuingCa]) -> Result<Vec<LoadedCrl>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let sidecar = read_sidecar(path)?;
    let ders = x509::pem_or_der::<CertificateRevocationListDer<'static>>(&bytes)?;
    ders.iter()
        .map(|der| verify_crl(der, path, cas, sidecar.as_deref()))
        .collect()
}

/// The URIs of `<path>.uri`, if that file exists.
fn read_sidecar(path: &Path) -> Result<Option<Vec<String>>, String> {
    let mut p = path.as_os_str().to_owned();
    p.push(SIDECAR_SUFFIX);
    match std::fs::read_to_string(PathBuf::from(p)) {
        Ok(text) => Ok(Some(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("sidecar: {e}")),
    }
}

/// Verify one CRL (issuer, signature, nextUpdate, extensions) and decide its URIs.
// RFC 5280 §6.3.3: CRL issuer, signature, IDP scope and unknown critical extensions.
pub(crate) fn verify_crl(
    der: &[u8],
    path: &Path,
    cas: &[IssuingCa],
    sidecar: Option<&[String]>,
) -> Result<LoadedCrl, String> {
    let crl = CertificateList::from_der(der).map_err(|e| format!("not a CRL: {e}"))?;
    let tbs = &crl.tbs_cert_list;
    let issuer_der = der::Encode::to_der(&tbs.issuer).map_err(|e| e.to_string())?;
    if tbs.signature != crl.signature_algorithm {
        return Err("inner and outer signature algorithms differ".into());
    }
    let tbs_raw = x509::raw_tbs(der).ok_or("malformed CRL")?;
    let sig = crl.signature.as_bytes().ok_or("malformed signature")?;
    // Several configured CAs may share the name (a renewed CA with a new key): try each.
    let candidates: Vec<&IssuingCa> = cas
        .iter()
        .filter(|ca| ca.subject_der == issuer_der)
        .collect();
    if candidates.is_empty() {
        return Err(format!(
            "issuer {} is not a configured issuing CA",
            tbs.issuer
        ));
    }
    let verifies = |ca: &IssuingCa| {
        x509::find_alg(&crl.signature_algorithm, &ca.spki_alg)
            .is_some_and(|alg| alg.verify_signature(&ca.spki_key, tbs_raw, sig).is_ok())
    };
    if !candidates.iter().any(|ca| verifies(ca)) {
        return Err(format!(
            "signature does not verify with the key of {} (or its algorithm is unsupported)",
            tbs.issuer
        ));
    }
    let next_update = tbs.next_update.as_ref().ok_or("no nextUpdate")?;
    let idp_uris = check_crl_extensions(&crl)?;
    let uris = match (idp_uris, sidecar) {
        (Some(idp), Some(side)) => {
            let idp_keys: HashSet<String> = idp.iter().map(|u| uri_key(u)).collect();
            if let Some(bad) = side.iter().find(|u| !idp_keys.contains(&uri_key(u))) {
                return Err(format!(
                    "sidecar URI {bad} is not in the CRL's IssuingDistributionPoint"
                ));
            }
            idp
        }
        (Some(idp), None) => idp,
        (None, Some(side)) if !side.is_empty() => side.to_vec(),
        (None, _) => {
            return Err(format!(
                "no IssuingDistributionPoint and no sidecar {}{SIDECAR_SUFFIX} naming the CDP URI it serves",
                path.display()
            ));
        }
    };
    let mut revoked = HashSet::new();
    for entry in tbs.revoked_certificates.iter().flatten() {
        for ext in entry.crl_entry_extensions.iter().flatten() {
            let known = [OID_REASON_CODE, OID_INVALIDITY_DATE].contains(&ext.extn_id);
            if ext.extn_id == OID_CERTIFICATE_ISSUER || (ext.critical && !known) {
                return Err(format!("unsupported CRL entry extension {}", ext.extn_id));
            }
        }
        revoked.insert(entry.serial_number.as_bytes().to_vec());
    }
    Ok(LoadedCrl {
        path: path.to_owned(),
        issuer_dn: tbs.issuer.to_string(),
        issuer_der,
        uris,
        this_update: x509::unix(&tbs.this_update),
        next_update: x509::unix(next_update),
        next_update_text: x509::utc(next_update),
        revoked,
    })
}

/// Check the CRL's extensions; the IDP's URIs when it has one.
fn check_crl_extensions(crl: &CertificateList) -> Result<Option<Vec<String>>, String> {
    let mut idp_uris = None;
    for ext in crl.tbs_cert_list.crl_extensions.iter().flatten() {
        match ext.extn_id {
            OID_IDP => {
                // x509-cert 0.3 gives IssuingDistributionPoint the wrong AssociatedOid, so
                // decode the value by hand.
                let idp = IssuingDistributionPoint::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| format!("bad IssuingDistributionPoint: {e}"))?;
                idp_uris = Some(idp_user_uris(&idp)?);
            }
            OID_DELTA_CRL_INDICATOR => return Err("delta CRLs are not supported".into()),
            OID_CRL_NUMBER | OID_AKI | OID_FRESHEST_CRL => {}
            other if ext.critical => return Err(format!("unknown critical extension {other}")),
            _ => {}
        }
    }
    Ok(idp_uris)
}

/// The URIs of an IDP that covers user certificates for all reasons, directly.
fn idp_user_uris(idp: &IssuingDistributionPoint) -> Result<Vec<String>, String> {
    if idp.indirect_crl {
        return Err("indirect CRLs are not supported".into());
    }
    if idp.only_some_reasons.is_some() {
        return Err("CRLs limited to some revocation reasons are not supported".into());
    }
    if idp.only_contains_ca_certs || idp.only_contains_attribute_certs {
        return Err("this CRL does not cover user certificates".into());
    }
    let Some(DistributionPointName::FullName(names)) = &idp.distribution_point else {
        return Err("IssuingDistributionPoint has no full-name URI".into());
    };
    let uris: Vec<String> = names.iter().filter_map(general_name_uri).collect();
    if uris.is_empty() {
        return Err("IssuingDistributionPoint has no URI".into());
    }
    Ok(uris)
}

/// The URI of a GeneralName, if it is one.
pub(crate) fn general_name_uri(gn: &GeneralName) -> Option<String> {
    match gn {
        GeneralName::UniformResourceIdentifier(u) => Some(u.as_str().to_owned()),
        _ => None,
    }
}

/// A cheap snapshot of a directory (names, sizes, modification times) to notice changes
/// by polling; compare two snapshots with `==`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirFingerprint(Vec<(PathBuf, u64, Option<SystemTime>)>);

/// The fingerprint of `dir` now.
pub fn dir_fingerprint(dir: &Path) -> std::io::Result<DirFingerprint> {
    let mut entries = Vec::new();
    for path in x509::dir_files(dir)? {
        let meta = std::fs::metadata(&path)?;
        entries.push((path, meta.len(), meta.modified().ok()));
    }
    Ok(DirFingerprint(entries))
}
