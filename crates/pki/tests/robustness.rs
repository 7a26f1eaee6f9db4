//! Random and mutated DER never panics the identity check, the verifier or the helpers.

mod common;

use std::sync::OnceLock;

use certmail_pki::{Pki, cert_summary, extract_name, spki_sha256_of};
use common::{Layout, material};
use proptest::prelude::*;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;

fn pki() -> &'static Pki {
    static P: OnceLock<(Layout, Pki)> = OnceLock::new();
    &P.get_or_init(|| {
        let layout = Layout::new();
        let pki = layout.load();
        (layout, pki)
    })
    .1
}

fn seeds() -> Vec<Vec<u8>> {
    let m = material();
    [
        &m.people.gpki_ecdsa,
        &m.people.epki_ecdsa,
        &m.people.gpki_rsa,
        &m.kcdsa,
        &m.sha1,
        &m.npki,
        &m.partition_b_revoked,
    ]
    .iter()
    .map(|u| u.cert_der.clone())
    .collect()
}

/// Everything that takes certificate bytes from the network.
fn exercise(der: &[u8]) {
    let now = material().now;
    let _ = pki().check(Some(der), now);
    let _ = cert_summary(der);
    let _ = spki_sha256_of(der);
    if let Ok(cert) = <x509_cert::Certificate as der::Decode>::from_der(der) {
        let _ = extract_name(&cert);
    }
    let verifier = pki().client_verifier();
    let cert = CertificateDer::from(der);
    let _ = verifier.verify_client_cert(&cert, &[], UnixTime::now());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_certificates_never_panic(
        seed in 0usize..7,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let mut der = seeds()[seed].clone();
        for (pos, byte) in flips {
            let i = pos % der.len();
            der[i] = byte;
        }
        if let Some(c) = cut {
            der.truncate(c % (der.len() + 1));
        }
        exercise(&der);
    }

    #[test]
    fn a_mutated_certificate_is_never_accepted_as_someone_else(
        seed in 0usize..3,
        pos in any::<usize>(),
        byte in any::<u8>(),
    ) {
        // Changing any byte of an accepted certificate either leaves it byte-identical or
        // it is refused (the CA signature covers everything but the signature itself,
        // and a changed signature does not verify).
        let original = seeds()[seed].clone();
        let mut der = original.clone();
        let i = pos % der.len();
        der[i] = byte;
        let result = pki().check(Some(&der), material().now);
        if der != original {
            prop_assert!(result.is_err(), "mutation at {i} accepted");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn mutated_crl_files_never_panic_the_loader(
        seed in 0usize..3,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let m = material();
        let layout = Layout::new();
        let (name, der, _) = &m.crls[seed];
        let mut der = der.clone();
        for (pos, byte) in flips {
            let i = pos % der.len();
            der[i] = byte;
        }
        std::fs::write(layout.crl_dir().join(name), &der).expect("write");
        let pki = Pki::load(&layout.config).expect("a bad CRL never fails the load");
        // Whatever the damage, a revoked certificate never gets in: either its CRL still
        // loads and lists it, or the CRL is refused and revocation is unknown.
        prop_assert!(pki.check(Some(&m.partition_b_revoked.cert_der), m.now).is_err());
        let _ = pki.reload_crls();
        prop_assert!(pki.check(Some(&m.partition_b_revoked.cert_der), m.now).is_err());
    }
}
