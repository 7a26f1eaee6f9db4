//! TLS to PostgreSQL is verified: `sslmode=verify-full` connects to a server whose
//! certificate chains to `sslrootcert` and names the host, and fails for another CA or
//! another name. The server here runs with `ssl=on` and a certificate made by rcgen.

use certmail_store::KeyFile;
use certmail_store_pg::pg_harness::PgServer;
use certmail_store_pg::{OpenError, PgConfig, PgStore};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A CA's PEM certificate and an issuer to sign with.
fn ca() -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("CA certificate");
    (cert.pem(), Issuer::new(params, key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_checks_the_chain_and_the_host_name() {
    let (ca_pem, issuer) = ca();
    let (other_ca_pem, _) = ca();
    let server_key = KeyPair::generate().expect("server key");
    let server_cert = CertificateParams::new(vec!["localhost".to_string()])
        .expect("server params")
        .signed_by(&server_key, &issuer)
        .expect("server certificate");

    let mut server = PgServer::init().expect("initdb");
    server
        .write_file("server.crt", server_cert.pem().as_bytes())
        .expect("write certificate");
    server
        .write_file("server.key", server_key.serialize_pem().as_bytes())
        .expect("write key");
    let ssl = PgServer::start_settings(&[("ssl", "on")]);
    server.run_with(&ssl).expect("start with ssl=on");
    let db = server.create_database().await;
    let db = db
        .rsplit('/')
        .next()
        .and_then(|p| p.split('?').next())
        .expect("name");

    let dir = tempfile::tempdir().expect("temp dir");
    let roots = dir.path().join("root.pem");
    std::fs::write(&roots, &ca_pem).expect("write roots");
    let other_roots = dir.path().join("other.pem");
    std::fs::write(&other_roots, &other_ca_pem).expect("write other roots");
    let url = |host: &str, roots: &std::path::Path| {
        format!(
            "postgresql://postgres@{host}:{}/{db}?sslmode=verify-full&sslrootcert={}",
            server.port(),
            roots.display()
        )
    };
    let open = |url: String| async move {
        PgStore::open(&PgConfig::new(&url), KeyFile::from_bytes([1; 32])).await
    };

    open(url("localhost", &roots))
        .await
        .expect("verify-full against the right CA and name connects");
    match open(url("localhost", &other_roots)).await {
        Err(OpenError::Connect(reason)) => assert!(
            reason.contains("certificate") || reason.contains("issuer"),
            "{reason}"
        ),
        other => panic!("another CA must be refused: {other:?}"),
    }
    match open(url("127.0.0.1", &roots)).await {
        Err(OpenError::Connect(reason)) => {
            assert!(
                reason.contains("certificate") || reason.contains("name"),
                "{reason}"
            )
        }
        other => panic!("a name the certificate lacks must be refused: {other:?}"),
    }
}
