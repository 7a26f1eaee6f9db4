//! [`Pki`]: the configured issuing CAs and the CRL store, loaded from [`PkiConfig`].
//!
//! Share it as `Arc<Pki>`; to reload the CA certificates build a new one with
//! [`Pki::load`] and swap the `Arc`. CRLs reload in place ([`Pki::reload_crls`]), so
//! live connections keep working while a fetch job replaces CRL files.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use der::{Decode, Encode};
use rustls::DistinguishedName;
use rustls::pki_types::CertificateDer;
use x509_cert::Certificate;

use crate::crl::{self, CrlLoadReport, CrlStore, DirFingerprint, LoadedCrl};
use crate::error::{Error, Result};
use crate::issuer::{IssuingCa, issuing_ca, verify_by};
use crate::verifier::GpkiClientVerifier;
use crate::{PkiConfig, x509};

/// The loaded trust configuration: issuing CAs, CRLs, policy lists.
#[derive(Debug)]
pub struct Pki {
    pub(crate) config: PkiConfig,
    pub(crate) issuers: Vec<IssuingCa>,
    root_hints: Vec<DistinguishedName>,
    crls: RwLock<Arc<CrlStore>>,
    crl_state: Mutex<(DirFingerprint, CrlLoadReport)>,
}

impl Pki {
    /// Load the CA certificates and CRLs named by `config`. Fails on an invalid
    /// configuration, an unreadable directory, a CA file that is not a CA certificate, or
    /// an issuing CA whose signature does not verify with a configured root. A bad CRL file
    /// does not fail the load: it is left out ([`Pki::crl_report`]) and sign-ins whose CRL
    /// is missing are refused with `revocation_unknown`.
    pub fn load(config: &PkiConfig) -> Result<Pki> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(Error::Config(problems));
        }
        let (roots, issuers) = load_cas(config)?;
        let now = now_unix();
        for ca in roots.iter().chain(&issuers) {
            if ca.not_after < now {
                tracing::warn!(ca = %ca.subject_dn, path = %ca.path.display(), "CA certificate has expired");
            }
        }
        let root_hints = issuers
            .iter()
            .map(|ca| DistinguishedName::from(ca.subject_der.clone()))
            .collect();
        let fingerprint =
            crl::dir_fingerprint(&config.crl_dir).map_err(|e| Error::io(&config.crl_dir, e))?;
        let (store, report) = CrlStore::load(&config.crl_dir, &issuers, None, now)
            .map_err(|e| Error::io(&config.crl_dir, e))?;
        Ok(Pki {
            config: config.clone(),
            issuers,
            root_hints,
            crls: RwLock::new(Arc::new(store)),
            crl_state: Mutex::new((fingerprint, report)),
        })
    }

    /// The configuration this was loaded from.
    pub fn config(&self) -> &PkiConfig {
        &self.config
    }

    /// RFC 4514 subjects of the issuing CAs, in file order.
    pub fn issuing_ca_subjects(&self) -> Vec<String> {
        self.issuers
            .iter()
            .map(|ca| ca.subject_dn.clone())
            .collect()
    }

    /// DER subjects of the issuing CAs, sent as CertificateRequest hints so a client's
    /// certificate picker offers only GPKI/EPKI certificates.
    pub fn root_hints(&self) -> &[DistinguishedName] {
        &self.root_hints
    }

    /// The rustls client-certificate verifier for user listeners.
    pub fn client_verifier(&self) -> Arc<GpkiClientVerifier> {
        Arc::new(GpkiClientVerifier::new(self.root_hints.clone()))
    }

    /// The CRL store in force (cheap: an `Arc` clone).
    pub fn crl_store(&self) -> Arc<CrlStore> {
        self.crls
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Every loaded CRL (for status output and nextUpdate warnings).
    pub fn crls(&self) -> Vec<Arc<LoadedCrl>> {
        self.crl_store().crls()
    }

    /// The report of the last CRL (re)load.
    pub fn crl_report(&self) -> CrlLoadReport {
        self.lock_state().1.clone()
    }

    /// Re-read the CRL directory and swap the store in. A file that fails keeps its last
    /// good version. Call on SIGHUP / `certmail reload`.
    pub fn reload_crls(&self) -> Result<CrlLoadReport> {
        let dir = &self.config.crl_dir;
        let fingerprint = crl::dir_fingerprint(dir).map_err(|e| Error::io(dir, e))?;
        let previous = self.crl_store();
        let (store, report) = CrlStore::load(dir, &self.issuers, Some(&previous), now_unix())
            .map_err(|e| Error::io(dir, e))?;
        match self.crls.write() {
            Ok(mut g) => *g = Arc::new(store),
            Err(p) => *p.into_inner() = Arc::new(store),
        }
        *self.lock_state() = (fingerprint, report.clone());
        Ok(report)
    }

    /// Verify a CRL fetched from the distribution point `uri` before it is written to
    /// `dest` in the CRL directory, exactly as a load would judge it there with a sidecar
    /// naming `uri`: issuer a configured issuing CA, signature by its key, supported
    /// extensions, and an IssuingDistributionPoint (if any) that names `uri`. Also refuses
    /// a CRL whose nextUpdate has passed at `now`, which must not replace a good file.
    pub fn verify_fetched_crl(
        &self,
        der: &[u8],
        uri: &str,
        dest: &Path,
        now: i64,
    ) -> std::result::Result<LoadedCrl, String> {
        let crl = crl::verify_crl(der, dest, &self.issuers, Some(&[uri.to_owned()]))?;
        if crl.next_update < now {
            return Err(format!(
                "its nextUpdate ({}) has passed: the distribution point serves a stale CRL",
                crl.next_update_text
            ));
        }
        Ok(crl)
    }

    /// Whether the CRL directory changed (names, sizes, mtimes) since the last load.
    pub fn crl_dir_changed(&self) -> Result<bool> {
        let dir = &self.config.crl_dir;
        let now = crl::dir_fingerprint(dir).map_err(|e| Error::io(dir, e))?;
        Ok(now != self.lock_state().0)
    }

    /// Reload the CRLs if the directory changed; the report when it did. The daemon calls
    /// this on a timer (polling mtimes).
    pub fn reload_crls_if_changed(&self) -> Result<Option<CrlLoadReport>> {
        if self.crl_dir_changed()? {
            self.reload_crls().map(Some)
        } else {
            Ok(None)
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, (DirFingerprint, CrlLoadReport)> {
        self.crl_state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The current time in Unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Read every CA certificate; split roots (self-issued) from issuing CAs and verify each
/// issuing CA against its root when that root is configured.
fn load_cas(config: &PkiConfig) -> Result<(Vec<IssuingCa>, Vec<IssuingCa>)> {
    let dir = &config.certs_dir;
    let mut roots = Vec::new();
    let mut issuers = Vec::new();
    let mut certs = Vec::new();
    for path in x509::dir_files(dir).map_err(|e| Error::io(dir, e))? {
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let ders = x509::pem_or_der::<CertificateDer<'static>>(&bytes).map_err(|reason| {
            Error::CaCertificate {
                path: path.clone(),
                reason,
            }
        })?;
        for der in ders {
            let cert = Certificate::from_der(&der).map_err(|e| Error::CaCertificate {
                path: path.clone(),
                reason: format!("not an X.509 certificate: {e}"),
            })?;
            let ca = issuing_ca(&path, &cert, config)?;
            let self_issued = cert.tbs_certificate().issuer() == cert.tbs_certificate().subject();
            if self_issued {
                roots.push(ca);
            } else {
                issuers.push(ca);
            }
            certs.push((path.clone(), der, cert, self_issued));
        }
    }
    for (path, der, cert, self_issued) in &certs {
        if *self_issued {
            continue;
        }
        let issuer_der =
            cert.tbs_certificate()
                .issuer()
                .to_der()
                .map_err(|e| Error::CaCertificate {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
        if let Some(root) = roots.iter().find(|r| r.subject_der == issuer_der) {
            verify_by(der, cert, root).map_err(|reason| Error::CaCertificate {
                path: path.clone(),
                reason,
            })?;
        }
    }
    if issuers.is_empty() {
        return Err(Error::NoIssuingCa(dir.clone()));
    }
    Ok((roots, issuers))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pki_and_verifier_can_be_shared_across_tasks() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<super::Pki>();
        shareable::<crate::GpkiClientVerifier>();
        shareable::<crate::Refusal>();
    }
}
