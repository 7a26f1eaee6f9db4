//! Access control lists (RFC 4314): the rights, who they are granted to, and the rules
//! every backend applies to them.
//!
//! A mailbox's ACL maps identifiers to [`Rights`]. An identifier is an account id, `org:`
//! and an organisation name (everyone whose account names that organisation), or
//! `anyone` (RFC 4314 §2). The owner of a mailbox holds every right implicitly and is never
//! listed; negative rights (`-id`, RFC 4314 §2) are not supported.

use crate::error::{Result, StoreError};
use crate::model::AccountId;

/// The RFC 4314 rights this server implements, in their canonical order (RFC 4314 §2.1,
/// advertised as `RIGHTS=texk`).
pub const ALL_RIGHTS: &str = "lrswipkxtea";

/// The identifier every signed-in user matches (RFC 4314 §2).
pub const ANYONE: &str = "anyone";

/// The prefix of an organisation identifier: `org:행정안전부` names every account whose
/// organisation is 행정안전부.
pub const ORG_PREFIX: &str = "org:";

/// The prefix of the names by which a user reaches another person's mailbox (IMAP's "other
/// users" namespace, RFC 2342: `Other Users/<owner>/<mailbox>`). A user subscribes to a
/// shared mailbox under such a name; it has no mailbox in the subscriber's account, so
/// [`crate::MailboxStore::set_subscribed`] keeps it without checking (the caller checks
/// the subscriber's rights on the owner's mailbox).
pub const OTHER_USERS_PREFIX: &str = "Other Users/";

/// `Other Users/<owner>/<name>`: the name by which others reach (and subscribe to) the
/// owner's mailbox `name`; `owner` as the store spells account ids.
pub fn other_users_name(owner: &str, name: &str) -> String {
    format!(
        "{OTHER_USERS_PREFIX}{owner}{}{name}",
        crate::MAILBOX_DELIMITER
    )
}

/// The renames of others' subscriptions that follow the owner's renaming of mailboxes:
/// for each (old, new) name of `moves`, the pair of their `Other Users/<owner>/…` names.
pub fn followed_subscriptions(owner: &str, moves: &[(String, String)]) -> Vec<(String, String)> {
    moves
        .iter()
        .map(|(old, new)| (other_users_name(owner, old), other_users_name(owner, new)))
        .collect()
}

/// Whether `name` is in the other users namespace ([`OTHER_USERS_PREFIX`]).
pub fn is_other_users_name(name: &str) -> bool {
    name.starts_with(OTHER_USERS_PREFIX)
}

/// The default of `[imap] max_acl_entries`, the most entries one mailbox's ACL may hold:
/// a department shares with its staff one by one (a larger group is one `org:` entry),
/// and the bound keeps every rights check (which reads the whole list) cheap.
pub const DEFAULT_MAX_ACL_ENTRIES: usize = 100;

/// How a change sets an identifier's rights (RFC 4314 §3.1's SETACL `rights`, `+rights`,
/// `-rights`; the admin CLI replaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RightsChange {
    /// Replace the identifier's rights with these.
    Replace,
    /// Add these to what the identifier holds.
    Add,
    /// Take these from what the identifier holds.
    Remove,
}

/// A reader's own `\Seen` marks to set or clear on some messages of a shared mailbox, as
/// the backends of [`crate::MailboxStore::set_seen_by`] take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenMarks<'a> {
    /// Whose marks.
    pub reader: &'a str,
    /// Which messages.
    pub uids: &'a [u32],
    /// Set (true) or clear.
    pub seen: bool,
}

/// One change to one identifier's entry, for [`crate::MailboxStore::change_acl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclChange {
    /// Whose entry.
    pub identifier: String,
    /// Replace, add or remove.
    pub how: RightsChange,
    /// The rights it names.
    pub rights: Rights,
    /// The most entries the list may hold: a new identifier past it is [`AclUpdate::Full`].
    pub max_entries: usize,
}

impl AclChange {
    /// `how` `rights` for `identifier`, the list holding at most `max_entries`.
    pub fn new(identifier: &str, how: RightsChange, rights: Rights, max_entries: usize) -> Self {
        AclChange {
            identifier: identifier.to_owned(),
            how,
            rights,
            max_entries,
        }
    }
}

