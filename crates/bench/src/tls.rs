//! The benchmark's TLS client: the test kit's, trusting the test server CA and presenting
//! an account's certificate (PEM files).

use std::path::Path;
use std::sync::Arc;

use certmail_testkit::tls::{ALL_VERSIONS, ClientCert};
use rustls::ClientConfig;

pub use certmail_testkit::tls::{connect, connect_from};

/// A client config trusting `ca_pem` and presenting `cert_pem` with `key_pem`.
pub fn client_config(
    ca_pem: &Path,
    cert_pem: &Path,
    key_pem: &Path,
) -> anyhow::Result<Arc<ClientConfig>> {
    let cert = ClientCert::from_pem_files(cert_pem, key_pem)?;
    certmail_testkit::tls::client_config(ca_pem, Some(cert), ALL_VERSIONS)
}
