//! AUTHENTICATE (RFC 3501 §6.2.2) with EXTERNAL (RFC 4422 Appendix A) and PLAIN
//! (RFC 4616), both with SASL-IR (RFC 4959). imap-next runs the exchange; we decide.

use imap_codec::imap_types::{
    auth::{AuthMechanism, AuthenticateData},
    core::Tag,
    response::{CommandContinuationRequest, Status},
};
use imap_next::{server::Server, types::CommandAuthenticate};

use super::{
    capability::phase,
    sign_in::{Authenticator, SignInMechanism, SignInRequest, parse_external, parse_plain},
};
use crate::{
    proto::{
        capability::capabilities,
        response::{bad, bye, no, ok},
    },
    session::{Flow, PendingAuthenticate, Session, SessionState, SignedIn},
};

/// The answer to a sign-in attempt.
pub(crate) struct SignInOutcome {
    pub(crate) status: Status<'static>,
    pub(crate) flow: Flow,
}

/// Starts AUTHENTICATE: with an initial response it finishes at once; otherwise it asks
/// for the client's data with an empty challenge (`+ `).
pub async fn start<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    command: CommandAuthenticate,
) -> Flow {
    let tag = command.tag;
    if !matches!(session.state(), SessionState::NotAuthenticated) {
        return finish_bad(session, server, tag, "Already signed in");
    }
    let mechanism = match &command.mechanism {
        AuthMechanism::Plain => SignInMechanism::Plain,
        other if other.as_ref().eq_ignore_ascii_case("EXTERNAL") => SignInMechanism::External,
        _ => {
            // RFC 3501 §6.2.2: NO for an unsupported mechanism.
            let status = no(tag, None, "Unsupported mechanism: use EXTERNAL or PLAIN");
            let _ = server.authenticate_finish(status);
            return Flow::Continue;
        }
    };
    match command.initial_response {
        Some(initial) => finish(session, server, tag, mechanism, initial.declassify()).await,
        None => {
            session.pending_authenticate = Some(PendingAuthenticate { tag, mechanism });
            let _ = server.authenticate_continue(CommandContinuationRequest::base64(Vec::new()));
            Flow::Continue
        }
    }
}

/// The client's answer to our `+ `: its SASL message, or `*` to cancel.
pub async fn data<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    data: AuthenticateData<'static>,
) -> Flow {
    let Some(pending) = session.pending_authenticate.take() else {
        // imap-next only sends this event inside an exchange; nothing to answer otherwise.
        return Flow::Continue;
    };
    match data {
        // RFC 3501 §6.2.2: a cancelled exchange gets a tagged BAD.
        AuthenticateData::Cancel => {
            finish_bad(session, server, pending.tag, "Authentication cancelled")
        }
        AuthenticateData::Continue(message) => {
            finish(
                session,
                server,
                pending.tag,
                pending.mechanism,
                message.declassify(),
            )
            .await
        }
    }
}

async fn finish<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    tag: Tag<'static>,
    mechanism: SignInMechanism,
    message: &[u8],
) -> Flow {
    let request = match mechanism {
        SignInMechanism::External => parse_external(message),
        _ => parse_plain(message),
    };
    let Some(request) = request else {
        return finish_bad(session, server, tag, "Malformed SASL message");
    };
    let outcome = sign_in(session, tag, request).await;
    let _ = server.authenticate_finish(outcome.status);
    if matches!(outcome.flow, Flow::Close) {
        server.enqueue_status(bye(None, "Too many failed sign-ins"));
    }
    outcome.flow
}

fn finish_bad<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    tag: Tag<'static>,
    text: &str,
) -> Flow {
    let _ = server.authenticate_finish(bad(Some(tag), text));
    session.count_bad(server)
}

/// Asks the authenticator; on success the session is signed in and the OK carries the new
/// capabilities (RFC 3501 §6.2.2 allows CAPABILITY in the OK). Refusals count toward the
/// connection's limit.
pub(crate) async fn sign_in<A: Authenticator>(
    session: &mut Session<A>,
    tag: Tag<'static>,
    request: SignInRequest,
) -> SignInOutcome {
    match session.authenticator.sign_in(request).await {
        Ok(account) => {
            session.set_state(SessionState::SignedIn(SignedIn::new(account)));
            let config = session.config();
            let caps = capabilities(phase(session), config.append_limit, config.auth_external);
            let code = imap_codec::imap_types::response::Code::Capability(caps);
            SignInOutcome {
                status: ok(tag, Some(code), "Signed in"),
                flow: Flow::Continue,
            }
        }
        Err(refusal) => {
            session.failed_sign_ins += 1;
            let flow = if session.failed_sign_ins >= session.config().max_failed_sign_ins {
                session.set_state(SessionState::Logout);
                Flow::Close
            } else {
                Flow::Continue
            };
            SignInOutcome {
                status: no(tag, Some(refusal.code.code()), &refusal.text),
                flow,
            }
        }
    }
}
