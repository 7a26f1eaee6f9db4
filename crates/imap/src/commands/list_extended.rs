//! LIST as our own parser reads it (`proto::ext`): the basic form (RFC 3501 §6.3.8) and
//! LIST-EXTENDED (RFC 5258): selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH and
//! SPECIAL-USE (RFC 6154 §5.1), several patterns, return options SUBSCRIBED, CHILDREN,
//! SPECIAL-USE and STATUS (RFC 5819); IMAP4rev2 (RFC 9051 §6.3.9) marks a missing parent
//! `\NonExistent`.
//!
//! We always return `\HasChildren`/`\HasNoChildren` (RFC 5258 §4 allows it unasked, and
//! CHILDREN is advertised) and special-use attributes (RFC 6154 §2).

use std::borrow::Cow;
use std::collections::BTreeMap;

use certmail_store::{MAILBOX_DELIMITER, Mailbox as StoredMailbox};
use imap_codec::imap_types::{
    core::{Atom, QuotedChar, Tag},
    flag::FlagNameAttribute,
    response::Data,
};

use super::{
    Outcome,
    status::{asks_highest_modseq, status_values},
    store_error,
};
use crate::proto::ext::{ListRequest, ListSelection, encode::list_line, mailbox_name};
use crate::proto::mailbox_name as name;
use crate::{account::SignedIn, out::Out};

/// One name a LIST can return: a mailbox, a parent level that does not exist, or a
/// subscribed name with no mailbox (RFC 3501 §6.3.6 keeps it subscribed after DELETE).
struct Node<'a> {
    record: Option<&'a StoredMailbox>,
    /// On the account's subscription list.
    subscribed: bool,
    /// A mailbox or a level of the mailbox hierarchy: what LIST without SUBSCRIBED
    /// shows. A name known only from the subscription list is not.
    in_hierarchy: bool,
}

/// Runs LIST.
pub async fn list(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    req: &ListRequest,
) -> Outcome {
    let reference = mailbox_name(&req.reference).unwrap_or_default();
    let patterns: Vec<String> = req
        .patterns
        .iter()
        .filter_map(|p| mailbox_name(p).ok())
        .map(|p| (p.is_empty(), p))
        .filter_map(|(empty, p)| (!empty || !req.extended).then_some(p))
        .collect();
    if !req.extended && patterns.iter().all(String::is_empty) && !patterns.is_empty() {
        // RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root.
        return super::list::list_root(out, tag);
    }
    let full: Vec<String> = patterns
        .iter()
        .map(|p| name::list_pattern(&reference, p))
        .collect();
    let store = s.account.ctx.store.as_ref();
    let listed = match store.list_mailboxes(s.account_id()).await {
        Ok(mailboxes) => store
            .subscriptions(s.account_id())
            .await
            .map(|subscribed| (mailboxes, subscribed)),
        Err(e) => Err(e),
    };
    let (mut mailboxes, subscriptions) = match listed {
        Ok(listed) => listed,
        Err(e) => {
            store_error(out, tag, "LIST", &e);
            return Outcome::Done;
        }
    };
    match shared_records(s).await {
        Ok(shared) => mailboxes.extend(shared),
        Err(e) => {
            store_error(out, tag, "LIST", &e);
            return Outcome::Done;
        }
    }
    // RFC 7162 §3.1 with RFC 5819: RETURN (STATUS (HIGHESTMODSEQ)) enables CONDSTORE.
    if let Some(items) = &req.returns.status
        && asks_highest_modseq(items)
    {
        s.enable_condstore(out).await;
    }
    let nodes = with_parents(&mailboxes, &subscriptions);
    for (mailbox, node) in &nodes {
        let matching: Vec<&String> = full
            .iter()
            .filter(|p| name::list_matches(p, mailbox))
            .collect();
        if !matching.is_empty() && !hides_namespace_root(mailbox, &matching, &nodes) {
            list_one(s, out, req, &nodes, mailbox, node).await;
        }
    }
    out.ok(tag, None, "LIST completed");
    Outcome::Done
}

