//! The device registry: (account, SPKI hash, network) → `Device`.

use std::time::Instant;

use certmail_store::devices::plan_sign_in;
use certmail_store::{Device, DeviceSeen, StoreError};
use deadpool_postgres::GenericClient;

use crate::error::db;
use crate::{PgStore, advisory_lock, lock_ns, rows};

async fn upsert(client: &impl GenericClient, device: &Device) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO devices (account, spki, network, first_seen, last_seen, totp_at, client)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (account, spki, network) DO UPDATE SET first_seen = EXCLUDED.first_seen,
                 last_seen = EXCLUDED.last_seen, totp_at = EXCLUDED.totp_at,
                 client = EXCLUDED.client",
            &[
                &device.account,
                &&device.spki_sha256[..],
                &device.network,
                &device.first_seen,
                &device.last_seen,
                &device.totp_at,
                &device.client,
            ],
        )
        .await
        .map_err(db)?;
    Ok(())
}

async fn select(client: &impl GenericClient, account: &str) -> Result<Vec<Device>, StoreError> {
    client
        .query(
            "SELECT account, spki, network, first_seen, last_seen, totp_at, client FROM devices
             WHERE account = $1 ORDER BY spki, network",
            &[&account],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            Ok(Device {
                account: row.get(0),
                spki_sha256: rows::spki_of(row.get(1))?,
                network: row.get(2),
                first_seen: row.get(3),
                last_seen: row.get(4),
                totp_at: row.get(5),
                client: row.get(6),
            })
        })
        .collect()
}

async fn delete(
    client: &impl GenericClient,
    account: &str,
    spki: &[u8; 32],
    network: &str,
) -> Result<bool, StoreError> {
    let n = client
        .execute(
            "DELETE FROM devices WHERE account = $1 AND spki = $2 AND network = $3",
            &[&account, &&spki[..], &network],
        )
        .await
        .map_err(db)?;
    Ok(n > 0)
}

impl PgStore {
    pub(crate) async fn put_device(&self, device: Device) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        upsert(&conn, &device).await?;
        self.count_write(started);
        Ok(())
    }

    pub(crate) async fn devices_of(&self, account: &str) -> Result<Vec<Device>, StoreError> {
        select(&self.conn().await?, account).await
    }

    /// One transaction under the account's device lock, so sign-ins of new devices on any
    /// nodes at once never leave more than `cap`.
    pub(crate) async fn sign_in_device(
        &self,
        seen: Device,
        cap: usize,
    ) -> Result<DeviceSeen, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        advisory_lock(&tx, lock_ns::DEVICES, &seen.account).await?;
        let plan = plan_sign_in(select(&tx, &seen.account).await?, seen, cap);
        for old in &plan.evicted {
            delete(&tx, &old.account, &old.spki_sha256, &old.network).await?;
        }
        upsert(&tx, &plan.device).await?;
        self.commit(tx).await?;
        Ok(plan)
    }

    pub(crate) async fn forget_device(
        &self,
        account: &str,
        spki: &[u8; 32],
        network: &str,
    ) -> Result<bool, StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        let existed = delete(&conn, account, spki, network).await?;
        self.count_write(started);
        Ok(existed)
    }
}
