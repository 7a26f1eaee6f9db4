//! The identity check for every certificate kind of issue 3, each with its exact reason.

mod common;

use certmail_pki::testpki::{epki_cdp, gpki_cdp};
use certmail_pki::{Identity, PkiKind, Refusal, RefusalReason as R, cert_summary, spki_sha256_of};
use common::{Layout, material};

fn refusal(cert: &[u8]) -> Refusal {
    let layout = Layout::new();
    let pki = layout.load();
    pki.check(Some(cert), material().now)
        .expect_err("must be refused")
}

fn accepted(cert: &[u8]) -> Identity {
    let layout = Layout::new();
    let pki = layout.load();
    match pki.check(Some(cert), material().now) {
        Ok(id) => id,
        Err(r) => panic!("refused: {} ({})", r.message, r.reason),
    }
}

fn assert_refused(cert: &[u8], reason: R, words: &[&str]) {
    let r = refusal(cert);
    assert_eq!(r.reason, reason, "{}", r.message);
    for w in words {
        assert!(r.message.contains(w), "{:?} lacks {w:?}", r.message);
    }
}

#[test]
fn gpki_ecdsa_user_is_accepted_with_name_from_cn() {
    let m = material();
    let id = accepted(&m.people.gpki_ecdsa.cert_der);
    assert_eq!(
        id.subject_dn,
        "CN=043김철수001,OU=people,OU=통계청,O=Government of Korea,C=KR"
    );
    assert_eq!(
        id.issuer_dn,
        "CN=CA131100001,OU=GPKI,O=Government of Korea,C=KR"
    );
    assert_eq!(id.pki, PkiKind::Gpki);
    assert_eq!(id.policy_oid, "1.2.410.100001.2.2.1");
    // realName is a copy of the CN (has digits), so the CN rule gives the name.
    assert_eq!(id.name, "김철수");
    assert_eq!(id.cdp_uris, vec![gpki_cdp(146)]);
    assert_eq!(
        Some(id.spki_sha256),
        spki_sha256_of(&m.people.gpki_ecdsa.cert_der)
    );
    let summary = cert_summary(&m.people.gpki_ecdsa.cert_der).expect("parses");
    assert_eq!(summary.serial_hex, id.serial_hex);
    assert_eq!(summary.sha256_hex, hex::encode(id.cert_sha256));
}

#[test]
fn gpki_rsa_user_is_accepted() {
    let id = accepted(&material().people.gpki_rsa.cert_der);
    assert_eq!(id.name, "박민수");
}

#[test]
fn epki_user_with_critical_policies_is_accepted_with_real_name() {
    let id = accepted(&material().people.epki_ecdsa.cert_der);
    assert_eq!(id.pki, PkiKind::Epki);
    assert_eq!(id.policy_oid, "1.2.410.100001.5.3.1.3");
    assert_eq!(id.name, "홍길동");
    assert_eq!(id.cdp_uris, vec![epki_cdp(16306)]);
    assert_eq!(
        accepted(&material().people.epki_rsa.cert_der).name,
        "이순신"
    );
}

#[test]
fn alphanumeric_agency_code_is_stripped_without_real_name() {
    assert_eq!(
        accepted(&material().d57_no_real_name.cert_der).name,
        "이영희"
    );
}

#[test]
fn no_certificate() {
    let layout = Layout::new();
    let r = layout
        .load()
        .check(None, material().now)
        .expect_err("refused");
    assert_eq!(r.reason, R::NoCertificate);
    assert_eq!(r.reason.smtp_reply(), (530, "5.7.0"));
}

#[test]
fn garbage_is_unsupported() {
    assert_refused(
        b"\x30\x03\x02\x01\x01",
        R::UnsupportedCertificate,
        &["could not be read"],
    );
}

#[test]
fn unknown_critical_extension_is_unsupported() {
    assert_refused(
        &material().unknown_critical.cert_der,
        R::UnsupportedCertificate,
        &["1.2.3.4.5.6.7"],
    );
}

#[test]
fn sha1_signature_is_unsupported() {
    assert_refused(
        &material().sha1.cert_der,
        R::UnsupportedCertificate,
        &["SHA-1"],
    );
}

#[test]
fn rsa_1024_is_unsupported() {
    assert_refused(
        &material().rsa1024.cert_der,
        R::UnsupportedCertificate,
        &["1024 bits", "2048"],
    );
}

#[test]
fn kcdsa_key_is_refused_by_name() {
    assert_refused(
        &material().kcdsa.cert_der,
        R::UnsupportedCertificate,
        &["KCDSA"],
    );
}

#[test]
fn npki_certificate_is_named() {
    assert_refused(
        &material().npki.cert_der,
        R::NpkiCertificate,
        &["Bank/NPKI", "yessignCA Class 2"],
    );
}

