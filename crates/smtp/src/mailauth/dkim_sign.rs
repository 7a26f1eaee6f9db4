//! DKIM signing of outbound mail (RFC 6376), one key per signing domain.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{Canonicalization, Done};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject as _;

use crate::Error;

/// The header fields we sign when present (RFC 6376 §5.4.1: From is required; the rest
/// are the ones whose change would alter what a reader sees or how replies thread).
const SIGNED_HEADERS: [&str; 13] = [
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
];

/// One configured signing key (`[mailauth.dkim."domain"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKeyConfig {
    /// The signing domain (`d=`), lowercase.
    pub domain: String,
    /// The selector (`s=`): the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// PEM file with the private key: RSA (PKCS#8 or PKCS#1, 2048 bits or more) or
    /// Ed25519 (PKCS#8).
    pub key_file: PathBuf,
}

/// A domain's ready signer and the DNS record that publishes its public key.
struct DomainKey {
    signer: mail_auth::dkim::DkimSigner<DkimKey, Done>,
    record: String,
}

/// Signs outbound mail with the key of the From: domain. Keys never reach Debug output.
pub struct DkimSigner {
    keys: BTreeMap<String, DomainKey>,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domains", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl DkimSigner {
    /// Loads every configured key; the first unusable one is an error naming its domain.
    pub fn load(keys: &[DkimKeyConfig]) -> Result<Self, Error> {
        let mut out = BTreeMap::new();
        for k in keys {
            let pem = std::fs::read(&k.key_file).map_err(|e| key_error(k, e.to_string()))?;
            let (key, record) = parse_key(&pem).map_err(|reason| key_error(k, reason))?;
            let signer = mail_auth::dkim::DkimSigner::from_key(key)
                .domain(k.domain.to_ascii_lowercase())
                .selector(k.selector.clone())
                .headers(SIGNED_HEADERS)
                .header_canonicalization(Canonicalization::Relaxed)
                .body_canonicalization(Canonicalization::Relaxed);
            out.insert(k.domain.to_ascii_lowercase(), DomainKey { signer, record });
        }
        Ok(Self { keys: out })
    }

    /// Whether a key is configured for `domain`.
    pub fn has_key(&self, domain: &str) -> bool {
        self.keys.contains_key(&domain.to_ascii_lowercase())
    }

    /// The DNS TXT record value publishing `domain`'s public key
    /// (`v=DKIM1; k=…; p=…`), to be put at `<selector>._domainkey.<domain>`.
    pub fn dns_record(&self, domain: &str) -> Option<&str> {
        self.keys
            .get(&domain.to_ascii_lowercase())
            .map(|k| k.record.as_str())
    }

    /// The `DKIM-Signature:` header field (CRLF-terminated) to prepend to `message`, signed
    /// with `from_domain`'s key (relaxed/relaxed), or `None` when no key is configured for
    /// it or signing failed (logged). The message must use CRLF line ends, as sent.
    pub fn sign(&self, from_domain: &str, message: &[u8]) -> Option<Vec<u8>> {
        let key = self.keys.get(&from_domain.to_ascii_lowercase())?;
        match key.signer.sign(message) {
            Ok(signature) => Some(signature.to_header().into_bytes()),
            Err(e) => {
                tracing::warn!(domain = %from_domain, error = %e, "DKIM signing failed; sending unsigned");
                None
            }
        }
    }
}

/// A new Ed25519 signing key (RFC 8463) as a PKCS#8 PEM document, for
/// `certmail dkim keygen`. RSA keys are made with the openssl CLI (ring cannot make them).
pub fn generate_ed25519_pem() -> Result<String, Error> {
    let der = Ed25519Key::generate_pkcs8().map_err(|e| Error::DkimKey {
        domain: String::new(),
        path: String::new(),
        reason: e.to_string(),
    })?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    Ok(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    ))
}

/// A new RSA-2048 signing key as a PEM document, made by the openssl CLI (ring cannot make
/// RSA keys); the error says to install openssl or choose Ed25519.
pub fn generate_rsa_pem() -> Result<String, Error> {
    let fail = |reason: String| Error::DkimKey {
        domain: String::new(),
        path: String::new(),
        reason,
    };
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .map_err(|e| {
            fail(format!(
                "cannot run openssl ({e}); install it or use --algorithm ed25519"
            ))
        })?;
    if !out.status.success() {
        return Err(fail(format!(
            "openssl genpkey failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| fail("openssl wrote a key that is not PEM text".into()))
}

fn key_error(k: &DkimKeyConfig, reason: String) -> Error {
    Error::DkimKey {
        domain: k.domain.clone(),
        path: k.key_file.display().to_string(),
        reason,
    }
}

/// Reads a PEM private key: Ed25519 (PKCS#8) or RSA (PKCS#8 or PKCS#1). Returns the key
/// and its DNS record value.
fn parse_key(pem: &[u8]) -> Result<(DkimKey, String), String> {
    let der =
        PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("not a PEM private key ({e})"))?;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    if let PrivateKeyDer::Pkcs8(p8) = &der
        && let Ok(ed) = Ed25519Key::from_pkcs8_maybe_unchecked_der(p8.secret_pkcs8_der())
    {
        let record = format!("v=DKIM1; k=ed25519; p={}", b64(&ed.public_key()));
        return Ok((DkimKey::Ed25519(ed), record));
    }
    let rsa = match der {
        PrivateKeyDer::Pkcs1(_) | PrivateKeyDer::Pkcs8(_) => RsaKey::<Sha256>::from_key_der(der)
            .map_err(|e| {
                format!(
                    "neither an Ed25519 nor a usable RSA key ({e}); RSA keys need 2048 bits or more"
                )
            })?,
        _ => return Err("an EC (SEC1) key cannot sign DKIM; use RSA-2048 or Ed25519".into()),
    };
    let record = format!("v=DKIM1; k=rsa; p={}", b64(&rsa_spki(&rsa.public_key())));
    Ok((DkimKey::Rsa(rsa), record))
}

/// Wraps a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo, the form RFC 6376 §3.6.1 asks
/// for in `p=`.
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { rsaEncryption, NULL }.
    const ALG: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0x00];
    bits.extend_from_slice(pkcs1);
    let mut body = ALG.to_vec();
    body.extend(certmail_pki::der_tlv(0x03, &bits));
    certmail_pki::der_tlv(0x30, &body)
}

/// The outbound relay signs through this: the same key per From: domain.
impl crate::outbound::MessageSigner for DkimSigner {
    fn sign(&self, from_domain: &str, message: &[u8]) -> Option<Vec<u8>> {
        DkimSigner::sign(self, from_domain, message)
    }
}
