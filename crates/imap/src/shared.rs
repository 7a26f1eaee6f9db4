//! Shared mailboxes (RFC 4314 ACL, RFC 2342 namespaces): how a client's mailbox name maps
//! to an owner and a store name, and what the signed-in user may do there.
//!
//! Another person's mailbox appears as `Other Users/<owner>/<name>` (the "other users"
//! namespace advertised by NAMESPACE). The owner of a mailbox holds every right; anyone
//! else holds the union of the ACL entries naming them, their organisation (`org:ORG`) or
//! `anyone`. A mailbox on which someone holds no right at all does not exist for them
//! (RFC 4314 §6: its existence is not revealed); one they may see but not use is refused
//! with `NO [NOPERM]` and a sentence naming the missing right.
//!
//! `\Seen` is kept per user on shared mailboxes (RFC 4314 §4 leaves it to the server): the
//! owner's `\Seen` is the message's flag; every other reader has a `\Seen` set of their
//! own, so a secretary reading the director's mail leaves it unread for the director.
//! [`crate::mailbox::seen`] reads and writes it for every command that shows or sets
//! flags; the other flags are the message's, shared by everyone.

use certmail_store::acl::identifiers_of;
use certmail_store::{Account, MAILBOX_DELIMITER, Rights, Store, StoreError};
use imap_codec::imap_types::core::Tag;

use crate::out::Out;

/// The other users namespace's prefix (without its trailing delimiter).
pub const OTHER_USERS: &str = "Other Users";

/// A mailbox as a command addresses it: whose it is, its name there, and what the
/// signed-in user may do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The owning account's id.
    pub owner: String,
    /// The mailbox's name in the owner's account.
    pub name: String,
    /// The signed-in user's rights on it.
    pub rights: Rights,
    /// Whether it belongs to someone else.
    pub shared: bool,
}

impl Target {
    /// The user's own mailbox `name`: every right.
    pub fn own(owner: &str, name: &str) -> Target {
        Target {
            owner: owner.to_owned(),
            name: name.to_owned(),
            rights: Rights::ALL,
            shared: false,
        }
    }

    /// `owner`'s mailbox `name` as `me` reaches it, with `rights`.
    fn of(owner: String, name: &str, rights: Rights, me: &str) -> Target {
        Target {
            shared: owner != me,
            owner,
            name: name.to_owned(),
            rights,
        }
    }

    /// The selected mailbox as `me` reaches it.
    pub fn selected(selected: &crate::mailbox::Selected, me: &str) -> Target {
        Target::of(selected.owner.clone(), &selected.name, selected.rights, me)
    }

    /// The name the client sees.
    pub fn client_name(&self) -> String {
        if self.shared {
            other_users_name(&self.owner, &self.name)
        } else {
            self.name.clone()
        }
    }

    /// Whether the user holds `right`; otherwise answers `NO [NOPERM]` saying which right
    /// `what` needs, and returns false.
    pub fn require(&self, right: char, what: &str, out: &mut Out, tag: &Tag<'static>) -> bool {
        if self.rights.has(right) {
            return true;
        }
        out.no_code(tag.clone(), "NOPERM", &refusal(&self.owner, right, what));
        false
    }
}

/// The sentence of a `NO [NOPERM]`: what was refused, which right it needs and who can
/// grant it.
pub fn refusal(owner: &str, right: char, what: &str) -> String {
    format!(
        "You may not {what} in this mailbox: it needs the \"{right}\" right ({}), which {owner} \
         has not given you; ask {owner} or your administrator to share it with that right",
        right_name(right)
    )
}

/// A right's meaning, as RFC 4314 §2.1 names it.
pub fn right_name(right: char) -> &'static str {
    match right {
        'l' => "lookup",
        'r' => "read",
        's' => "keep seen state",
        'w' => "write flags",
        'i' => "insert",
        'p' => "post",
        'k' => "create mailboxes",
        'x' => "delete mailbox",
        't' => "delete messages",
        'e' => "expunge",
        'a' => "administer",
        _ => "unknown",
    }
}

