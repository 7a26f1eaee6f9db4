//! The audit log, ordered by (time, insertion order), with a per-account index.

use std::time::Instant;

use certmail_store::{AuditEvent, StoreError};
use tokio_postgres::types::Json;

use crate::PgStore;
use crate::error::db;

const AUDIT_COLUMNS: &str = "at_ms, account, kind, ip, fields";

fn event(row: &tokio_postgres::Row) -> AuditEvent {
    let Json(fields) = row.get(4);
    AuditEvent {
        time: row.get(0),
        account: row.get(1),
        kind: row.get(2),
        ip: row.get(3),
        fields,
    }
}

/// `event` with every NUL in its texts replaced by U+FFFD: PostgreSQL's `text` and `jsonb`
/// cannot hold NUL, and an event may quote what a client sent (a base64 SMTP user name
/// decodes to anything). Refusing the event would fail the sign-in it records.
fn without_nul(event: AuditEvent) -> AuditEvent {
    let clean = |s: String| {
        if s.contains('\0') {
            s.replace('\0', "\u{FFFD}")
        } else {
            s
        }
    };
    AuditEvent {
        time: event.time,
        account: event.account.map(clean),
        kind: clean(event.kind),
        ip: event.ip.map(clean),
        fields: event
            .fields
            .into_iter()
            .map(|(k, v)| (clean(k), clean(v)))
            .collect(),
    }
}

/// A `LIMIT` parameter.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgStore {
    /// Writes `event`, naming this node in its `node` field (audit events carry the node
    /// name in a cluster) unless the event already names one. NULs become U+FFFD
    /// ([`without_nul`]).
    pub(crate) async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        let mut event = without_nul(event);
        if !self.node.is_empty() {
            event
                .fields
                .entry("node".to_owned())
                .or_insert_with(|| self.node.clone());
        }
        let conn = self.conn().await?;
        let started = Instant::now();
        conn.execute(
            "INSERT INTO audit (at_ms, account, kind, ip, fields) VALUES ($1, $2, $3, $4, $5)",
            &[
                &event.time,
                &event.account,
                &event.kind,
                &event.ip,
                &Json(&event.fields),
            ],
        )
        .await
        .map_err(db)?;
        self.count_write(started);
        Ok(())
    }

    async fn audit_query(
        &self,
        order: &str,
        from_ms: i64,
        to_ms: i64,
        n: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let conn = self.conn().await?;
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit WHERE at_ms >= $1 AND at_ms < $2
             ORDER BY at_ms {order}, seq {order} LIMIT $3"
        );
        Ok(conn
            .query(&sql, &[&from_ms, &to_ms, &limit(n)])
            .await
            .map_err(db)?
            .iter()
            .map(event)
            .collect())
    }

    pub(crate) async fn audit_range(
        &self,
        from_ms: i64,
        to_ms: i64,
        n: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.audit_query("ASC", from_ms, to_ms, n).await
    }

    pub(crate) async fn audit_newest(
        &self,
        from_ms: i64,
        to_ms: i64,
        n: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.audit_query("DESC", from_ms, to_ms, n).await
    }

    pub(crate) async fn audit_by_account(
        &self,
        account: &str,
        n: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let conn = self.conn().await?;
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit WHERE account = $1
             ORDER BY at_ms DESC, seq DESC LIMIT $2"
        );
        Ok(conn
            .query(&sql, &[&account, &limit(n)])
            .await
            .map_err(db)?
            .iter()
            .map(event)
            .collect())
    }

    pub(crate) async fn audit_prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        let conn = self.conn().await?;
        let started = Instant::now();
        let n = conn
            .execute("DELETE FROM audit WHERE at_ms < $1", &[&before_ms])
            .await
            .map_err(db)?;
        self.count_write(started);
        Ok(n)
    }
}
