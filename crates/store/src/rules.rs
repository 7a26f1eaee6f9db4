//! The rules every backend applies before it touches its storage, written once so that a
//! name, a flag list or a delivery means the same in each (sled here, PostgreSQL in
//! crates/store-pg; both call these and re-check nothing themselves).
//!
//! - accounts: [`checked_account`] ([`normalize_account`], then [`validate_account`]);
//! - mailbox names: [`normalize_name`], [`ancestors`], [`rename_names`],
//!   [`uid_validity_seed`], and the [`Transfer`] of COPY and MOVE;
//! - flags and keywords: [`normalize_flags`], [`apply_flags`], and [`FlagChange`]'s
//!   [`normalized`](FlagChange::normalized) and [`apply`](FlagChange::apply), which decide
//!   what one STORE does to one message;
//! - delivery: [`delivery_targets`], the normalised local copies of a [`Delivery`], and
//!   [`SealedMessage::settled`], what it stores once its redirects are decided.

use crate::error::{Result, StoreError};
use crate::model::{
    Account, BlobId, Delivery, FlagChange, FlagOp, FlagUpdate, INBOX, MAILBOX_DELIMITER,
    MessageMeta, QueueEntry, StoreResult,
};

// ----- accounts -----

/// Longest account id or address accepted, bytes (RFC 5321 §4.5.3.1.3 caps a path at 256).
const MAX_ACCOUNT_NAME_LEN: usize = 255;

/// The account as stored: [`normalize_account`]d, then refused if [`validate_account`]
/// finds its id or an address unfit.
pub fn checked_account(account: Account) -> Result<Account> {
    let account = normalize_account(account);
    validate_account(&account)?;
    Ok(account)
}

/// Lowercases the id and addresses, and drops duplicate addresses.
pub fn normalize_account(mut account: Account) -> Account {
    account.id = account.id.to_lowercase();
    let mut seen = std::collections::HashSet::new();
    account.addresses = account
        .addresses
        .iter()
        .map(|a| a.to_lowercase())
        .filter(|a| seen.insert(a.clone()))
        .collect();
    account
}

