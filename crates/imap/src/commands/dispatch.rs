//! The store-backed commands of a signed-in connection: which runs in the authenticated
//! and which only in the selected state (RFC 3501 §3), the mailbox updates told after each
//! (RFC 3501 §7.4.1), and how store errors reach the client. (`crate::session` decides the
//! store-free commands and sign-in; the server streams FETCH itself, see
//! `fetch::FetchJob`, and comes here for everything else.)

use certmail_store::StoreError;
use imap_codec::imap_types::{
    command::{Command, CommandBody},
    core::Tag,
    response::Response,
};

use super::{
    append, close, copy, create, delete, expunge, fetch, list, namespace, quota, rename, search,
    select, sort, status, store, subscribe, thread,
};
use crate::{account::SignedIn, out::Out};

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered; read the next command.
    Done,
    /// Answered BAD (counts toward the bad-command limit).
    Bad,
}

/// Runs one command of a signed-in connection that `crate::session` passed on (those that
/// need the store, and NOOP, CHECK and NAMESPACE), then tells the client the selected
/// mailbox's pending updates before the tagged response.
pub async fn dispatch(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    body: CommandBody<'static>,
) -> Outcome {
    // RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH; the UID forms
    // may have them (the client addresses messages by UID there).
    let allow_expunge = !matches!(
        body,
        CommandBody::Fetch { uid: false, .. }
            | CommandBody::Store { uid: false, .. }
            | CommandBody::Search { uid: false, .. }
            | CommandBody::Sort { uid: false, .. }
            | CommandBody::Thread { uid: false, .. }
    );
    let outcome = authenticated(s, out, Command { tag, body }).await;
    if outcome == Outcome::Done {
        announce_updates(s, out, allow_expunge).await;
    }
    outcome
}

/// The commands valid once signed in (RFC 3501 §6.3), then the selected-state ones.
async fn authenticated(s: &mut SignedIn, out: &mut Out, command: Command<'static>) -> Outcome {
    let Command { tag, body } = command;
    match body {
        // RFC 3501 §6.1.2: NOOP's point is the updates told after it.
        CommandBody::Noop => {
            out.ok(tag, None, "NOOP completed");
            Outcome::Done
        }
        CommandBody::Namespace => namespace::namespace(out, tag),
        CommandBody::Select {
            mailbox,
            parameters,
        } => select::select(s, out, tag, &mailbox, false, &parameters).await,
        CommandBody::Examine {
            mailbox,
            parameters,
        } => select::select(s, out, tag, &mailbox, true, &parameters).await,
        CommandBody::Create { mailbox } => create::create(s, out, tag, &mailbox).await,
        CommandBody::Delete { mailbox } => delete::delete(s, out, tag, &mailbox).await,
        CommandBody::Rename { from, to } => rename::rename(s, out, tag, &from, &to).await,
        CommandBody::Subscribe { mailbox } => {
            subscribe::subscribe(s, out, tag, &mailbox, true).await
        }
        CommandBody::Unsubscribe { mailbox } => {
            subscribe::subscribe(s, out, tag, &mailbox, false).await
        }
        CommandBody::List {
            reference,
            mailbox_wildcard,
        } => list::list(s, out, tag, &reference, &mailbox_wildcard, false).await,
        CommandBody::Lsub {
            reference,
            mailbox_wildcard,
        } => list::list(s, out, tag, &reference, &mailbox_wildcard, true).await,
        CommandBody::Status {
            mailbox,
            item_names,
        } => status::status(s, out, tag, &mailbox, &item_names).await,
        CommandBody::Append {
            mailbox,
            flags,
            date,
            message,
        } => append::append(s, out, tag, &mailbox, flags, date, message).await,
        CommandBody::GetQuota { root } => quota::get_quota(s, out, tag, &root).await,
        CommandBody::GetQuotaRoot { mailbox } => quota::get_quota_root(s, out, tag, &mailbox).await,
        CommandBody::SetQuota { quotas, .. } => quota::set_quota(out, tag, &quotas),
        body => selected_state(s, out, Command { tag, body }).await,
    }
}

/// The commands valid only with a mailbox selected (RFC 3501 §6.4).
async fn selected_state(s: &mut SignedIn, out: &mut Out, command: Command<'static>) -> Outcome {
    if s.selected.is_none() {
        out.bad(command.tag, "Select a mailbox first");
        return Outcome::Bad;
    }
    let Command { tag, body } = command;
    match body {
        CommandBody::Check => {
            out.ok(tag, None, "CHECK completed");
            Outcome::Done
        }
        CommandBody::Close => close::close(s, out, tag, true).await,
        CommandBody::Unselect => close::close(s, out, tag, false).await,
        CommandBody::Expunge => expunge::expunge(s, out, tag, None).await,
        CommandBody::ExpungeUid { sequence_set } => {
            expunge::expunge(s, out, tag, Some(&sequence_set)).await
        }
        body => message_commands(s, out, Command { tag, body }).await,
    }
}

