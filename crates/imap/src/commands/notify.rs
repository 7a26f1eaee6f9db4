//! NOTIFY (RFC 5465): what the client is told without asking, about the selected mailbox
//! and about the person's own other mailboxes, between commands and while idling.
//!
//! - Message events (MessageNew, MessageExpunge, FlagChange) on a mailbox other than the
//!   selected one are told as STATUS: MESSAGES and UIDNEXT for new mail, MESSAGES for an
//!   expunge, HIGHESTMODSEQ for a flag change (§5.1–5.3; CONDSTORE is always offered).
//! - MailboxName as LIST: a new mailbox plainly, a deleted one `\NonExistent`, a renamed
//!   one with `("OLDNAME" (old))` (§5.4); SubscriptionChange as LIST with or without
//!   `\Subscribed` (§5.5).
//! - `selected` events make the selected mailbox's updates (EXISTS, FETCH, EXPUNGE) go out
//!   as they happen; `selected-delayed` holds EXPUNGE back until a command allows it.
//! - `inboxes` is INBOX (the one mailbox mail is delivered to unless a filter files it).
//! - AnnotationChange, the METADATA events and FETCH attributes on MessageNew are not
//!   offered: `NO [BADEVENT (...)]` lists what is.
//! - Message events of another person's mailboxes the user may read ("l" and "r") are
//!   told as STATUS too, under their `Other Users/<owner>/<name>` names, when `subtree`,
//!   `mailboxes` or `subscribed` covers them (`personal` is the user's own); the rights
//!   are checked as each event is told. See [`super::notify_reach`].
//! - At most [`MAX_PENDING`] events wait for a command to end; past that, the client is
//!   told `* OK [NOTIFICATIONOVERFLOW]` and NOTIFY is off (§5.8).

use certmail_session::Change;
use certmail_store::{MAILBOX_DELIMITER, StoreError};
use imap_codec::imap_types::{
    core::Tag,
    response::{Code, CodeOther},
    status::StatusDataItemName,
};

use super::Outcome;
use crate::proto::ext::encode::{list_line, string};
use crate::proto::ext::notify::{EventGroup, Events, Filter, NotifyRequest};
use crate::proto::mailbox_name as name;
use crate::{account::SignedIn, out::Out};

/// The most events kept for the end of a command.
pub const MAX_PENDING: usize = 1000;

const OFFERED: &str =
    "BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)";

/// What NOTIFY SET asked, with mailbox names decoded.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// Events for the selected mailbox, and whether EXPUNGE waits (`selected-delayed`).
    selected: Option<(Events, bool)>,
    /// The other groups.
    groups: Vec<(Filter, Vec<String>, Events)>,
    /// The owners of the shared mailboxes the groups cover, when NOTIFY SET ran.
    owners: Vec<String>,
}

impl Watch {
    /// Whether any group watches mailboxes besides the selected one.
    pub fn watches_others(&self) -> bool {
        self.groups.iter().any(|(_, _, e)| *e != Events::default())
    }

    /// Whether the selected mailbox's updates go out as they happen; with them, whether
    /// EXPUNGE may go too.
    pub fn selected(&self) -> Option<bool> {
        self.selected
            .filter(|(e, _)| e.any_message())
            .map(|(_, delayed)| !delayed)
    }

    /// The owners of the shared mailboxes watched.
    pub fn owners(&self) -> &[String] {
        &self.owners
    }

    /// The events watched on `mailbox` (not the selected one), as the client names it.
    pub(crate) fn events_for(&self, mailbox: &str, subscribed: &[String]) -> Events {
        let inbox = |n: &str| n.eq_ignore_ascii_case("INBOX");
        let same = |a: &str, b: &str| a == b || (inbox(a) && inbox(b));
        let mut all = Events::default();
        for (filter, names, events) in &self.groups {
            let covered = match filter {
                Filter::Selected | Filter::SelectedDelayed => false,
                Filter::Inboxes => inbox(mailbox),
                Filter::Personal => crate::shared::split_other_users(mailbox).is_none(),
                Filter::Subscribed => subscribed.iter().any(|s| same(s, mailbox)),
                Filter::Subtree(_) => names.iter().any(|n| {
                    same(n, mailbox) || mailbox.starts_with(&format!("{n}{MAILBOX_DELIMITER}"))
                }),
                Filter::Mailboxes(_) => names.iter().any(|n| same(n, mailbox)),
            };
            if covered {
                all.new |= events.new;
                all.expunge |= events.expunge;
                all.flags |= events.flags;
                all.names |= events.names;
                all.subscriptions |= events.subscriptions;
            }
        }
        all
    }
}

