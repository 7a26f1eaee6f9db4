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
    Distortion, OID_GPKI_INSTITUTION, OID_GPKI_SERVER, OID_NPKI_YESSIGN, TestPki, UserCert,
    UserKey, UserSpec, epki_cdp, gpki_cdp, openssl, pem,
};

/// One day in seconds.
pub const DAY: i64 = 86_400;

/// A CRL file for the installation's `crl_dir`: name, contents (DER), optional sidecar text
/// (`<name>.uri`, for a CRL without an IssuingDistributionPoint).
pub type CrlFile = (String, Vec<u8>, Option<String>);

/// The certificates, their keys and the CRLs. Person names are unique per certificate (one
/// person holds one personal account), so any of them can be bound to its own account.
pub struct CertKinds {
    /// The PKI: its GPKI root and GPKI/EPKI issuing CAs are what the daemon trusts.
    pub pki: TestPki,
    /// When the certificates were made (Unix seconds).
    pub now: i64,
    /// GPKI civil servant 김철수, ECDSA P-256.
    pub gpki_ecdsa: UserCert,
    /// GPKI civil servant 박민수, RSA-2048.
    pub gpki_rsa: UserCert,
    /// EPKI teacher 홍길동, ECDSA, critical certificatePolicies.
    pub epki_ecdsa: UserCert,
    /// EPKI teacher 이순신, RSA-2048, critical certificatePolicies.
    pub epki_rsa: UserCert,
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

/// A bank (NPKI, yessign) certificate of 홍길동 with its critical policy.
fn npki_spec(now: i64) -> UserSpec {
    UserSpec {
        cn: "홍길동()0004048H013284377".into(),
        agency: "personal4IB".into(),
        organization: "yessign".into(),
        real_name: Some("홍길동".into()),
        policies: vec![OID_NPKI_YESSIGN.into()],
        critical_policies: true,
        cdp_uris: vec![
            "ldap://ds.yessign.or.kr:389/ou=dp5p87241,ou=AccreditedCA,o=yessign,c=kr?certificateRevocationList".into(),
        ],
        ..UserSpec::gpki("홍길동", now)
    }
}

/// A GPKI certificate valid from `from_days` to `to_days` days after `now`.
fn valid(person: &str, now: i64, from_days: i64, to_days: i64) -> UserSpec {
    UserSpec {
        not_before: now + from_days * DAY,
        not_after: now + to_days * DAY,
        ..UserSpec::gpki(person, now)
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
        let in_partition = |person: &str, p: u32| UserSpec {
            cdp_uris: vec![gpki_cdp(p)],
            ..gpki(person)
        };
        let issue_gpki = |spec: UserSpec| pki.issue(&pki.gpki_ca, &spec, w);
        let rsa = |bits| openssl::rsa_key(w, bits);
        let rsa1024_key = rsa(1024)?;
        let kinds = CertKinds {
            gpki_ecdsa: issue_gpki(gpki("김철수"))?,
            gpki_rsa: issue_gpki(UserSpec {
                key: UserKey::Rsa(rsa(2048)?),
                ..gpki("박민수")
            })?,
            epki_ecdsa: pki.issue(&pki.epki_ca, &UserSpec::epki("홍길동", now), w)?,
            epki_rsa: pki.issue(
                &pki.epki_ca,
                &UserSpec {
                    key: UserKey::Rsa(rsa(2048)?),
                    ..UserSpec::epki("이순신", now)
                },
                w,
            )?,
            npki: pki.issue(&pki.npki_ca, &npki_spec(now), w)?,
            foreign: pki.issue(&pki.foreign_ca()?, &gpki("김철수"), w)?,
            impostor: pki.issue(&pki.impostor_of(&pki.gpki_ca)?, &gpki("김철수"), w)?,
            expired: issue_gpki(valid("김유신", now, -900, -10))?,
            not_yet_valid: issue_gpki(valid("정약용", now, 10, 800))?,
            server_policy: issue_gpki(UserSpec {
                cn: "SVR1311000001".into(),
                agency: "Group of Server".into(),
                real_name: None,
                policies: vec![OID_GPKI_SERVER.into()],
                ..gpki("x")
            })?,
            institution_policy: issue_gpki(UserSpec {
                policies: vec![OID_GPKI_INSTITUTION.into()],
                ..gpki("통계청장")
            })?,
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
