//! Certificates and CRLs on top of [`certmail_pki::testpki`], for the shapes the tests
//! make again and again.

use std::path::{Path, PathBuf};

use certmail_pki::testpki::{TestPki, UserCert, gpki_cdp};

/// The CRL partition [`certmail_pki::testpki::UserSpec::gpki`] users are in.
pub const GPKI_PARTITION: u32 = 146;

/// A CRL from `pki`'s GPKI issuing CA, valid from an hour ago to a day from now (current,
/// and not close to its nextUpdate), serving `idp_uri` (`None`: no IssuingDistributionPoint)
/// and revoking `revoked`. DER.
pub fn fresh_gpki_crl(
    pki: &TestPki,
    idp_uri: Option<&str>,
    revoked: &[&UserCert],
) -> anyhow::Result<Vec<u8>> {
    let now = certmail_pki::now_unix();
    Ok(pki.crl(&pki.gpki_ca, idp_uri, revoked, now - 3600, now + 86_400)?)
}

/// The empty, current CRL of partition [`GPKI_PARTITION`], so `UserSpec::gpki` users are
/// not revoked. DER.
pub fn empty_gpki_partition_crl(pki: &TestPki) -> anyhow::Result<Vec<u8>> {
    fresh_gpki_crl(pki, Some(&gpki_cdp(GPKI_PARTITION)), &[])
}

/// Writes `cert` as `<dir>/<stem>.pem` and its key as `<dir>/<stem>.key.pem`; returns both
/// paths.
pub fn write_pem(dir: &Path, stem: &str, cert: &UserCert) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let c = dir.join(format!("{stem}.pem"));
    let k = dir.join(format!("{stem}.key.pem"));
    std::fs::write(&c, cert.cert_pem())?;
    std::fs::write(&k, cert.key_pem())?;
    Ok((c, k))
}
