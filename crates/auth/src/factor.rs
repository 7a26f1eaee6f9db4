//! The second factor (DESIGN.md "Identity" row 14): the password, and for accounts with
//! TOTP a 6-digit code appended to it on a device the account has not used within
//! `[auth] totp_remember_days`; and the device registry that remembers devices.

use std::net::IpAddr;

use certmail_store::{Account, Device, Store};

use crate::error::AuthError;
use crate::policy::SignInPolicy;
use crate::remembered::MatchKey;
use crate::{Secret, totp};

/// What the second factor came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Factor {
    /// Accepted; with the TOTP step used, if a code was checked.
    Accepted {
        /// The TOTP step the code was valid for.
        totp_step: Option<i64>,
    },
    /// The password is wrong (counts toward the lockout).
    WrongPassword,
    /// The password is right, but this device needs a TOTP code and none was given.
    TotpRequired,
    /// The password is right, the code is wrong or already used (counts toward lockout).
    TotpInvalid,
}

/// DESIGN.md's device-registry network: the /24 (IPv4) or /64 (IPv6) of `ip`.
pub fn device_network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => device_network(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

/// The account's record of this device, if any.
pub(crate) async fn known_device(
    store: &dyn Store,
    account: &str,
    spki: &[u8; 32],
    ip: IpAddr,
) -> Result<Option<Device>, AuthError> {
    let network = device_network(ip);
    Ok(store
        .devices_of(account)
        .await?
        .into_iter()
        .find(|d| &d.spki_sha256 == spki && d.network == network))
}

/// How old a known device's `last_seen` may be before a sign-in from it writes the record
/// again. A mail program opens a new connection many times a minute, and each write waits
/// for a flush to disk: rewriting the same record at every sign-in cost a third of the
/// store writes of a one-message SMTP session. `last_seen` is shown to people (to the
/// minute is plenty) and ends the TOTP trust window ([`trusted`]) up to this much sooner.
pub(crate) const LAST_SEEN_RESOLUTION_SECS: i64 = 60;

/// Whether `device` is known and its `last_seen` is recent enough (under
/// [`LAST_SEEN_RESOLUTION_SECS`]) that a sign-in without a TOTP code need not record it.
pub(crate) fn seen_lately(device: Option<&Device>, now: i64) -> bool {
    device.is_some_and(|d| (0..LAST_SEEN_RESOLUTION_SECS).contains(&(now - d.last_seen)))
}

/// Whether `device` may skip the TOTP code: it has given one before and the account used
/// it within the remembered days.
pub(crate) fn trusted(device: Option<&Device>, policy: &SignInPolicy, now: i64) -> bool {
    device.is_some_and(|d| d.totp_at.is_some() && now - d.last_seen <= policy.totp_remember_secs)
}

/// Whether `pw` is the account's password: remembered from an earlier match with the same
/// certificate and stored hash ([`crate::remembered`]), else argon2id (and then remembered).
async fn verify(
    policy: &SignInPolicy,
    spki: &[u8; 32],
    pw: &str,
    account: &Account,
    now: i64,
) -> Result<bool, AuthError> {
    let Some(phc) = &account.password_hash else {
        return Ok(false);
    };
    let about = MatchKey {
        account: &account.id,
        phc,
        spki,
    };
    let state = &policy.state;
    if state
        .remembered
        .matched(about, pw, now, policy.signin_cache)
    {
        return Ok(true);
    }
    let matched = state
        .passwords
        .verify(Secret::new(pw.to_string()), phc.clone())
        .await?;
    if matched {
        state
            .remembered
            .remember(about, pw, now, policy.signin_cache);
    }
    Ok(matched)
}

/// Checks the password, and the code appended to it when the account has TOTP. A trusted
/// device may still send a stale code (a mail program that saved password + code): the
/// code is then ignored.
pub(crate) async fn check(
    policy: &SignInPolicy,
    account: &Account,
    given: &Secret<String>,
    spki: &[u8; 32],
    trusted_device: bool,
    now: i64,
) -> Result<Factor, AuthError> {
    let given = given.expose().as_str();
    if let Some(secret) = &account.totp_secret
        && let Some((pw, code)) = totp::split_code(given)
        && verify(policy, spki, pw, account, now).await?
    {
        let last = account
            .settings
            .get(totp::LAST_STEP_SETTING)
            .and_then(|s| s.parse().ok());
        return Ok(match totp::verify(secret, code, now, last) {
            Some(step) => Factor::Accepted {
                totp_step: Some(step),
            },
            None if trusted_device => Factor::Accepted { totp_step: None },
            None => Factor::TotpInvalid,
        });
    }
    if !verify(policy, spki, given, account, now).await? {
        return Ok(Factor::WrongPassword);
    }
    Ok(if account.totp_secret.is_some() && !trusted_device {
        Factor::TotpRequired
    } else {
        Factor::Accepted { totp_step: None }
    })
}

/// Writes `client` (the mail program's name from IMAP ID) on the account's device record
/// of (`spki`, the network of `ip`), if there is one; returns whether it changed.
pub async fn record_client(
    store: &dyn Store,
    account: &str,
    spki: [u8; 32],
    ip: IpAddr,
    client: &str,
) -> Result<bool, AuthError> {
    let network = device_network(ip);
    let known = store
        .devices_of(account)
        .await?
        .into_iter()
        .find(|d| d.spki_sha256 == spki && d.network == network);
    match known {
        Some(mut d) if d.client.as_deref() != Some(client) => {
            d.client = Some(client.to_string());
            store.put_device(d).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Records a successful sign-in's device: first seen kept, last seen now, TOTP time if a
/// code was given. A new device beyond the account's cap pushes out the one least
/// recently seen.
pub(crate) async fn record_device(
    store: &dyn Store,
    policy: &SignInPolicy,
    account: &str,
    spki: [u8; 32],
    ip: IpAddr,
    totp_used: bool,
    now: i64,
) -> Result<Device, AuthError> {
    let network = device_network(ip);
    let seen = Device {
        account: account.to_string(),
        spki_sha256: spki,
        network,
        first_seen: now,
        last_seen: now,
        totp_at: totp_used.then_some(now),
        client: None,
    };
    // One step in the store under the account's device lock: the cap holds even when
    // new devices sign in at once on several nodes.
    let recorded = store.sign_in_device(seen, policy.max_devices).await?;
    // The very first device is how the account starts; later new ones are news.
    if let (true, false, Some(hook)) = (recorded.new, recorded.first, &policy.on_new_device) {
        (hook.0)(account, &recorded.device.network, ip);
    }
    Ok(recorded.device)
}

#[cfg(test)]
mod tests {
    use super::device_network;

    #[test]
    fn networks_are_the_slash_24_and_slash_64() {
        assert_eq!(
            device_network("203.0.113.5".parse().unwrap()),
            "203.0.113.0/24"
        );
        assert_eq!(
            device_network("::ffff:203.0.113.5".parse().unwrap()),
            "203.0.113.0/24"
        );
        assert_eq!(
            device_network("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
    }
}