#[test]
fn foreign_issuer_is_unknown() {
    assert_refused(
        &material().foreign.cert_der,
        R::UnknownIssuer,
        &["Example Issuing CA"],
    );
}

#[test]
fn impostor_ca_signature_is_bad() {
    // Same issuer name as CA131100001, different key.
    assert_refused(
        &material().impostor.cert_der,
        R::BadSignature,
        &["signature"],
    );
}

#[test]
fn expired_and_not_yet_valid() {
    let r = refusal(&material().expired.cert_der);
    assert_eq!(r.reason, R::CertificateExpired);
    assert_eq!(r.reason.imap_code(), "EXPIRED");
    assert!(r.message.contains("expired on 20"), "{}", r.message);
    assert_refused(
        &material().not_yet_valid.cert_der,
        R::CertificateNotYetValid,
        &["valid only from"],
    );
}

#[test]
fn validity_is_checked_before_policy() {
    assert_refused(
        &material().expired_server_policy.cert_der,
        R::CertificateExpired,
        &[],
    );
}

#[test]
fn server_and_institution_policies_are_named() {
    assert_refused(
        &material().server_policy.cert_der,
        R::PolicyNotAllowed,
        &["1.2.410.100001.2.1.2", "server"],
    );
    assert_refused(
        &material().institution_policy.cert_der,
        R::PolicyNotAllowed,
        &["1.2.410.100001.2.1.1", "institution"],
    );
}

#[test]
fn special_purpose_policy_is_off_by_default_and_configurable() {
    let m = material();
    let spec = certmail_pki::testpki::UserSpec {
        policies: vec!["1.2.410.100001.2.1.3".into()],
        ..certmail_pki::testpki::UserSpec::gpki("대표메일", m.now)
    };
    let work = tempfile::tempdir().expect("tmp");
    let cert = m
        .pki
        .issue(&m.pki.gpki_ca, &spec, work.path())
        .expect("issue");
    let mut layout = Layout::new();
    let r = layout
        .load()
        .check(Some(&cert.cert_der), m.now)
        .expect_err("off by default");
    assert_eq!(r.reason, R::PolicyNotAllowed);
    layout.config.allow_special_purpose = true;
    let id = layout
        .load()
        .check(Some(&cert.cert_der), m.now)
        .expect("allowed when configured");
    assert_eq!(id.policy_oid, "1.2.410.100001.2.1.3");
}

#[test]
fn revoked_in_partition_b_is_found() {
    let r = refusal(&material().partition_b_revoked.cert_der);
    assert_eq!(r.reason, R::CertificateRevoked);
    let serial = cert_summary(&material().partition_b_revoked.cert_der)
        .expect("parses")
        .serial_hex;
    assert!(
        r.message.contains(&format!("serial {serial}")),
        "{}",
        r.message
    );
}

#[test]
fn partition_b_crl_clears_its_other_certificates() {
    accepted(&material().partition_b_good.cert_der);
}

#[test]
fn no_idp_crl_of_partition_a_does_not_clear_partition_c() {
    // dp146 (no IDP, sidecar) and orphan.crl (no IDP, no sidecar) are both from the same CA;
    // neither may vouch for a certificate of dp148.
    let r = refusal(&material().partition_c.cert_der);
    assert_eq!(r.reason, R::RevocationUnknown);
    assert!(r.message.contains("crl1p1dp148"), "{}", r.message);
    assert_eq!(r.reason.smtp_reply(), (454, "4.7.0"));
}

#[test]
fn stale_crl_past_grace_is_revocation_unknown() {
    let m = material();
    let r = refusal(&m.partition_stale.cert_der);
    assert_eq!(r.reason, R::RevocationUnknown);
    assert!(r.message.contains("expired on"), "{}", r.message);
    // Within a longer grace the same CRL is still good.
    let mut layout = Layout::new();
    layout.config.crl_grace_secs = 3 * common::DAY as u64;
    layout
        .load()
        .check(Some(&m.partition_stale.cert_der), m.now)
        .expect("within grace");
}

#[test]
fn certificate_without_cdp_is_revocation_unknown() {
    assert_refused(
        &material().no_cdp.cert_der,
        R::RevocationUnknown,
        &["no CRL distribution point"],
    );
}

#[test]
fn expired_ca_is_reported() {
    // Checking far in the future: the CA itself (valid ten years) has expired.
    let layout = Layout::new();
    let future = material().now + 20 * 365 * common::DAY;
    let r = layout
        .load()
        .check(Some(&material().people.gpki_ecdsa.cert_der), future)
        .expect_err("refused");
    assert_eq!(r.reason, R::UnknownIssuer);
    assert!(r.message.contains("CA131100001"), "{}", r.message);
}
