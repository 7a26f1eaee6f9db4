//! LOGOUT (RFC 3501 §6.1.3): untagged BYE, tagged OK, then close.

use imap_codec::imap_types::core::Tag;
use imap_next::server::Server;

use super::sign_in::Authenticator;
use crate::{
    proto::response::{bye, ok},
    session::{Flow, Session, SessionState},
};

/// Runs LOGOUT.
pub fn run<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    tag: Tag<'static>,
) -> Flow {
    server.enqueue_status(bye(None, "Logging out"));
    server.enqueue_status(ok(tag, None, "LOGOUT completed"));
    session.set_state(SessionState::Logout);
    Flow::Close
}
