//! Putting a verified CRL into the CRL directory: file names, the sidecar naming its
//! distribution points, and atomic replacement (the daemon never sees half a file).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use certmail_pki::crl::{SIDECAR_SUFFIX, uri_key};

/// The file a new distribution point's CRL is written to: the DN's first value (e.g.
/// `crl1p1dp146`) for the operator, and a hash of the URI so two CAs' partitions with the
/// same name never share a file.
pub fn file_name_for(uri: &str) -> String {
    let key = uri_key(uri);
    let after_host = key
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| path)
        .unwrap_or_default();
    let first_value = after_host
        .split([',', '?', '/'])
        .next()
        .and_then(|rdn| rdn.split_once('=').map(|(_, v)| v).or(Some(rdn)))
        .unwrap_or_default();
    let slug: String = first_value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    let slug = if slug.is_empty() { "crl".into() } else { slug };
    format!("{slug}-{:016x}.crl", fnv1a(key.as_bytes()))
}

/// FNV-1a, 64 bits: a stable name hash (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The sidecar path of a CRL file (`<file>.uri`).
pub fn sidecar_of(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(SIDECAR_SUFFIX);
    PathBuf::from(p)
}

/// Writes `crl` to `dest` and the distribution points to its sidecar, each atomically
/// (a `.tmp` file the daemon skips, fsync, rename, fsync of the directory). The sidecar
/// goes first so the daemon never sees an IDP-less CRL without it.
pub fn install(dest: &Path, crl: &[u8], uris: &[String]) -> std::io::Result<()> {
    let mut sidecar = String::from(
        "# written by `certmail crl fetch`: the distribution points this CRL serves\n",
    );
    for uri in uris {
        sidecar.push_str(uri.trim());
        sidecar.push('\n');
    }
    let side = sidecar_of(dest);
    if std::fs::read(&side).ok().as_deref() != Some(sidecar.as_bytes()) {
        write_atomically(&side, sidecar.as_bytes())?;
    }
    write_atomically(dest, crl)
}

/// Replaces `path` with `bytes` atomically (rename within the directory).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    if let Some(dir) = path.parent() {
        // The rename is durable only once the directory is synced.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_readable_stable_and_distinct() {
        let a = file_name_for(
            "ldap://cen.dir.go.kr:389/cn=crl1p1dp146,cn=CA131100001,ou=GPKI,o=Government of Korea,c=KR?certificateRevocationList;binary",
        );
        let a_case = file_name_for(
            "ldap://cen.dir.go.kr:389/cn=crl1p1dp146,cn=CA131100001,ou=GPKI,o=Government of Korea,c=kr?certificateRevocationList;binary",
        );
        let b = file_name_for(
            "ldap://cen.dir.go.kr:389/cn=crl1p1dp146,cn=CA131100002,ou=GPKI,o=Government of Korea,c=KR?certificateRevocationList;binary",
        );
        assert!(a.starts_with("crl1p1dp146-") && a.ends_with(".crl"), "{a}");
        assert_eq!(a, a_case, "URIs differing only in case share a file");
        assert_ne!(a, b, "same partition name under another CA");
        assert!(file_name_for("http://x/").starts_with("crl-"));
    }

    #[test]
    fn install_replaces_the_file_and_writes_the_sidecar() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let dest = dir.path().join("dp.crl");
        std::fs::write(&dest, b"old")?;
        install(&dest, b"new", &["ldap://h/cn=dp".to_string()])?;
        assert_eq!(std::fs::read(&dest)?, b"new");
        let side = std::fs::read_to_string(sidecar_of(&dest))?;
        assert!(side.lines().any(|l| l == "ldap://h/cn=dp"), "{side}");
        let left: Vec<_> = std::fs::read_dir(dir.path())?.collect();
        assert_eq!(left.len(), 2, "no temporary file is left behind");
        Ok(())
    }
}
