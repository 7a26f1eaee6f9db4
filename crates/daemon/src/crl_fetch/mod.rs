//! `certmail crl fetch`: pull the CRL partitions of the distribution points in use, verify
//! each, and swap it into `[pki] crl_dir`, where the running daemon picks it up (it polls the
//! directory every `[server] crl_check_interval_secs`, and reloads on SIGHUP) and ends the
//! sessions of newly revoked certificates.
//!
//! Which distribution points: the store cannot tell (a binding keeps the certificate's
//! names, serial and key hash, not its CDP URIs), and the daemon holds the store's lock
//! while it runs, so the job never opens the store. It takes the union of
//! - the URIs the CRL directory already serves (each CRL's IssuingDistributionPoint and
//!   every `<file>.uri` sidecar): a certificate can only be bound and sign in once its
//!   CRL is there, so this covers every bound certificate once its first CRL is in place;
//! - `[crl_fetch] distribution_points` in the configuration;
//! - `--cert FILE` (the CDPs of a certificate about to be bound) and `--uri URI`.
//!
//! This works the same on a live system and a stopped one and needs only read access to
//! the configuration and CA certificates and write access to the CRL directory.
//!
//! Rules: a CRL is written only after it verifies exactly as the daemon will judge it
//! (issuer is a configured issuing CA, signature, extensions, an IDP naming the URI it was
//! fetched from, nextUpdate not passed) and only if it is not older than the one in force;
//! on any failure the file in force stays untouched. Exit status: 0 all fresh, 1 some
//! distribution point failed (its last good CRL stays), 2 all fetched but a CRL in force
//! expires (nextUpdate) within `[crl_fetch] warn_before_hours`.

mod install;
mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use certmail_pki::crl::uri_key;

pub use certmail_config::crl_fetch::CrlFetchSection;
pub use source::Source;

/// Exit status: every distribution point fetched, nothing near its nextUpdate.
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one distribution point could not be refreshed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: everything fetched, but a CRL in force is close to its nextUpdate.
pub const EXIT_NEXT_UPDATE_NEAR: u8 = 2;

/// What happened to one distribution point (one destination file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new CRL was written.
    Updated,
    /// The directory still serves the CRL in force.
    Unchanged,
    /// Nothing was written; the CRL in force (if any) stays.
    Failed(String),
}

/// The command's options (from `certmail crl fetch`).
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Certificates whose distribution points to fetch too.
    pub certs: Vec<PathBuf>,
    /// Extra distribution-point URIs.
    pub uris: Vec<String>,
    /// Print JSON instead of lines.
    pub json: bool,
}

/// What `certmail crl fetch` did: its exit status and whether a CRL file changed (the
/// caller then asks a running daemon to re-read them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// [`EXIT_OK`], [`EXIT_FAILED`] or [`EXIT_NEXT_UPDATE_NEAR`].
    pub status: u8,
    /// Whether at least one CRL file was replaced.
    pub updated: bool,
}

