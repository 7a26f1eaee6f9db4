//! Counters every node shares exactly: the per-IP sign-in throttles' failure windows
//! (`failure_windows`). Each failure is one atomic upsert, so failures counted on several
//! nodes at once all count; the daemon hands these to `certmail_auth`'s throttles.

use certmail_store::StoreError;

use crate::PgStore;
use crate::error::db;
use crate::rows::u64_of;

impl PgStore {
    /// Counts one failure of `key` in its window open at `now` (a new window starts at
    /// `now` if the last began `window_secs` or more before), sweeping ended windows;
    /// returns the window's start and count.
    pub async fn add_failure(
        &self,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<(i64, u32), StoreError> {
        let conn = self.conn().await?;
        conn.execute(
            "DELETE FROM failure_windows WHERE started <= $1::bigint - $2::bigint AND key <> $3",
            &[&now, &window_secs, &key],
        )
        .await
        .map_err(db)?;
        let row = conn
            .query_one(
                "INSERT INTO failure_windows AS w (key, started, count) VALUES ($1, $2, 1)
                 ON CONFLICT (key) DO UPDATE SET
                     started = CASE WHEN $2 - w.started >= $3 THEN $2 ELSE w.started END,
                     count = CASE WHEN $2 - w.started >= $3 THEN 1 ELSE w.count + 1 END
                 RETURNING started, count",
                &[&key, &now, &window_secs],
            )
            .await
            .map_err(db)?;
        Ok((row.get(0), count_of(row.get(1))?))
    }

    /// `key`'s window open at `now`, as (start, count).
    pub async fn failure_window(
        &self,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<Option<(i64, u32)>, StoreError> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT started, count FROM failure_windows WHERE key = $1 AND $2 - started < $3",
                &[&key, &now, &window_secs],
            )
            .await
            .map_err(db)?;
        row.map(|r| Ok((r.get(0), count_of(r.get(1))?))).transpose()
    }
}

fn count_of(n: i32) -> Result<u32, StoreError> {
    let n = u64_of("failure count", i64::from(n))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}
