//! The server, not the client, picks the TLS 1.2 cipher suite (testssl.sh flagged "no
//! server cipher order"): a client that lists the suites in the opposite order still gets
//! the server's first choice. TLS 1.3 suites are all AEAD with forward secrecy, and
//! TLS 1.2 offers only ECDHE + AEAD suites.

use std::sync::Arc;

use certmail_pki::server_config_from_pem;
use certmail_pki::testpki::TestPki;
use certmail_pki::tls::provider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use rustls::{ClientConfig, ClientConnection, ServerConnection};

/// Runs a handshake in memory and returns the suite the server chose.
fn negotiate(client: ClientConfig, server: Arc<rustls::ServerConfig>) -> rustls::CipherSuite {
    let name = "localhost".try_into().expect("server name");
    let mut c = ClientConnection::new(Arc::new(client), name).expect("client");
    let mut s = ServerConnection::new(server).expect("server");
    for _ in 0..10 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).expect("client writes");
        }
        s.read_tls(&mut buf.as_slice()).expect("server reads");
        s.process_new_packets().expect("server processes");
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).expect("server writes");
        }
        c.read_tls(&mut buf.as_slice()).expect("client reads");
        c.process_new_packets().expect("client processes");
        if !c.is_handshaking() && !s.is_handshaking() {
            return s.negotiated_cipher_suite().expect("a suite").suite();
        }
    }
    panic!("handshake did not finish");
}

#[test]
fn the_server_chooses_the_tls12_cipher_suite() {
    let pki = TestPki::new().expect("test pki");
    let server = pki.server_cert().expect("server certificate");
    let chain = format!("{}{}", server.cert_pem(), pki.server_ca.cert_pem());
    let server_cfg = Arc::new(
        server_config_from_pem(chain.as_bytes(), server.key_pem().as_bytes(), None)
            .expect("server config"),
    );
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.server_ca.cert_pem().as_bytes()).expect("ca"))
        .expect("root");

    let server_suites: Vec<_> = provider()
        .cipher_suites
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS12)
        .map(|s| s.suite())
        .collect();
    assert!(server_suites.len() >= 2, "{server_suites:?}");
    // A client offering the same suites, least preferred first.
    let mut client_provider = rustls::crypto::ring::default_provider();
    client_provider.cipher_suites.reverse();
    let client = ClientConfig::builder_with_provider(Arc::new(client_provider))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("tls12")
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The server certificate is ECDSA: the first ECDSA suite of the server's list wins.
    let chosen = negotiate(client, server_cfg);
    let first_ecdsa = server_suites
        .iter()
        .find(|s| format!("{s:?}").contains("ECDSA"))
        .copied()
        .expect("an ECDSA suite");
    assert_eq!(chosen, first_ecdsa, "server order {server_suites:?}");
}
