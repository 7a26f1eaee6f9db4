//! The commands our own parser read (`proto::ext`): LIST, CREATE, SEARCH RETURN and those
//! using `$` (RFC 5182), run like the others (`dispatch`), with the selected mailbox's
//! updates told after them.

use imap_codec::{CommandCodec, decode::Decoder, imap_types::ToStatic};

use super::{Outcome, create, dispatch, dispatch::announce_updates, list_extended, search};
use crate::proto::ext::{
    self, ExtBody, ExtCommand, SavedResultCommand, encode::sequence_set, searchres::substitute,
};
use crate::proto::utf8_quoted::command_quoted_to_literals;
use crate::server::{Out, SignedIn};

/// Runs one command of a signed-in connection.
pub async fn run(s: &mut SignedIn, out: &mut Out, command: ExtCommand) -> Outcome {
    let tag = command.tag;
    let (outcome, allow_expunge) = match command.body {
        ExtBody::List(request) => (list_extended::list(s, out, tag, &request).await, true),
        ExtBody::Create(request) => (create::create_with_use(s, out, tag, &request).await, true),
        ExtBody::Search(_) | ExtBody::SavedResult(_) if s.selected.is_none() => {
            out.bad(tag, "Select a mailbox first");
            return Outcome::Bad;
        }
        // RFC 3501 §7.4.1: EXPUNGE only while answering UID SEARCH.
        ExtBody::Search(request) => (search::esearch(s, out, tag, &request).await, request.uid),
        ExtBody::SavedResult(command) => return saved_result(s, out, tag, &command).await,
        ExtBody::Standard(raw) => return standard(s, out, tag, &raw).await,
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
    standard(s, out, tag, &bytes).await
}

/// A complete command in a form imap-codec reads, run as if imap-next had parsed it (after
/// ENABLE IMAP4rev2, with UTF-8 quoted strings written as literals, as the driver does).
async fn standard(
    s: &mut SignedIn,
    out: &mut Out,
    tag: imap_codec::imap_types::core::Tag<'static>,
    command: &[u8],
) -> Outcome {
    let rewritten;
    let bytes = if s.imap4rev2 {
        rewritten = command_quoted_to_literals(command);
        &rewritten[..]
    } else {
        command
    };
    match CommandCodec::default().decode(bytes) {
        Ok((b"", parsed)) => dispatch::dispatch(s, out, tag, parsed.body.to_static()).await,
        _ => {
            out.bad(tag, "Syntax error");
            Outcome::Bad
        }
    }
}
