//! Daily housekeeping: certificate-expiry notices to users' INBOX (30, 7 and 1 days before
//! a bound certificate ends, once each), the TLS reports of past days (RFC 8460), pruning
//! the audit log past its retention and the vacation reply marks past their period.

use std::sync::Arc;
use std::time::Duration;

use certmail_smtp::notice::{self, Notice};
use certmail_store::{Account, CertBinding};
use tokio_util::sync::CancellationToken;

use crate::context::Daemon;

/// Days before expiry at which a user is told, largest first.
const THRESHOLDS: [i64; 3] = [30, 7, 1];

/// Runs the daily checks every 24 hours until shutdown (the first pass is [`run_once`]
/// at start).
pub async fn daily(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(24 * 3600)) => {}
        }
        run_once(&daemon).await;
    }
}

/// One pass of the daily checks. Failures are logged; they never stop the daemon.
pub async fn run_once(daemon: &Daemon) {
    let now = certmail_auth::now();
    if let Err(e) = expiry_notices(daemon, now).await {
        tracing::error!(error = %format!("{e:#}"), "certificate expiry check failed");
    }
    if daemon.config().relay.tls_reports {
        match crate::services::relay::send_tls_reports(daemon, false).await {
            Ok(s) if s.sent > 0 => tracing::info!(reports = s.sent, "TLS reports sent"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %format!("{e:#}"), "sending TLS reports failed"),
        }
    }
    let days = daemon.config().server.audit_retention_days;
    if days > 0 {
        match daemon
            .store
            .audit_prune((now - days as i64 * 86_400) * 1000)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "audit log pruned past its retention"),
            Err(e) => tracing::error!(error = %e, "pruning the audit log failed"),
        }
    }
    match daemon.store.prune_reply_marks(now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "expired vacation reply marks pruned"),
        Err(e) => tracing::error!(error = %e, "pruning vacation reply marks failed"),
    }
}

/// Delivers a notice for each bound certificate that crossed a threshold not yet told.
async fn expiry_notices(daemon: &Daemon, now: i64) -> anyhow::Result<()> {
    for mut account in daemon.store.list_accounts().await? {
        let mut changed = false;
        for b in daemon.store.bindings_of(&account.id).await? {
            let days_left = (b.not_after - now).div_euclid(86_400);
            let Some(threshold) = THRESHOLDS
                .iter()
                .copied()
                .filter(|t| days_left < *t && b.not_after > now)
                .min()
            else {
                continue;
            };
            let key = format!("cert_notice.{}", hex::encode(b.spki_sha256));
            let told = account
                .settings
                .get(&key)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(i64::MAX);
            if told <= threshold {
                continue;
            }
            deliver_notice(daemon, &account, &b, days_left, now).await?;
            account.settings.insert(key, threshold.to_string());
            changed = true;
        }
        if changed {
            daemon.store.update_account(account).await?;
        }
    }
    Ok(())
}

async fn deliver_notice(
    daemon: &Daemon,
    account: &Account,
    b: &CertBinding,
    days_left: i64,
    now: i64,
) -> anyhow::Result<()> {
    let hostname = daemon.config().server.hostname.clone();
    let to = notice::address_of(account);
    let when = mail_parser::DateTime::from_timestamp(b.not_after).to_rfc3339();
    let body = format!(
        "{name} 님,\r\n\r\n메일 로그인에 쓰는 인증서가 {days}일 후({when}) 만료됩니다.\r\n\
         GPKI/EPKI에서 인증서를 갱신한 뒤, 만료 전에 새 인증서로 로그인해 주십시오.\r\n\r\n\
         The certificate you sign in with ({subject}) expires in {days} day(s), on {when}.\r\n\
         Renew it with GPKI or EPKI and sign in with the new certificate before then.\r\n",
        name = account.name,
        days = days_left.max(0),
        subject = b.subject_dn,
    );
    let subject = format!(
        "인증서 만료 예정 / Your certificate expires in {} day(s)",
        days_left.max(0)
    );
    let notice = Notice {
        hostname: &hostname,
        to: &to,
        subject: &subject,
        body: &body,
        now,
    };
    let settings = crate::services::protocols::postbox_settings(&daemon.config());
    let postbox = settings.postbox(daemon.store.as_ref(), Some(&daemon.hub));
    notice::to_inbox(&postbox, &account.id, notice.message()?, now).await?;
    tracing::info!(account = %account.id, days_left, "certificate expiry notice delivered");
    Ok(())
}

/// Tells a user in their INBOX that their account was signed in from a device (certificate
/// and network) it had not seen before, so that a sign-in they did not make stands out.
pub async fn new_device_notice(
    postbox: &notice::Postbox<'_>,
    account_id: &str,
    network: &str,
    ip: std::net::IpAddr,
    now: i64,
) -> anyhow::Result<()> {
    let Some(account) = postbox.store.account(account_id).await? else {
        return Ok(());
    };
    let to = notice::address_of(&account);
    let when = mail_parser::DateTime::from_timestamp(now).to_rfc3339();
    let body = format!(
        "{name} 님,\r\n\r\n{when}에 새 기기(주소 {ip}, 네트워크 {network})에서 메일 계정에 로그인했습니다.\r\n\
         본인이 아니라면 즉시 메일 관리자에게 알리십시오.\r\n\r\n\
         Your mail account was signed in from a new device (address {ip}, network {network}) at {when}.\r\n\
         If this was not you, tell your mail administrator at once.\r\n",
        name = account.name,
    );
    let notice = Notice {
        hostname: postbox.hostname,
        to: &to,
        subject: "새 기기에서 로그인 / New sign-in from another device",
        body: &body,
        now,
    };
    notice::to_inbox(postbox, &account.id, notice.message()?, now).await?;
    tracing::info!(account = %account.id, %ip, network, "new-device notice delivered");
    Ok(())
}