/// NOTIFY SET or NONE.
pub async fn notify(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    request: NotifyRequest,
) -> Outcome {
    let NotifyRequest::Set { status, groups } = request else {
        s.account.notify = None;
        s.account.notify_pending.clear();
        narrow(s);
        out.ok(tag, None, "NOTIFY completed");
        return Outcome::Done;
    };
    if groups
        .iter()
        .any(|g| g.events.unsupported || g.events.fetch_attributes)
    {
        let code = Code::Other(CodeOther::unvalidated(OFFERED.as_bytes()));
        let text = "Only these events are offered, and MessageNew without FETCH attributes";
        out.no(tag, Some(code), text);
        return Outcome::Done;
    }
    let Some(mut watch) = watch_of(groups) else {
        out.bad(tag, "A mailbox name in NOTIFY is not valid");
        return Outcome::Bad;
    };
    match super::notify_reach::owners(s, &watch).await {
        Ok(owners) => watch.owners = owners,
        Err(e) => {
            super::store_error(out, tag, "NOTIFY", &e);
            return Outcome::Done;
        }
    }
    s.account.notify = Some(watch);
    s.account.notify_pending.clear();
    narrow(s);
    if status && let Err(e) = initial_status(s, out).await {
        super::store_error(out, tag, "NOTIFY", &e);
        return Outcome::Done;
    }
    out.ok(tag, None, "NOTIFY completed");
    Outcome::Done
}

fn watch_of(groups: Vec<EventGroup>) -> Option<Watch> {
    let mut watch = Watch::default();
    for group in groups {
        let names = match &group.filter {
            Filter::Subtree(wire) | Filter::Mailboxes(wire) => wire
                .iter()
                .map(|w| crate::proto::ext::mailbox_name(w).ok())
                .collect::<Option<Vec<String>>>()?,
            _ => Vec::new(),
        };
        match group.filter {
            Filter::Selected => watch.selected = Some((group.events, false)),
            Filter::SelectedDelayed => watch.selected = Some((group.events, true)),
            filter => watch.groups.push((filter, names, group.events)),
        }
    }
    Some(watch)
}

/// Points the change subscription at the whole account while other mailboxes are
/// watched, else at the selected mailbox only.
pub fn narrow(s: &mut SignedIn) {
    let others = s.account.notify.as_ref().is_some_and(Watch::watches_others);
    let selected = s.selected.as_ref().map(|m| m.name.clone());
    match others {
        true => s.account.changes.set_mailbox(None),
        false => s.account.changes.set_mailbox(selected.as_deref()),
    }
    super::notify_reach::resubscribe(s);
}

/// RFC 5465 §3.1 STATUS: each watched mailbox's current state, as its events would tell;
/// the user's own mailboxes, then those others shared with them.
async fn initial_status(s: &mut SignedIn, out: &mut Out) -> Result<(), StoreError> {
    let me = s.account_id().to_owned();
    let store = s.account.ctx.store.as_ref();
    let mut names: Vec<String> = store
        .list_mailboxes(&me)
        .await?
        .into_iter()
        .map(|m| m.name)
        .collect();
    let shared = crate::shared::visible_shared(store, &s.account.record).await?;
    names.extend(shared.iter().map(crate::shared::Target::client_name));
    let subscribed = store.subscriptions(&me).await?;
    for mailbox in names {
        let Some(watch) = &s.account.notify else {
            return Ok(());
        };
        let events = watch.events_for(&mailbox, &subscribed);
        if is_selected(s, &mailbox) || !events.any_message() {
            continue;
        }
        let mut items = Vec::new();
        if events.new || events.expunge {
            items.push(StatusDataItemName::Messages);
        }
        if events.new {
            items.extend([StatusDataItemName::UidNext, StatusDataItemName::UidValidity]);
        }
        if events.flags {
            if !events.new {
                items.push(StatusDataItemName::UidValidity);
            }
            items.push(flag_item(s));
        }
        tell_status(s, out, &me, &mailbox, &items).await?;
    }
    Ok(())
}

/// Whether the client's name `mailbox` is the selected mailbox.
fn is_selected(s: &SignedIn, mailbox: &str) -> bool {
    s.selected.as_ref().is_some_and(|m| {
        let target = crate::shared::Target::selected(m, s.account_id());
        target.client_name() == mailbox
    })
}

/// What tells a flag change: HIGHESTMODSEQ, as a CONDSTORE server does (RFC 5465 §5.3;
/// we always offer CONDSTORE).
fn flag_item(_: &SignedIn) -> StatusDataItemName {
    StatusDataItemName::HighestModSeq
}