/// The right a flag needs (RFC 4314 §4, STORE): "s" for `\Seen`, "t" for `\Deleted`,
/// "w" for every other flag and keyword.
pub fn flag_right(flag: &str) -> char {
    if flag.eq_ignore_ascii_case("\\Seen") {
        's'
    } else if flag.eq_ignore_ascii_case("\\Deleted") {
        't'
    } else {
        'w'
    }
}

/// The flags of `flags` the rights allow setting (RFC 4314 §4: APPEND and COPY drop the
/// others silently).
pub fn allowed_flags(rights: Rights, flags: Vec<String>) -> Vec<String> {
    flags
        .into_iter()
        .filter(|f| rights.has(flag_right(f)))
        .collect()
}

/// `Other Users/<owner>/<name>`.
pub fn other_users_name(owner: &str, name: &str) -> String {
    certmail_store::acl::other_users_name(owner, name)
}

/// Splits `Other Users/<owner>/<name>` into owner and name; `None` for the user's own
/// namespace. `Some((owner, ""))` for the owner's level itself.
pub fn split_other_users(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(OTHER_USERS)?;
    if rest.is_empty() {
        return Some(("", ""));
    }
    let rest = rest.strip_prefix(MAILBOX_DELIMITER)?;
    Some(rest.split_once(MAILBOX_DELIMITER).unwrap_or((rest, "")))
}

/// What `account` may do on `owner`'s mailbox `name` (every right if it is their own).
/// `MailboxNotFound` if it does not exist.
pub async fn rights_on(
    store: &dyn Store,
    account: &Account,
    owner: &str,
    name: &str,
) -> Result<Rights, StoreError> {
    if owner.eq_ignore_ascii_case(&account.id) {
        return Ok(Rights::ALL);
    }
    let ids = identifiers_of(&account.id, &account.organisation);
    Ok(store
        .acl(owner, name)
        .await?
        .iter()
        .filter(|e| ids.contains(&e.identifier))
        .fold(Rights::NONE, |all, e| all.union(e.rights)))
}

/// Resolves a client's mailbox name. Another person's mailbox on which the user holds no
/// right is `MailboxNotFound` (its existence is not revealed), as is a name in the other
/// users namespace that names no mailbox.
pub async fn resolve(
    store: &dyn Store,
    account: &Account,
    client_name: &str,
) -> Result<Target, StoreError> {
    let Some((owner, name)) = split_other_users(client_name) else {
        return Ok(Target::own(&account.id, client_name));
    };
    let missing = || StoreError::MailboxNotFound(client_name.to_owned());
    if owner.is_empty() || name.is_empty() {
        return Err(missing());
    }
    let owner = owner.to_lowercase();
    let rights = match rights_on(store, account, &owner, name).await {
        Ok(rights) if !rights.is_empty() => rights,
        Ok(_) | Err(StoreError::MailboxNotFound(_)) => return Err(missing()),
        Err(e) => return Err(e),
    };
    Ok(Target::of(owner, name, rights, &account.id))
}

/// Resolves the name of a mailbox to be made (CREATE, RENAME's new name): the rights are
/// those held on its parent, where RFC 4314 §4 wants "k". A top-level name in another
/// person's account has no parent the user could hold "k" on.
pub async fn resolve_new(
    store: &dyn Store,
    account: &Account,
    client_name: &str,
) -> Result<Target, StoreError> {
    let Some((owner, name)) = split_other_users(client_name) else {
        return Ok(Target::own(&account.id, client_name));
    };
    if owner.is_empty() || name.is_empty() {
        return Err(StoreError::InvalidMailbox {
            name: client_name.to_owned(),
            reason: "new mailboxes go inside one another person shared with you: \
                     Other Users/<owner>/<shared mailbox>/<new name>",
        });
    }
    let owner = owner.to_lowercase();
    let rights = match name.rsplit_once(MAILBOX_DELIMITER) {
        Some((parent, _)) => match rights_on(store, account, &owner, parent).await {
            Ok(rights) => rights,
            Err(StoreError::MailboxNotFound(_)) => Rights::NONE,
            Err(e) => return Err(e),
        },
        None => Rights::NONE,
    };
    Ok(Target::of(owner, name, rights, &account.id))
}

