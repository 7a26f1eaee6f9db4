//! The device registry: (account, SPKI hash, network) → `Device`.

use super::Inner;
use super::keys::{account_prefix, decode, encode};
use crate::error::Result;
use crate::model::Device;

fn device_key(account: &str, spki: &[u8; 32], network: &str) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use crate::model::Device;
    use crate::prelude::*;
    use crate::{KeyFile, SledStore};

    fn device(account: &str, spki: u8, network: &str, seen: i64) -> Device {
        Device {
            account: account.into(),
            spki_sha256: [spki; 32],
            network: network.into(),
            first_seen: seen,
            last_seen: seen,
            totp_at: None,
            client: None,
        }
    }

    #[tokio::test]
    async fn devices_are_kept_per_account_and_can_be_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open_async(&dir.path().join("db"), KeyFile::from_bytes([3; 32]))
            .await
            .expect("open");
        store
            .put_device(device("hong", 1, "10.0.0.0/24", 100))
            .await
            .expect("put");
        store
            .put_device(device("hong", 1, "10.0.1.0/24", 200))
            .await
            .expect("put");
        store
            .put_device(device("kim", 2, "10.0.0.0/24", 300))
            .await
            .expect("put");
        let mut again = device("hong", 1, "10.0.0.0/24", 100);
        again.last_seen = 500;
        store.put_device(again).await.expect("update");
        let hong = store.devices_of("hong").await.expect("list");
        assert_eq!(hong.len(), 2);
        assert_eq!((hong[0].first_seen, hong[0].last_seen), (100, 500));
        assert_eq!(hong[0].id(), "01010101@10.0.0.0/24");
        // "hong" must not match a longer id sharing its prefix.
        store
            .put_device(device("hongx", 3, "10.0.0.0/24", 1))
            .await
            .expect("put");
        assert_eq!(store.devices_of("hong").await.expect("list").len(), 2);
        assert!(
            store
                .forget_device("hong", &[1; 32], "10.0.1.0/24")
                .await
                .expect("forget")
        );
        assert!(
            !store
                .forget_device("hong", &[1; 32], "10.0.1.0/24")
                .await
                .expect("again")
        );
        assert_eq!(store.devices_of("hong").await.expect("list").len(), 1);
        assert_eq!(store.devices_of("kim").await.expect("list").len(), 1);
        let kim = crate::model::Account::new("kim", "김철수", vec!["kim@test.go.kr".into()], 1);
        store.create_account(kim).await.expect("account");
        store.delete_account("kim").await.expect("delete");
        assert!(
            store.devices_of("kim").await.expect("list").is_empty(),
            "deleted with the account"
        );
    }
}