/// STATUS of the client's name `mailbox` (one of `me`'s, or `Other Users/...`). Another
/// person's mailbox is told only while the user may look it up and read it ("l" and "r",
/// RFC 4314 §4); one they may no longer see is passed over in silence.
async fn tell_status(
    s: &mut SignedIn,
    out: &mut Out,
    me: &str,
    mailbox: &str,
    items: &[StatusDataItemName],
) -> Result<(), StoreError> {
    let store = s.account.ctx.store.as_ref();
    let (owner, store_name) = match crate::shared::split_other_users(mailbox) {
        None => (me, mailbox),
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() => (owner, name),
        Some(_) => return Ok(()),
    };
    if owner != me {
        match crate::shared::rights_on(store, &s.account.record, owner, store_name).await {
            Ok(rights) if rights.has('l') && rights.has('r') => {}
            Ok(_) | Err(StoreError::MailboxNotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    let Some(record) = store.mailbox(owner, store_name).await? else {
        return Ok(());
    };
    let values = super::status::status_values(s, owner, &record, items).await?;
    out.data(imap_codec::imap_types::response::Data::Status {
        mailbox: name::encode_mailbox(mailbox),
        items: std::borrow::Cow::Owned(values),
    });
    Ok(())
}

/// Keeps a change of a mailbox other than the selected one for [`tell_pending`]; past
/// [`MAX_PENDING`], NOTIFY ends with NOTIFICATIONOVERFLOW.
pub fn keep(s: &mut SignedIn, change: Change) {
    if s.account.notify.is_none() {
        return;
    }
    if s.account.notify_pending.len() >= MAX_PENDING {
        s.account.notify = None;
        s.account.notify_pending.clear();
        s.account.notify_overflowed = true;
        return;
    }
    s.account.notify_pending.push(change);
}

/// Tells the kept changes (see the module's list).
pub async fn tell_pending(s: &mut SignedIn, out: &mut Out) -> Result<(), StoreError> {
    if std::mem::take(&mut s.account.notify_overflowed) {
        let code = Code::Other(CodeOther::unvalidated(&b"NOTIFICATIONOVERFLOW"[..]));
        out.untagged_ok(
            Some(code),
            "Too many changes at once: NOTIFY is off; set it again",
        );
        narrow(s);
    }
    let pending = std::mem::take(&mut s.account.notify_pending);
    if pending.is_empty() {
        return Ok(());
    }
    let me = s.account_id().to_owned();
    let subscribed = s.account.ctx.store.subscriptions(&me).await?;
    for change in pending {
        tell(s, out, &me, &subscribed, change).await?;
    }
    Ok(())
}

async fn tell(
    s: &mut SignedIn,
    out: &mut Out,
    me: &str,
    subscribed: &[String],
    change: Change,
) -> Result<(), StoreError> {
    let Some(watch) = s.account.notify.clone() else {
        return Ok(());
    };
    let events = |mailbox: &str| watch.events_for(mailbox, subscribed);
    match change {
        Change::Exists { mailbox, .. } if events(&mailbox).new => {
            let items = [StatusDataItemName::Messages, StatusDataItemName::UidNext];
            tell_status(s, out, me, &mailbox, &items).await?;
        }
        Change::Expunged { mailbox, .. } if events(&mailbox).expunge => {
            tell_status(s, out, me, &mailbox, &[StatusDataItemName::Messages]).await?;
        }
        Change::Flags { mailbox, .. } if events(&mailbox).flags => {
            let item = flag_item(s);
            tell_status(s, out, me, &mailbox, &[item]).await?;
        }
        Change::MailboxCreated { mailbox } if events(&mailbox).names => {
            out.raw_line(list_line(&[], MAILBOX_DELIMITER, &wire(s, &mailbox), &[]));
        }
        Change::MailboxDeleted { mailbox } if events(&mailbox).names => {
            let attrs = ["\\NonExistent"];
            out.raw_line(list_line(
                &attrs,
                MAILBOX_DELIMITER,
                &wire(s, &mailbox),
                &[],
            ));
        }
        Change::MailboxRenamed { from, to } if events(&from).names || events(&to).names => {
            let (new, old) = (string(&wire(s, &to)), string(&wire(s, &from)));
            let line = format!("* LIST () \"{MAILBOX_DELIMITER}\" {new} (\"OLDNAME\" ({old}))\r\n");
            out.raw_line(line.into_bytes());
        }
        Change::SubscriptionChanged {
            mailbox,
            subscribed,
        } if events(&mailbox).subscriptions => {
            let attrs: &[&str] = if subscribed { &["\\Subscribed"] } else { &[] };
            out.raw_line(list_line(attrs, MAILBOX_DELIMITER, &wire(s, &mailbox), &[]));
        }
        _ => {}
    }
    Ok(())
}

/// A name as this client reads names: UTF-8 after ENABLE IMAP4rev2, else modified UTF-7.
fn wire(s: &SignedIn, mailbox: &str) -> String {
    match s.enabled.imap4rev2 {
        true => mailbox.to_owned(),
        false => name::encode_utf7(mailbox),
    }
}

/// Whether `change` is about the selected mailbox (or about every mailbox: a resync).
pub fn about_selected(s: &SignedIn, change: &Change) -> bool {
    let Some(selected) = &s.selected else {
        return false;
    };
    match change {
        Change::Exists { mailbox, .. }
        | Change::Expunged { mailbox, .. }
        | Change::Flags { mailbox, .. } => *mailbox == selected.name,
        Change::MailboxRenamed { from, .. } => *from == selected.name,
        Change::UrlAuthKeysReset { mailbox } => {
            mailbox.as_ref().is_none_or(|m| *m == selected.name)
        }
        Change::Resync => true,
        _ => false,
    }
}
