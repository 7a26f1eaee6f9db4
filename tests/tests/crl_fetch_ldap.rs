//! `certmail crl fetch` against a real OpenLDAP directory (slapd on 127.0.0.1) holding the
//! CRL as `certificateRevocationList;binary`, like the GPKI directory: the CRL file
//! appears; a CRL the CA later publishes reaches the daemon's live sessions (the revoked
//! user's IMAP connection is ended); a CRL from the wrong issuer (or stale, or for another
//! partition) keeps the last good file and the command exits non-zero. slapd refuses a
//! value that is not a CRL at all, so that case is left to the pki crate's tests.

use std::path::{Path, PathBuf};

use certmail_pki::testpki::{TestPki, UserSpec};
use certmail_testkit::pki::{fresh_gpki_crl, write_pem};
use certmail_tests::fixtures::Installation;
use certmail_tests::lines::imaps_login;
use certmail_tests::revocation::{assert_login_refused_as_revoked, assert_revoked_bye};
use certmail_tests::slapd::Slapd;

const PASSWORD: &str = "Gpki-Pass-2026!";
/// The partition entry, shaped like GPKI's (`cn=crl1p1dp146,cn=CA131100001,…`).
const CRL_DN: &str = "cn=crl1p1dp146,cn=CA131100001,ou=GPKI,o=Government of Korea,c=KR";

fn cdp(port: u16) -> String {
    format!("ldap://127.0.0.1:{port}/{CRL_DN}?certificateRevocationList;binary")
}

/// A directory serving a placeholder CRL of `pki` at [`CRL_DN`], and the partition's URI.
/// It must run before a certificate is made: its URL is in the certificate's CDP.
fn directory(pki: &TestPki, work: &Path) -> anyhow::Result<(Slapd, String)> {
    let placeholder = fresh_gpki_crl(pki, None, &[])?;
    let slapd = Slapd::start(&work.join("ldap"), CRL_DN, &placeholder)?;
    let uri = cdp(slapd.port);
    Ok((slapd, uri))
}

