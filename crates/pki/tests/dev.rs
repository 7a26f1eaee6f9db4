//! `DevPki::generate`: the files `certmail dev` writes work together.

use std::sync::Arc;

use certmail_pki::testpki::DevPki;
use certmail_pki::{Pki, PkiConfig, now_unix, server_config};

#[test]
fn dev_pki_files_load_and_the_demo_user_is_accepted() {
    let dir = tempfile::tempdir().expect("tmp");
    let dev = DevPki::generate(dir.path(), "홍길동").expect("generate");
    assert_eq!(dev.user_name, "홍길동");
    assert_eq!(
        dev.user_subject_dn,
        "CN=043홍길동001,OU=people,OU=통계청,O=Government of Korea,C=KR"
    );

    let pki = Pki::load(&PkiConfig::new(&dev.certs_dir, &dev.crl_dir)).expect("load");
    assert!(
        pki.crl_report().rejected.is_empty(),
        "{:?}",
        pki.crl_report()
    );
    let pem = std::fs::read(&dev.user_cert).expect("user cert");
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(&pem)
        .map(|c: rustls::pki_types::CertificateDer<'static>| c.to_vec())
        .expect("PEM");
    let id = pki
        .check(Some(&der), now_unix())
        .expect("demo user accepted");
    assert_eq!(id.name, "홍길동");

    let verifier: Arc<dyn rustls::server::danger::ClientCertVerifier> = pki.client_verifier();
    server_config(&dev.server_chain, &dev.server_key, Some(verifier))
        .expect("user listener config");
    server_config(&dev.server_chain, &dev.server_key, None).expect("port 25 config");
}

#[test]
fn dev_pkcs12_opens_with_its_password_and_holds_the_user() {
    let dir = tempfile::tempdir().expect("tmp");
    let dev = DevPki::generate(dir.path(), "김철수").expect("generate");
    assert_eq!(dev.p12_password.len(), 16);
    let p12 = std::fs::read(&dev.user_p12).expect("p12");
    assert!(p12_keystore::KeyStore::from_pkcs12(&p12, "wrong password").is_err());
    let ks = p12_keystore::KeyStore::from_pkcs12(&p12, &dev.p12_password).expect("opens");
    let (_, chain) = ks.private_key_chain().expect("key entry");
    let user_pem = std::fs::read(&dev.user_cert).expect("cert");
    let user_der: rustls::pki_types::CertificateDer<'static> =
        rustls::pki_types::pem::PemObject::from_pem_slice(&user_pem).expect("PEM");
    assert_eq!(chain.chain()[0].as_der(), user_der.as_ref());
    assert!(!chain.key().is_empty());
    // openssl reads it too (what a developer would do before importing into Thunderbird).
    let out = std::process::Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(&dev.user_p12)
        .args(["-nokeys", "-passin"])
        .arg(format!("pass:{}", dev.p12_password))
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("BEGIN CERTIFICATE"));
}

#[test]
fn secret_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let dev = DevPki::generate(dir.path(), "홍길동").expect("generate");
    for p in [&dev.server_key, &dev.user_key, &dev.user_p12] {
        let mode = std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    assert!(!format!("{dev:?}").contains(&dev.p12_password));
}

#[test]
fn server_ca_has_no_policy_constraints() {
    // GnuTLS refuses a chain through a CA with a critical policyConstraints, so the server
    // certificate must come from its own plain CA.
    let dir = tempfile::tempdir().expect("tmp");
    let dev = DevPki::generate(dir.path(), "홍길동").expect("generate");
    let pem = std::fs::read(&dev.server_chain).expect("chain");
    let chain: Vec<rustls::pki_types::CertificateDer<'static>> =
        rustls::pki_types::pem::PemObject::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .expect("PEM");
    assert_eq!(chain.len(), 2);
    for der in &chain {
        let cert = <x509_cert::Certificate as der::Decode>::from_der(der).expect("parses");
        let exts = cert
            .tbs_certificate()
            .extensions()
            .map(|v| v.as_slice())
            .unwrap_or(&[]);
        assert!(exts.iter().all(|e| e.extn_id.to_string() != "2.5.29.36"));
    }
}
