//! The device registry: (account, SPKI hash, network) → `Device`.

use super::Inner;
use super::keys::{account_prefix, decode, encode};
use crate::devices::{DeviceSeen, plan_sign_in};
use crate::error::Result;
use crate::model::Device;

pub(crate) fn device_key(account: &str, spki: &[u8; 32], network: &str) -> Vec<u8> {
    let mut k = account_prefix(account);
    k.extend_from_slice(spki);
    k.extend_from_slice(network.as_bytes());
    k
}

impl Inner {
    pub(crate) fn put_device(&self, device: Device) -> Result<()> {
        let key = device_key(&device.account, &device.spki_sha256, &device.network);
        self.t.devices.insert(key, encode(&device))?;
        Ok(())
    }

    pub(crate) fn devices_of(&self, account: &str) -> Result<Vec<Device>> {
        let mut out = Vec::new();
        for entry in self.t.devices.scan_prefix(account_prefix(account)) {
            let (k, v) = entry?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }

    /// [`crate::AuditStore::sign_in_device`]: one process holds a sled store, so the
    /// registry's lock makes the read, the evictions and the write one step.
    pub(crate) fn sign_in_device(&self, seen: Device, cap: usize) -> Result<DeviceSeen> {
        let _one_at_a_time = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        let plan = plan_sign_in(self.devices_of(&seen.account)?, seen, cap);
        for old in &plan.evicted {
            self.forget_device(&old.account, &old.spki_sha256, &old.network)?;
        }
        self.put_device(plan.device.clone())?;
        Ok(plan)
    }

    pub(crate) fn forget_device(
        &self,
        account: &str,
        spki: &[u8; 32],
        network: &str,
    ) -> Result<bool> {
        Ok(self
            .t
            .devices
            .remove(device_key(account, spki, network))?
            .is_some())
    }
}
