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
        let mut out = Vec::new();
        if from_ms >= to_ms {
            return Ok(out);
        }
        for entry in self
            .t
            .audit
            .range(event_key(from_ms, 0)..event_key(to_ms, 0))
            .take(limit)
        {
            let (k, v) = entry?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }

    pub(crate) fn audit_newest(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>> {
        let mut out = Vec::new();
        if from_ms >= to_ms {
            return Ok(out);
        }
        for entry in self
            .t
            .audit
            .range(event_key(from_ms, 0)..event_key(to_ms, 0))
            .rev()
            .take(limit)
        {
            let (k, v) = entry?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
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
