//! The audit log: keyed by (time, sequence) with a per-account index.

use ::sled::Transactional;

use super::Inner;
use super::keys::{account_prefix, decode, encode, time_key};
use super::tx::{TxResult, finish};
use crate::error::Result;
use crate::model::AuditEvent;

/// `audit` key: order-preserving time, then a unique sequence number.
fn event_key(time_ms: i64, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&time_key(time_ms));
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn index_key(account: &str, event_key: &[u8]) -> Vec<u8> {
    let mut k = account_prefix(account);
    k.extend_from_slice(event_key);
    k
}

impl Inner {
    pub(crate) fn append_audit(&self, event: AuditEvent) -> Result<()> {
        let key = event_key(event.time, self.db.generate_id()?);
        let value = encode(&event);
        let t = &self.t;
        finish(
            (&t.audit, &t.audit_idx).transaction(|(audit, idx)| -> TxResult<()> {
                audit.insert(&key, value.as_slice())?;
                if let Some(account) = &event.account {
                    idx.insert(index_key(account, &key), &[])?;
                }
                Ok(())
            }),
        )
    }

    pub(crate) fn audit_range(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>> {
        self.audit_between(from_ms, to_ms, limit, false)
    }

    pub(crate) fn audit_newest(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>> {
        self.audit_between(from_ms, to_ms, limit, true)
    }

    /// At most `limit` events with `from_ms <= time < to_ms`, oldest or newest first.
    fn audit_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<AuditEvent>> {
        if from_ms >= to_ms {
            return Ok(Vec::new());
        }
        let range = self
            .t
            .audit
            .range(event_key(from_ms, 0)..event_key(to_ms, 0));
        let entries: Box<dyn Iterator<Item = _>> = if newest_first {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        entries
            .take(limit)
            .map(|entry| {
                let (k, v) = entry?;
                decode(&k, &v)
            })
            .collect()
    }

    pub(crate) fn audit_by_account(&self, account: &str, limit: usize) -> Result<Vec<AuditEvent>> {
        let prefix = account_prefix(account);
        let mut out = Vec::new();
        for key in self
            .t
            .audit_idx
            .scan_prefix(&prefix)
            .keys()
            .rev()
            .take(limit)
        {
            let key = key?;
            let event_key = &key[prefix.len()..];
            if let Some(v) = self.t.audit.get(event_key)? {
                out.push(decode(event_key, &v)?);
            }
        }
        Ok(out)
    }

    pub(crate) fn audit_prune(&self, before_ms: i64) -> Result<u64> {
        let mut removed = 0u64;
        let mut events = ::sled::Batch::default();
        let mut index = ::sled::Batch::default();
        for entry in self.t.audit.range(..event_key(before_ms, 0)) {
            let (k, v) = entry?;
            let event: AuditEvent = decode(&k, &v)?;
            if let Some(account) = &event.account {
                index.remove(index_key(account, &k));
            }
            events.remove(k);
            removed += 1;
        }
        self.t.audit_idx.apply_batch(index)?;
        self.t.audit.apply_batch(events)?;
        Ok(removed)
    }
}