/// Refuses ids and addresses that are empty, too long, or hold spaces or control characters.
pub fn validate_account(account: &Account) -> Result<()> {
    let invalid = |reason| {
        Err(StoreError::InvalidAccount {
            id: account.id.clone(),
            reason,
        })
    };
    let bad = |s: &str| {
        s.is_empty()
            || s.len() > MAX_ACCOUNT_NAME_LEN
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if bad(&account.id) {
        return invalid("the id must be 1 to 255 bytes without spaces or control characters");
    }
    if account.addresses.iter().any(|a| bad(a) || !a.contains('@')) {
        return invalid("each address must be 1 to 255 bytes with an @ and no spaces");
    }
    Ok(())
}

// ----- mailbox names -----

/// Longest mailbox name accepted, bytes.
const MAX_MAILBOX_NAME_LEN: usize = 1000;

/// Validates a mailbox name and spells the INBOX part canonically.
pub fn normalize_name(name: &str) -> Result<String> {
    let invalid = |reason| {
        Err(StoreError::InvalidMailbox {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("empty name");
    }
    if name.len() > MAX_MAILBOX_NAME_LEN {
        return invalid("name too long");
    }
    if name.starts_with(MAILBOX_DELIMITER) || name.ends_with(MAILBOX_DELIMITER) {
        return invalid("name starts or ends with the hierarchy delimiter");
    }
    if name.contains("//") {
        return invalid("empty hierarchy level");
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return invalid("control or wildcard character in name");
    }
    // RFC 3501 §5.1: INBOX is case-insensitive; its children follow the same spelling.
    let (first, rest) = match name.split_once(MAILBOX_DELIMITER) {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    if first.eq_ignore_ascii_case(INBOX) {
        return Ok(match rest {
            Some(rest) => format!("{INBOX}{MAILBOX_DELIMITER}{rest}"),
            None => INBOX.to_owned(),
        });
    }
    Ok(name.to_owned())
}

/// Every proper ancestor of a name, outermost first ("a/b/c" → "a", "a/b").
pub fn ancestors(name: &str) -> Vec<&str> {
    name.match_indices(MAILBOX_DELIMITER)
        .map(|(i, _)| &name[..i])
        .collect()
}

/// The normalised (from, to) of a rename, or why it cannot be done: the target is INBOX
/// or the mailbox itself (RFC 3501 §6.3.5: "the new name exists"), or lies inside it.
pub fn rename_names(from: &str, to: &str) -> Result<(String, String)> {
    let from = normalize_name(from)?;
    let to = normalize_name(to)?;
    if to == INBOX || from == to {
        return Err(StoreError::MailboxExists(to));
    }
    let inside = format!("{from}{MAILBOX_DELIMITER}");
    if to.starts_with(&inside) {
        return Err(StoreError::InvalidMailbox {
            name: to,
            reason: "cannot rename a mailbox into itself",
        });
    }
    Ok((from, to))
}

/// Floor of the UIDVALIDITY counter: the clock, so values grow with time and a store
/// recreated from scratch does not hand out values an old one used recently.
pub fn uid_validity_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1)
}

/// A COPY or MOVE (RFC 6851), its names and UIDs checked and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The account, lowercase.
    pub account: String,
    /// The source mailbox, normalised.
    pub from: String,
    /// The target mailbox, normalised.
    pub to: String,
    /// The source UIDs, sorted, without duplicates (missing ones are skipped).
    pub uids: Vec<u32>,
    /// MOVE: the messages leave the source, recorded as expunged there, in the same
    /// transaction.
    pub remove_source: bool,
    /// The quota the copies must fit (a MOVE within one account adds nothing).
    pub quota: crate::MailQuota,
}

impl Transfer {
    /// COPY (or MOVE, with `remove_source`) of `uids` from `from` to `to`; an error names
    /// an invalid mailbox name.
    pub fn new(
        account: &str,
        from: &str,
        uids: &[u32],
        to: &str,
        remove_source: bool,
    ) -> Result<Transfer> {
        let mut uids = uids.to_vec();
        uids.sort_unstable();
        uids.dedup();
        Ok(Transfer {
            account: account.to_lowercase(),
            from: normalize_name(from)?,
            to: normalize_name(to)?,
            uids,
            remove_source,
            quota: crate::MailQuota::Unlimited,
        })
    }

    /// Whether source and target are one mailbox. A MOVE within one (RFC 6851 §3.3 and
    /// RFC 9051 §6.4.8 allow it) gives the messages new UIDs and expunges the old ones: one
    /// mailbox record takes both sides.
    pub fn within_one_mailbox(&self) -> bool {
        self.from == self.to
    }
}

// ----- flags and keywords -----

/// RFC 3501 §2.3.2 system flags, canonical spelling (`\Recent` is session state, not stored).
const SYSTEM_FLAGS: [&str; 5] = ["\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"];

/// Canonical flag list: system flags spelled canonically, sorted, no duplicates (compared
/// case-insensitively, RFC 3501 §2.3.2), no `\Recent`.
pub fn normalize_flags<S: AsRef<str>>(flags: &[S]) -> Vec<String> {
    let mut out: Vec<String> = flags
        .iter()
        .map(|f| f.as_ref())
        .filter(|f| !f.is_empty() && !f.eq_ignore_ascii_case("\\Recent"))
        .map(|f| {
            SYSTEM_FLAGS
                .iter()
                .find(|s| s.eq_ignore_ascii_case(f))
                .map_or_else(|| f.to_owned(), |s| (*s).to_owned())
        })
        .collect();
    out.sort_by_key(|f| f.to_ascii_lowercase());
    out.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    out
}

/// The flags after applying `op` with `flags` to `current` (STORE semantics).
pub fn apply_flags(current: &[String], op: FlagOp, flags: &[String]) -> Vec<String> {
    match op {
        FlagOp::Replace => normalize_flags(flags),
        FlagOp::Add => normalize_flags(&[current, flags].concat()),
        FlagOp::Remove => current
            .iter()
            .filter(|c| !flags.iter().any(|f| f.eq_ignore_ascii_case(c)))
            .cloned()
            .collect(),
    }
}

impl FlagChange {
    /// The change with its UIDs sorted without duplicates and its flags normalised.
    pub fn normalized(mut self) -> FlagChange {
        self.uids.sort_unstable();
        self.uids.dedup();
        self.flags = normalize_flags(&self.flags);
        self
    }

    /// Applies the change to one message, all of whose changes in this call get MODSEQ
    /// `new_modseq`, and records the outcome in `result`. Returns whether `meta` changed
    /// and must be written back.
    pub fn apply(&self, meta: &mut MessageMeta, new_modseq: u64, result: &mut StoreResult) -> bool {
        // RFC 7162 §3.2: fail messages modified after UNCHANGEDSINCE.
        if self
            .unchanged_since
            .is_some_and(|since| meta.modseq > since)
        {
            result.failed_modified.push(meta.uid);
            return false;
        }
        let updated = apply_flags(&meta.flags, self.op, &self.flags);
        let changed = updated != meta.flags;
        if changed {
            meta.flags = updated;
            meta.modseq = new_modseq;
        }
        result.updated.push(FlagUpdate {
            uid: meta.uid,
            modseq: meta.modseq,
            flags: meta.flags.clone(),
        });
        changed
    }
}

// ----- delivery -----

/// One local copy of a delivery, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTarget {
    /// The recipient account, lowercase.
    pub account: String,
    /// The mailbox asked for; INBOX if the name was invalid (a missing mailbox also falls
    /// back to INBOX, which only the store can tell).
    pub mailbox: String,
    /// The copy's flags, normalised.
    pub flags: Vec<String>,
}

