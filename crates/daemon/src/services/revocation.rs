//! Revocation reaching live sessions: after CRLs are (re)loaded, every live session whose
//! certificate is now listed as revoked by its issuer ends at once.
//!
//! Sign-in checks a certificate against the CRL of its own distribution point only. Here a
//! positive listing in any verified CRL of the same issuer is enough to end a session: a
//! verified CRL that names the serial is proof of revocation, whichever partition it is.

use std::collections::BTreeMap;

use certmail_session::KickReason;
use certmail_store::AuditEvent;

use crate::context::Daemon;

/// Re-reads the CRL directory (every file when `force`, else only if it changed since the
/// last load) and ends the sessions the new CRLs revoke; whether anything was re-read.
/// A CRL file that fails to load keeps its last good version.
pub async fn reload_crls(daemon: &Daemon, force: bool) -> anyhow::Result<bool> {
    let pki = std::sync::Arc::clone(&daemon.tls.current().pki);
    let report = tokio::task::spawn_blocking(move || {
        if force {
            pki.reload_crls().map(Some)
        } else {
            pki.reload_crls_if_changed()
        }
    })
    .await??;
    let Some(report) = report else {
        return Ok(false);
    };
    tracing::info!(?report, "CRLs reloaded");
    end_revoked_sessions(daemon).await;
    Ok(true)
}

/// Ends the sessions of revoked certificates; returns how many connections were ended.
pub async fn end_revoked_sessions(daemon: &Daemon) -> usize {
    let crls = daemon.tls.current().pki.crls();
    if crls.is_empty() {
        return 0;
    }
    let mut ended = 0;
    for session in certmail_session::SessionRegistry::list(daemon.registry.as_ref()).await {
        let bindings = match daemon.store.bindings_of(&session.account).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, account = %session.account, "reading bindings failed");
                continue;
            }
        };
        let revoked = bindings.iter().find(|b| {
            b.spki_sha256 == session.device.spki_sha256
                && hex::decode(&b.serial_hex).is_ok_and(|serial| {
                    crls.iter()
                        .any(|c| c.issuer_dn == b.issuer_dn && c.is_revoked(&serial))
                })
        });
        let Some(binding) = revoked else { continue };
        let n = certmail_session::SessionRegistry::kick(
            daemon.registry.as_ref(),
            &session.account,
            KickReason::CertificateRevoked,
        )
        .await;
        ended += n;
        tracing::warn!(account = %session.account, serial = %binding.serial_hex, connections = n, "certificate revoked: session ended");
        let mut fields = BTreeMap::new();
        fields.insert("cause".to_string(), "certificate_revoked".to_string());
        fields.insert("serial".to_string(), binding.serial_hex.clone());
        fields.insert("subject".to_string(), binding.subject_dn.clone());
        fields.insert("connections".to_string(), n.to_string());
        let event = AuditEvent {
            time: certmail_auth::now() * 1000,
            account: Some(session.account.clone()),
            kind: "session_kicked".to_string(),
            ip: Some(session.device.ip.to_string()),
            fields,
        };
        if let Err(e) = daemon.store.append_audit(event).await {
            tracing::error!(error = %e, "could not write the audit log");
        }
    }
    ended
}
