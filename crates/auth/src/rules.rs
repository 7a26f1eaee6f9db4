//! The account rules of the sign-in decision (DESIGN.md "Identity" rows 11-15): account
//! state and timed unlock, network allowlists, counting failures toward the lockout, and
//! password age.

use std::collections::BTreeMap;
use std::net::IpAddr;

use certmail_pki::{Refusal, RefusalReason};
use certmail_store::{Account, AccountState, AuditEvent, Store};

use crate::error::AuthError;
use crate::policy::SignInPolicy;

/// Rows 11 and 12: pending, disabled, locked. Lifts a timed lock that has run out
/// (only for a real sign-in: `ip` is `None` for `cert inspect`, which changes nothing).
pub(crate) async fn check_state(
    store: &dyn Store,
    policy: &SignInPolicy,
    account: &mut Account,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<Option<Refusal>, AuthError> {
    let contact = &policy.contact;
    Ok(match account.state {
        AccountState::Pending => Some(Refusal::new(
            RefusalReason::AccountPending,
            format!("Your account is waiting for approval by {contact}."),
        )),
        AccountState::Disabled => Some(Refusal::new(
            RefusalReason::AccountDisabled,
            format!("Your account is disabled. Ask {contact}."),
        )),
        AccountState::Locked => match account.locked_until {
            Some(until) if until <= now => {
                if ip.is_some() {
                    account.state = AccountState::Active;
                    account.locked_until = None;
                    account.failed_logins = 0;
                    store.update_account(account.clone()).await?;
                    audit_account_event(store, &account.id, "account_unlocked", "timed", now)
                        .await?;
                }
                None
            }
            Some(until) => Some(Refusal::new(
                RefusalReason::AccountLocked,
                format!(
                    "Your account is locked after repeated failed sign-ins, for another {} minutes. Ask {contact} to unlock it sooner.",
                    minutes(until - now)
                ),
            )),
            None => Some(Refusal::new(
                RefusalReason::AccountLocked,
                format!("Your account is locked. Ask {contact} to unlock it."),
            )),
        },
        AccountState::Active => None,
    })
}

/// Whole minutes, rounded up, in `secs` (at least 1).
pub(crate) fn minutes(secs: i64) -> i64 {
    ((secs + 59) / 60).max(1)
}

/// Row 13: the account's own networks, else its organisation's; none listed: anywhere.
pub(crate) fn check_network(
    policy: &SignInPolicy,
    account: &Account,
    ip: IpAddr,
) -> Option<Refusal> {
    let own = account
        .settings
        .get(crate::policy::NETWORKS_SETTING)
        .filter(|s| !s.trim().is_empty())
        .map(|s| crate::policy::parse_cidrs(s.split_whitespace()).unwrap_or_default());
    let allowed = match own {
        Some(list) => list,
        None => policy
            .networks
            .get(&account.organisation)
            .cloned()
            .unwrap_or_default(),
    };
    if allowed.is_empty() || allowed.iter().any(|n| n.contains(ip)) {
        return None;
    }
    Some(Refusal::new(
        RefusalReason::NetworkNotAllowed,
        format!(
            "Your account may not sign in from your address ({ip}). Use your office network, or ask {} to allow this one.",
            policy.contact
        ),
    ))
}

/// Counts a wrong second factor; locks the account at the threshold.
pub(crate) async fn count_failure(
    store: &dyn Store,
    policy: &SignInPolicy,
    mut account: Account,
    ip: IpAddr,
    now: i64,
    bad_code: bool,
) -> Result<Refusal, AuthError> {
    account.failed_logins = account.failed_logins.saturating_add(1);
    let threshold = policy.lockout_threshold;
    let locks = threshold != 0 && account.failed_logins >= threshold;
    if locks {
        account.state = AccountState::Locked;
        account.locked_until = (policy.lockout_secs > 0).then(|| now + policy.lockout_secs);
    }
    let id = account.id.clone();
    let failures = account.failed_logins;
    store.update_account(account).await?;
    let (reason, wrong) = if bad_code {
        (
            RefusalReason::TotpInvalid,
            "The 6-digit code after your password is wrong or already used; wait for the next code.",
        )
    } else {
        (RefusalReason::BadPassword, "The password is wrong.")
    };
    let mut text = format!("{wrong} Check it and try again.");
    if locks {
        tracing::warn!(account = %id, %ip, failures, "account locked after failed sign-ins");
        audit_account_event(store, &id, "account_locked", "failed_sign_ins", now).await?;
        if let Some(hook) = &policy.on_lock {
            (hook.0)(&id);
        }
        text = format!(
            "{wrong} Your account is now locked after {failures} failed sign-ins; ask {} to unlock it.",
            policy.contact
        );
    } else if threshold != 0 && threshold - failures <= 2 {
        text = format!(
            "{wrong} {} more failed sign-ins will lock your account.",
            threshold - failures
        );
    }
    Ok(Refusal::new(reason, text))
}

/// Row 15: a password past its maximum age, or a temporary one past its hours.
pub(crate) fn check_password_age(
    policy: &SignInPolicy,
    account: &Account,
    now: i64,
) -> Option<Refusal> {
    let set_at = account.password_set_at?;
    let age = now - set_at;
    let contact = &policy.contact;
    if account.password_temporary {
        let limit = policy.temporary_password_secs;
        return (limit > 0 && age >= limit).then(|| {
            Refusal::new(
                RefusalReason::TemporaryPasswordExpired,
                format!(
                    "The temporary password you were given has expired (it was valid for {} hours). Ask {contact} for a new one (certmail account passwd).",
                    limit / 3600
                ),
            )
        });
    }
    let limit = policy.password_max_age_secs;
    (limit > 0 && age >= limit).then(|| {
        let what_to_do = match &policy.password_change_hint {
            Some(hint) => hint.clone(),
            None => format!("Ask {contact} for a new one (certmail account passwd)."),
        };
        Refusal::new(
            RefusalReason::PasswordExpired,
            format!(
                "Your password has expired (passwords are valid for {} days). {what_to_do}",
                limit / 86_400
            ),
        )
    })
}

/// Writes an account event (lock, unlock) to the audit log.
pub(crate) async fn audit_account_event(
    store: &dyn Store,
    account: &str,
    kind: &str,
    cause: &str,
    now: i64,
) -> Result<(), AuthError> {
    let mut fields = BTreeMap::new();
    fields.insert("cause".to_string(), cause.to_string());
    tracing::info!(event = kind, account, cause, "account event");
    store
        .append_audit(AuditEvent {
            time: now * 1000,
            account: Some(account.to_string()),
            kind: kind.to_string(),
            ip: None,
            fields,
        })
        .await?;
    Ok(())
}
