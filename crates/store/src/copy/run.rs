//! [`copy_installation`]: the copy in stages (bodies, accounts, aliases, queue, audit),
//! then its check (counts per kind, a sample of bodies read back).

use std::collections::BTreeMap;

use super::{RecordCopy, RecordCounts, RecordKind};
use crate::error::CopyError;
use crate::model::BlobId;

/// Bodies asked for per page of ids (ids only: 32 bytes each).
const BODY_PAGE: usize = 512;
/// Audit events read per page.
const AUDIT_PAGE: usize = 1000;

/// Where a copy reports how far it is (a progress bar on a terminal, lines otherwise).
pub trait CopyProgress: Send {
    /// A stage starts with `total` steps (0 when unknown).
    fn stage(&mut self, name: &str, total: u64);
    /// `n` more steps of the current stage are done.
    fn advance(&mut self, n: u64);
    /// The current stage is finished.
    fn finish(&mut self);
}

/// A [`CopyProgress`] that reports nothing (tests, `--json`).
#[derive(Debug, Default)]
pub struct SilentProgress;

impl CopyProgress for SilentProgress {
    fn stage(&mut self, _name: &str, _total: u64) {}
    fn advance(&mut self, _n: u64) {}
    fn finish(&mut self) {}
}

/// What a finished copy found: the counts on both sides (equal, or it would have failed)
/// and how many bodies were read back from the target and compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    /// The source's counts before the copy.
    pub source: RecordCounts,
    /// The target's counts after the copy.
    pub target: RecordCounts,
    /// Bodies read back from both stores and compared byte for byte.
    pub bodies_checked: u64,
    /// Bodies the target's search index was built for after the copy.
    pub bodies_indexed: u64,
}

/// Copies everything `source` holds into the empty `target`, then checks that the target
/// holds as many records of every kind and that `sample` bodies (the ones with the
/// smallest ids: a uniform sample, since ids are hashes) read back identical from both.
///
/// The source must not change meanwhile (the daemon stopped). See the module docs for what
/// is atomic.
pub async fn copy_installation(
    source: &dyn RecordCopy,
    target: &dyn RecordCopy,
    sample: usize,
    progress: &mut dyn CopyProgress,
) -> Result<CopyReport, CopyError> {
    let before = target
        .record_counts()
        .await
        .map_err(CopyError::store("counting the target's records"))?;
    if !before.is_empty() {
        return Err(CopyError::TargetNotEmpty {
            holds: before.describe(),
        });
    }
    let counts = source
        .record_counts()
        .await
        .map_err(CopyError::store("counting the source's records"))?;
    copy_bodies(source, target, counts.get(RecordKind::Bodies), progress).await?;
    let sampled = copy_accounts(source, target, sample, progress).await?;
    copy_aliases_and_queue(source, target, progress).await?;
    copy_urlauth_keys(
        source,
        target,
        counts.get(RecordKind::UrlauthKeys),
        progress,
    )
    .await?;
    copy_audit(
        source,
        target,
        counts.get(RecordKind::AuditEvents),
        progress,
    )
    .await?;
    let after = target
        .record_counts()
        .await
        .map_err(CopyError::store("counting the target's records"))?;
    check_counts(&counts, &after)?;
    let bodies_checked = check_bodies(source, target, &sampled, progress).await?;
    // Postings are keyed by the store key, which both sides share, but bodies travel
    // sealed: the target builds its index from them rather than copying the source's.
    progress.stage("search index", counts.get(RecordKind::Bodies));
    let bodies_indexed = target
        .reindex()
        .await
        .map_err(CopyError::store("building the target's search index"))?;
    progress.advance(bodies_indexed);
    progress.finish();
    Ok(CopyReport {
        source: counts,
        target: after,
        bodies_checked,
        bodies_indexed,
    })
}

async fn copy_bodies(
    source: &dyn RecordCopy,
    target: &dyn RecordCopy,
    total: u64,
    progress: &mut dyn CopyProgress,
) -> Result<(), CopyError> {
    progress.stage("bodies", total);
    let mut after = None;
    loop {
        let ids = source
            .body_ids_after(after, BODY_PAGE)
            .await
            .map_err(CopyError::store("listing the source's bodies"))?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        for id in ids {
            let during = || format!("copying body {}", id.to_hex());
            let body = source
                .sealed_body(id)
                .await
                .map_err(CopyError::store(during()))?;
            if let Some(body) = body {
                target
                    .import_body(body)
                    .await
                    .map_err(CopyError::store(during()))?;
            }
            progress.advance(1);
        }
        after = Some(last);
    }
    progress.finish();
    Ok(())
}

/// Copies every account; returns the sample of bodies to read back (id → an account
/// holding it).
async fn copy_accounts(
    source: &dyn RecordCopy,
    target: &dyn RecordCopy,
    sample: usize,
    progress: &mut dyn CopyProgress,
) -> Result<BTreeMap<BlobId, String>, CopyError> {
    let accounts = source
        .list_accounts()
        .await
        .map_err(CopyError::store("listing the source's accounts"))?;
    progress.stage("accounts", accounts.len() as u64);
    let mut sampled = BTreeMap::new();
    for account in accounts {
        let during = format!("copying account {}", account.id);
        let records = source
            .export_account(&account.id)
            .await
            .map_err(CopyError::store(during.clone()))?;
        let Some(records) = records else { continue };
        for message in records.mailboxes.iter().flat_map(|m| &m.messages) {
            sampled.insert(message.blob, account.id.clone());
            if sampled.len() > sample {
                sampled.pop_last();
            }
        }
        let marks = records.reply_marks.clone();
        target
            .import_account(records)
            .await
            .map_err(CopyError::store(during.clone()))?;
        for mark in marks {
            target
                .put_reply_mark(mark)
                .await
                .map_err(CopyError::store(during.clone()))?;
        }
        progress.advance(1);
    }
    progress.finish();
    Ok(sampled)
}

