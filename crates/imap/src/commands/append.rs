//! APPEND (RFC 3501 §6.3.11) with APPENDUID (RFC 4315 §3) and APPENDLIMIT (RFC 7889).

use std::num::NonZeroU32;

use certmail_session::Change;
use certmail_store::NewMessage;
use imap_codec::imap_types::{
    core::Tag, datetime::DateTime, extensions::binary::LiteralOrLiteral8, flag::Flag,
    mailbox::Mailbox, response::Code,
};

use super::{Outcome, store_error};
use crate::mailbox::strings_of;
use crate::proto::flags::client_flags;
use crate::{account::SignedIn, out::Out};

/// APPEND one message. OK only after the store returned (the message is on disk).
pub async fn append(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
    message_flags: Vec<Flag<'static>>,
    date: Option<DateTime>,
    message: LiteralOrLiteral8<'static>,
) -> Outcome {
    let body = match message {
        LiteralOrLiteral8::Literal(literal) => literal.into_inner().into_owned(),
        LiteralOrLiteral8::Literal8(literal) => literal.data.into_owned(),
    };
    if body.len() as u64 > u64::from(s.account.ctx.settings.append_limit) {
        // RFC 7889 §4: over APPENDLIMIT.
        out.no(
            tag,
            Some(Code::TooBig),
            "The message is larger than APPENDLIMIT",
        );
        return Outcome::Done;
    }
    let Some(target) = super::existing_target(s, out, &tag, "APPEND", mailbox).await else {
        return Outcome::Done;
    };
    let (owner, name) = (target.owner.clone(), target.name.clone());
    match s.account.ctx.within_quota(&owner, body.len() as u64).await {
        Ok(true) => {}
        Ok(false) => {
            out.no(
                tag,
                Some(Code::OverQuota),
                "Your mailbox is full; delete some mail first",
            );
            return Outcome::Done;
        }
        Err(e) => {
            store_error(out, tag, "APPEND", &e);
            return Outcome::Done;
        }
    }
    let internal_date = date.map_or_else(certmail_auth::now, |d| d.as_ref().timestamp());
    let flags =
        crate::shared::allowed_flags(target.rights, strings_of(&client_flags(&message_flags)));
    let (flags, seen) = crate::mailbox::seen::split_for(&owner, s.account_id(), flags);
    let new = NewMessage {
        body,
        flags,
        internal_date,
    };
    match append_as(s, &owner, &name, new, seen).await {
        Ok((uid_validity, uid)) => {
            if target.shared {
                crate::shared::audit_use(s, &target, "APPEND").await;
            }
            let change = Change::Exists {
                mailbox: name.clone(),
                uid,
            };
            s.publish_on(&owner, change);
            if let Some(selected) = &mut s.selected
                && selected.name == name
                && selected.owner == owner
            {
                // RFC 3501 §6.3.11: the client hears EXISTS for its selected mailbox.
                selected.note_own_append();
            }
            let code = match (NonZeroU32::new(uid_validity), NonZeroU32::new(uid)) {
                (Some(uid_validity), Some(uid)) => Some(Code::AppendUid { uid_validity, uid }),
                _ => None,
            };
            out.ok(tag, code, "APPEND completed");
        }
        Err(e) => store_error(out, tag, "APPEND", &e),
    }
    Outcome::Done
}

/// Appends `new` to `owner`'s mailbox `name`, then marks it in the signed-in user's own
/// `\Seen` set when `seen` (someone else's mailbox, [`crate::mailbox::seen`]); returns
/// (UIDVALIDITY, UID).
pub(crate) async fn append_as(
    s: &SignedIn,
    owner: &str,
    name: &str,
    new: NewMessage,
    seen: bool,
) -> Result<(u32, u32), certmail_store::StoreError> {
    let store = s.account.ctx.store.as_ref();
    let (uid_validity, uid, _modseq) = store.append(owner, name, new).await?;
    if seen {
        crate::mailbox::seen::store_seen(store, owner, name, s.account_id(), &[uid], true).await?;
    }
    Ok((uid_validity, uid))
}
