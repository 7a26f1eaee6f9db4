//! CREATE (RFC 3501 §6.3.3).

use certmail_session::Change;
use imap_codec::imap_types::{core::Tag, mailbox::Mailbox};

use super::{Outcome, store_error};
use crate::mailbox::name;
use crate::server::{Out, SignedIn};

/// CREATE: the mailbox and any missing parents.
pub async fn create(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    mailbox: &Mailbox<'static>,
) -> Outcome {
    let Some(name) = name::from_wire(mailbox).map(trim_delimiter) else {
        out.no_code(tag, "CANNOT", "That is not a valid mailbox name");
        return Outcome::Done;
    };
    if name == certmail_store::INBOX {
        out.no_code(tag, "ALREADYEXISTS", "INBOX always exists");
        return Outcome::Done;
    }
    let store = s.ctx.store.as_ref();
    match store.create_mailbox(s.account_id(), &name, None).await {
        Ok(_) => {
            s.publish(Change::MailboxCreated { mailbox: name });
            out.ok(tag, None, "CREATE completed");
        }
        Err(e) => store_error(out, tag, "CREATE", &e),
    }
    Outcome::Done
}

/// RFC 3501 §6.3.3: a trailing delimiter declares the intent to create children; the
/// name itself is created without it.
fn trim_delimiter(name: String) -> String {
    name.trim_end_matches(certmail_store::MAILBOX_DELIMITER)
        .to_owned()
}
