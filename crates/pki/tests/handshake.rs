//! Real TLS handshakes on 127.0.0.1 with `GpkiClientVerifier`, over TLS 1.2 and 1.3:
//! ECDSA and RSA users (GPKI and EPKI with critical certificatePolicies) get through and are
//! then judged by `Pki::check`; KCDSA and RSA-1024 keys fail at proof of possession.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use certmail_pki::testpki::{UserCert, openssl};
use certmail_pki::{Identity, RefusalReason as R, server_config_from_pem, tls::provider};
use common::{Layout, material};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::{ClientConfig, RootCertStore, SignatureScheme, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};

const STEP: Duration = Duration::from_secs(10);
const VERSIONS: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS12, &rustls::version::TLS13];

/// Presents one certificate whatever the server asks, recording the CA hints it received.
/// (`with_client_auth_cert` would re-parse the certificate with webpki, which refuses a
/// critical certificatePolicies: notes/crates.md.)
#[derive(Debug)]
struct Presenter {
    key: Arc<CertifiedKey>,
    /// `None` until the server asks for a certificate.
    hints: Mutex<Option<Vec<Vec<u8>>>>,
}

impl ResolvesClientCert for Presenter {
    fn resolve(&self, hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        *self.hints.lock().expect("lock") = Some(hints.iter().map(|h| h.to_vec()).collect());
        Some(self.key.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

fn ring_key(user: &UserCert) -> Arc<dyn SigningKey> {
    certmail_testkit::tls::ring_key(user).expect("ring loads the key")
}

/// An RSA key used through `openssl dgst`, so a client can really sign with a key ring
/// refuses to load (RSA-1024).
fn openssl_key(key: &openssl::RsaKey) -> Arc<dyn SigningKey> {
    certmail_testkit::tls::openssl_rsa_key(key).expect("temporary directory")
}

/// What happened on both sides of one connection.
struct Outcome {
    /// The server side: the peer certificate (if any) after a completed handshake.
    server: Result<Option<Vec<u8>>, String>,
    /// Whether the client got the server's reply.
    client_ok: bool,
    /// CA hints the client was sent (`None`: no certificate was requested).
    hints: Option<Vec<Vec<u8>>>,
}

async fn connect(
    verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    version: &'static SupportedProtocolVersion,
    client_cert: Option<(Vec<u8>, Arc<dyn SigningKey>)>,
) -> Outcome {
    let m = material();
    let chain = format!("{}{}", m.server.cert_pem(), m.pki.server_ca.cert_pem());
    let server_cfg =
        server_config_from_pem(chain.as_bytes(), m.server.key_pem().as_bytes(), verifier)
            .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(server_cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");

    let server = tokio::spawn(async move {
        let (tcp, _) = timeout(STEP, listener.accept())
            .await
            .map_err(|_| "accept timeout")?
            .map_err(|e| e.to_string())?;
        let mut tls = timeout(STEP, acceptor.accept(tcp))
            .await
            .map_err(|_| "handshake timeout")?
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        timeout(STEP, tls.read_exact(&mut buf))
            .await
            .map_err(|_| "read timeout")?
            .map_err(|e| e.to_string())?;
        timeout(STEP, tls.write_all(b"pong"))
            .await
            .map_err(|_| "write timeout")?
            .map_err(|e| e.to_string())?;
        let _ = tls.shutdown().await;
        let peer = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec());
        Ok::<_, String>(peer)
    });

    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(m.pki.server_ca.cert_der.clone()))
        .expect("root");
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_root_certificates(roots);
    let presenter = client_cert.map(|(cert, key)| {
        Arc::new(Presenter {
            key: Arc::new(CertifiedKey::new(vec![CertificateDer::from(cert)], key)),
            hints: Mutex::new(None),
        })
    });
    let client_cfg = match &presenter {
        Some(p) => builder.with_client_cert_resolver(p.clone()),
        None => builder.with_no_client_auth(),
    };
    let connector = TlsConnector::from(Arc::new(client_cfg));
    let client_ok = async {
        let tcp = timeout(STEP, TcpStream::connect(addr)).await.ok()?.ok()?;
        let name = ServerName::try_from("localhost").expect("name");
        let mut tls = timeout(STEP, connector.connect(name, tcp))
            .await
            .ok()?
            .ok()?;
        assert_eq!(tls.get_ref().1.protocol_version(), Some(version.version));
        timeout(STEP, tls.write_all(b"ping")).await.ok()?.ok()?;
        let mut buf = [0u8; 4];
        timeout(STEP, tls.read_exact(&mut buf)).await.ok()?.ok()?;
        Some(&buf == b"pong")
    }
    .await
    .unwrap_or(false);
    let server = timeout(STEP, server)
        .await
        .expect("server task ends")
        .expect("server task");
    let hints = presenter
        .map(|p| p.hints.lock().expect("lock").clone())
        .unwrap_or_default();
    Outcome {
        server,
        client_ok,
        hints,
    }
}

/// A handshake over `version` with `pki`'s verifier, the client presenting `user`'s
/// certificate with `key`.
async fn present(
    pki: &certmail_pki::Pki,
    version: &'static SupportedProtocolVersion,
    user: &UserCert,
    key: &Arc<dyn SigningKey>,
) -> Outcome {
    let client_cert = Some((user.cert_der.clone(), Arc::clone(key)));
    connect(Some(pki.client_verifier() as _), version, client_cert).await
}

/// Handshake with `user` presenting `key`, expect success, and return the identity check.
async fn sign_in(
    user: &UserCert,
    key: Arc<dyn SigningKey>,
) -> Vec<Result<Identity, certmail_pki::Refusal>> {
    let layout = Layout::new();
    let pki = layout.load();
    let mut results = Vec::new();
    for version in VERSIONS {
        let out = present(&pki, version, user, &key).await;
        let peer = out
            .server
            .unwrap_or_else(|e| panic!("{:?}: handshake failed: {e}", version.version));
        assert!(out.client_ok, "{:?}: client got no reply", version.version);
        let hints: Vec<&[u8]> = pki.root_hints().iter().map(|h| h.as_ref()).collect();
        let sent = out.hints.expect("the server asked for a certificate");
        assert_eq!(
            sent.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            hints,
            "CA hints"
        );
        let peer = peer.expect("server saw the client certificate");
        assert_eq!(peer, user.cert_der);
        results.push(pki.check(Some(&peer), material().now));
    }
    results
}

async fn refused_at_handshake(user: &UserCert, key: Arc<dyn SigningKey>) {
    let layout = Layout::new();
    let pki = layout.load();
    for version in VERSIONS {
        let out = present(&pki, version, user, &key).await;
        let err = out.server.expect_err("handshake must fail");
        assert!(!out.client_ok, "{:?}", version.version);
        assert!(
            !err.contains("timeout"),
            "{:?}: failed by timeout, not refusal: {err}",
            version.version
        );
    }
}

/// Asserts `user` (with its ring-loaded key) signs in as `name` over every version.
async fn signs_in_as(user: &UserCert, name: &str) {
    for r in sign_in(user, ring_key(user)).await {
        assert_eq!(r.expect("accepted").name, name);
    }
}

#[tokio::test]
async fn ecdsa_gpki_user_signs_in_over_tls12_and_tls13() {
    let m = material();
    signs_in_as(&m.people.gpki_ecdsa, "김철수").await;
}

#[tokio::test]
async fn rsa_gpki_user_signs_in() {
    let m = material();
    signs_in_as(&m.people.gpki_rsa, "박민수").await;
}

#[tokio::test]
async fn epki_users_with_critical_policies_sign_in() {
    let m = material();
    signs_in_as(&m.people.epki_ecdsa, "홍길동").await;
    signs_in_as(&m.people.epki_rsa, "이순신").await;
}

#[tokio::test]
async fn refusals_other_than_possession_wait_for_sign_in() {
    let m = material();
    for (user, reason) in [
        (&m.npki, R::NpkiCertificate),
        (&m.expired, R::CertificateExpired),
        (&m.partition_b_revoked, R::CertificateRevoked),
    ] {
        for r in sign_in(user, ring_key(user)).await {
            assert_eq!(r.expect_err("refused at sign-in").reason, reason);
        }
    }
}

#[tokio::test]
async fn no_client_certificate_completes_the_handshake() {
    let layout = Layout::new();
    let pki = layout.load();
    for version in VERSIONS {
        let out = connect(Some(pki.client_verifier() as _), version, None).await;
        let peer = out.server.expect("handshake without a certificate");
        assert!(out.client_ok);
        assert_eq!(peer, None);
        assert_eq!(
            pki.check(peer.as_deref(), material().now)
                .expect_err("refused")
                .reason,
            R::NoCertificate
        );
    }
}

#[tokio::test]
async fn keys_whose_possession_tls_cannot_prove_fail_at_the_handshake() {
    let m = material();
    for (user, key) in [
        // The client holds the very key whose bits are in the certificate; only the
        // algorithm identifier says KCDSA, which no TLS signature scheme verifies.
        (&m.kcdsa, ring_key(&m.kcdsa)),
        (&m.rsa1024, openssl_key(&m.rsa1024_key)),
        // A key that is not the certificate's.
        (&m.people.gpki_ecdsa, ring_key(&m.people.epki_ecdsa)),
    ] {
        refused_at_handshake(user, key).await;
    }
}

#[tokio::test]
async fn openssl_signer_works_with_a_2048_bit_key() {
    // Control for the RSA-1024 case: the same openssl-backed signer gets through with RSA-2048.
    let m = material();
    for r in sign_in(&m.people.gpki_rsa, openssl_key(&m.people.gpki_rsa_key)).await {
        r.expect("accepted");
    }
}

#[tokio::test]
async fn port_25_config_asks_for_no_certificate() {
    let m = material();
    for version in VERSIONS {
        let out = connect(
            None,
            version,
            Some((
                m.people.gpki_ecdsa.cert_der.clone(),
                ring_key(&m.people.gpki_ecdsa),
            )),
        )
        .await;
        assert_eq!(
            out.server.expect("handshake"),
            None,
            "no certificate was sent"
        );
        assert!(out.client_ok);
        assert_eq!(out.hints, None, "the server sent no CertificateRequest");
    }
}
