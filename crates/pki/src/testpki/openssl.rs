//! What rcgen with ring cannot make, made with the `openssl` command-line tool: RSA keys
//! (ring cannot generate them), RSA-1024 keys, and SHA-1 signatures. Used by tests and never
//! by `certmail dev`. Every call writes into a caller-given work directory.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

fn fail(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::TestPki(format!("openssl {what}: {detail}"))
}

/// Run `openssl` with `args`, returning stdout.
fn run(args: &[&str], what: &str) -> Result<Vec<u8>> {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(what, format!("cannot run openssl: {e}")))?;
    if !out.status.success() {
        return Err(fail(what, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

/// `openssl version`, or an error saying the tool is missing.
pub fn version() -> Result<String> {
    let out = run(&["version"], "version")?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

/// An RSA key made by openssl.
#[derive(Clone)]
pub struct RsaKey {
    /// PKCS#8 private key, PEM.
    pub pkcs8_pem: String,
    /// PKCS#8 private key, DER.
    pub pkcs8_der: Vec<u8>,
    /// SubjectPublicKeyInfo, DER.
    pub spki_der: Vec<u8>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey")
            .field("spki_der", &self.spki_der.len())
            .finish_non_exhaustive()
    }
}

/// A fresh RSA key of `bits` bits (1024 for the weak-key case, 2048 for users).
pub fn rsa_key(work_dir: &Path, bits: u32) -> Result<RsaKey> {
    let key_path = unique_path(work_dir, "rsa", "pem");
    let key_arg = key_path.to_string_lossy().into_owned();
    let bits_opt = format!("rsa_keygen_bits:{bits}");
    run(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &bits_opt,
            "-out",
            &key_arg,
        ],
        "genpkey",
    )?;
    let pkcs8_pem = std::fs::read_to_string(&key_path).map_err(|e| fail("genpkey", e))?;
    // `openssl pkey -outform DER` writes PKCS#1; take the PKCS#8 from the PEM instead.
    let pkcs8_der = {
        use rustls::pki_types::{PrivatePkcs8KeyDer, pem::PemObject};
        PrivatePkcs8KeyDer::from_pem_slice(pkcs8_pem.as_bytes())
            .map_err(|e| fail("genpkey", e))?
            .secret_pkcs8_der()
            .to_vec()
    };
    let spki_der = run(
        &["pkey", "-in", &key_arg, "-pubout", "-outform", "DER"],
        "pkey -pubout",
    )?;
    Ok(RsaKey {
        pkcs8_pem,
        pkcs8_der,
        spki_der,
    })
}

/// A SHA-1 signature of `data` with the PEM private key `key_pem` (`openssl dgst -sha1 -sign`);
/// for an EC key this is a DER ECDSA-with-SHA1 signature.
pub fn sign_sha1(work_dir: &Path, key_pem: &str, data: &[u8]) -> Result<Vec<u8>> {
    sign(work_dir, key_pem, "sha1", &[], data)
}

/// A signature of `data` with `openssl dgst -<digest> -sign key [-sigopt opt]...`; e.g.
/// `sign(dir, key, "sha256", &["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"], msg)` is
/// TLS's `rsa_pss_rsae_sha256` for keys ring refuses to load (RSA-1024).
pub fn sign(
    work_dir: &Path,
    key_pem: &str,
    digest: &str,
    sigopts: &[&str],
    data: &[u8],
) -> Result<Vec<u8>> {
    let key_path = unique_path(work_dir, "signer", "pem");
    let data_path = unique_path(work_dir, "tbs", "der");
    std::fs::write(&key_path, key_pem).map_err(|e| fail("dgst", e))?;
    std::fs::write(&data_path, data).map_err(|e| fail("dgst", e))?;
    let key_arg = key_path.to_string_lossy().into_owned();
    let digest_arg = format!("-{digest}");
    let mut args = vec!["dgst", digest_arg.as_str(), "-sign", key_arg.as_str()];
    for opt in sigopts {
        args.push("-sigopt");
        args.push(opt);
    }
    let data_arg = data_path.to_string_lossy().into_owned();
    args.push(&data_arg);
    let sig = run(&args, "dgst -sign");
    let _ = std::fs::remove_file(&key_path);
    let _ = std::fs::remove_file(&data_path);
    sig
}

/// A path in `work_dir` no other call uses.
fn unique_path(work_dir: &Path, stem: &str, ext: &str) -> std::path::PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    work_dir.join(format!("{stem}-{}-{n}.{ext}", std::process::id()))
}
