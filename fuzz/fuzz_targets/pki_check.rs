//! Arbitrary bytes as a client certificate: `Pki::check` (the identity check, rows 1–8 of
//! DESIGN.md's refusal table), `cert_summary` (what the audit log records) and
//! `spki_sha256_of` (the binding key) must never panic, whatever the DER. The first byte
//! picks the mode: raw input, or a valid GPKI/EPKI user certificate with the input XORed
//! into it at an offset (to reach the checks behind the parser). Checks: no panic; an
//! accepted certificate always has a summary naming the same subject and serial, and the
//! SPKI hash the identity reports.
//!
//! The `Pki` is built once (`common/pki_fixture.rs`).
//!
//! Run: `cargo +nightly fuzz run pki_check` from the repository root. Without cargo-fuzz,
//! from fuzz/: `RUSTFLAGS="-Cpasses=sancov-module
//! -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
//! -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares
//! --cfg fuzzing -Cdebug-assertions -Coverflow-checks" cargo +nightly build --release
//! --target x86_64-unknown-linux-gnu --bin pki_check`, then run
//! `target/x86_64-unknown-linux-gnu/release/pki_check -max_total_time=60 corpus/pki_check`.
#![no_main]

#[path = "common/pki_fixture.rs"]
#[allow(dead_code)] // each pki target uses part of it
mod pki_fixture;

use certmail_pki::{cert_summary, spki_sha256_of};
use libfuzzer_sys::fuzz_target;
use pki_fixture::{fixture, xor_into};

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        let _ = f.pki.check(None, f.now);
        return;
    };
    let cert: Vec<u8> = match mode % 3 {
        0 => rest.to_vec(),
        // A valid certificate with `rest[2..]` XORed in at offset `rest[0..2]`.
        n => xor_into(&f.seeds[usize::from(n - 1)], rest),
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
