//! The commands our own parser read (`proto::ext`): LIST, CREATE, the ACL and URLAUTH commands, SEARCH
//! RETURN, SORT RETURN and those
//! using `$` (RFC 5182), run like the others (`dispatch`), with the selected mailbox's
//! updates told after them.

use super::{
    Outcome, acl, append, create, dispatch, dispatch::announce_updates, list_extended, search,
    sort, urlauth, urlfetch,
};
use crate::proto::ext::{
    self, ExtBody, ExtCommand, SavedResultCommand, encode::sequence_set, searchres::substitute,
};
use crate::{account::SignedIn, out::Out};

/// Runs one command of a signed-in connection.
pub async fn run(s: &mut SignedIn, out: &mut Out, command: ExtCommand) -> Outcome {
    let tag = command.tag;
    let (outcome, allow_expunge) = match command.body {
        ExtBody::List(request) => (list_extended::list(s, out, tag, &request).await, true),
        ExtBody::Create(request) => (create::create_with_use(s, out, tag, &request).await, true),
        ExtBody::Acl(request) => (acl::acl(s, out, tag, &request).await, true),
        ExtBody::Append(request) => (append::multiappend(s, out, tag, request).await, true),
        ExtBody::Notify(request) => (super::notify::notify(s, out, tag, request).await, true),
        ExtBody::GenUrlAuth(pairs) => (urlauth::genurlauth(s, out, tag, pairs).await, true),
        ExtBody::ResetKey(reset) => (urlauth::resetkey(s, out, tag, reset).await, true),
        ExtBody::UrlFetch(urls) => (urlfetch::urlfetch(s, out, tag, urls).await, true),
        ExtBody::CancelUpdate(tags) => {
            super::search_context::cancel(s, &tags);
            out.ok(tag, None, "CANCELUPDATE completed");
            (Outcome::Done, true)
        }
        ExtBody::Search(_) | ExtBody::Sort(_) | ExtBody::SavedResult(_) if s.selected.is_none() => {
            out.bad(tag, "Select a mailbox first");
            return Outcome::Bad;
        }
        // RFC 3501 §7.4.1: EXPUNGE only while answering UID SEARCH.
        ExtBody::Search(request) => (search::esearch(s, out, tag, &request).await, request.uid),
        ExtBody::Sort(request) => (sort::esort(s, out, tag, &request).await, request.uid),
        ExtBody::SavedResult(command) => return saved_result(s, out, tag, &command).await,
        ExtBody::Standard(body) => return dispatch::dispatch(s, out, tag, *body).await,
    };
    if outcome == Outcome::Done {
        announce_updates(s, out, allow_expunge).await;
    }
    outcome
}

/// A command with `$`: the saved result written in, then run as if the client had sent it
/// (RFC 5182 §2.2: `$` is the UIDs kept, as sequence numbers in a non-UID command).
async fn saved_result(
    s: &mut SignedIn,
    out: &mut Out,
    tag: imap_codec::imap_types::core::Tag<'static>,
    command: &SavedResultCommand,
) -> Outcome {
    let Some(selected) = &s.selected else {
        out.bad(tag, "Select a mailbox first");
        return Outcome::Bad;
    };
    // Messages expunged since the SEARCH are no longer part of the result.
    let numbers: Vec<u32> = s
        .account
        .search_result
        .iter()
        .filter_map(|&uid| {
            let seq = selected.seq_of(uid)?;
            Some(if command.uid || !command.as_set {
                uid
            } else {
                seq
            })
        })
        .collect();
    let replacement = match (command.as_set, numbers.is_empty()) {
        (false, true) => "NOT ALL".to_owned(),
        (false, false) => format!("UID {}", sequence_set(&numbers)),
        (true, true) => {
            // RFC 5182 §2.1: an empty result is an empty set; nothing to do.
            out.ok(tag, None, "No messages in the saved search result");
            announce_updates(s, out, command.uid).await;
            return Outcome::Done;
        }
        (true, false) => sequence_set(&numbers),
    };
    let bytes = substitute(&command.raw, &replacement);
    if ext::claims(&bytes) {
        let Ok(parsed) = ext::parse(&bytes) else {
            out.bad(tag, "Syntax error");
            return Outcome::Bad;
        };
        return Box::pin(run(s, out, parsed)).await;
    }
    match ext::decode_standard(&bytes) {
        Ok(body) => dispatch::dispatch(s, out, tag, body).await,
        Err(_) => {
            out.bad(tag, "Syntax error");
            Outcome::Bad
        }
    }
}
