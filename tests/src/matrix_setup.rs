//! The installation the identity matrix and the `cert inspect` tests share: it trusts the
//! CAs of a [`CertKinds`] and holds one account per account state.

use certmail_pki::testpki::UserCert;
use certmail_store::CertBinding;

use crate::cert_kinds::{CertKinds, write_pem};
use crate::fixtures::Installation;

/// Every account's password.
pub const PASSWORD: &str = "Gpki-Pass-2026!";

/// An installation trusting `k`'s CAs and CRLs, with accounts (all `<id>@test.go.kr`):
/// - kim 김철수 ([`CertKinds::gpki_ecdsa`]), park 박민수 ([`CertKinds::gpki_rsa`]),
///   hong 홍길동 ([`CertKinds::epki_ecdsa`]), lee 이순신 ([`CertKinds::epki_rsa`]);
/// - jang 장영실, pending approval ([`CertKinds::pending`]);
/// - yu 유관순, disabled ([`CertKinds::disabled`]);
/// - yoon 윤봉길 holding 안중근's certificate ([`CertKinds::name_mismatch`]), bound in the
///   store directly since `cert bind` rightly refuses a name mismatch.
///
/// Accounts and bindings go through the real CLI; call this before starting the daemon.
pub async fn installation(k: &CertKinds) -> anyhow::Result<Installation> {
    let fx = Installation::with_pki(&k.pki, &k.crls)?;
    // The matrix is refused ~200 times from 127.0.0.1 on purpose: no per-IP throttle,
    // neither for refused credentials nor for refused certificates.
    fx.append_config("[auth]\nip_failure_limit = 0\nprecredential_failure_limit = 0")?;
    let certs = fx.dir.path().join("user-certs");
    let bind = |id: &str, cert: &UserCert| -> anyhow::Result<()> {
        let (path, _) = write_pem(&certs, id, cert)?;
        let (code, out, err) = fx.certmail(&["cert", "bind", id, path.to_str().expect("utf-8")])?;
        anyhow::ensure!(code == 0, "cert bind {id}: {out}{err}");
        Ok(())
    };
    for (id, name, cert) in [
        ("kim", "김철수", &k.people.gpki_ecdsa),
        ("park", "박민수", &k.people.gpki_rsa),
        ("hong", "홍길동", &k.people.epki_ecdsa),
        ("lee", "이순신", &k.people.epki_rsa),
        ("yu", "유관순", &k.disabled),
    ] {
        fx.add_account(id, name, PASSWORD)?;
        bind(id, cert)?;
    }
    fx.add_account_with("jang", "장영실", PASSWORD, false)?;
    bind("jang", &k.pending)?;
    let (code, out, err) = fx.certmail(&["account", "disable", "yu"])?;
    anyhow::ensure!(code == 0, "account disable: {out}{err}");
    fx.add_account("yoon", "윤봉길", PASSWORD)?;

    let cert = &k.name_mismatch.cert_der;
    let summary = certmail_pki::cert_summary(cert)
        .ok_or_else(|| anyhow::anyhow!("the name-mismatch certificate does not parse"))?;
    let spki_sha256 = certmail_pki::spki_sha256_of(cert)
        .ok_or_else(|| anyhow::anyhow!("the name-mismatch certificate does not parse"))?;
    let binding = CertBinding {
        account: "yoon".into(),
        spki_sha256,
        issuer_dn: summary.issuer_dn,
        subject_dn: summary.subject_dn,
        serial_hex: summary.serial_hex,
        not_after: k.now + 800 * 86_400,
        bound_at: k.now,
    };
    let store = fx.open_store().await?;
    store.bind_cert(binding).await?;
    // Dropping the store joins its flusher and releases sled's lock for the daemon.
    tokio::task::spawn_blocking(move || drop(store)).await?;
    Ok(fx)
}