/// What [`crate::MailboxStore::change_acl`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclUpdate {
    /// The identifier now holds these rights (none: its entry is gone).
    Set(Rights),
    /// Refused: the identifier is new and the list already holds `entries`, at least the
    /// cap ([`cap_refusal`] words it). Nothing was written.
    Full {
        /// How many entries the list holds.
        entries: usize,
    },
}

/// The rule both backends apply under their lock: the identifier's new rights from its
/// current ones and `change`, or [`AclUpdate::Full`] when a new identifier would take the
/// list past `max` entries (changing or removing an existing entry is always allowed).
pub fn apply_change(
    entries: &[AclEntry],
    identifier: &str,
    change: RightsChange,
    rights: Rights,
    max: usize,
) -> AclUpdate {
    let current = entries.iter().find(|e| e.identifier == identifier);
    let held = current.map_or(Rights::NONE, |e| e.rights);
    let new = match change {
        RightsChange::Replace => rights,
        RightsChange::Add => held.union(rights),
        RightsChange::Remove => held.without(rights),
    };
    if current.is_none() && !new.is_empty() && entries.len() >= max {
        AclUpdate::Full {
            entries: entries.len(),
        }
    } else {
        AclUpdate::Set(new)
    }
}

/// The sentence for [`AclUpdate::Full`] on `mailbox` at the cap of `max` entries.
pub fn cap_refusal(entries: usize, max: usize, mailbox: &str) -> String {
    format!(
        "{mailbox} is already shared with {entries} people or groups, the most this server \
         allows ([imap] max_acl_entries = {max}); take someone off its list first, or \
         share it with a whole organisation (org:ORGANISATION) instead"
    )
}

/// The longest identifier accepted, in bytes (account ids and organisation names are far
/// shorter; the bound keeps records small).
pub const MAX_IDENTIFIER_LEN: usize = 255;

/// A set of RFC 4314 rights; shown in canonical order (`lrswipkxtea`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Rights(u16);

impl Rights {
    /// No right at all.
    pub const NONE: Rights = Rights(0);
    /// Every right: what a mailbox's owner holds.
    pub const ALL: Rights = Rights((1 << ALL_RIGHTS.len()) - 1);

    /// Reads a rights string: letters of [`ALL_RIGHTS`] in any order, plus the obsolete
    /// RFC 2086 `c` (read as `kx`) and `d` (read as `xte`), as RFC 4314 §2.1.1 asks.
    pub fn parse(text: &str) -> Result<Rights> {
        let mut rights = Rights::NONE;
        for c in text.chars() {
            rights = rights.union(match c {
                'c' => Rights::parse("kx")?,
                'd' => Rights::parse("xte")?,
                c => Rights::of(c).ok_or_else(|| {
                    StoreError::InvalidAcl(format!(
                        "{c:?} is not a right; rights are letters of \"{ALL_RIGHTS}\""
                    ))
                })?,
            });
        }
        Ok(rights)
    }

    /// The set holding only `right`, if it is one of [`ALL_RIGHTS`].
    pub fn of(right: char) -> Option<Rights> {
        ALL_RIGHTS
            .chars()
            .position(|c| c == right)
            .map(|i| Rights(1 << i))
    }

    /// Whether `right` is in the set.
    pub fn has(self, right: char) -> bool {
        Rights::of(right).is_some_and(|r| self.0 & r.0 != 0)
    }

    /// Both sets together.
    pub fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// This set without `other`'s rights.
    pub fn without(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Display for Rights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in ALL_RIGHTS.chars().filter(|c| self.has(*c)) {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Rights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rights(\"{self}\")")
    }
}

/// One entry of a mailbox's access control list.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AclEntry {
    /// Who: an account id, `org:ORG` or `anyone`.
    pub identifier: String,
    /// What they may do.
    pub rights: Rights,
}

/// An ACL entry together with the mailbox it is on (what [`crate::MailboxStore::shared_with`]
/// returns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedMailbox {
    /// The account owning the mailbox.
    pub owner: AccountId,
    /// The mailbox's full name in the owner's account.
    pub mailbox: String,
    /// The entry's identifier.
    pub identifier: String,
    /// The entry's rights.
    pub rights: Rights,
}