async fn copy_aliases_and_queue(
    source: &dyn RecordCopy,
    target: &dyn RecordCopy,
    progress: &mut dyn CopyProgress,
) -> Result<(), CopyError> {
    let aliases = source
        .list_aliases()
        .await
        .map_err(CopyError::store("listing the source's aliases"))?;
    progress.stage("aliases", aliases.len() as u64);
    for alias in aliases {
        let during = format!("copying alias {}", alias.address);
        target
            .set_alias(alias)
            .await
            .map_err(CopyError::store(during))?;
        progress.advance(1);
    }
    progress.finish();
    let queue = source
        .queue_list()
        .await
        .map_err(CopyError::store("listing the source's queue"))?;
    progress.stage("queue", queue.len() as u64);
    for entry in queue {
        let during = format!("copying queue entry {}", entry.id);
        target
            .import_queue_entry(entry)
            .await
            .map_err(CopyError::store(during))?;
        progress.advance(1);
    }
    progress.finish();
    Ok(())
}

/// Copies the audit log oldest first, a page at a time. Pages start at the last time seen
/// and skip the events of that time already copied (events of one time keep their order).
/// Every mailbox's URLAUTH keys, once every account is in the target: a key's user may
/// be another account than the mailbox's owner.
async fn copy_urlauth_keys(
    source: &dyn RecordCopy,
    target: &dyn RecordCopy,
    total: u64,
    progress: &mut dyn CopyProgress,
) -> Result<(), CopyError> {
    progress.stage("URLAUTH keys", total);
    let accounts = source
        .list_accounts()
        .await
        .map_err(CopyError::store("listing the source's accounts"))?;
    for owner in accounts {
        let during = format!("copying the URLAUTH keys of {}'s mailboxes", owner.id);
        let mailboxes = source
            .list_mailboxes(&owner.id)
            .await
            .map_err(CopyError::store(during.clone()))?;
        for mailbox in mailboxes {
            let keys = source
                .urlauth_keys_in(mailbox.id)
                .await
                .map_err(CopyError::store(during.clone()))?;
            for (user, key) in keys {
                target
                    .urlauth_key(&user, &owner.id, &mailbox.name, Some(key))
                    .await
                    .map_err(CopyError::store(during.clone()))?;
                progress.advance(1);
            }
        }
    }
    progress.finish();
    Ok(())
}

async fn copy_audit(
    source: &dyn RecordCopy,
    target: &dyn RecordCopy,
    total: u64,
    progress: &mut dyn CopyProgress,
) -> Result<(), CopyError> {
    progress.stage("audit events", total);
    let (mut from, mut skip) = (i64::MIN, 0usize);
    loop {
        let page = source
            .audit_range(from, i64::MAX, skip + AUDIT_PAGE)
            .await
            .map_err(CopyError::store("reading the source's audit log"))?;
        let full = page.len() == skip + AUDIT_PAGE;
        let Some(last) = page.last().map(|e| e.time) else {
            break;
        };
        let same_time = page.iter().filter(|e| e.time == last).count();
        let fresh: Vec<_> = page.into_iter().skip(skip).collect();
        let n = fresh.len() as u64;
        target
            .import_audit(fresh)
            .await
            .map_err(CopyError::store("writing the audit log"))?;
        progress.advance(n);
        if !full {
            break;
        }
        // The next page starts at `last` and skips what this page had of that time (the
        // whole page, skipped part included, when it all shares one time).
        (from, skip) = (last, same_time);
    }
    progress.finish();
    Ok(())
}

fn check_counts(source: &RecordCounts, target: &RecordCounts) -> Result<(), CopyError> {
    let differences: Vec<String> = RecordKind::ALL
        .iter()
        .filter(|k| source.get(**k) != target.get(**k))
        .map(|k| {
            format!(
                "{}: source {}, target {}",
                k.label(),
                source.get(*k),
                target.get(*k)
            )
        })
        .collect();
    if differences.is_empty() {
        Ok(())
    } else {
        Err(CopyError::CountMismatch {
            differences: differences.join("; "),
        })
    }
}

/// Reads each sampled body from both stores through the store API (which decrypts it and
/// checks it against its id) and compares them.
async fn check_bodies(
    source: &dyn RecordCopy,
    target: &dyn RecordCopy,
    sampled: &BTreeMap<BlobId, String>,
    progress: &mut dyn CopyProgress,
) -> Result<u64, CopyError> {
    progress.stage("checking bodies", sampled.len() as u64);
    for (blob, account) in sampled {
        let during = || format!("reading back body {} of {account}", blob.to_hex());
        let theirs = source
            .message_body(account, blob)
            .await
            .map_err(CopyError::store(during()))?;
        let ours = target
            .message_body(account, blob)
            .await
            .map_err(CopyError::store(during()))?;
        if ours != theirs || BlobId::of(&ours) != *blob {
            return Err(CopyError::BodyMismatch {
                blob: blob.to_hex(),
                account: account.clone(),
            });
        }
        progress.advance(1);
    }
    progress.finish();
    Ok(sampled.len() as u64)
}
