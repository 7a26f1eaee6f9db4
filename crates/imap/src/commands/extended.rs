//! The commands our own parser read (`proto::ext`): LIST, CREATE and SEARCH RETURN, run
//! like the others (`dispatch`), with the selected mailbox's updates told after them.

use super::{Outcome, create, dispatch::announce_updates, list_extended, search};
use crate::proto::ext::{ExtBody, ExtCommand};
use crate::server::{Out, SignedIn};

/// Runs one command of a signed-in connection.
pub async fn run(s: &mut SignedIn, out: &mut Out, command: ExtCommand) -> Outcome {
    let tag = command.tag;
    let (outcome, allow_expunge) = match command.body {
        ExtBody::List(request) => (list_extended::list(s, out, tag, &request).await, true),
        ExtBody::Create(request) => (create::create_with_use(s, out, tag, &request).await, true),
        ExtBody::Search(_) if s.selected.is_none() => {
            out.bad(tag, "Select a mailbox first");
            return Outcome::Bad;
        }
        // RFC 3501 §7.4.1: EXPUNGE only while answering UID SEARCH.
        ExtBody::Search(request) => (search::esearch(s, out, tag, &request).await, request.uid),
    };
    if outcome == Outcome::Done {
        announce_updates(s, out, allow_expunge).await;
    }
    outcome
}
