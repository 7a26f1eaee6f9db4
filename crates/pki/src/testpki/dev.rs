//! [`DevPki`]: the files `certmail dev` needs (CA certificates, a CRL, a server certificate,
//! a demo user's certificate, key and PKCS#12).

use std::path::{Path, PathBuf};

use super::{TestCa, TestPki, UserCert, UserSpec, err, gpki_cdp, pem};
use crate::error::{Error, Result};

/// The files [`DevPki::generate`] wrote.
#[derive(Clone)]
pub struct DevPki {
    /// CA certificates for `[pki] certs_dir`.
    pub certs_dir: PathBuf,
    /// CRLs for `[pki] crl_dir` (one empty CRL with IDP for the demo user's partition).
    pub crl_dir: PathBuf,
    /// Server certificate chain (leaf, then its CA), PEM.
    pub server_chain: PathBuf,
    /// Server private key, PKCS#8 PEM (mode 0600).
    pub server_key: PathBuf,
    /// The server's CA certificate, PEM: import it into the mail client as trusted.
    pub server_ca: PathBuf,
    /// The demo user's certificate, PEM.
    pub user_cert: PathBuf,
    /// The demo user's private key, PKCS#8 PEM (mode 0600).
    pub user_key: PathBuf,
    /// The demo user's certificate and key as PKCS#12, for importing into a mail client.
    pub user_p12: PathBuf,
    /// The PKCS#12 password: print it for the developer.
    pub p12_password: String,
    /// The demo user's name as the server extracts it (NFC).
    pub user_name: String,
    /// The demo user's certificate subject DN (RFC 4514).
    pub user_subject_dn: String,
}

impl std::fmt::Debug for DevPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevPki")
            .field("certs_dir", &self.certs_dir)
            .field("user_p12", &self.user_p12)
            .field("p12_password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl DevPki {
    /// Write a development PKI into `dir`: `certs/`, `crl/`, `server/{chain,key,ca}.pem`,
    /// `user/{cert,key}.pem` and `user/user.p12` for a GPKI civil servant named `person`
    /// (e.g. "홍길동"). ECDSA keys only, no openssl needed. The CRL is valid for a year.
    pub fn generate(dir: &Path, person: &str) -> Result<DevPki> {
        let pki = TestPki::new()?;
        let now = crate::now_unix();
        let certs_dir = dir.join("certs");
        let crl_dir = dir.join("crl");
        let server_dir = dir.join("server");
        let user_dir = dir.join("user");
        for d in [&crl_dir, &server_dir, &user_dir] {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        pki.write_certs_dir(&certs_dir)?;
        let mut spec = UserSpec::gpki(person, now);
        spec.real_name = Some(person.to_owned());
        let user = pki.issue(&pki.gpki_ca, &spec, dir)?;
        let crl = pki.crl(
            &pki.gpki_ca,
            Some(&gpki_cdp(146)),
            &[],
            now - 3600,
            now + 365 * 86_400,
        )?;
        write(
            &crl_dir.join("crl1p1dp146.crl"),
            pem("X509 CRL", &crl).as_bytes(),
            false,
        )?;

        let server = pki.server_cert()?;
        let server_chain = server_dir.join("chain.pem");
        let server_key = server_dir.join("key.pem");
        let server_ca = server_dir.join("ca.pem");
        let chain = format!("{}{}", server.cert_pem(), pki.server_ca.cert_pem());
        write(&server_chain, chain.as_bytes(), false)?;
        write(&server_key, server.key_pem().as_bytes(), true)?;
        write(&server_ca, pki.server_ca.cert_pem().as_bytes(), false)?;

        let user_cert = user_dir.join("cert.pem");
        let user_key = user_dir.join("key.pem");
        let user_p12 = user_dir.join("user.p12");
        write(&user_cert, user.cert_pem().as_bytes(), false)?;
        write(&user_key, user.key_pem().as_bytes(), true)?;
        let p12_password = random_password()?;
        let p12 = pkcs12(&user, &pki.gpki_ca, &p12_password)?;
        write(&user_p12, &p12, true)?;
        let parsed =
            <x509_cert::Certificate as der::Decode>::from_der(&user.cert_der).map_err(err)?;
        Ok(DevPki {
            certs_dir,
            crl_dir,
            server_chain,
            server_key,
            server_ca,
            user_cert,
            user_key,
            user_p12,
            p12_password,
            user_name: crate::extract_name(&parsed).unwrap_or_default(),
            user_subject_dn: parsed.tbs_certificate().subject().to_string(),
        })
    }
}

/// A PKCS#12 of the user's key and certificate chain (user, issuing CA).
pub fn pkcs12(user: &UserCert, ca: &TestCa, password: &str) -> Result<Vec<u8>> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKeyChain};
    let chain = [
        Certificate::from_der(&user.cert_der).map_err(err)?,
        Certificate::from_der(&ca.cert_der).map_err(err)?,
    ];
    let key_id =
        crate::spki_sha256_of(&user.cert_der).ok_or_else(|| err("user certificate unreadable"))?;
    let mut ks = KeyStore::new();
    ks.add_entry(
        "certmail",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
            &user.key_pkcs8_der,
            &key_id[..20],
            chain,
        )),
    );
    ks.writer(password).write().map_err(err)
}

/// Sixteen random letters and digits (no look-alikes).
fn random_password() -> Result<String> {
    use ring::rand::SecureRandom;
    const CHARS: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY346789";
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| err("no randomness"))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(CHARS[usize::from(*b) % CHARS.len()]))
        .collect())
}

/// Write a file; `secret` files get mode 0600 on Unix.
fn write(path: &Path, data: &[u8], secret: bool) -> Result<()> {
    std::fs::write(path, data).map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}
