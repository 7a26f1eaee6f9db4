//! The shared test PKI: every certificate kind of issue 3, made once per test binary, and
//! a per-test directory layout (certs/, crl/) loaded into a `Pki`.
#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;
use std::sync::OnceLock;

use certmail_pki::testpki::{
    Distortion, OID_GPKI_SERVER, TestCa, TestPki, UserCert, UserKey, UserSpec, epki_cdp, gpki_cdp,
    openssl, pem,
};
use certmail_pki::{Pki, PkiConfig};
pub use certmail_testkit::pki::{CrlFile, DAY};
use certmail_testkit::pki::{People, spec};

/// Every certificate kind, issued once.
pub struct Material {
    pub pki: TestPki,
    pub now: i64,
    pub people: People,
    pub d57_no_real_name: UserCert,
    pub partition_b_revoked: UserCert,
    pub partition_b_good: UserCert,
    pub partition_c: UserCert,
    pub partition_stale: UserCert,
    pub expired: UserCert,
    pub not_yet_valid: UserCert,
    pub expired_server_policy: UserCert,
    pub server_policy: UserCert,
    pub institution_policy: UserCert,
    pub npki: UserCert,
    pub foreign: UserCert,
    pub impostor: UserCert,
    pub unknown_critical: UserCert,
    pub sha1: UserCert,
    pub rsa1024: UserCert,
    pub rsa1024_key: openssl::RsaKey,
    pub kcdsa: UserCert,
    pub no_cdp: UserCert,
    pub server: UserCert,
    /// CRL files: (file name, DER, optional sidecar text).
    pub crls: Vec<CrlFile>,
}

/// The material for this test binary.
pub fn material() -> &'static Material {
    static M: OnceLock<Material> = OnceLock::new();
    M.get_or_init(|| make().expect("test PKI generation (needs the openssl CLI)"))
}

fn make() -> certmail_pki::Result<Material> {
    openssl::version()?;
    let work = tempfile::tempdir().expect("temp dir");
    let w = work.path();
    let pki = TestPki::new()?;
    let now = certmail_pki::now_unix();
    let gpki = |person: &str| UserSpec::gpki(person, now);
    let issue = |ca: &TestCa, spec: UserSpec| pki.issue(ca, &spec, w);

    let rsa1024_key = openssl::rsa_key(w, 1024)?;
    let in_partition = |person: &str, p: u32| spec::in_partition(person, now, p);

    let m = Material {
        people: People::issue(&pki, now, w)?,
        d57_no_real_name: issue(
            &pki.gpki_ca,
            UserSpec {
                cn: "D57이영희01".into(),
                real_name: None,
                ..gpki("이영희")
            },
        )?,
        partition_b_revoked: issue(&pki.gpki_ca, in_partition("최영", 147))?,
        partition_b_good: issue(&pki.gpki_ca, in_partition("강감찬", 147))?,
        partition_c: issue(&pki.gpki_ca, in_partition("유관순", 148))?,
        partition_stale: issue(&pki.gpki_ca, in_partition("장영실", 149))?,
        expired: issue(&pki.gpki_ca, spec::valid("김유신", now, -900, -10))?,
        not_yet_valid: issue(&pki.gpki_ca, spec::valid("정약용", now, 10, 800))?,
        expired_server_policy: issue(
            &pki.gpki_ca,
            UserSpec {
                policies: vec![OID_GPKI_SERVER.into()],
                ..spec::valid("서버", now, -900, -10)
            },
        )?,
        server_policy: issue(&pki.gpki_ca, spec::server_policy(now))?,
        institution_policy: issue(&pki.gpki_ca, spec::institution_policy(now))?,
        npki: issue(&pki.npki_ca, spec::npki(now))?,
        foreign: issue(&pki.foreign_ca()?, gpki("김철수"))?,
        impostor: issue(&pki.impostor_of(&pki.gpki_ca)?, gpki("김철수"))?,
        unknown_critical: issue(
            &pki.gpki_ca,
            UserSpec {
                unknown_critical_extension: true,
                ..gpki("김철수")
            },
        )?,
        sha1: issue(
            &pki.gpki_ca,
            UserSpec {
                distortion: Distortion::Sha1Signature,
                ..gpki("김철수")
            },
        )?,
        rsa1024: issue(
            &pki.gpki_ca,
            UserSpec {
                key: UserKey::Rsa(rsa1024_key.clone()),
                ..gpki("김철수")
            },
        )?,
        kcdsa: issue(
            &pki.gpki_ca,
            UserSpec {
                distortion: Distortion::KcdsaKey,
                ..gpki("김철수")
            },
        )?,
        no_cdp: issue(
            &pki.gpki_ca,
            UserSpec {
                cdp_uris: vec![],
                ..gpki("김철수")
            },
        )?,
        server: pki.server_cert()?,
        rsa1024_key,
        crls: Vec::new(),
        pki,
        now,
    };
    let crls = make_crls(&m)?;
    Ok(Material { crls, ..m })
}

