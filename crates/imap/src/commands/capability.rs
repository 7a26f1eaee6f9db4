//! CAPABILITY (RFC 3501 §6.1.1): one untagged CAPABILITY response, then OK.

use imap_codec::imap_types::{core::Tag, response::Data};
use imap_next::server::Server;

use super::sign_in::Authenticator;
use crate::{
    proto::{
        capability::{CapabilityPhase, capabilities},
        response::ok,
    },
    session::{Flow, Session, SessionState},
};

/// The capability phase of a session (always after TLS).
pub fn phase<A: Authenticator>(session: &Session<A>) -> CapabilityPhase {
    match session.state() {
        SessionState::NotAuthenticated => CapabilityPhase::TlsNotAuthenticated,
        _ => CapabilityPhase::Authenticated,
    }
}

/// Runs CAPABILITY.
pub fn run<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    tag: Tag<'static>,
) -> Flow {
    let config = session.config();
    let caps = capabilities(phase(session), config.append_limit, config.auth_external);
    server.enqueue_data(Data::Capability(caps));
    server.enqueue_status(ok(tag, None, "CAPABILITY completed"));
    Flow::Continue
}
