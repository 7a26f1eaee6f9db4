//! LOGIN (RFC 3501 §6.2.3): user name and password to the [`Authenticator`]. Only ever over
//! TLS (port 143 refuses it before STARTTLS, `proto::plaintext`).

use imap_codec::imap_types::{
    core::{AString, Tag},
    secret::Secret,
};
use imap_next::server::Server;

use super::sign_in::{Authenticator, Password, SignInMechanism, SignInRequest};
use crate::{
    proto::response::{bad, bye},
    session::{Flow, Session, SessionState},
};

/// Runs LOGIN.
pub async fn run<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    tag: Tag<'static>,
    username: AString<'static>,
    password: Secret<AString<'static>>,
) -> Flow {
    if !matches!(session.state(), SessionState::NotAuthenticated) {
        return session.reply_bad(server, bad(Some(tag), "Already signed in"));
    }
    let (Ok(username), Ok(password)) = (
        String::from_utf8(username.as_ref().to_vec()),
        String::from_utf8(password.declassify().as_ref().to_vec()),
    ) else {
        return session.reply_bad(
            server,
            bad(Some(tag), "User name and password must be UTF-8"),
        );
    };
    let request = SignInRequest {
        mechanism: SignInMechanism::Login,
        authzid: None,
        username: Some(username),
        password: Some(Password::new(password)),
    };
    let outcome = super::authenticate::sign_in(session, tag, request).await;
    server.enqueue_status(outcome.status);
    if matches!(outcome.flow, Flow::Close) {
        server.enqueue_status(bye(None, "Too many failed sign-ins"));
    }
    outcome.flow
}