/// The identifier as stored: account ids in lowercase, `anyone`, or `org:` and the
/// organisation name as written (trimmed). Refuses what cannot name anyone.
pub fn normalize_identifier(identifier: &str) -> Result<String> {
    let identifier = identifier.trim();
    let refuse = |reason: &str| Err(StoreError::InvalidAcl(format!("{identifier:?}: {reason}")));
    if identifier.is_empty() {
        return refuse("an identifier names an account, org:ORGANISATION or anyone");
    }
    if identifier.len() > MAX_IDENTIFIER_LEN {
        return refuse("longer than 255 bytes");
    }
    if identifier.chars().any(char::is_control) {
        return refuse("control characters are not allowed");
    }
    if identifier.starts_with('-') {
        return refuse("negative rights (RFC 4314 \"-identifier\") are not supported");
    }
    if let Some(org) = strip_prefix_ignore_case(identifier, ORG_PREFIX) {
        let org = org.trim();
        if org.is_empty() {
            return refuse("org: needs an organisation name");
        }
        return Ok(format!("{ORG_PREFIX}{org}"));
    }
    Ok(identifier.to_lowercase())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The identifiers an account matches: its id, its organisation's (if it names one) and
/// `anyone`.
pub fn identifiers_of(account: &str, organisation: &str) -> Vec<String> {
    let mut ids = vec![account.to_lowercase(), ANYONE.to_owned()];
    if !organisation.trim().is_empty() {
        ids.push(format!("{ORG_PREFIX}{}", organisation.trim()));
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_list_takes_no_newcomer_but_changes_its_entries() {
        let entry = |id: &str| AclEntry {
            identifier: id.into(),
            rights: Rights::parse("lr").unwrap(),
        };
        let full = [entry("kim"), entry("lee")];
        let lr = Rights::parse("lr").unwrap();
        let w = Rights::parse("w").unwrap();
        let replace = RightsChange::Replace;
        assert_eq!(
            apply_change(&full, "park", replace, lr, 2),
            AclUpdate::Full { entries: 2 }
        );
        let refusal = cap_refusal(2, 2, "공유/예산");
        assert!(
            refusal.contains("max_acl_entries = 2") && refusal.contains("공유/예산"),
            "{refusal}"
        );
        // An existing entry changes; a newcomer with no rights, or under a larger cap, passes.
        let all = Rights::ALL;
        assert_eq!(
            apply_change(&full, "kim", replace, all, 2),
            AclUpdate::Set(all)
        );
        let none = Rights::NONE;
        assert_eq!(
            apply_change(&full, "park", replace, none, 2),
            AclUpdate::Set(none)
        );
        assert_eq!(
            apply_change(&full, "park", replace, lr, 3),
            AclUpdate::Set(lr)
        );
        // +rights and -rights start from what the identifier holds.
        let added = apply_change(&full, "kim", RightsChange::Add, w, 2);
        assert_eq!(added, AclUpdate::Set(Rights::parse("lrw").unwrap()));
        let removed = apply_change(&full, "kim", RightsChange::Remove, lr, 2);
        assert_eq!(removed, AclUpdate::Set(none));
    }

    #[test]
    fn rights_read_in_any_order_and_show_canonically() {
        let r = Rights::parse("ailr").unwrap();
        assert_eq!(r.to_string(), "lria");
        assert!(r.has('l') && r.has('a') && !r.has('w'));
        assert_eq!(Rights::ALL.to_string(), ALL_RIGHTS);
        assert_eq!(Rights::parse("").unwrap(), Rights::NONE);
    }

    #[test]
    fn obsolete_c_and_d_expand() {
        assert_eq!(Rights::parse("c").unwrap().to_string(), "kx");
        assert_eq!(Rights::parse("d").unwrap().to_string(), "xte");
    }

    #[test]
    fn unknown_rights_are_refused_with_the_letter() {
        let e = Rights::parse("lrz").unwrap_err().to_string();
        assert!(e.contains("'z'") && e.contains(ALL_RIGHTS), "{e}");
    }

    #[test]
    fn identifiers_normalise() {
        assert_eq!(normalize_identifier(" Kim ").unwrap(), "kim");
        assert_eq!(
            normalize_identifier("ORG:행정안전부").unwrap(),
            "org:행정안전부"
        );
        assert_eq!(normalize_identifier("anyone").unwrap(), "anyone");
        assert!(normalize_identifier("-kim").is_err());
        assert!(normalize_identifier("org: ").is_err());
        assert!(normalize_identifier("").is_err());
    }
}
