//! A sign-in from a device, recorded against the registry's cap in one step
//! ([`AuditStore::sign_in_device`](crate::AuditStore::sign_in_device)): both backends
//! run [`plan_sign_in`] on the account's devices while holding the account's device lock,
//! so racing sign-ins of new devices (in one process or on several nodes) never leave more
//! than the cap.

use crate::model::Device;

/// What recording one sign-in from a device did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSeen {
    /// The device's record as written.
    pub device: Device,
    /// The device was not in the registry before.
    pub new: bool,
    /// It was the account's first device (the account starts with it: no news).
    pub first: bool,
    /// The least recently seen devices removed to keep the account within the cap.
    pub evicted: Vec<Device>,
}

/// Decides what a sign-in from `seen` (its key, `last_seen` = now, `totp_at` = now when a
/// code was used) does to `all`, the account's devices: a known device gets the new
/// `last_seen` (and `totp_at`); a new one is added and, at `cap` (at least 1), the least
/// recently seen devices make room for it.
pub fn plan_sign_in(mut all: Vec<Device>, seen: Device, cap: usize) -> DeviceSeen {
    let same = |d: &Device| d.spki_sha256 == seen.spki_sha256 && d.network == seen.network;
    if let Some(known) = all.iter().find(|d| same(d)) {
        let mut device = known.clone();
        device.last_seen = seen.last_seen;
        device.totp_at = seen.totp_at.or(device.totp_at);
        return DeviceSeen {
            device,
            new: false,
            first: false,
            evicted: Vec::new(),
        };
    }
    let first = all.is_empty();
    all.sort_by_key(|d| d.last_seen);
    let excess = (all.len() + 1).saturating_sub(cap.max(1));
    all.truncate(excess);
    DeviceSeen {
        device: seen,
        new: true,
        first,
        evicted: all,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(n: u8, last_seen: i64) -> Device {
        Device {
            account: "hong".into(),
            spki_sha256: [n; 32],
            network: "192.0.2.0/24".into(),
            first_seen: last_seen,
            last_seen,
            totp_at: None,
            client: Some(format!("client {n}")),
        }
    }

    #[test]
    fn a_known_device_keeps_its_record_and_gets_the_new_time() {
        let mut seen = device(1, 500);
        seen.client = None;
        seen.totp_at = Some(500);
        let plan = plan_sign_in(vec![device(2, 10), device(1, 20)], seen, 2);
        assert!(!plan.new && !plan.first && plan.evicted.is_empty());
        assert_eq!(plan.device.first_seen, 20);
        assert_eq!(plan.device.last_seen, 500);
        assert_eq!(plan.device.totp_at, Some(500));
        assert_eq!(plan.device.client.as_deref(), Some("client 1"));
    }

    #[test]
    fn a_new_device_at_the_cap_evicts_the_least_recently_seen() {
        let all = vec![device(1, 30), device(2, 10), device(3, 20)];
        let plan = plan_sign_in(all, device(4, 40), 2);
        assert!(plan.new && !plan.first);
        let evicted: Vec<u8> = plan.evicted.iter().map(|d| d.spki_sha256[0]).collect();
        assert_eq!(evicted, [2, 3]);
    }

    #[test]
    fn the_first_device_is_first_and_a_zero_cap_still_admits_one() {
        let plan = plan_sign_in(Vec::new(), device(1, 1), 0);
        assert!(plan.new && plan.first && plan.evicted.is_empty());
    }
}
