//! LIST and LSUB (RFC 3501 §6.3.8, §6.3.9) with the CHILDREN (RFC 3348) and SPECIAL-USE
//! (RFC 6154) attributes.

use certmail_store::{MAILBOX_DELIMITER, Mailbox as StoredMailbox};
use imap_codec::imap_types::{
    core::{Atom, QuotedChar, Tag},
    flag::FlagNameAttribute,
    mailbox::{ListMailbox, Mailbox},
    response::Data,
};

use super::{Outcome, store_error};
use crate::proto::mailbox_name as name;
use crate::{account::SignedIn, out::Out};

/// LIST (`lsub` false) or LSUB.
pub async fn list(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    reference: &Mailbox<'static>,
    pattern: &ListMailbox<'static>,
    lsub: bool,
) -> Outcome {
    let pattern_bytes: &[u8] = match pattern {
        ListMailbox::Token(token) => token.as_ref(),
        ListMailbox::String(string) => string.as_ref(),
    };
    let reference = match reference {
        Mailbox::Inbox => certmail_store::INBOX.to_owned(),
        Mailbox::Other(other) => name::decode_utf7(other.as_ref()).unwrap_or_default(),
    };
    let Ok(pattern) = name::decode_utf7(pattern_bytes) else {
        out.ok(tag, None, "LIST completed");
        return Outcome::Done;
    };
    let command = if lsub { "LSUB" } else { "LIST" };
    if pattern.is_empty() && !lsub {
        return list_root(out, tag);
    }
    let full_pattern = name::list_pattern(&reference, &pattern);
    let store = s.account.ctx.store.as_ref();
    let delimiter = Some(QuotedChar::unvalidated(MAILBOX_DELIMITER));
    if lsub {
        // LSUB answers from the subscription list, which keeps names whose mailbox was
        // deleted (RFC 3501 §6.3.6); another person's mailbox only while the user may
        // still see it.
        let subscribed = match subscribed_visible(s).await {
            Ok(list) => list,
            Err(e) => {
                store_error(out, tag, command, &e);
                return Outcome::Done;
            }
        };
        let names = subscribed.iter().map(String::as_str);
        for (name, noselect) in lsub_names(names, &full_pattern) {
            let items = if noselect {
                vec![FlagNameAttribute::Noselect]
            } else {
                Vec::new()
            };
            out.data(Data::Lsub {
                items,
                delimiter,
                mailbox: name::encode_mailbox(&name),
            });
        }
    } else {
        let mailboxes = match store.list_mailboxes(s.account_id()).await {
            Ok(list) => list,
            Err(e) => {
                store_error(out, tag, command, &e);
                return Outcome::Done;
            }
        };
        for mailbox in &mailboxes {
            if !name::list_matches(&full_pattern, &mailbox.name) {
                continue;
            }
            out.data(Data::List {
                items: attributes(mailbox, &mailboxes),
                delimiter,
                mailbox: name::encode_mailbox(&mailbox.name),
            });
        }
    }
    out.ok(tag, None, &format!("{command} completed"));
    Outcome::Done
}

/// The account's subscriptions, without the names of other people's mailboxes the user
/// may no longer see ("l" revoked, or the mailbox gone: RFC 4314 §6 does not reveal it).
async fn subscribed_visible(s: &SignedIn) -> Result<Vec<String>, certmail_store::StoreError> {
    let store = s.account.ctx.store.as_ref();
    let mut subscribed = store.subscriptions(s.account_id()).await?;
    if subscribed
        .iter()
        .any(|n| certmail_store::acl::is_other_users_name(n))
    {
        let visible: Vec<String> = crate::shared::visible_shared(store, &s.account.record)
            .await?
            .into_iter()
            .filter(|t| t.rights.has('l'))
            .map(|t| t.client_name())
            .collect();
        subscribed.retain(|n| !certmail_store::acl::is_other_users_name(n) || visible.contains(n));
    }
    Ok(subscribed)
}

/// The names LSUB answers for `pattern`, in name order, each with whether it is flagged
/// \Noselect: the subscribed names that match, and (RFC 3501 §6.3.9) for a subscribed
/// name that does not match, those of its ancestors that do and are not
/// subscribed themselves: with "foo/bar" subscribed and "foo" not, `LSUB "" %` "must
/// return foo, not foo/bar ... and it MUST be flagged with the \Noselect attribute" (even
/// when the mailbox foo exists: LSUB speaks of subscriptions only).
fn lsub_names<'a>(
    subscribed: impl Iterator<Item = &'a str> + Clone,
    pattern: &str,
) -> std::collections::BTreeMap<String, bool> {
    let mut names = std::collections::BTreeMap::new();
    for sub in subscribed.clone() {
        if name::list_matches(pattern, sub) {
            names.insert(sub.to_owned(), false);
            continue;
        }
        let ancestors = sub
            .match_indices(MAILBOX_DELIMITER)
            .map(|(at, _)| &sub[..at]);
        for parent in ancestors {
            if name::list_matches(pattern, parent) && !subscribed.clone().any(|s| s == parent) {
                names.entry(parent.to_owned()).or_insert(true);
            }
        }
    }
    names
}

/// \HasChildren or \HasNoChildren, and the special-use attribute.
fn attributes(mailbox: &StoredMailbox, all: &[StoredMailbox]) -> Vec<FlagNameAttribute<'static>> {
    let prefix = format!("{}{MAILBOX_DELIMITER}", mailbox.name);
    let has_children = all.iter().any(|m| m.name.starts_with(&prefix));
    let mut items = vec![extension(if has_children {
        "HasChildren"
    } else {
        "HasNoChildren"
    })];
    if let Some(special) = mailbox.special_use {
        items.push(extension(special.as_attr().trim_start_matches('\\')));
    }
    items
}

fn extension(name: &str) -> FlagNameAttribute<'static> {
    FlagNameAttribute::from(Atom::try_from(name.to_owned()).expect("attribute names are atoms"))
}

/// RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root.
pub(crate) fn list_root(out: &mut Out, tag: Tag<'static>) -> Outcome {
    out.data(Data::List {
        items: vec![FlagNameAttribute::Noselect],
        delimiter: Some(QuotedChar::unvalidated(MAILBOX_DELIMITER)),
        mailbox: Mailbox::try_from("").unwrap_or(Mailbox::Inbox),
    });
    out.ok(tag, None, "LIST completed");
    Outcome::Done
}
