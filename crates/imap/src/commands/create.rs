//! CREATE (RFC 3501 §6.3.3), with `(USE (...))` from CREATE-SPECIAL-USE (RFC 6154 §5.2)
//! when our own parser read the command.

use certmail_session::Change;
use certmail_store::SpecialUse;
use imap_codec::imap_types::{core::Tag, mailbox::Mailbox};

use super::{Outcome, store_error};
use crate::proto::ext::{CreateRequest, mailbox_name};
use crate::proto::mailbox_name as name;
use crate::{account::SignedIn, out::Out};

/// CREATE: the mailbox and any missing parents.
pub async fn create(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
) -> Outcome {
    let wire = match mailbox {
        Mailbox::Inbox => Ok("INBOX".to_owned()),
        Mailbox::Other(other) => name::decode_wire(other.as_ref()),
    };
    create_named(s, out, tag, wire.ok(), None).await
}

/// CREATE as our own parser read it, with its special use (RFC 6154 §5.2).
pub async fn create_with_use(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    request: &CreateRequest,
) -> Outcome {
    let special_use = match request.special_use.as_slice() {
        [] => None,
        [one] => match SpecialUse::from_attr(one) {
            Some(special) => Some(special),
            None => {
                // RFC 6154 §6: USEATTR for a special use we do not support.
                out.no_code(tag, "USEATTR", "That special use is not supported");
                return Outcome::Done;
            }
        },
        _ => {
            out.no_code(tag, "USEATTR", "A mailbox can have one special use here");
            return Outcome::Done;
        }
    };
    let wire = mailbox_name(&request.mailbox).ok();
    create_named(s, out, tag, wire, special_use).await
}

async fn create_named(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    wire: Option<String>,
    special_use: Option<SpecialUse>,
) -> Outcome {
    // RFC 3501 §6.3.3: a trailing delimiter declares the intent to create children; the
    // name itself is created without it.
    let valid = wire.map(|n| n.trim_end_matches(name::DELIMITER).to_owned());
    let Some(name) = valid.filter(|n| name::check_name(n).is_ok()) else {
        out.no_code(tag, "CANNOT", "That is not a valid mailbox name");
        return Outcome::Done;
    };
    if name.eq_ignore_ascii_case(certmail_store::INBOX) {
        out.no_code(tag, "ALREADYEXISTS", "INBOX always exists");
        return Outcome::Done;
    }
    let store = s.account.ctx.store.as_ref();
    let target = match crate::shared::resolve_new(store, &s.account.record, &name).await {
        Ok(target) => target,
        Err(e) => {
            store_error(out, tag, "CREATE", &e);
            return Outcome::Done;
        }
    };
    // RFC 4314 §4: CREATE needs "k" on the parent.
    if !target.require('k', "create mailboxes", out, &tag) {
        return Outcome::Done;
    }
    match store
        .create_mailbox(&target.owner, &target.name, special_use)
        .await
    {
        Ok(_) => {
            if target.shared {
                crate::shared::audit_use(s, &target, "CREATE").await;
            }
            let change = Change::MailboxCreated {
                mailbox: target.name,
            };
            s.publish_on(&target.owner, change);
            out.ok(tag, None, "CREATE completed");
        }
        Err(e) => store_error(out, tag, "CREATE", &e),
    }
    Outcome::Done
}
