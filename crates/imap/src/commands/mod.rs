//! One file per IMAP command, each a function of the connection state, and the dispatch
//! from a received command to its file.
//!
//! Store-free commands take the [`crate::session::Session`] and run in the `dispatch` function below
//! (from `Session::handle_event`): CAPABILITY, NOOP before sign-in, LOGOUT, ID, ENABLE,
//! LOGIN and AUTHENTICATE (through [`sign_in::Authenticator`]), STARTTLS refused. RFC 3501
//! §3 states: a command valid only in another state gets BAD; sign-in commands after
//! sign-in get BAD; every other command of a signed-in client goes back to the connection
//! driver (`crate::server`).
//!
//! Store-backed commands take the signed-in state ([`crate::account::SignedIn`]) and an
//! [`crate::out::Out`], and run through [`dispatch::dispatch`]: SELECT/EXAMINE (`select`,
//! with its responses built in `select_reply`), CREATE, DELETE, RENAME,
//! SUBSCRIBE/UNSUBSCRIBE, LIST/LSUB, STATUS, APPEND, CLOSE/UNSELECT, EXPUNGE/UID EXPUNGE,
//! SEARCH, FETCH (streamed in batches by the driver, see [`fetch::FetchJob`]), STORE,
//! COPY/MOVE, NAMESPACE, and NOOP/CHECK with their updates; SORT and THREAD (RFC 5256),
//! GETQUOTA/GETQUOTAROOT/SETQUOTA (RFC 9208), the QRESYNC resync of SELECT and UID FETCH
//! (RFC 7162, `qresync`), and the commands our own parser reads (`extended`: LIST,
//! CREATE, SEARCH RETURN and those using `$`). COMPRESS (RFC 4978) is `server::compress`.
//! None of them imports the driver.

pub mod acl;
pub mod append;
mod catenate;
pub mod close;
pub mod copy;
pub mod create;
pub mod delete;
pub mod dispatch;
pub mod expunge;
pub mod extended;
pub mod fetch;
pub mod list;
pub mod list_extended;
pub mod namespace;
pub mod notify;
pub mod notify_reach;
pub mod qresync;
pub mod quota;
pub mod rename;
pub mod search;
pub mod search_context;
pub mod select;
pub mod sort;
pub mod status;
pub mod store;
pub mod subscribe;
pub mod thread;
pub mod urlauth;
pub mod urlfetch;

pub use dispatch::{Outcome, existing_target, store_error};

pub mod authenticate;
pub mod capability;
pub mod enable;
pub mod id;
pub mod login;
pub mod logout;
pub mod noop;
pub mod select_reply;
pub mod sign_in;

use imap_codec::imap_types::command::{Command, CommandBody};
use imap_next::server::{Event, Server};

use crate::{
    proto::response::bad,
    session::{Flow, Session, SessionState},
};
use sign_in::Authenticator;

/// Runs `command` if it is one of ours; otherwise returns it as [`Flow::Unhandled`] (signed
/// in) or refuses it (not signed in).
pub(crate) async fn dispatch<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    command: Command<'static>,
) -> Flow {
    let signed_in = matches!(session.state, SessionState::SignedIn(_));
    match command.body {
        CommandBody::Capability => capability::run(session, server, command.tag),
        CommandBody::Noop if !signed_in => noop::run(server, command.tag),
        CommandBody::Logout => logout::run(session, server, command.tag),
        CommandBody::Id { parameters } => id::run(session, server, command.tag, parameters),
        CommandBody::Enable { capabilities } => {
            enable::run(session, server, command.tag, capabilities)
        }
        CommandBody::Login { username, password } => {
            login::run(session, server, command.tag, username, password).await
        }
        CommandBody::StartTLS => {
            session.reply_bad(server, bad(Some(command.tag), "TLS is already active"))
        }
        // NOOP when signed in reports mailbox changes: the caller's job (it has the hub).
        body if signed_in => Flow::Unhandled(Event::CommandReceived {
            command: Command {
                tag: command.tag,
                body,
            },
        }),
        _ => session.reply_bad(
            server,
            bad(Some(command.tag), "Sign in first (AUTHENTICATE or LOGIN)"),
        ),
    }
}
