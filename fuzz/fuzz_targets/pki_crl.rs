//! The CRL parser (`certmail_pki`, RFC 5280 §5): arbitrary bytes, or a valid CRL with the
//! input XORed in, as a CRL fetched from a distribution point (`Pki::verify_fetched_crl`:
//! DER parse, issuer, signature, extensions, IssuingDistributionPoint). Checks, besides no
//! panic: a CRL that verifies names its issuer, serves the URI it was fetched for, is not
//! stale, and holds no more revoked serials than its octets can; a refusal says why.
#![no_main]

#[path = "common/pki_fixture.rs"]
#[allow(dead_code)] // each pki target uses part of it
mod pki_fixture;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pki_fixture::{fixture, xor_into};

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (valid, uri) = &f.crl;
    let der = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        xor_into(valid, rest)
    };
    let dest = Path::new("/nonexistent/certmail-fuzz/epki.crl");
    match f.pki.verify_fetched_crl(&der, uri, dest, f.now) {
        Ok(crl) => {
            assert!(!crl.issuer_dn.is_empty());
            assert!(
                crl.uris.iter().any(|u| u == uri),
                "{:?} does not serve {uri}",
                crl.uris
            );
            assert!(crl.next_update >= f.now);
            assert!(
                crl.revoked_count() <= der.len() / 8,
                "more entries than octets allow"
            );
        }
        Err(reason) => assert!(!reason.is_empty(), "a refusal says why"),
    }
});
