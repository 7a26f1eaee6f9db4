//! Every kind of client certificate of issue 3, issued by ONE [`TestPki`] whose CAs and
//! CRLs an installation trusts ([`crate::fixtures::Installation::with_pki`]).
//!
//! CRL layout (PKI.md: a certificate is checked against the CRL of its own distribution
//! point, never "any CRL of the issuer"):
//! - GPKI partition 146 (IDP): revokes nobody; every good GPKI user is in it;
//! - GPKI partition 147 (IDP): revokes [`CertKinds::revoked`];
//! - GPKI partition 148: no CRL at all, so [`CertKinds::revocation_unknown`] (in it) is
//!   refused with `revocation_unknown`;
//! - EPKI partition 16306 (IDP): revokes nobody.

use certmail_pki::testpki::{
    Distortion, TestPki, UserCert, UserKey, UserSpec, epki_cdp, gpki_cdp, openssl, pem,
};
pub use certmail_testkit::pki::{CrlFile, DAY};
use certmail_testkit::pki::{People, spec};

/// The certificates, their keys and the CRLs. Person names are unique per certificate (one
/// person holds one personal account), so any of them can be bound to its own account.
pub struct CertKinds {
    /// The PKI: its GPKI root and GPKI/EPKI issuing CAs are what the daemon trusts.
    pub pki: TestPki,
    /// When the certificates were made (Unix seconds).
    pub now: i64,
    /// The good personal certificate of each kind (김철수, 박민수, 홍길동, 이순신).
    pub people: People,
    /// A bank certificate (yessign under the KISA root), critical certificatePolicies.
    pub npki: UserCert,
    /// Issued by an unrelated CA (`Example Issuing CA`).
    pub foreign: UserCert,
    /// The right issuer name, signed by another key.
    pub impostor: UserCert,
    /// Validity ended ten days ago (김유신).
    pub expired: UserCert,
    /// Validity starts in ten days (정약용).
    pub not_yet_valid: UserCert,
    /// GPKI server/computer policy.
    pub server_policy: UserCert,
    /// GPKI institution seal policy (통계청장).
    pub institution_policy: UserCert,
    /// On the partition-147 CRL (최영).
    pub revoked: UserCert,
    /// In partition 148, which has no CRL (장보고).
    pub revocation_unknown: UserCert,
    /// Carries a critical extension nobody understands (OID 1.2.3.4.5.6.7).
    pub unknown_critical: UserCert,
    /// Signed with ecdsa-with-SHA1.
    pub sha1: UserCert,
    /// A good certificate nobody registered (강감찬).
    pub not_bound: UserCert,
    /// 안중근's good certificate, for the name-mismatch case (bound to 윤봉길's account).
    pub name_mismatch: UserCert,
    /// 장영실's good certificate, for a pending account.
    pub pending: UserCert,
    /// 유관순's good certificate, for a disabled account.
    pub disabled: UserCert,
    /// A KCDSA-like key algorithm (the key bits are ECDSA; TLS cannot prove possession).
    pub kcdsa: UserCert,
    /// RSA-1024 (ring cannot even load the key: sign with [`CertKinds::rsa1024_key`]).
    pub rsa1024: UserCert,
    /// The RSA-1024 key, for an openssl-backed signer.
    pub rsa1024_key: openssl::RsaKey,
    /// The CRL files.
    pub crls: Vec<CrlFile>,
}

impl std::fmt::Debug for CertKinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertKinds")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl CertKinds {
    /// Issues everything (needs the `openssl` CLI for RSA keys and SHA-1).
    pub fn generate() -> anyhow::Result<CertKinds> {
        openssl::version()?;
        let work = tempfile::tempdir()?;
        let w = work.path();
        let pki = TestPki::new()?;
        let now = certmail_pki::now_unix();
        let gpki = |person: &str| UserSpec::gpki(person, now);
        let in_partition = |person: &str, p: u32| spec::in_partition(person, now, p);
        let issue_gpki = |spec: UserSpec| pki.issue(&pki.gpki_ca, &spec, w);
        let rsa = |bits| openssl::rsa_key(w, bits);
        let rsa1024_key = rsa(1024)?;
        let kinds = CertKinds {
            people: People::issue(&pki, now, w)?,
            npki: pki.issue(&pki.npki_ca, &spec::npki(now), w)?,
            foreign: pki.issue(&pki.foreign_ca()?, &gpki("김철수"), w)?,
            impostor: pki.issue(&pki.impostor_of(&pki.gpki_ca)?, &gpki("김철수"), w)?,
            expired: issue_gpki(spec::valid("김유신", now, -900, -10))?,
            not_yet_valid: issue_gpki(spec::valid("정약용", now, 10, 800))?,
            server_policy: issue_gpki(spec::server_policy(now))?,
            institution_policy: issue_gpki(spec::institution_policy(now))?,
            revoked: issue_gpki(in_partition("최영", 147))?,
            revocation_unknown: issue_gpki(in_partition("장보고", 148))?,
            unknown_critical: issue_gpki(UserSpec {
                unknown_critical_extension: true,
                ..gpki("김철수")
            })?,
            sha1: issue_gpki(UserSpec {
                distortion: Distortion::Sha1Signature,
                ..gpki("김철수")
            })?,
            not_bound: issue_gpki(gpki("강감찬"))?,
            name_mismatch: issue_gpki(gpki("안중근"))?,
            pending: issue_gpki(gpki("장영실"))?,
            disabled: issue_gpki(gpki("유관순"))?,
            kcdsa: issue_gpki(UserSpec {
                distortion: Distortion::KcdsaKey,
                ..gpki("김철수")
            })?,
            rsa1024: issue_gpki(UserSpec {
                key: UserKey::Rsa(rsa1024_key.clone()),
                ..gpki("김철수")
            })?,
            rsa1024_key,
            crls: Vec::new(),
            pki,
            now,
        };
        let crls = kinds.make_crls()?;
        Ok(CertKinds { crls, ..kinds })
    }

    fn make_crls(&self) -> anyhow::Result<Vec<CrlFile>> {
        let p = &self.pki;
        let (this, next) = (self.now - 3600, self.now + 7 * DAY);
        Ok(vec![
            (
                "crl1p1dp146.crl".into(),
                p.crl(&p.gpki_ca, Some(&gpki_cdp(146)), &[], this, next)?,
                None,
            ),
            (
                "crl1p1dp147.crl".into(),
                p.crl(
                    &p.gpki_ca,
                    Some(&gpki_cdp(147)),
                    &[&self.revoked],
                    this,
                    next,
                )?,
                None,
            ),
            (
                "epki-dp16306.pem".into(),
                pem(
                    "X509 CRL",
                    &p.crl(&p.epki_ca, Some(&epki_cdp(16306)), &[], this, next)?,
                )
                .into_bytes(),
                None,
            ),
        ])
    }
}

pub use certmail_testkit::pki::write_pem;