/// The CRL layout (PKI.md's pitfall on purpose):
/// - dp146 (partition A): **no IDP**, mapped by its sidecar, revokes nobody;
/// - dp147 (partition B): IDP, revokes `partition_b_revoked`;
/// - dp148 (partition C): no CRL at all;
/// - dp149: IDP, nextUpdate two days ago (past the one-day grace);
/// - orphan: no IDP and no sidecar, from the same CA: must be ignored;
/// - forged: IDP dp150, signed by an impostor of CA131100001: must be refused;
/// - EPKI dp16306: IDP, revokes nobody.
fn make_crls(m: &Material) -> certmail_pki::Result<Vec<CrlFile>> {
    let p = &m.pki;
    let now = m.now;
    let fresh = (now - 3600, now + 7 * DAY);
    Ok(vec![
        (
            "crl1p1dp146.crl".into(),
            p.crl(&p.gpki_ca, None, &[], fresh.0, fresh.1)?,
            Some(format!("# fetched by the LDAP job\n{}\n", gpki_cdp(146))),
        ),
        (
            "crl1p1dp147.crl".into(),
            p.crl(
                &p.gpki_ca,
                Some(&gpki_cdp(147)),
                &[&m.partition_b_revoked],
                fresh.0,
                fresh.1,
            )?,
            None,
        ),
        (
            "crl1p1dp149.crl".into(),
            p.crl(
                &p.gpki_ca,
                Some(&gpki_cdp(149)),
                &[],
                now - 10 * DAY,
                now - 2 * DAY,
            )?,
            None,
        ),
        (
            "orphan.crl".into(),
            p.crl(&p.gpki_ca, None, &[], fresh.0, fresh.1)?,
            None,
        ),
        (
            "forged.crl".into(),
            p.crl(
                &p.impostor_of(&p.gpki_ca)?,
                Some(&gpki_cdp(150)),
                &[],
                fresh.0,
                fresh.1,
            )?,
            None,
        ),
        (
            "epki-dp16306.pem".into(),
            pem(
                "X509 CRL",
                &p.crl(&p.epki_ca, Some(&epki_cdp(16306)), &[], fresh.0, fresh.1)?,
            )
            .into_bytes(),
            None,
        ),
    ])
}

/// A per-test layout: `certs/` with the GPKI root and issuing CAs, `crl/` with the CRLs.
pub struct Layout {
    pub dir: tempfile::TempDir,
    pub config: PkiConfig,
}

impl Layout {
    pub fn new() -> Layout {
        let m = material();
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        let crl = dir.path().join("crl");
        m.pki.write_certs_dir(&certs).expect("write certs");
        std::fs::create_dir_all(&crl).expect("crl dir");
        for file in &m.crls {
            certmail_testkit::pki::write_crl(&crl, file).expect("write CRL");
        }
        Layout {
            config: PkiConfig::new(certs, crl),
            dir,
        }
    }

    pub fn load(&self) -> Pki {
        Pki::load(&self.config).expect("PKI loads")
    }

    pub fn crl_dir(&self) -> &Path {
        &self.config.crl_dir
    }
}

pub fn write_crl(dir: &Path, name: &str, der: &[u8], sidecar: Option<&str>) {
    let crl = (name.to_owned(), der.to_vec(), sidecar.map(str::to_owned));
    certmail_testkit::pki::write_crl(dir, &crl).expect("write CRL");
}