/// Whether to leave the other users namespace root (`Other Users`) out of this answer:
/// when every pattern that matches it also matches a name below it, as `LIST "" "*"`
/// does. RFC 3501 §6.3.8 lets a server hide names from wildcards, and the client knows
/// the root from NAMESPACE (RFC 2342 §5). Thunderbird needs it: it takes a listed name
/// equal to a namespace prefix for a folder *inside* that namespace, asks MYRIGHTS for
/// "Other Users/Other Users" and keeps a phantom folder of that name. (Dovecot lists the
/// root of a `list = children` shared namespace, `(\Noselect \HasChildren) "shared"`,
/// as we did.) `LIST "" "%"` and `LIST "" "Other Users"` still show it.
fn hides_namespace_root(
    mailbox: &str,
    matching: &[&String],
    nodes: &BTreeMap<String, Node<'_>>,
) -> bool {
    if mailbox != crate::shared::OTHER_USERS {
        return false;
    }
    let prefix = format!("{mailbox}{MAILBOX_DELIMITER}");
    let children: Vec<&String> = nodes
        .range(prefix.clone()..)
        .take_while(|(n, _)| n.starts_with(&prefix))
        .filter(|(_, n)| n.in_hierarchy)
        .map(|(n, _)| n)
        .collect();
    matching
        .iter()
        .all(|p| children.iter().any(|c| name::list_matches(p, c)))
}

/// The mailboxes others shared with the user and let them see ("l", RFC 4314 §4), named
/// as the client sees them (`Other Users/<owner>/<name>`); the parent levels come from
/// [`with_parents`] as names without a mailbox.
async fn shared_records(s: &SignedIn) -> Result<Vec<StoredMailbox>, certmail_store::StoreError> {
    let store = s.account.ctx.store.as_ref();
    let mut records = Vec::new();
    for target in crate::shared::visible_shared(store, &s.account.record).await? {
        if !target.rights.has('l') {
            continue;
        }
        if let Some(mut record) = store.mailbox(&target.owner, &target.name).await? {
            record.name = target.client_name();
            record.subscribed = false;
            // Another person's Sent or Trash is not the user's own.
            record.special_use = None;
            records.push(record);
        }
    }
    Ok(records)
}

/// RFC 5258 §3: whether `node` meets the criteria of the selection options (none: every
/// name of the mailbox hierarchy). SUBSCRIBED selects subscribed names whether or not a
/// mailbox has them (RFC 5258 §3.1: such a name is `\NonExistent \Subscribed`).
fn meets(sel: &ListSelection, node: &Node<'_>) -> bool {
    let special = node.record.is_some_and(|r| r.special_use.is_some());
    let selected = if sel.subscribed {
        node.subscribed
    } else {
        node.in_hierarchy
    };
    selected && (!sel.special_use || special)
}

/// The LIST response (and the LIST-STATUS one) for one name matching a pattern, unless
/// neither it nor (RECURSIVEMATCH) a child meets the selection.
async fn list_one(
    s: &mut SignedIn,
    out: &mut Out,
    req: &ListRequest,
    nodes: &BTreeMap<String, Node<'_>>,
    mailbox: &str,
    node: &Node<'_>,
) {
    let sel = &req.selection;
    let prefix = format!("{mailbox}{MAILBOX_DELIMITER}");
    let children: Vec<&Node<'_>> = nodes
        .range(prefix.clone()..)
        .take_while(|(n, _)| n.starts_with(&prefix))
        .map(|(_, n)| n)
        .collect();
    // RFC 5258 §4: \HasChildren speaks of mailboxes, not of subscribed names without one.
    let has_children = children.iter().any(|c| c.in_hierarchy);
    // RFC 5258 §3.5 note 2: CHILDINFO whether or not the child matches the pattern.
    let child_meets =
        sel.recursive_match && children.iter().any(|c| c.record.is_some() && meets(sel, c));
    if !meets(sel, node) && !child_meets {
        return;
    }
    let attributes = attributes(s.enabled.imap4rev2 || req.extended, node, has_children, req);
    let mut child_info = Vec::new();
    if child_meets {
        if sel.subscribed {
            child_info.push("SUBSCRIBED");
        }
        if sel.special_use {
            child_info.push("SPECIAL-USE");
        }
    }
    if child_info.is_empty() {
        out.data(Data::List {
            items: attributes.iter().map(|a| attribute(a)).collect(),
            delimiter: Some(QuotedChar::unvalidated(MAILBOX_DELIMITER)),
            mailbox: name::encode_mailbox(mailbox),
        });
    } else {
        // RFC 9051 §5.1: UTF-8 names for an IMAP4rev2 client.
        let wire = if s.enabled.imap4rev2 {
            mailbox.to_owned()
        } else {
            name::encode_utf7(mailbox)
        };
        let attrs: Vec<&str> = attributes.iter().map(String::as_str).collect();
        out.raw_line(list_line(&attrs, MAILBOX_DELIMITER, &wire, &child_info));
    }
    // RFC 5819 §2: STATUS for each listed mailbox that can be selected (another
    // person's only with "r", as STATUS needs).
    if let (Some(items), Some(record)) = (&req.returns.status, node.record) {
        let mut record = record.clone();
        let mut owner = s.account_id().to_owned();
        if let Some((other, store_name)) = crate::shared::split_other_users(mailbox) {
            let store = s.account.ctx.store.as_ref();
            let rights = crate::shared::rights_on(store, &s.account.record, other, store_name);
            if !rights.await.is_ok_and(|r| r.has('r')) {
                return;
            }
            (owner, record.name) = (other.to_owned(), store_name.to_owned());
        }
        match status_values(s, &owner, &record, items).await {
            Ok(values) => out.data(Data::Status {
                mailbox: name::encode_mailbox(mailbox),
                items: Cow::Owned(values),
            }),
            Err(e) => tracing::warn!(error = %e, "LIST-STATUS of one mailbox failed"),
        }
    }
}

