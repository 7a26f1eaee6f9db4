//! What the crate's own tests share: a context over a sled store in a temporary directory,
//! wrapped so that chosen store methods fail.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use certmail_session::{LocalRegistry, RegistryConfig, SessionPolicy};
use certmail_testkit::store::{Failing, Wrapped};

use crate::{ManageSieveContext, Settings};

/// A context on a new store in `dir` whose methods named in `failing` fail; quotas of 2
/// scripts of 1024 bytes; idle timeout 300 ms.
pub(crate) fn context(dir: &Path, failing: Failing) -> anyhow::Result<ManageSieveContext> {
    let key = certmail_store::KeyFile::load_or_create(&dir.join("key"))?;
    let sled = certmail_store::SledStore::open(&dir.join("store"), key)?;
    Ok(ManageSieveContext {
        store: Arc::new(Wrapped::new(Arc::new(sled), failing)),
        registry: Arc::new(LocalRegistry::new(RegistryConfig {
            max_connections_per_session: 4,
        })),
        settings: Settings {
            hostname: "mail.test.go.kr".into(),
            sign_in: Default::default(),
            session_policy: SessionPolicy::Replace,
            quota: certmail_store::ScriptQuota {
                max_bytes: 1024,
                max_scripts: 2,
            },
            limits: Default::default(),
            max_line: 8192,
            max_bad_commands: 10,
            idle_timeout: Duration::from_millis(300),
            tls_handshake_timeout: Duration::from_secs(10),
        },
    })
}

/// The trust store of a generated development PKI in `dir`.
pub(crate) fn pki(dir: &Path) -> anyhow::Result<Arc<certmail_pki::Pki>> {
    let dev = certmail_pki::testpki::DevPki::generate(&dir.join("pki"), "홍길동")?;
    let config = certmail_pki::PkiConfig::new(&dev.certs_dir, &dev.crl_dir);
    Ok(Arc::new(certmail_pki::Pki::load(&config)?))
}