/// Runs `certmail crl fetch` with `[pki]` and `[crl_fetch]` of the configuration: fetches,
/// verifies and installs, then prints the report.
pub fn run(
    pki_config: &certmail_pki::PkiConfig,
    settings: &CrlFetchSection,
    options: &FetchOptions,
) -> anyhow::Result<Fetched> {
    let pki = certmail_pki::Pki::load(pki_config)?;
    let groups = destinations(&pki, settings, options)?;
    anyhow::ensure!(
        !groups.is_empty(),
        "no distribution point to fetch: the CRL directory serves none and none is \
         configured; pass --cert FILE or --uri URI, or set [crl_fetch] distribution_points"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let timeout = Duration::from_secs(settings.timeout_secs);
    let mut results = Vec::new();
    for (dest, uris) in &groups {
        let outcome = runtime.block_on(refresh(&pki, dest, uris, timeout));
        results.push((dest.clone(), uris.clone(), outcome));
    }
    // What is in force now, for the nextUpdate warning (re-read: files just changed).
    let in_force = certmail_pki::Pki::load(pki_config)?.crls();
    let (rows, failed, near) = report(&results, &in_force, settings.warn_before_hours);
    print_report(&rows, options.json);
    let updated = results
        .iter()
        .any(|(_, _, o)| matches!(o, Outcome::Updated));
    let status = if failed {
        EXIT_FAILED
    } else if near {
        EXIT_NEXT_UPDATE_NEAR
    } else {
        EXIT_OK
    };
    Ok(Fetched { status, updated })
}

/// One row per destination file, and whether any failed or is near its nextUpdate.
fn report(
    results: &[(PathBuf, Vec<String>, Outcome)],
    in_force: &[std::sync::Arc<certmail_pki::crl::LoadedCrl>],
    warn_before_hours: u64,
) -> (Vec<serde_json::Value>, bool, bool) {
    let warn_secs = i64::try_from(warn_before_hours.saturating_mul(3600)).unwrap_or(i64::MAX);
    let warn_at = certmail_pki::now_unix().saturating_add(warn_secs);
    let mut rows = Vec::new();
    let (mut failed, mut near) = (false, false);
    for (dest, uris, outcome) in results {
        let crl = in_force.iter().find(|c| &c.path == dest);
        let warning = match crl {
            Some(c) if c.next_update <= warn_at => Some(format!(
                "its nextUpdate {} is within {warn_before_hours} h: the directory has not \
                 published a newer CRL",
                c.next_update_text
            )),
            None => Some("no CRL is in force for it: its users cannot sign in".to_string()),
            _ => None,
        };
        failed |= matches!(outcome, Outcome::Failed(_));
        near |= warning.is_some();
        let (label, error) = match outcome {
            Outcome::Updated => ("updated", None),
            Outcome::Unchanged => ("unchanged", None),
            Outcome::Failed(e) => ("failed", Some(e.clone())),
        };
        rows.push(serde_json::json!({
            "file": dest.display().to_string(),
            "uris": uris,
            "outcome": label,
            "error": error,
            "next_update": crl.map(|c| c.next_update_text.clone()),
            "revoked": crl.map(|c| c.revoked_count()),
            "warning": warning,
        }));
    }
    (rows, failed, near)
}

/// Every distribution point, grouped by the file its CRL lives in.
fn destinations(
    pki: &certmail_pki::Pki,
    settings: &CrlFetchSection,
    options: &FetchOptions,
) -> anyhow::Result<BTreeMap<PathBuf, Vec<String>>> {
    let dir = &pki.config().crl_dir;
    // URI key → file, from the CRLs in force and from every sidecar (also of refused files).
    let mut file_of: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut wanted: Vec<String> = Vec::new();
    for crl in pki.crls() {
        for uri in &crl.uris {
            file_of
                .entry(uri_key(uri))
                .or_insert_with(|| crl.path.clone());
            wanted.push(uri.clone());
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.to_string_lossy().into_owned();
        let Some(crl_file) = name.strip_suffix(certmail_pki::crl::SIDECAR_SUFFIX) else {
            continue;
        };
        let text = std::fs::read_to_string(&path)?;
        for uri in text.lines().map(str::trim) {
            if !uri.is_empty() && !uri.starts_with('#') {
                file_of
                    .entry(uri_key(uri))
                    .or_insert_with(|| PathBuf::from(crl_file));
                wanted.push(uri.to_owned());
            }
        }
    }
    wanted.extend(settings.distribution_points.iter().cloned());
    wanted.extend(options.uris.iter().cloned());
    for cert in &options.certs {
        let bytes = std::fs::read(cert)?;
        let der = certmail_auth::cert_der_from_file_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?;
        let uris = certmail_pki::cdp_uris_of(&der)
            .ok_or_else(|| anyhow::anyhow!("{}: not a certificate", cert.display()))?;
        anyhow::ensure!(
            !uris.is_empty(),
            "{}: the certificate names no CRL distribution point",
            cert.display()
        );
        wanted.extend(uris);
    }
    let mut groups: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for uri in wanted {
        let dest = file_of
            .get(&uri_key(&uri))
            .cloned()
            .unwrap_or_else(|| dir.join(install::file_name_for(&uri)));
        let uris = groups.entry(dest).or_default();
        if !uris.iter().any(|u| uri_key(u) == uri_key(&uri)) {
            uris.push(uri);
        }
    }
    Ok(groups)
}

/// Fetches the CRL for `dest` from the first of `uris` that yields a good one and installs
/// it; never touches `dest` otherwise.
async fn refresh(
    pki: &certmail_pki::Pki,
    dest: &Path,
    uris: &[String],
    timeout: Duration,
) -> Outcome {
    let mut errors = Vec::new();
    for uri in uris {
        match fetch_verified(pki, dest, uri, uris, timeout).await {
            Ok(outcome) => return outcome,
            Err(e) => {
                tracing::warn!(%uri, error = %e, "CRL fetch failed");
                errors.push(format!("{uri}: {e}"));
            }
        }
    }
    Outcome::Failed(errors.join("; "))
}

/// One attempt: fetch from `uri`, verify for every URI of the group, compare, install.
async fn fetch_verified(
    pki: &certmail_pki::Pki,
    dest: &Path,
    uri: &str,
    group: &[String],
    timeout: Duration,
) -> Result<Outcome, String> {
    let bytes = source::fetch(&Source::parse(uri)?, timeout).await?;
    let der = to_der(&bytes)?;
    let now = certmail_pki::now_unix();
    // Verified for the whole group: the sidecar will name all of them.
    let mut fresh = None;
    for u in group {
        fresh = Some(
            pki.verify_fetched_crl(&der, u, dest, now)
                .map_err(|e| format!("refused: {e}"))?,
        );
    }
    let fresh = fresh.ok_or("no distribution point")?;
    if std::fs::read(dest).ok().as_deref() == Some(der.as_slice()) {
        return Ok(Outcome::Unchanged);
    }
    let current = pki.crls().into_iter().find(|c| c.path == dest);
    if let Some(current) = &current
        && current.issuer_dn != fresh.issuer_dn
    {
        return Err(format!(
            "refused: issued by {}, but the CRL in force for it by {}",
            fresh.issuer_dn, current.issuer_dn
        ));
    }
    if let Some(current) = current
        && fresh.this_update < current.this_update
    {
        return Err(format!(
            "refused: older (thisUpdate) than the CRL in force, which stays (nextUpdate {})",
            current.next_update_text
        ));
    }
    install::install(dest, &der, group)
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    tracing::info!(file = %dest.display(), %uri, revoked = fresh.revoked_count(), "CRL updated");
    Ok(Outcome::Updated)
}

/// The CRL as DER (directories hold DER; some HTTP servers send PEM).
fn to_der(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.starts_with(b"-----BEGIN") {
        use rustls::pki_types::pem::PemObject as _;
        rustls::pki_types::CertificateRevocationListDer::from_pem_slice(bytes)
            .map(|d| d.as_ref().to_vec())
            .map_err(|e| format!("bad PEM: {e}"))
    } else {
        Ok(bytes.to_vec())
    }
}

fn print_report(rows: &[serde_json::Value], json: bool) {
    if json {
        println!("{}", serde_json::json!({ "crls": rows }));
        return;
    }
    for row in rows {
        let file = row["file"].as_str().unwrap_or_default();
        let outcome = row["outcome"].as_str().unwrap_or_default();
        match row["next_update"].as_str() {
            Some(next) => println!("{outcome:<9} {file} (nextUpdate {next})"),
            None => println!("{outcome:<9} {file}"),
        }
        if let Some(e) = row["error"].as_str() {
            eprintln!("  error: {e}; the CRL in force stays");
        }
        if let Some(w) = row["warning"].as_str() {
            eprintln!("  warning: {w}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_config_names_a_distribution_point_that_cannot_be_fetched() {
        let section = CrlFetchSection {
            distribution_points: vec![
                "ldap://cen.dir.go.kr:389/cn=crl1p1dp146,cn=CA131100001,ou=GPKI,o=Government of Korea,c=KR".into(),
                "ldaps://ldap.epki.go.kr/cn=crl1p1dp16306".into(),
            ],
            timeout_secs: 0,
            ..CrlFetchSection::default()
        };
        let mut problems = Vec::new();
        section
            .validate(&mut |key: &str, message: String| problems.push((key.to_owned(), message)));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, "[crl_fetch] distribution_points");
        assert!(problems[0].1.contains("ldaps://"), "{problems:?}");
        assert_eq!(problems[1].0, "[crl_fetch] timeout_secs");
    }
}
