//! Certificates and CRLs on top of [`certmail_pki::testpki`], for the shapes the tests
//! make again and again.

use std::path::{Path, PathBuf};

use certmail_pki::testpki::{
    OID_GPKI_INSTITUTION, OID_GPKI_SERVER, OID_NPKI_YESSIGN, TestPki, UserCert, UserKey, UserSpec,
    gpki_cdp, openssl,
};

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

/// One day in seconds.
pub const DAY: i64 = 86_400;

/// A CRL file for a `crl_dir`: name, contents, optional sidecar text (`<name>.uri`, for a
/// CRL without an IssuingDistributionPoint).
pub type CrlFile = (String, Vec<u8>, Option<String>);

/// Writes `crl` into `dir`, with its sidecar if it has one.
pub fn write_crl(dir: &Path, crl: &CrlFile) -> std::io::Result<()> {
    let (name, der, sidecar) = crl;
    std::fs::write(dir.join(name), der)?;
    if let Some(text) = sidecar {
        std::fs::write(dir.join(format!("{name}.uri")), text)?;
    }
    Ok(())
}

/// The good personal certificate of each kind (GPKI and EPKI, ECDSA and RSA-2048), each of
/// its own person, so each can be bound to its own account.
pub struct People {
    /// GPKI civil servant 김철수, ECDSA P-256.
    pub gpki_ecdsa: UserCert,
    /// GPKI civil servant 박민수, RSA-2048 (its key is [`People::gpki_rsa_key`]).
    pub gpki_rsa: UserCert,
    /// 박민수's RSA-2048 key, for an openssl-backed signer.
    pub gpki_rsa_key: openssl::RsaKey,
    /// EPKI teacher 홍길동, ECDSA, critical certificatePolicies.
    pub epki_ecdsa: UserCert,
    /// EPKI teacher 이순신, RSA-2048, critical certificatePolicies.
    pub epki_rsa: UserCert,
}

impl People {
    /// Issues the four from `pki`'s GPKI and EPKI CAs, valid around `now`; `work` holds
    /// the openssl CLI's files (it makes the RSA keys).
    pub fn issue(pki: &TestPki, now: i64, work: &Path) -> certmail_pki::Result<People> {
        let rsa = |spec: UserSpec, key: &openssl::RsaKey| UserSpec {
            key: UserKey::Rsa(key.clone()),
            ..spec
        };
        let gpki_rsa_key = openssl::rsa_key(work, 2048)?;
        let epki_rsa_key = openssl::rsa_key(work, 2048)?;
        let (gpki, epki) = (&pki.gpki_ca, &pki.epki_ca);
        Ok(People {
            gpki_ecdsa: pki.issue(gpki, &UserSpec::gpki("김철수", now), work)?,
            gpki_rsa: pki.issue(
                gpki,
                &rsa(UserSpec::gpki("박민수", now), &gpki_rsa_key),
                work,
            )?,
            gpki_rsa_key,
            epki_ecdsa: pki.issue(epki, &UserSpec::epki("홍길동", now), work)?,
            epki_rsa: pki.issue(
                epki,
                &rsa(UserSpec::epki("이순신", now), &epki_rsa_key),
                work,
            )?,
        })
    }
}

/// The certificate kinds of issue 3 that both the PKI's own tests and the black-box tests
/// issue, as specs (each a GPKI civil servant unless it says otherwise).
pub mod spec {
    use super::*;

    /// `person` in CRL partition `partition`.
    pub fn in_partition(person: &str, now: i64, partition: u32) -> UserSpec {
        UserSpec {
            cdp_uris: vec![gpki_cdp(partition)],
            ..UserSpec::gpki(person, now)
        }
    }

    /// `person`, valid from `from_days` to `to_days` days after `now`.
    pub fn valid(person: &str, now: i64, from_days: i64, to_days: i64) -> UserSpec {
        UserSpec {
            not_before: now + from_days * DAY,
            not_after: now + to_days * DAY,
            ..UserSpec::gpki(person, now)
        }
    }

    /// A GPKI server/computer certificate (policy [`OID_GPKI_SERVER`]).
    pub fn server_policy(now: i64) -> UserSpec {
        UserSpec {
            cn: "SVR1311000001".into(),
            agency: "Group of Server".into(),
            real_name: None,
            policies: vec![OID_GPKI_SERVER.into()],
            ..UserSpec::gpki("x", now)
        }
    }

    /// The institution seal of 통계청장 (policy [`OID_GPKI_INSTITUTION`]).
    pub fn institution_policy(now: i64) -> UserSpec {
        UserSpec {
            policies: vec![OID_GPKI_INSTITUTION.into()],
            ..UserSpec::gpki("통계청장", now)
        }
    }

    /// A bank certificate of 홍길동 (NPKI, yessign), critical certificatePolicies; issue it
    /// from the NPKI CA.
    pub fn npki(now: i64) -> UserSpec {
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
}
