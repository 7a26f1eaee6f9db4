//! Reloadable TLS: the server certificate, the GPKI/EPKI client verifier and its PKI.
//!
//! Two rustls configs are kept: one that asks for a client certificate (user listeners)
//! and one that does not (port 25, where other mail servers connect). A reload builds both
//! anew from disk and swaps them in; connections already open keep the config they started
//! with.

use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use rustls::ServerConfig;

use crate::config::Config;

/// What a reload replaces at once.
pub struct TlsConfigs {
    /// Asks for a client certificate (IMAP, submission).
    pub client_auth: Arc<ServerConfig>,
    /// Asks for none (port 25).
    pub no_client_auth: Arc<ServerConfig>,
    /// The trust store and CRLs behind the client verifier and the identity check.
    pub pki: Arc<certmail_pki::Pki>,
}

/// The current [`TlsConfigs`], swapped on reload.
pub struct TlsState {
    current: RwLock<Arc<TlsConfigs>>,
}

impl TlsState {
    /// Loads certificates, CAs and CRLs named by the configuration (on the blocking pool).
    pub async fn load(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            current: RwLock::new(Arc::new(build(config).await?)),
        })
    }

    /// Builds everything anew from `config`; on error the current configs stay in force.
    pub async fn reload(&self, config: &Config) -> anyhow::Result<()> {
        let new = Arc::new(build(config).await?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = new;
        Ok(())
    }

    /// The configs in force now.
    pub fn current(&self) -> Arc<TlsConfigs> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }
}

async fn build(config: &Config) -> anyhow::Result<TlsConfigs> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let pki = Arc::new(
            certmail_pki::Pki::load(&config.pki)
                .context("loading CA certificates and CRLs ([pki])")?,
        );
        let report = pki.crl_report();
        for (file, why) in &report.rejected {
            tracing::warn!(file = %file.display(), reason = %why, "CRL file refused; certificates it covers are refused as revocation_unknown");
        }
        for file in &report.stale {
            tracing::warn!(file = %file.display(), "CRL is past its nextUpdate; fetch a new one");
        }
        let verifier: Arc<dyn rustls::server::danger::ClientCertVerifier> = pki.client_verifier();
        let client_auth =
            certmail_pki::server_config(&config.tls.cert, &config.tls.key, Some(verifier))
                .context("loading the server certificate ([tls])")?;
        let no_client_auth = certmail_pki::server_config(&config.tls.cert, &config.tls.key, None)
            .context("loading the server certificate ([tls])")?;
        Ok(TlsConfigs {
            client_auth: Arc::new(client_auth),
            no_client_auth: Arc::new(no_client_auth),
            pki,
        })
    })
    .await?
}