/// Every mailbox by name, with the parent levels that do not exist themselves, and the
/// subscribed names that have no mailbox.
fn with_parents<'a>(
    mailboxes: &'a [StoredMailbox],
    subscriptions: &[String],
) -> BTreeMap<String, Node<'a>> {
    let subscribed = |name: &str| {
        subscriptions
            .binary_search_by(|s| s.as_str().cmp(name))
            .is_ok()
    };
    let mut nodes = BTreeMap::new();
    for m in mailboxes {
        let mut end = 0;
        while let Some(i) = m.name[end..].find(MAILBOX_DELIMITER) {
            end += i;
            let parent = &m.name[..end];
            nodes.entry(parent.to_owned()).or_insert(Node {
                record: None,
                subscribed: subscribed(parent),
                in_hierarchy: true,
            });
            end += MAILBOX_DELIMITER.len_utf8();
        }
        nodes.insert(
            m.name.clone(),
            Node {
                record: Some(m),
                subscribed: subscribed(&m.name),
                in_hierarchy: true,
            },
        );
    }
    for name in subscriptions {
        nodes.entry(name.clone()).or_insert(Node {
            record: None,
            subscribed: true,
            in_hierarchy: false,
        });
    }
    nodes
}

/// The attributes of one listed name.
fn attributes(modern: bool, node: &Node<'_>, has_children: bool, req: &ListRequest) -> Vec<String> {
    let mut attrs = Vec::new();
    // RFC 5258 §3.1: the SUBSCRIBED selection option implies the return option.
    let subscribed = node.subscribed && (req.returns.subscribed || req.selection.subscribed);
    let Some(record) = node.record else {
        // RFC 5258 §3.4 / RFC 9051 §7.3.1: \NonExistent (which implies \Noselect);
        // RFC 3501 §6.3.8: \Noselect for a level that only holds others.
        attrs.push(
            if modern {
                "\\NonExistent"
            } else {
                "\\Noselect"
            }
            .to_owned(),
        );
        if has_children {
            attrs.push("\\HasChildren".to_owned());
        }
        // RFC 5258 §3.1: a subscribed name whose mailbox is gone is `\NonExistent
        // \Subscribed`.
        if subscribed {
            attrs.push("\\Subscribed".to_owned());
        }
        return attrs;
    };
    attrs.push(
        if has_children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }
        .to_owned(),
    );
    if let Some(special) = record.special_use {
        attrs.push(special.as_attr().to_owned());
    }
    if subscribed {
        attrs.push("\\Subscribed".to_owned());
    }
    attrs
}

fn attribute(attr: &str) -> FlagNameAttribute<'static> {
    let bare = attr.trim_start_matches('\\');
    match bare.to_ascii_lowercase().as_str() {
        "noselect" => FlagNameAttribute::Noselect,
        _ => FlagNameAttribute::from(
            Atom::try_from(bare.to_owned()).expect("attribute names are atoms"),
        ),
    }
}
