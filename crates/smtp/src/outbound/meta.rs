//! The envelope data a queue entry keeps in `QueueEntry::envelope_meta`.
//!
//! The store encodes records with postcard, which has no field defaults: a new field on
//! `QueueEntry` would make every queued record written before it unreadable. The relay's
//! extra per-entry and per-recipient data therefore lives in the entry's string map, under
//! the keys below, and old entries simply lack them.

use std::collections::BTreeMap;

use certmail_store::QueueEntry;

use super::client::Ret;

/// RFC 3461 ENVID, as given.
pub const ENVID: &str = "envid";
/// RFC 3461 RET: `full` or `hdrs`.
pub const RET: &str = "ret";
/// RFC 6531 SMTPUTF8 was given: `1`.
pub const SMTPUTF8: &str = "smtputf8";
/// RFC 8689 REQUIRETLS was given: `1`.
pub const REQUIRETLS: &str = "requiretls";
/// Held by an administrator (`certmail queue hold`): `1`.
pub const HELD: &str = "held";
/// The delay notice went out: `1`.
pub const DELAY_NOTIFIED: &str = "delay_notified";
/// Prefix of a recipient's RFC 3461 ORCPT (`orcpt:` + address → `rfc822;address`).
pub const ORCPT_PREFIX: &str = "orcpt:";

fn flag(meta: &BTreeMap<String, String>, key: &str) -> bool {
    meta.get(key).is_some_and(|v| v == "1")
}

/// Whether the entry is held.
pub fn is_held(entry: &QueueEntry) -> bool {
    flag(&entry.envelope_meta, HELD)
}

/// Whether the message must travel over verified TLS only (RFC 8689).
pub fn requires_tls(entry: &QueueEntry) -> bool {
    flag(&entry.envelope_meta, REQUIRETLS)
}

/// Whether the message needs SMTPUTF8.
pub fn needs_smtputf8(entry: &QueueEntry) -> bool {
    flag(&entry.envelope_meta, SMTPUTF8)
}

/// The RET parameter.
pub fn ret(entry: &QueueEntry) -> Option<Ret> {
    match entry.envelope_meta.get(RET).map(String::as_str) {
        Some("full") => Some(Ret::Full),
        Some("hdrs") => Some(Ret::Headers),
        _ => None,
    }
}

/// The ORCPT of a recipient.
pub fn orcpt(entry: &QueueEntry, address: &str) -> Option<String> {
    entry
        .envelope_meta
        .get(&format!("{ORCPT_PREFIX}{address}"))
        .cloned()
}

/// Sets or clears a `1` flag.
pub fn set_flag(entry: &mut QueueEntry, key: &str, on: bool) {
    if on {
        entry.envelope_meta.insert(key.to_string(), "1".to_string());
    } else {
        entry.envelope_meta.remove(key);
    }
}

/// Records the envelope's RET, SMTPUTF8 and per-recipient ORCPT for the relay.
pub fn record_envelope(meta: &mut BTreeMap<String, String>, envelope: &crate::proto::Envelope) {
    use crate::proto::DsnReturn;
    match envelope.params.ret {
        Some(DsnReturn::Full) => meta.insert(RET.to_string(), "full".to_string()),
        Some(DsnReturn::Headers) => meta.insert(RET.to_string(), "hdrs".to_string()),
        None => None,
    };
    if envelope.params.requiretls {
        meta.insert(REQUIRETLS.to_string(), "1".to_string());
    }
    if envelope.params.smtputf8 {
        meta.insert(SMTPUTF8.to_string(), "1".to_string());
    }
    for r in &envelope.rcpts {
        if let Some(o) = &r.orcpt {
            // smtp-proto accepts only rfc822 ORCPTs and hands out the decoded address.
            meta.insert(
                format!("{ORCPT_PREFIX}{}", r.address),
                format!("rfc822;{o}"),
            );
        }
    }
}