/// The selected-state commands that address messages by number or UID.
async fn message_commands(s: &mut SignedIn, out: &mut Out, command: Command<'static>) -> Outcome {
    let Command { tag, body } = match fetch::FetchRequest::of(command) {
        fetch::FetchOrOther::Fetch(request) => return fetch::fetch(s, out, request).await,
        fetch::FetchOrOther::Other(command) => command,
    };
    match body {
        CommandBody::Search {
            charset,
            criteria,
            uid,
        } => search::search(s, out, tag, charset.as_ref(), &criteria, uid).await,
        CommandBody::Store {
            sequence_set,
            kind,
            response,
            flags,
            uid,
            modifiers,
        } => {
            let request = store::StoreRequest {
                set: &sequence_set,
                kind,
                silent: response == imap_codec::imap_types::flag::StoreResponse::Silent,
                flags: &flags,
                uid,
                modifiers: &modifiers,
            };
            store::store(s, out, tag, request).await
        }
        CommandBody::Copy {
            sequence_set,
            mailbox,
            uid,
        } => copy::copy(s, out, tag, &sequence_set, &mailbox, uid, false).await,
        CommandBody::Move {
            sequence_set,
            mailbox,
            uid,
        } => copy::copy(s, out, tag, &sequence_set, &mailbox, uid, true).await,
        CommandBody::Sort {
            sort_criteria,
            charset,
            search_criteria,
            uid,
        } => sort::sort(s, out, tag, &sort_criteria, &charset, &search_criteria, uid).await,
        CommandBody::Thread {
            algorithm,
            charset,
            search_criteria,
            uid,
        } => thread::thread(s, out, tag, &algorithm, &charset, &search_criteria, uid).await,
        other => {
            out.bad(tag, &format!("{} is not supported", other.name()));
            Outcome::Bad
        }
    }
}

/// Puts the selected mailbox's pending updates before the command's tagged response.
pub(crate) async fn announce_updates(s: &mut SignedIn, out: &mut Out, allow_expunge: bool) {
    let tagged = match out.responses.last() {
        Some(Response::Status(status)) if status.tag().is_some() => out.responses.pop(),
        _ => None,
    };
    if let Err(e) = super::search_context::sync(s, out, allow_expunge).await {
        tracing::error!(error = %e, "imap mailbox update failed");
    }
    if let Some(tagged) = tagged {
        out.responses.push(tagged);
    }
}

/// Answers a failed store call: the client's mistakes with their RFC 5530 code, our own
/// failures with a generic text (details only in the log).
pub fn store_error(out: &mut Out, tag: Tag<'static>, what: &str, error: &StoreError) {
    match error {
        StoreError::MailboxNotFound(_) => out.no_code(tag, "NONEXISTENT", "No such mailbox"),
        StoreError::MailboxExists(_) => {
            out.no_code(tag, "ALREADYEXISTS", "A mailbox with that name exists")
        }
        StoreError::InvalidMailbox { reason, .. } => out.no_code(tag, "CANNOT", reason),
        StoreError::MessageNotFound => out.no_code(tag, "NONEXISTENT", "No such message"),
        // The store's own check, in its transaction: another connection (or node) filled
        // the account after the early check passed.
        StoreError::OverQuota { .. } => out.no(
            tag,
            Some(imap_codec::imap_types::response::Code::OverQuota),
            "The mailbox is full; delete some mail first",
        ),
        StoreError::UidsExhausted(_) => {
            out.no_code(tag, "LIMIT", "The mailbox is full; create a new one")
        }
        other => out.internal(tag, what, other),
    }
}

/// The existing mailbox an APPEND, COPY or MOVE adds to, resolved
/// ([`crate::shared::resolve`]), on which the user holds "i" (RFC 4314 §4). A missing one
/// is not created: the client is answered `NO [TRYCREATE]` (RFC 3501 §6.3.11, §6.4.7), so
/// it may CREATE and retry, and `None` is returned; without "i", `NO [NOPERM]`.
pub async fn existing_target(
    s: &crate::account::SignedIn,
    out: &mut crate::out::Out,
    tag: &Tag<'static>,
    command: &str,
    mailbox: &imap_codec::imap_types::mailbox::Mailbox<'static>,
) -> Option<crate::shared::Target> {
    use imap_codec::imap_types::response::Code;
    let Ok(name) = crate::proto::mailbox_name::decode_mailbox(mailbox) else {
        out.no(tag.clone(), Some(Code::TryCreate), "No such mailbox");
        return None;
    };
    let store = s.account.ctx.store.as_ref();
    let found = match crate::shared::resolve(store, &s.account.record, &name).await {
        Ok(target) => store
            .mailbox(&target.owner, &target.name)
            .await
            .map(|m| m.map(|_| target)),
        Err(StoreError::MailboxNotFound(_)) => Ok(None),
        Err(e) => Err(e),
    };
    match found {
        Ok(Some(target)) => target
            .require('i', "add messages", out, tag)
            .then_some(target),
        Ok(None) => {
            out.no(
                tag.clone(),
                Some(Code::TryCreate),
                "No such mailbox; create it first",
            );
            None
        }
        Err(e) => {
            store_error(out, tag.clone(), command, &e);
            None
        }
    }
}
