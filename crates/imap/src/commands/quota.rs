//! GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208): one quota root, `""`, holds every
//! mailbox of the account; its one resource is STORAGE, in units of 1024 octets, against
//! the per-account quota SMTP delivery enforces (`[smtp] quota_bytes`). Users may not change
//! it (SETQUOTA is refused). With no quota configured there is no quota root, nor for a
//! mailbox another person shares with the user.

use imap_codec::imap_types::{
    core::{AString, Tag, Vec1},
    extensions::quota::{QuotaGet, QuotaSet, Resource},
    mailbox::Mailbox,
    response::Data,
};

use super::{Outcome, store_error};
use crate::proto::mailbox_name::decode_mailbox;
use crate::{account::SignedIn, out::Out};

/// The one quota root's name.
const ROOT: &str = "";

/// GETQUOTA root (RFC 9208 §4.2).
pub async fn get_quota(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    root: &AString<'static>,
) -> Outcome {
    if s.account.ctx.settings.quota_bytes == 0 || root.as_ref() != ROOT.as_bytes() {
        out.no_code(tag, "NONEXISTENT", "No such quota root");
        return Outcome::Done;
    }
    match storage_quota(s).await {
        Ok(data) => {
            out.data(data);
            out.ok(tag, None, "GETQUOTA completed");
        }
        Err(e) => store_error(out, tag, "GETQUOTA", &e),
    }
    Outcome::Done
}

/// GETQUOTAROOT mailbox (RFC 9208 §4.3): the mailbox's roots, then each root's quota.
pub async fn get_quota_root(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
) -> Outcome {
    // A mailbox shared with the user (Other Users/…) exists for them (Thunderbird asks
    // after SELECT of it) but is in no quota root of theirs: the owner's quota is the
    // owner's.
    let store = s.account.ctx.store.as_ref();
    let exists = match decode_mailbox(mailbox) {
        Ok(name) => match crate::shared::resolve(store, &s.account.record, &name).await {
            Ok(target) => store
                .mailbox(&target.owner, &target.name)
                .await
                .map(|found| found.map(|_| target.shared)),
            Err(certmail_store::StoreError::MailboxNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        },
        Err(_) => Ok(None),
    };
    let shared = match exists {
        Ok(Some(shared)) => shared,
        Ok(None) => {
            out.no_code(tag, "NONEXISTENT", "No such mailbox");
            return Outcome::Done;
        }
        Err(e) => {
            store_error(out, tag, "GETQUOTAROOT", &e);
            return Outcome::Done;
        }
    };
    let limited = s.account.ctx.settings.quota_bytes > 0 && !shared;
    let roots = if limited { vec![root()] } else { Vec::new() };
    out.data(Data::QuotaRoot {
        mailbox: mailbox.clone(),
        roots,
    });
    if limited {
        match storage_quota(s).await {
            Ok(data) => out.data(data),
            Err(e) => {
                store_error(out, tag, "GETQUOTAROOT", &e);
                return Outcome::Done;
            }
        }
    }
    out.ok(tag, None, "GETQUOTAROOT completed");
    Outcome::Done
}

/// SETQUOTA (RFC 9208 §4.1.3): the administrator sets quotas, never the user.
pub fn set_quota(out: &mut Out, tag: Tag<'static>, _quotas: &[QuotaSet<'static>]) -> Outcome {
    out.no_code(
        tag,
        "NOPERM",
        "Quotas are set by the administrator, not by users",
    );
    Outcome::Done
}

fn root() -> AString<'static> {
    AString::try_from(ROOT).expect("the empty string is a valid quoted string")
}

/// `* QUOTA "" (STORAGE used limit)`, in KiB (usage rounded up, limit down).
async fn storage_quota(s: &SignedIn) -> Result<Data<'static>, certmail_store::StoreError> {
    let used = s.account.ctx.store.account_usage(s.account_id()).await?;
    let quota = QuotaGet::new(
        Resource::Storage,
        used.div_ceil(1024),
        s.account.ctx.settings.quota_bytes / 1024,
    );
    Ok(Data::Quota {
        root: root(),
        quotas: Vec1::from(quota),
    })
}