/// The `.crl` files in the CRL directory (the fetch also writes `.uri` sidecars).
fn crl_files(fx: &Installation) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&fx.pki.crl_dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "crl"));
    Ok(files)
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_reaches_live_sessions_from_the_ldap_directory() -> anyhow::Result<()> {
    let pki = TestPki::new()?;
    let now = certmail_pki::now_unix();
    let work = tempfile::tempdir()?;
    let (slapd, uri) = directory(&pki, work.path())?;
    let mut spec = UserSpec::gpki("홍길동", now);
    spec.cdp_uris = vec![uri.clone()];
    let user = pki.issue(&pki.gpki_ca, &spec, work.path())?;
    let empty = fresh_gpki_crl(&pki, Some(&uri), &[])?;
    slapd.replace_crl(CRL_DN, &empty)?;

    // A fresh installation has no CRL: fetch the new user's partition before binding.
    let fx = Installation::with_pki(&pki, &[])?;
    fx.append_config("[crl_fetch]\ntimeout_secs = 10")?;
    // The daemon's directory poll is off: only `crl fetch` telling it can end the session.
    let text = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        text.replace("[server]\n", "[server]\ncrl_check_interval_secs = 0\n"),
    )?;
    let (cert, key) = write_pem(work.path(), "hong", &user)?;
    let cert_arg = cert.to_str().expect("utf-8 temp path");
    let (code, out, err) = fx.certmail(&["crl", "fetch", "--cert", cert_arg])?;
    assert_eq!(code, 0, "first fetch: {out}{err}");
    let files = crl_files(&fx)?;
    assert_eq!(files.len(), 1, "one partition, one file: {files:?}");
    assert_eq!(
        std::fs::read(&files[0])?,
        empty,
        "the directory's CRL, byte for byte"
    );
    assert!(out.contains("updated"), "{out}");

    fx.add_user("hong", "홍길동", PASSWORD, &cert)?;
    let daemon = fx.start()?;
    let cfg = fx.tls_for(&cert, &key)?;
    let mut c = imaps_login(daemon.addr("imaps"), cfg.clone(), "hong", PASSWORD).await?;
    c.send_raw(b"a2 IDLE\r\n").await?;
    assert!(c.line().await?.starts_with('+'));

    // Nothing new in the directory: the timer's run changes nothing.
    let (code, out, err) = fx.certmail(&["crl", "fetch"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unchanged"), "{out}");

    // The CA revokes the certificate and publishes to the directory; the timer's run
    // (no arguments: the partitions the CRL directory serves) brings it in.
    let revoked = pki.crl(&pki.gpki_ca, Some(&uri), &[&user], now - 60, now + 86_400)?;
    slapd.replace_crl(CRL_DN, &revoked)?;
    let (code, out, err) = fx.certmail(&["crl", "fetch", "--json"])?;
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(out.trim())?;
    assert_eq!(report["crls"][0]["outcome"], "updated", "{report}");
    assert_eq!(report["crls"][0]["revoked"], 1, "{report}");
    assert_eq!(std::fs::read(&files[0])?, revoked);
    assert!(err.contains("the running daemon re-read its CRLs"), "{err}");

    // The fetch told the daemon, which ended the live session at once (no poll runs).
    let bye = tokio::time::timeout(std::time::Duration::from_secs(5), c.line()).await??;
    assert_revoked_bye(&bye);
    assert_login_refused_as_revoked(daemon.addr("imaps"), cfg, PASSWORD).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_crl_in_the_directory_keeps_the_last_good_file() -> anyhow::Result<()> {
    let pki = TestPki::new()?;
    let now = certmail_pki::now_unix();
    let work = tempfile::tempdir()?;
    let (slapd, uri) = directory(&pki, work.path())?;
    let good = fresh_gpki_crl(&pki, Some(&uri), &[])?;
    slapd.replace_crl(CRL_DN, &good)?;
    let fx = Installation::with_pki(&pki, &[])?;
    fx.append_config(&format!(
        "[crl_fetch]\ndistribution_points = [{uri:?}]\ntimeout_secs = 10"
    ))?;
    let (code, out, err) = fx.certmail(&["crl", "fetch"])?;
    assert_eq!(code, 0, "{out}{err}");
    let files = crl_files(&fx)?;
    assert_eq!(files.len(), 1, "{files:?}");

    let cases = [
        (
            "a CA that is not configured",
            pki.crl(&pki.foreign_ca()?, Some(&uri), &[], now - 60, now + 86_400)?,
            "not a configured issuing CA",
        ),
        (
            "an impostor CA with the right name",
            pki.crl(
                &pki.impostor_of(&pki.gpki_ca)?,
                Some(&uri),
                &[],
                now - 60,
                now + 86_400,
            )?,
            "signature does not verify",
        ),
        (
            "another partition's CRL",
            pki.crl(
                &pki.gpki_ca,
                Some(&format!("{uri}x")),
                &[],
                now - 60,
                now + 86_400,
            )?,
            "not in the CRL's IssuingDistributionPoint",
        ),
        (
            "a CRL past its nextUpdate",
            pki.crl(&pki.gpki_ca, Some(&uri), &[], now - 7200, now - 3600)?,
            "nextUpdate",
        ),
        (
            "another configured CA's CRL for this partition",
            pki.crl(&pki.epki_ca, Some(&uri), &[], now - 60, now + 86_400)?,
            "but the CRL in force for it by",
        ),
    ];
    for (what, bad, why) in cases {
        slapd.replace_crl(CRL_DN, &bad)?;
        let (code, out, err) = fx.certmail(&["crl", "fetch"])?;
        assert_eq!(code, 1, "{what}: exit 1, got {code}: {out}{err}");
        assert!(
            err.contains(why),
            "{what}: the error says why ({why}): {err}"
        );
        assert_eq!(
            std::fs::read(&files[0])?,
            good,
            "{what}: the last good CRL stays"
        );
    }

    // A CRL close to its nextUpdate is installed, with a warning and exit 2.
    let closing = pki.crl(&pki.gpki_ca, Some(&uri), &[], now - 60, now + 3600)?;
    slapd.replace_crl(CRL_DN, &closing)?;
    let (code, out, err) = fx.certmail(&["crl", "fetch"])?;
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("warning") && err.contains("nextUpdate"),
        "{err}"
    );
    assert_eq!(std::fs::read(&files[0])?, closing);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crl_without_idp_is_refreshed_through_its_sidecar() -> anyhow::Result<()> {
    let pki = TestPki::new()?;
    let now = certmail_pki::now_unix();
    let work = tempfile::tempdir()?;
    // GPKI partitions may lack an IssuingDistributionPoint: the operator's file and its
    // sidecar name the partition, and the fetch keeps the operator's file name.
    let newer = pki.crl(&pki.gpki_ca, None, &[], now - 60, now + 86_400)?;
    let slapd = Slapd::start(&work.path().join("ldap"), CRL_DN, &newer)?;
    let uri = cdp(slapd.port);
    let older = pki.crl(&pki.gpki_ca, None, &[], now - 7200, now + 86_400)?;
    let fx = Installation::with_pki(
        &pki,
        &[("dp146.crl".to_string(), older, Some(format!("{uri}\n")))],
    )?;
    let (code, out, err) = fx.certmail(&["crl", "fetch"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(crl_files(&fx)?, [fx.pki.crl_dir.join("dp146.crl")]);
    assert_eq!(std::fs::read(fx.pki.crl_dir.join("dp146.crl"))?, newer);
    let sidecar = std::fs::read_to_string(fx.pki.crl_dir.join("dp146.crl.uri"))?;
    assert!(sidecar.lines().any(|l| l == uri), "{sidecar}");

    // The directory going back to an older CRL (a stale replica) does not win.
    let oldest = pki.crl(&pki.gpki_ca, None, &[], now - 10_000, now + 86_400)?;
    slapd.replace_crl(CRL_DN, &oldest)?;
    let (code, out, err) = fx.certmail(&["crl", "fetch"])?;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("older"), "{err}");
    assert_eq!(std::fs::read(fx.pki.crl_dir.join("dp146.crl"))?, newer);
    Ok(())
}
