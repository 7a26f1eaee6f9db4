//! The device registry: (account, SPKI hash, network) → `Device`.

use certmail_store::{Device, StoreError};

use crate::error::db;
use crate::{PgStore, rows};

impl PgStore {
    pub(crate) async fn put_device(&self, device: Device) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        conn.execute(
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
        self.count_write();
        Ok(())
    }

    pub(crate) async fn devices_of(&self, account: &str) -> Result<Vec<Device>, StoreError> {
        let conn = self.conn().await?;
        conn.query(
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

    pub(crate) async fn forget_device(
        &self,
        account: &str,
        spki: &[u8; 32],
        network: &str,
    ) -> Result<bool, StoreError> {
        let conn = self.conn().await?;
        let n = conn
            .execute(
                "DELETE FROM devices WHERE account = $1 AND spki = $2 AND network = $3",
                &[&account, &&spki[..], &network],
            )
            .await
            .map_err(db)?;
        self.count_write();
        Ok(n > 0)
    }
}
