//! The test PKI the pki fuzz targets share: a `Pki` loaded from a `TestPki` (GPKI root,
//! GPKI and EPKI issuing CAs, a fresh CRL per user partition) written to a temporary
//! directory and removed once loaded, two valid user certificates and a valid CRL naming
//! one of them, to mutate.

use std::sync::OnceLock;

use certmail_pki::testpki::{TestPki, UserSpec, epki_cdp, gpki_cdp};
use certmail_pki::{Pki, PkiConfig};

/// What the targets fuzz against.
pub struct Fixture {
    /// The loaded PKI.
    pub pki: Pki,
    /// The time the checks run at.
    pub now: i64,
    /// Valid user certificates (GPKI ECDSA, EPKI with critical certificatePolicies).
    pub seeds: Vec<Vec<u8>>,
    /// A valid GPKI CRL revoking the EPKI user's certificate, with its CDP URI.
    pub crl: (Vec<u8>, String),
}

/// The fixture, built once per process.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| make().expect("test PKI for the fuzz target"))
}

fn make() -> Result<Fixture, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("certmail-fuzz-pki-{}", std::process::id()));
    let certs = dir.join("certs");
    let crls = dir.join("crl");
    std::fs::create_dir_all(&crls)?;
    let test = TestPki::new()?;
    test.write_certs_dir(&certs)?;
    let now = certmail_pki::now_unix();
    let gpki = test.issue(&test.gpki_ca, &UserSpec::gpki("김철수", now), &dir)?;
    let epki = test.issue(&test.epki_ca, &UserSpec::epki("홍길동", now), &dir)?;
    for (name, ca, uri) in [
        ("gpki.crl", &test.gpki_ca, gpki_cdp(146)),
        ("epki.crl", &test.epki_ca, epki_cdp(16306)),
    ] {
        let der = test.crl(ca, Some(&uri), &[], now - 3600, now + 7 * 86_400)?;
        std::fs::write(crls.join(name), der)?;
    }
    let uri = epki_cdp(16306);
    let revoking = test.crl(&test.epki_ca, Some(&uri), &[&epki], now - 60, now + 86_400)?;
    let pki = Pki::load(&PkiConfig::new(certs, crls))?;
    // Everything is in memory now; leave no directory behind per fuzzing process.
    let _ = std::fs::remove_dir_all(&dir);
    let seeds = vec![gpki.cert_der, epki.cert_der];
    for seed in &seeds {
        assert!(
            pki.check(Some(seed), now).is_ok(),
            "the seed certificates are accepted"
        );
    }
    Ok(Fixture {
        pki,
        now,
        seeds,
        crl: (revoking, uri),
    })
}

/// `input[0..2]` (big-endian) picks an offset in `valid`; `input[2..]` is XORed in there.
pub fn xor_into(valid: &[u8], input: &[u8]) -> Vec<u8> {
    let mut out = valid.to_vec();
    if let [hi, lo, flips @ ..] = input {
        let at = usize::from(u16::from_be_bytes([*hi, *lo])) % out.len();
        for (b, x) in out[at..].iter_mut().zip(flips) {
            *b ^= x;
        }
    }
    out
}
