//! The ACL commands (RFC 4314 §3): SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS, on the
//! user's own mailboxes and on those others shared with them (`Other Users/...`, see
//! [`crate::shared`]). Changing or reading an ACL needs "a"; MYRIGHTS needs any right.
//! A mailbox's list holds at most `[imap] max_acl_entries` entries: SETACL naming one more
//! is `NO [LIMIT]`.

use certmail_store::acl::{
    ALL_RIGHTS, AclChange, AclUpdate, RightsChange, cap_refusal, normalize_identifier,
};
use certmail_store::{Rights, StoreError};
use imap_codec::imap_types::core::Tag;

use super::{Outcome, store_error};
use crate::proto::ext::{AclRequest, encode, mailbox_name};
use crate::proto::mailbox_name as name;
use crate::shared::{Target, audit, resolve};
use crate::{account::SignedIn, out::Out};

/// Runs one ACL command.
pub async fn acl(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    request: &AclRequest,
) -> Outcome {
    let command = request.name();
    let Ok(client_name) = mailbox_name(request.mailbox()) else {
        out.no_code(tag, "NONEXISTENT", "No such mailbox");
        return Outcome::Done;
    };
    let store = s.account.ctx.store.as_ref();
    let target = match resolve(store, &s.account.record, &client_name).await {
        Ok(target) => target,
        Err(e) => {
            store_error(out, tag, command, &e);
            return Outcome::Done;
        }
    };
    let wire = if s.enabled.imap4rev2 {
        string(&client_name)
    } else {
        string(&name::encode_utf7(&client_name))
    };
    // RFC 4314 §3.5: any right lets the user ask what they hold (MYRIGHTS); §3.1-§3.4:
    // the other commands need "a" (administer).
    let is_myrights = matches!(request, AclRequest::MyRights { .. });
    if !is_myrights && !target.require('a', "read or change who may use it", out, &tag) {
        return Outcome::Done;
    }
    let result = match request {
        AclRequest::GetAcl { .. } => get_acl(s, &target, &wire)
            .await
            .map(|line| vec![line])
            .map_err(Refused::from),
        AclRequest::ListRights { identifier, .. } => {
            Ok(vec![list_rights(&target, identifier, &wire)])
        }
        AclRequest::SetAcl {
            identifier,
            change,
            rights,
            ..
        } => match Rights::parse(rights) {
            Ok(rights) => set_acl(s, &target, identifier, *change, rights)
                .await
                .map(|()| vec![]),
            Err(e) => {
                // RFC 4314 §3.1: an unknown right is the client's syntax error.
                out.bad(tag, &e.to_string());
                return Outcome::Bad;
            }
        },
        AclRequest::DeleteAcl { identifier, .. } => {
            set_acl(s, &target, identifier, RightsChange::Replace, Rights::NONE)
                .await
                .map(|()| vec![])
        }
        AclRequest::MyRights { .. } => {
            let rights = string(&target.rights.to_string());
            Ok(vec![format!("* MYRIGHTS {wire} {rights}\r\n")])
        }
    };
    match result {
        Ok(lines) => {
            for line in lines {
                out.raw_line(line.into_bytes());
            }
            out.ok(tag, None, &format!("{command} completed"));
        }
        Err(Refused::Store(StoreError::InvalidAcl(why))) => {
            out.no_code(tag, "CANNOT", &capitalised(&why))
        }
        // RFC 5530 §3: LIMIT, a server limit the command would pass.
        Err(Refused::Limit(why)) => out.no_code(tag, "LIMIT", &capitalised(&why)),
        Err(Refused::Store(e)) => store_error(out, tag, command, &e),
    }
    Outcome::Done
}

/// An `astring` (RFC 9051 §9): an atom when it can be (`kim`, `lrs`), else a string.
fn string(text: &str) -> String {
    let atom = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b));
    if atom {
        text.to_owned()
    } else {
        encode::string(text)
    }
}

pub(super) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `* ACL mailbox owner lrswipkxtea id rights ...`: the owner's implicit rights first.
async fn get_acl(s: &SignedIn, target: &Target, wire: &str) -> Result<String, StoreError> {
    let entries = s.account.ctx.store.acl(&target.owner, &target.name).await?;
    let mut line = format!("* ACL {wire} {} {ALL_RIGHTS}", string(&target.owner));
    for entry in entries {
        line.push_str(&format!(
            " {} {}",
            string(&entry.identifier),
            string(&entry.rights.to_string())
        ));
    }
    line.push_str("\r\n");
    Ok(line)
}

/// `* LISTRIGHTS`: the owner holds every right and nothing can change that; anyone else
/// may be given any right on its own (RFC 4314 §3.4).
fn list_rights(target: &Target, identifier: &str, wire: &str) -> String {
    let id = identifier.trim().to_lowercase();
    if id == target.owner {
        return format!(
            "* LISTRIGHTS {wire} {} {ALL_RIGHTS}\r\n",
            string(identifier)
        );
    }
    let each: Vec<String> = ALL_RIGHTS.chars().map(String::from).collect();
    format!(
        "* LISTRIGHTS {wire} {} \"\" {}\r\n",
        string(identifier),
        each.join(" ")
    )
}

/// Why an ACL command did not run.
enum Refused {
    /// The list is at `[imap] max_acl_entries`: the sentence saying so.
    Limit(String),
    /// The store's answer.
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Refused {
        Refused::Store(e)
    }
}

/// SETACL and DELETEACL: the identifier's new rights, written and audited.
async fn set_acl(
    s: &SignedIn,
    target: &Target,
    identifier: &str,
    change: RightsChange,
    rights: Rights,
) -> Result<(), Refused> {
    let identifier = normalize_identifier(identifier)?;
    if identifier == target.owner {
        return Err(Refused::Store(StoreError::InvalidAcl(format!(
            "{identifier} owns this mailbox and always holds every right"
        ))));
    }
    let store = s.account.ctx.store.as_ref();
    let cap = s.account.ctx.settings.max_acl_entries;
    let new = match store
        .change_acl(
            &target.owner,
            &target.name,
            AclChange::new(&identifier, change, rights, cap),
        )
        .await?
    {
        AclUpdate::Set(new) => new,
        // IMAP status text is ASCII (RFC 3501 §9 TEXT-CHAR): the mailbox is not named.
        AclUpdate::Full { entries } => {
            return Err(Refused::Limit(cap_refusal(entries, cap, "This mailbox")));
        }
    };
    let fields = [("identifier", identifier), ("rights", new.to_string())];
    audit(s, "acl_changed", target, &fields).await;
    Ok(())
}
