//! CRL selection by distribution point, load-time verification, and reloading.

mod common;

use certmail_pki::RefusalReason as R;
use certmail_pki::testpki::gpki_cdp;
use common::{DAY, Layout, material, write_crl};

fn file_name(p: &std::path::Path) -> String {
    p.file_name().expect("file").to_string_lossy().into_owned()
}

#[test]
fn load_report_names_each_refused_file() {
    let layout = Layout::new();
    let pki = layout.load();
    let report = pki.crl_report();
    let rejected: Vec<(String, String)> = report
        .rejected
        .iter()
        .map(|(p, why)| (file_name(p), why.clone()))
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    let orphan = rejected
        .iter()
        .find(|(f, _)| f == "orphan.crl")
        .expect("orphan refused");
    assert!(
        orphan
            .1
            .contains("no IssuingDistributionPoint and no sidecar"),
        "{}",
        orphan.1
    );
    let forged = rejected
        .iter()
        .find(|(f, _)| f == "forged.crl")
        .expect("forged refused");
    assert!(
        forged.1.contains("signature does not verify"),
        "{}",
        forged.1
    );
    let mut loaded: Vec<String> = report.loaded.iter().map(|p| file_name(p)).collect();
    loaded.sort();
    assert_eq!(
        loaded,
        [
            "crl1p1dp146.crl",
            "crl1p1dp147.crl",
            "crl1p1dp149.crl",
            "epki-dp16306.pem"
        ]
    );
    assert_eq!(
        report
            .stale
            .iter()
            .map(|p| file_name(p))
            .collect::<Vec<_>>(),
        ["crl1p1dp149.crl"]
    );
}

#[test]
fn store_is_keyed_by_uri_case_insensitively() {
    let pki = Layout::new().load();
    let store = pki.crl_store();
    let a = store.for_uri(&gpki_cdp(146)).expect("dp146 via sidecar");
    assert_eq!(file_name(&a.path), "crl1p1dp146.crl");
    let b = store
        .for_uri(&gpki_cdp(147).replace("c=KR", "C=kr"))
        .expect("dp147 via IDP");
    assert_eq!(b.revoked_count(), 1);
    assert!(store.for_uri(&gpki_cdp(148)).is_none());
    assert!(
        store.for_uri(&gpki_cdp(150)).is_none(),
        "forged CRL must not be in force"
    );
}

#[test]
fn sidecar_must_agree_with_idp() {
    let m = material();
    let layout = Layout::new();
    let crl = m
        .pki
        .crl(
            &m.pki.gpki_ca,
            Some(&gpki_cdp(151)),
            &[],
            m.now - 60,
            m.now + DAY,
        )
        .expect("crl");
    write_crl(
        layout.crl_dir(),
        "crl1p1dp151.crl",
        &crl,
        Some(&gpki_cdp(152)),
    );
    let pki = layout.load();
    let report = pki.crl_report();
    let (_, why) = report
        .rejected
        .iter()
        .find(|(p, _)| file_name(p) == "crl1p1dp151.crl")
        .expect("refused");
    assert!(
        why.contains("not in the CRL's IssuingDistributionPoint"),
        "{why}"
    );
    assert!(pki.crl_store().for_uri(&gpki_cdp(151)).is_none());
}

#[test]
fn a_new_crl_file_is_picked_up_on_change() {
    let m = material();
    let layout = Layout::new();
    let pki = layout.load();
    let cert = &m.partition_c.cert_der;
    assert_eq!(
        pki.check(Some(cert), m.now).expect_err("no CRL yet").reason,
        R::RevocationUnknown
    );
    assert!(!pki.crl_dir_changed().expect("poll"));
    assert_eq!(pki.reload_crls_if_changed().expect("poll"), None);

    let crl = m
        .pki
        .crl(&m.pki.gpki_ca, None, &[], m.now - 60, m.now + DAY)
        .expect("crl");
    write_crl(
        layout.crl_dir(),
        "crl1p1dp148.crl",
        &crl,
        Some(&gpki_cdp(148)),
    );
    assert!(pki.crl_dir_changed().expect("poll"));
    let report = pki
        .reload_crls_if_changed()
        .expect("reload")
        .expect("changed");
    assert!(
        report
            .loaded
            .iter()
            .any(|p| file_name(p) == "crl1p1dp148.crl")
    );
    pki.check(Some(cert), m.now)
        .expect("cleared by its own partition's CRL");
}

#[test]
fn a_broken_replacement_keeps_the_last_good_crl() {
    let m = material();
    let layout = Layout::new();
    let pki = layout.load();
    std::fs::write(layout.crl_dir().join("crl1p1dp147.crl"), b"not a CRL").expect("overwrite");
    let report = pki.reload_crls().expect("reload");
    assert!(
        report
            .kept_previous
            .iter()
            .any(|p| file_name(p) == "crl1p1dp147.crl"),
        "{report:?}"
    );
    let r = pki
        .check(Some(&m.partition_b_revoked.cert_der), m.now)
        .expect_err("still revoked");
    assert_eq!(r.reason, R::CertificateRevoked);
}

#[test]
fn a_newer_crl_for_the_same_partition_wins() {
    let m = material();
    let layout = Layout::new();
    // A later CRL for dp146 (with IDP this time) that revokes 김철수.
    let newer = m
        .pki
        .crl(
            &m.pki.gpki_ca,
            Some(&gpki_cdp(146)),
            &[&m.people.gpki_ecdsa],
            m.now - 60,
            m.now + DAY,
        )
        .expect("crl");
    write_crl(layout.crl_dir(), "zz-dp146-newer.crl", &newer, None);
    let pki = layout.load();
    let r = pki
        .check(Some(&m.people.gpki_ecdsa.cert_der), m.now)
        .expect_err("revoked by the newer CRL");
    assert_eq!(r.reason, R::CertificateRevoked);
}

#[test]
fn a_crl_from_an_unconfigured_issuer_is_refused() {
    let m = material();
    let layout = Layout::new();
    let crl = m
        .pki
        .crl(
            &m.pki.npki_ca,
            Some("ldap://ds.yessign.or.kr/x"),
            &[],
            m.now - 60,
            m.now + DAY,
        )
        .expect("crl");
    write_crl(layout.crl_dir(), "yessign.crl", &crl, None);
    let report = layout.load().crl_report();
    let (_, why) = report
        .rejected
        .iter()
        .find(|(p, _)| file_name(p) == "yessign.crl")
        .expect("refused");
    assert!(why.contains("not a configured issuing CA"), "{why}");
}
