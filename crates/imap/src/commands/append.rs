//! APPEND (RFC 3501 §6.3.11) of one message or several (RFC 3502 MULTIAPPEND), with
//! APPENDUID (RFC 4315 §3) and APPENDLIMIT (RFC 7889).

use std::num::NonZeroU32;

use certmail_session::Change;
use certmail_store::NewMessage;
use imap_codec::imap_types::{
    core::Tag,
    datetime::DateTime,
    extensions::binary::LiteralOrLiteral8,
    flag::Flag,
    mailbox::Mailbox,
    response::{Code, CodeOther},
};

use super::catenate::{self, Refusal};
use super::{Outcome, store_error};
use crate::mailbox::strings_of;
use crate::proto::ext::{AppendContent, AppendRequest};
use crate::proto::flags::client_flags;
use crate::{account::SignedIn, out::Out};

/// One message of an APPEND as the client sent it.
#[derive(Debug)]
struct Incoming {
    flags: Vec<Flag<'static>>,
    date: Option<DateTime>,
    content: AppendContent,
}

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
    let incoming = Incoming {
        flags: message_flags,
        date,
        content: AppendContent::Literal(body),
    };
    append_messages(s, out, tag, mailbox, vec![incoming]).await
}

/// APPEND with several messages (RFC 3502 MULTIAPPEND) or CATENATE (RFC 4469): all of
/// them or none, with consecutive UIDs, `OK [APPENDUID validity uid-set]` (RFC 4315 §3).
pub async fn multiappend(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    request: AppendRequest,
) -> Outcome {
    let messages = request.messages.into_iter().map(|m| Incoming {
        flags: m.flags,
        date: m.date,
        content: m.content,
    });
    append_messages(s, out, tag, &request.mailbox, messages.collect()).await
}

async fn append_messages(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
    mut messages: Vec<Incoming>,
) -> Outcome {
    let Some(target) = super::existing_target(s, out, &tag, "APPEND", mailbox).await else {
        return Outcome::Done;
    };
    let Some(bodies) = bodies(s, out, &tag, &mut messages).await else {
        return Outcome::Done;
    };
    // The quota is the store's to check, in its transaction (`append_all`).
    let (owner, name) = (target.owner.clone(), target.name.clone());
    let mut news = Vec::with_capacity(messages.len());
    let mut seen = Vec::with_capacity(messages.len());
    for (m, body) in messages.into_iter().zip(bodies) {
        let internal_date = m
            .date
            .map_or_else(certmail_auth::now, |d| d.as_ref().timestamp());
        let flags =
            crate::shared::allowed_flags(target.rights, strings_of(&client_flags(&m.flags)));
        let (flags, own_seen) = crate::mailbox::seen::split_for(&owner, s.account_id(), flags);
        news.push(NewMessage {
            flags,
            internal_date,
            body,
        });
        seen.push(own_seen);
    }
    let (uid_validity, uids) = match append_all(s, &owner, &name, news, &seen).await {
        Ok(appended) => appended,
        Err(e) => {
            store_error(out, tag, "APPEND", &e);
            return Outcome::Done;
        }
    };
    if target.shared {
        crate::shared::audit_use(s, &target, "APPEND").await;
    }
    for &uid in &uids {
        let mailbox = name.clone();
        s.publish_on(&owner, Change::Exists { mailbox, uid });
    }
    if let Some(selected) = &mut s.selected
        && selected.name == name
        && selected.owner == owner
    {
        // RFC 3501 §6.3.11: the client hears EXISTS for its selected mailbox.
        selected.note_own_append();
    }
    out.ok(tag, append_uid(uid_validity, &uids), "APPEND completed");
    Outcome::Done
}

/// Each message's octets: its literal, or its CATENATE parts joined. `None` when the
/// command is answered: a URL that names nothing readable (`NO [BADURL]`), or a message
/// over APPENDLIMIT (`NO [TOOBIG]`, RFC 7889 §4, RFC 4469 §6).
async fn bodies(
    s: &SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    messages: &mut [Incoming],
) -> Option<Vec<Vec<u8>>> {
    let limit = s.account.ctx.settings.append_limit;
    let mut bodies = Vec::with_capacity(messages.len());
    for m in messages {
        let body = match &mut m.content {
            // Taken, not copied: a literal may be APPENDLIMIT long.
            AppendContent::Literal(body) => std::mem::take(body),
            AppendContent::Catenate(parts) => match catenate::assemble(s, parts.clone()).await {
                Ok(body) => body,
                Err(Refusal::BadUrl(url, why)) => {
                    out.no(tag.clone(), Some(Refusal::code(&url)), &why);
                    return None;
                }
                Err(Refusal::Store(e)) => {
                    store_error(out, tag.clone(), "APPEND", &e);
                    return None;
                }
            },
        };
        if body.len() as u64 > u64::from(limit) {
            let text = format!("The message is larger than APPENDLIMIT ({limit} octets)");
            out.no(tag.clone(), Some(Code::TooBig), &text);
            return None;
        }
        bodies.push(body);
    }
    Some(bodies)
}

/// `APPENDUID validity uid` or, for several messages, `APPENDUID validity uid-set`
/// (RFC 4315 §3, which imap-codec's code cannot hold).
fn append_uid(uid_validity: u32, uids: &[u32]) -> Option<Code<'static>> {
    match uids {
        [uid] => Some(Code::AppendUid {
            uid_validity: NonZeroU32::new(uid_validity)?,
            uid: NonZeroU32::new(*uid)?,
        }),
        _ => {
            let set = crate::proto::ext::encode::sequence_set(uids);
            let text = format!("APPENDUID {uid_validity} {set}");
            Some(Code::Other(CodeOther::unvalidated(text.into_bytes())))
        }
    }
}

/// Appends `news` to `owner`'s mailbox `name` in one transaction, then marks those whose
/// `seen` is true in the signed-in user's own `\Seen` set; returns (UIDVALIDITY, UIDs).
async fn append_all(
    s: &SignedIn,
    owner: &str,
    name: &str,
    news: Vec<NewMessage>,
    seen: &[bool],
) -> Result<(u32, Vec<u32>), certmail_store::StoreError> {
    let store = s.account.ctx.store.as_ref();
    let appended = store
        .append_many(owner, name, news, s.account.ctx.quota())
        .await?;
    let uid_validity = appended.first().map_or(0, |a| a.0);
    let uids: Vec<u32> = appended.iter().map(|a| a.1).collect();
    let own_seen: Vec<u32> = uids
        .iter()
        .zip(seen)
        .filter_map(|(&uid, &seen)| seen.then_some(uid))
        .collect();
    if !own_seen.is_empty() {
        let reader = s.account_id();
        crate::mailbox::seen::store_seen(store, owner, name, reader, &own_seen, true).await?;
    }
    Ok((uid_validity, uids))
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
    let appended = store.append_many(owner, name, vec![new], s.account.ctx.quota());
    let (uid_validity, uid, _modseq) =
        (appended.await?.into_iter().next()).ok_or(certmail_store::StoreError::MessageNotFound)?;
    if seen {
        crate::mailbox::seen::store_seen(store, owner, name, s.account_id(), &[uid], true).await?;
    }
    Ok((uid_validity, uid))
}
