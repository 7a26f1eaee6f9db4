//! SPF, DKIM and DMARC for mail from other servers: the inbound driver's side of
//! [`crate::mailauth`]. Runs after DATA, before anything is stored.

use std::time::Duration;

use certmail_store::{SpecialUse, Store, StoreError};

use super::state::State;
use crate::mailauth::{Disposition, InboundMessage, Verdict, results};
use crate::proto::Reply;

/// The longest a verification may take. SPF may need ten lookups (RFC 7208 §4.6.4), each
/// with the resolver's own timeout; past this the sender is asked to retry, so a slow DNS
/// server cannot slip mail for our own domains past the checks.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);

/// Verifies a message that arrived on port 25 (no signed-in account) when a verifier is
/// configured. `Ok(None)`: nothing to check; `Err`: the refusal to send the client.
pub(super) async fn verify(
    state: &State,
    mail_from: &str,
    body: &[u8],
) -> Result<Option<Verdict>, Reply> {
    let Some(verifier) = state.ctx.mail_auth.as_ref() else {
        return Ok(None);
    };
    if state.account.is_some() {
        return Ok(None);
    }
    let message = InboundMessage {
        client_ip: state.peer.ip(),
        helo: &state.client_name,
        mail_from,
        message: body,
    };
    let verdict = match tokio::time::timeout(VERIFY_TIMEOUT, verifier.verify(message)).await {
        Ok(v) => v,
        Err(_) => {
            tracing::warn!(peer = %state.peer, %mail_from, "mail authentication timed out");
            return Err(Reply::new(
                451,
                (4, 4, 3),
                "Checking your message's SPF, DKIM and DMARC records took too long; try again later",
            ));
        }
    };
    match &verdict.disposition {
        Disposition::Reject(reply) => Err(reply.clone()),
        _ => Ok(Some(verdict)),
    }
}

/// The message as stored: forged `Authentication-Results:` fields claiming our name
/// removed (RFC 8601 §5), ours on top.
pub(super) fn with_results(verdict: &Verdict, hostname: &str, message: &[u8]) -> Vec<u8> {
    results::prepend(&verdict.header, &results::strip_forged(message, hostname))
}

/// Points every local copy at its account's `\Junk` mailbox (created if missing) and marks
/// it `$Junk`, for DMARC `p=quarantine` failures.
pub(super) async fn to_junk(
    store: &dyn Store,
    copies: &mut [(String, String, Vec<String>)],
) -> Result<(), StoreError> {
    for (account, mailbox, flags) in copies.iter_mut() {
        *mailbox = junk_mailbox(store, account).await?;
        flags.push("$Junk".to_string());
    }
    Ok(())
}

/// The account's mailbox with the `\Junk` special use (RFC 6154), else one named `Junk`,
/// else a new `Junk` with that use.
async fn junk_mailbox(store: &dyn Store, account: &str) -> Result<String, StoreError> {
    let boxes = store.list_mailboxes(account).await?;
    if let Some(m) = boxes
        .iter()
        .find(|m| m.special_use == Some(SpecialUse::Junk))
    {
        return Ok(m.name.clone());
    }
    if let Some(m) = boxes.iter().find(|m| m.name.eq_ignore_ascii_case("Junk")) {
        return Ok(m.name.clone());
    }
    match store
        .create_mailbox(account, "Junk", Some(SpecialUse::Junk))
        .await
    {
        Ok(created) => Ok(created.name),
        // Another delivery made it a moment ago.
        Err(StoreError::MailboxExists(_)) => Ok("Junk".to_string()),
        Err(e) => Err(e),
    }
}
