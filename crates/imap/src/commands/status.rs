//! STATUS (RFC 3501 §6.3.10, RFC 9051 §6.3.11 with DELETED; HIGHESTMODSEQ from RFC 7162
//! §3.1.6; SIZE from RFC 8438; DELETED-STORAGE from RFC 9208 §4.2). [`status_values`] also answers LIST-STATUS (RFC 5819).

use std::borrow::Cow;
use std::num::NonZeroU32;

use certmail_store::{Mailbox as StoredMailbox, StoreError};
use imap_codec::imap_types::{
    core::Tag,
    mailbox::Mailbox,
    response::Data,
    status::{StatusDataItem, StatusDataItemName},
};

use super::{Outcome, store_error};
use crate::proto::mailbox_name as name;
use crate::{account::SignedIn, out::Out};

/// STATUS of a mailbox (the selected one too; RFC 3501 allows it).
pub async fn status(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
    items: &[StatusDataItemName],
) -> Outcome {
    let Some(name) = name::decode_mailbox(mailbox).ok() else {
        out.no_code(tag, "NONEXISTENT", "No such mailbox");
        return Outcome::Done;
    };
    let store = s.account.ctx.store.as_ref();
    let target = match crate::shared::resolve(store, &s.account.record, &name).await {
        Ok(target) => target,
        Err(e) => {
            store_error(out, tag, "STATUS", &e);
            return Outcome::Done;
        }
    };
    // RFC 4314 §4: STATUS needs "r".
    if !target.require('r', "read the status", out, &tag) {
        return Outcome::Done;
    }
    let record = match store.mailbox(&target.owner, &target.name).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            out.no_code(tag, "NONEXISTENT", "No such mailbox");
            return Outcome::Done;
        }
        Err(e) => {
            store_error(out, tag, "STATUS", &e);
            return Outcome::Done;
        }
    };
    // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) enables CONDSTORE; the first enabling command
    // with a mailbox selected announces that mailbox's HIGHESTMODSEQ.
    if asks_highest_modseq(items) {
        s.enable_condstore(out).await;
    }
    match status_values(s, &target.owner, &record, items).await {
        Ok(values) => {
            out.data(Data::Status {
                mailbox: name::encode_mailbox(&name),
                items: Cow::Owned(values),
            });
            out.ok(tag, None, "STATUS completed");
        }
        Err(e) => store_error(out, tag, "STATUS", &e),
    }
    Outcome::Done
}

/// True when `items` ask for HIGHESTMODSEQ, which makes the command CONDSTORE-enabling
/// (the caller then calls [`SignedIn::enable_condstore`] before answering).
pub fn asks_highest_modseq(items: &[StatusDataItemName]) -> bool {
    items.contains(&StatusDataItemName::HighestModSeq)
}

/// The values of `items` for one mailbox of `owner`.
pub async fn status_values(
    s: &mut SignedIn,
    owner: &str,
    record: &StoredMailbox,
    items: &[StatusDataItemName],
) -> Result<Vec<StatusDataItem>, StoreError> {
    let needs_messages = items.iter().any(|i| {
        matches!(
            i,
            StatusDataItemName::Unseen
                | StatusDataItemName::Recent
                | StatusDataItemName::Deleted
                | StatusDataItemName::DeletedStorage
        )
    });
    let metas = if needs_messages {
        let store = s.account.ctx.store.as_ref();
        let reader = crate::mailbox::seen::reader_of(owner, s.account_id());
        crate::mailbox::seen::messages_as(store, owner, &record.name, reader, 1..=u32::MAX).await?
    } else {
        Vec::new()
    };
    let count = |pred: &dyn Fn(&certmail_store::MessageMeta) -> bool| {
        u32::try_from(metas.iter().filter(|m| pred(m)).count()).unwrap_or(u32::MAX)
    };
    let claimed = s.account.ctx.recent.peek(owner, record.uid_validity);
    let mut values = Vec::new();
    for item in items {
        let value = match item {
            StatusDataItemName::Messages => StatusDataItem::Messages(record.exists),
            StatusDataItemName::UidNext => {
                StatusDataItem::UidNext(NonZeroU32::new(record.uid_next).unwrap_or(NonZeroU32::MIN))
            }
            StatusDataItemName::UidValidity => StatusDataItem::UidValidity(
                NonZeroU32::new(record.uid_validity).unwrap_or(NonZeroU32::MIN),
            ),
            StatusDataItemName::Unseen => StatusDataItem::Unseen(count(&|m| !m.has_flag("\\Seen"))),
            StatusDataItemName::Recent => StatusDataItem::Recent(count(&|m| m.uid > claimed)),
            // RFC 9051 §6.3.11: messages with \Deleted.
            StatusDataItemName::Deleted => {
                StatusDataItem::Deleted(count(&|m| m.has_flag("\\Deleted")))
            }
            StatusDataItemName::HighestModSeq => {
                StatusDataItem::HighestModSeq(record.highest_modseq)
            }
            // RFC 8438 §3: the total octets of the mailbox's messages (RFC822.SIZE each).
            StatusDataItemName::Size => StatusDataItem::Size(record.size),
            // RFC 9208 §4.2: the storage EXPUNGE would reclaim; we answer the sum of the
            // RFC822.SIZEs of the messages with \Deleted, which §4.2 allows.
            StatusDataItemName::DeletedStorage => StatusDataItem::DeletedStorage(
                metas
                    .iter()
                    .filter(|m| m.has_flag("\\Deleted"))
                    .map(|m| m.size)
                    .sum(),
            ),
        };
        values.push(value);
    }
    Ok(values)
}
