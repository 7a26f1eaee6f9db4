//! What a revoked user sees, checked the same way by every revocation test: the live
//! session ends with `* BYE [UNAVAILABLE] … revoked`, and signing in again is refused.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::lines::LineClient;

/// Asserts `bye` is the line that ended a revoked user's IMAP session.
pub fn assert_revoked_bye(bye: &str) {
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE]") && bye.to_lowercase().contains("revoked"),
        "{bye}"
    );
}

/// Asserts a new IMAP connection to `imaps` with `cfg` gets a greeting and that `LOGIN
/// hong` with `password` is refused because the certificate is revoked.
pub async fn assert_login_refused_as_revoked(
    imaps: SocketAddr,
    cfg: Arc<rustls::ClientConfig>,
    password: &str,
) -> anyhow::Result<()> {
    let mut c = LineClient::new(crate::tls::connect(imaps, cfg).await?);
    assert!(c.line().await?.starts_with("* OK"));
    c.send_raw(format!("a1 LOGIN hong \"{password}\"\r\n").as_bytes())
        .await?;
    let refused = c.line().await?;
    assert!(
        refused.starts_with("a1 NO [AUTHENTICATIONFAILED]") && refused.contains("revoked"),
        "{refused}"
    );
    Ok(())
}