impl DeliveryTarget {
    /// This copy's message record, with MODSEQ `modseq` and no UID yet (the store takes the
    /// next one of the mailbox the copy goes to).
    pub fn message(&self, delivery: &Delivery, blob: BlobId, modseq: u64) -> MessageMeta {
        MessageMeta {
            uid: 0,
            modseq,
            flags: self.flags.clone(),
            internal_date: delivery.internal_date,
            size: delivery.body.len() as u64,
            blob,
        }
    }
}

/// The local copies of `delivery`, in the order of its recipients.
pub fn delivery_targets(delivery: &Delivery) -> Vec<DeliveryTarget> {
    delivery.recipients.iter().map(target_of).collect()
}

/// One `(account, mailbox, flags)` copy, normalised.
fn target_of((account, mailbox, flags): &(String, String, Vec<String>)) -> DeliveryTarget {
    DeliveryTarget {
        account: account.to_lowercase(),
        mailbox: normalize_name(mailbox).unwrap_or_else(|_| INBOX.to_owned()),
        flags: normalize_flags(flags),
    }
}

/// One message of a delivery (the delivered one, or one it causes), sealed and with its
/// local copies resolved: what each backend stores in the delivery's transaction.
pub struct SealedMessage<'d> {
    /// The message with its copies and queue entries.
    pub delivery: &'d Delivery,
    /// Its local copies, normalised ([`delivery_targets`]), before its redirects.
    pub targets: Vec<DeliveryTarget>,
    /// The body's id.
    pub blob: BlobId,
    /// The body sealed with [`crate::shared::blob_aad`].
    pub sealed: Vec<u8>,
}

/// What one message stores once its redirects are decided: its copies and queue entries,
/// with those of the redirects carried out and the copies filed instead of the others.
pub struct Settled<'d> {
    /// The local copies, normalised.
    pub targets: Vec<DeliveryTarget>,
    /// The queue entries.
    pub queue: Vec<&'d QueueEntry>,
}

impl Settled<'_> {
    /// References the body gets: one per copy and per queue entry.
    pub fn refs(&self) -> usize {
        self.targets.len() + self.queue.len()
    }
}

impl<'d> SealedMessage<'d> {
    /// Seals `delivery`'s body and resolves its copies (before any transaction starts).
    pub fn seal(sealer: &crate::crypto::Sealer, delivery: &'d Delivery) -> Result<Self> {
        let blob = BlobId::of(&delivery.body);
        let sealed = sealer.seal(&crate::sled_store::blob_aad(&blob), &delivery.body)?;
        Ok(SealedMessage {
            delivery,
            targets: delivery_targets(delivery),
            blob,
            sealed,
        })
    }

    /// Whether the message has nothing to store, whichever way its redirects go.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
            && self.delivery.queue.is_empty()
            && self.delivery.redirects.is_empty()
    }

    /// Every local copy the message may make, whichever way its redirects go: the
    /// mailboxes a backend locks, the accounts whose quota it reads.
    pub fn possible_targets(&self) -> Vec<DeliveryTarget> {
        let mut all = self.targets.clone();
        for r in &self.delivery.redirects {
            all.extend(r.copies.iter().map(target_of));
            all.push(target_of(&r.instead));
        }
        all
    }

    /// What the message stores when `carried_out[i]` says whether its redirect `i` goes
    /// ahead. A copy filed instead of a redirect is left out where the message already
    /// has one for that account and mailbox (a script with `keep`, or two redirects past
    /// the cap).
    pub fn settled(&self, carried_out: &[bool]) -> Settled<'d> {
        let mut settled = Settled {
            targets: self.targets.clone(),
            queue: self.delivery.queue.iter().collect(),
        };
        for (r, carried_out) in self.delivery.redirects.iter().zip(carried_out) {
            if *carried_out {
                settled.targets.extend(r.copies.iter().map(target_of));
                settled.queue.extend(&r.queue);
                continue;
            }
            let instead = target_of(&r.instead);
            let same =
                |t: &DeliveryTarget| t.account == instead.account && t.mailbox == instead.mailbox;
            if !settled.targets.iter().any(same) {
                settled.targets.push(instead);
            }
        }
        settled
    }
}
