//! Revocation reaches live sessions: a CRL that newly lists a signed-in user's certificate
//! ends their session at reload (SIGHUP), and the certificate can no longer sign in.

use std::path::PathBuf;

use certmail_pki::testpki::{TestPki, UserCert, UserSpec, gpki_cdp};
use certmail_tests::cert_kinds::write_pem;
use certmail_tests::fixtures;
use certmail_tests::lines::imaps_login;
use certmail_tests::revocation::{assert_login_refused_as_revoked, assert_revoked_bye};

const PASSWORD: &str = "Gpki-Pass-2026!";

/// 홍길동 with a GPKI certificate, bound to account `hong` of an installation trusting
/// `pki` (its configuration changed by `edit`).
struct Hong {
    pki: TestPki,
    now: i64,
    _work: tempfile::TempDir,
    user: UserCert,
    fx: fixtures::Installation,
    cert: PathBuf,
    key: PathBuf,
}

impl Hong {
    fn new(edit: impl FnOnce(&mut fixtures::Config)) -> anyhow::Result<Hong> {
        let pki = TestPki::new()?;
        let now = certmail_pki::now_unix();
        let work = tempfile::tempdir()?;
        let user = pki.issue(&pki.gpki_ca, &UserSpec::gpki("홍길동", now), work.path())?;
        let mut fx = fixtures::Installation::with_gpki(&pki)?;
        fx.edit_config(edit)?;
        let (cert, key) = write_pem(work.path(), "hong", &user)?;
        fx.add_user("hong", "홍길동", PASSWORD, &cert)?;
        Ok(Hong {
            pki,
            now,
            _work: work,
            user,
            fx,
            cert,
            key,
        })
    }

    /// The partition-146 CRL as the CA publishes it once it has revoked 홍길동 (DER).
    fn revoking_crl(&self) -> anyhow::Result<Vec<u8>> {
        let pki = &self.pki;
        let cdp = gpki_cdp(146);
        let (this, next) = (self.now - 60, self.now + 86_400);
        Ok(pki.crl(&pki.gpki_ca, Some(&cdp), &[&self.user], this, next)?)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reloaded_crl_ends_the_revoked_users_session() -> anyhow::Result<()> {
    let hong = Hong::new(|_| {})?;
    let fx = &hong.fx;
    let daemon = fx.start()?;

    let cfg = fx.tls_for(&hong.cert, &hong.key)?;
    let mut c = imaps_login(daemon.addr("imaps"), cfg.clone(), "hong", PASSWORD).await?;

    // The CA revokes the certificate; the fetch job drops the new CRL in place; reload.
    std::fs::write(fx.pki.crl_dir.join("dp146.crl"), hong.revoking_crl()?)?;
    daemon.signal("HUP")?;
    let bye = c.line().await?;
    assert_revoked_bye(&bye);

    assert_login_refused_as_revoked(daemon.addr("imaps"), cfg, PASSWORD).await?;
    drop(daemon);

    let store = fx.open_store().await?;
    let events = store.audit_range(0, i64::MAX, 1000).await?;
    assert!(
        events.iter().any(|e| e.kind == "session_kicked"
            && e.fields.get("cause").map(String::as_str) == Some("certificate_revoked")),
        "the kick is audited with its cause"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_crl_file_is_picked_up_without_a_reload() -> anyhow::Result<()> {
    let hong = Hong::new(|c| c.server.crl_check_interval_secs = 1)?;
    let fx = &hong.fx;
    let daemon = fx.start()?;
    let cfg = fx.tls_for(&hong.cert, &hong.key)?;
    let mut c = imaps_login(daemon.addr("imaps"), cfg, "hong", PASSWORD).await?;
    c.send_raw(b"a2 IDLE\r\n").await?;
    assert!(c.line().await?.starts_with('+'));

    // No signal: the daemon notices the new file by itself (within the line client's 15 s).
    let tmp = fx.pki.crl_dir.join("dp146.crl.tmp");
    std::fs::write(&tmp, hong.revoking_crl()?)?;
    std::fs::rename(&tmp, fx.pki.crl_dir.join("dp146.crl"))?;
    let bye = c.line().await?;
    assert_revoked_bye(&bye);
    Ok(())
}
