//! Arbitrary bytes as a client certificate: `Pki::check` (the identity check, rows 1–8 of
//! DESIGN.md's refusal table), `cert_summary` (what the audit log records) and
//! `spki_sha256_of` (the binding key) must never panic, whatever the DER. The first byte
//! picks the mode: raw input, or a valid GPKI/EPKI user certificate with the input XORed
//! into it at an offset (to reach the checks behind the parser). Checks: no panic; an
//! accepted certificate always has a summary naming the same subject and serial, and the
//! SPKI hash the identity reports.
//!
//! The `Pki` is built once from a `TestPki` (GPKI root, GPKI and EPKI issuing CAs, a fresh
//! CRL per user partition) written to a temporary directory, removed once loaded.
//!
//! Run: `cargo +nightly fuzz run pki_check` from the repository root. Without cargo-fuzz,
//! from fuzz/: `RUSTFLAGS="-Cpasses=sancov-module
//! -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
//! -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares
//! --cfg fuzzing -Cdebug-assertions -Coverflow-checks" cargo +nightly build --release
//! --target x86_64-unknown-linux-gnu --bin pki_check`, then run
//! `target/x86_64-unknown-linux-gnu/release/pki_check -max_total_time=60 corpus/pki_check`.
#![no_main]

use std::sync::OnceLock;

use certmail_pki::testpki::{TestPki, UserSpec, epki_cdp, gpki_cdp};
use certmail_pki::{Pki, PkiConfig, cert_summary, spki_sha256_of};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    pki: Pki,
    now: i64,
    /// Valid user certificates (GPKI ECDSA, EPKI with critical certificatePolicies).
    seeds: Vec<Vec<u8>>,
}

fn fixture() -> &'static Fixture {
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
    Ok(Fixture { pki, now, seeds })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        let _ = f.pki.check(None, f.now);
        return;
    };
    let cert: Vec<u8> = match mode % 3 {
        0 => rest.to_vec(),
        n => {
            // A valid certificate with `rest[2..]` XORed in at offset `rest[0..2]`.
            let mut cert = f.seeds[usize::from(n - 1)].clone();
            if let [hi, lo, flips @ ..] = rest {
                let at = usize::from(u16::from_be_bytes([*hi, *lo])) % cert.len();
                for (b, x) in cert[at..].iter_mut().zip(flips) {
                    *b ^= x;
                }
            }
            cert
        }
    };
    let summary = cert_summary(&cert);
    let spki = spki_sha256_of(&cert);
    if let Ok(identity) = f.pki.check(Some(&cert), f.now) {
        let summary = summary.expect("an accepted certificate has an audit summary");
        assert_eq!(summary.subject_dn, identity.subject_dn);
        assert_eq!(summary.serial_hex, identity.serial_hex);
        assert_eq!(spki, Some(identity.spki_sha256));
    }
});
