//! NOOP (RFC 3501 §6.1.2) before sign-in: nothing to report, just OK. (Signed in, NOOP
//! reports mailbox changes and is the caller's.)

use imap_codec::imap_types::core::Tag;
use imap_next::server::Server;

use crate::{proto::response::ok, session::Flow};

/// Runs NOOP.
pub fn run(server: &mut Server, tag: Tag<'static>) -> Flow {
    server.enqueue_status(ok(tag, None, "NOOP completed"));
    Flow::Continue
}