/// The other people's mailboxes `account` holds a right on, as (owner, name, rights), by
/// owner and name.
pub async fn visible_shared(
    store: &dyn Store,
    account: &Account,
) -> Result<Vec<Target>, StoreError> {
    let ids = identifiers_of(&account.id, &account.organisation);
    let mut out: Vec<Target> = Vec::new();
    for entry in store.shared_with(&ids).await? {
        if entry.owner == account.id {
            continue;
        }
        match out.last_mut() {
            Some(t) if t.owner == entry.owner && t.name == entry.mailbox => {
                t.rights = t.rights.union(entry.rights);
            }
            _ => out.push(Target {
                owner: entry.owner,
                name: entry.mailbox,
                rights: entry.rights,
                shared: true,
            }),
        }
    }
    Ok(out)
}

/// Writes an audit event of the signed-in user acting on someone else's mailbox
/// (`kind`: `shared_mailbox_use` for opening or changing it, `acl_changed` for SETACL and
/// DELETEACL). A failure to write it is logged, not answered: the command already ran.
pub async fn audit(
    s: &crate::account::SignedIn,
    kind: &str,
    target: &Target,
    fields: &[(&str, String)],
) {
    let mut all = std::collections::BTreeMap::from([
        ("owner".to_string(), target.owner.clone()),
        ("mailbox".to_string(), target.name.clone()),
        ("protocol".to_string(), "imap".to_string()),
    ]);
    all.extend(fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let event = certmail_store::AuditEvent {
        time: certmail_auth::now() * 1000,
        account: Some(s.account_id().to_owned()),
        kind: kind.to_owned(),
        ip: Some(s.account.guard.device().ip.to_string()),
        fields: all,
    };
    if let Err(e) = s.account.ctx.store.append_audit(event).await {
        tracing::error!(error = %e, kind, "writing a shared-mailbox audit event failed");
    }
}

/// Audits opening (SELECT, EXAMINE) or changing another person's mailbox.
pub async fn audit_use(s: &crate::account::SignedIn, target: &Target, command: &str) {
    audit(
        s,
        "shared_mailbox_use",
        target,
        &[("command", command.to_owned())],
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_users_names_split() {
        assert_eq!(
            split_other_users("Other Users/hong/공유/예산"),
            Some(("hong", "공유/예산"))
        );
        assert_eq!(split_other_users("Other Users/hong"), Some(("hong", "")));
        assert_eq!(split_other_users("Other Users"), Some(("", "")));
        assert_eq!(split_other_users("Other Usersx/hong/a"), None);
        assert_eq!(split_other_users("INBOX"), None);
        assert_eq!(other_users_name("hong", "팀"), "Other Users/hong/팀");
    }

    #[test]
    fn the_namespace_is_the_one_the_store_knows() {
        assert_eq!(
            format!("{OTHER_USERS}{MAILBOX_DELIMITER}"),
            certmail_store::acl::OTHER_USERS_PREFIX
        );
        assert!(certmail_store::acl::is_other_users_name(&other_users_name(
            "hong", "팀"
        )));
    }

    #[test]
    fn flags_need_their_rights() {
        assert_eq!(flag_right("\\seen"), 's');
        assert_eq!(flag_right("\\Deleted"), 't');
        assert_eq!(flag_right("$Forwarded"), 'w');
        let kept = allowed_flags(
            Rights::parse("s").unwrap(),
            vec!["\\Seen".into(), "\\Flagged".into()],
        );
        assert_eq!(kept, ["\\Seen"]);
    }

    #[test]
    fn refusals_name_the_right_and_who_grants_it() {
        let text = refusal("hong", 'i', "add messages");
        assert!(
            text.contains("\"i\" right (insert)") && text.contains("ask hong"),
            "{text}"
        );
    }
}
