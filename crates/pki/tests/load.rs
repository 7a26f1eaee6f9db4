//! Loading the trust configuration: what an operator's mistakes produce.

mod common;

use certmail_pki::{Error, Pki, PkiConfig};
use common::{Layout, material};

#[test]
fn issuing_cas_are_the_hints_and_roots_are_not() {
    let pki = Layout::new().load();
    assert_eq!(
        pki.issuing_ca_subjects(),
        [
            "CN=CA131100001,OU=GPKI,O=Government of Korea,C=KR",
            "CN=CA134100031,OU=GPKI,O=Government of Korea,C=KR",
        ]
    );
    assert_eq!(pki.root_hints().len(), 2);
}

#[test]
fn an_issuing_ca_not_signed_by_its_configured_root_fails_the_load() {
    let m = material();
    let layout = Layout::new();
    let fake_root = m.pki.impostor_of(&m.pki.gpki_root).expect("impostor root");
    let ca = m.pki.sub_ca(&fake_root, "CA999999999").expect("sub CA");
    std::fs::write(
        layout.config.certs_dir.join("CA999999999.pem"),
        ca.cert_pem(),
    )
    .expect("write");
    match Pki::load(&layout.config) {
        Err(Error::CaCertificate { path, reason }) => {
            assert!(path.ends_with("CA999999999.pem"));
            assert!(reason.contains("GPKIRootCA1"), "{reason}");
        }
        other => panic!("expected a CA error, got {other:?}"),
    }
}

#[test]
fn an_issuing_ca_without_its_root_is_a_trust_anchor() {
    let m = material();
    let layout = Layout::new();
    std::fs::remove_file(layout.config.certs_dir.join("GPKIRootCA1.pem")).expect("rm root");
    let pki = Pki::load(&layout.config).expect("loads");
    pki.check(Some(&m.people.gpki_ecdsa.cert_der), m.now)
        .expect("still accepted");
}

#[test]
fn a_user_certificate_in_the_certs_dir_is_refused() {
    let m = material();
    let layout = Layout::new();
    std::fs::write(
        layout.config.certs_dir.join("user.der"),
        &m.people.gpki_ecdsa.cert_der,
    )
    .expect("write");
    let err = Pki::load(&layout.config).expect_err("not a CA");
    assert!(err.to_string().contains("not a CA certificate"), "{err}");
}

#[test]
fn empty_certs_dir_and_bad_config_are_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let certs = dir.path().join("certs");
    let crl = dir.path().join("crl");
    std::fs::create_dir_all(&certs).expect("mkdir");
    std::fs::create_dir_all(&crl).expect("mkdir");
    let config = PkiConfig::new(&certs, &crl);
    assert!(matches!(Pki::load(&config), Err(Error::NoIssuingCa(_))));

    let mut bad = config.clone();
    bad.epki_policies = vec!["1.2.410.200005.1.1.4".into()];
    let err = Pki::load(&bad).expect_err("NPKI policy allowlisted");
    assert!(err.to_string().contains("pki.*_policies"), "{err}");

    let missing = PkiConfig::new(dir.path().join("nope"), &crl);
    assert!(matches!(Pki::load(&missing), Err(Error::Io { .. })));
}

#[test]
fn real_name_without_digits_is_used_and_normalised() {
    use unicode_normalization::UnicodeNormalization;
    let m = material();
    let decomposed: String = "한석봉".nfd().collect();
    let spec = certmail_pki::testpki::UserSpec {
        real_name: Some(format!(" {decomposed} ")),
        ..certmail_pki::testpki::UserSpec::gpki("한석봉", m.now)
    };
    let work = tempfile::tempdir().expect("tmp");
    let user = m
        .pki
        .issue(&m.pki.gpki_ca, &spec, work.path())
        .expect("issue");
    let id = Layout::new()
        .load()
        .check(Some(&user.cert_der), m.now)
        .expect("accepted");
    assert_eq!(id.name, "한석봉");
    assert!(certmail_pki::names_match(&id.name, &decomposed));
    assert!(!certmail_pki::names_match(&id.name, "한 석봉"));
}

#[test]
fn a_renewed_ca_with_the_same_name_and_a_new_key_works_beside_the_old_one() {
    let m = material();
    let layout = Layout::new();
    let renewed = m
        .pki
        .sub_ca(&m.pki.gpki_root, "CA131100001")
        .expect("renewed CA");
    std::fs::write(
        layout.config.certs_dir.join("CA131100001-2026.pem"),
        renewed.cert_pem(),
    )
    .expect("write");
    let work = tempfile::tempdir().expect("tmp");
    let spec = certmail_pki::testpki::UserSpec {
        cdp_uris: vec![certmail_pki::testpki::gpki_cdp(200)],
        ..certmail_pki::testpki::UserSpec::gpki("신사임당", m.now)
    };
    let new_user = m.pki.issue(&renewed, &spec, work.path()).expect("issue");
    // Its partition's CRL is signed by the renewed key.
    let crl = m
        .pki
        .crl(
            &renewed,
            Some(&certmail_pki::testpki::gpki_cdp(200)),
            &[],
            m.now - 60,
            m.now + common::DAY,
        )
        .expect("crl");
    common::write_crl(layout.crl_dir(), "crl1p1dp200.crl", &crl, None);
    let pki = Pki::load(&layout.config).expect("loads");
    assert!(
        pki.crl_report()
            .rejected
            .iter()
            .all(|(p, _)| !p.ends_with("crl1p1dp200.crl"))
    );
    assert_eq!(
        pki.check(Some(&new_user.cert_der), m.now)
            .expect("new key")
            .name,
        "신사임당"
    );
    pki.check(Some(&m.people.gpki_ecdsa.cert_der), m.now)
        .expect("old key still accepted");
}
