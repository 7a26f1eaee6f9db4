//! certmail-imap: the IMAP server's protocol side.
//!
//! Main modules:
//! - [`message`]: FETCH views of a raw message (ENVELOPE, BODYSTRUCTURE, `BODY[section]`);
//! - [`fetch_items`]: FETCH data items for one message (macros, UID, MODSEQ, \Seen rule);
//! - [`search_eval`]: SEARCH evaluation of one message against imap-codec's `SearchKey`, and
//!   [`search_charset`]: SEARCH CHARSET conversion to UTF-8;
//! - [`proto`]: sans-IO protocol pieces: capabilities, the plaintext STARTTLS phase, the
//!   imap-next driver with literal accounting, our own parser for the forms imap-codec does
//!   not read (`proto::ext`), sequence-set mapping, mailbox names, flags;
//! - [`session`] and [`commands`]: the connection state and one file per command;
//! - [`mailbox`]: the selected mailbox's view, \Recent, mailbox names (modified UTF-7);
//! - [`server`]: the tokio server that carries everything out with the store and the change
//!   hub: TLS, sign-in, the read loop, IDLE, kicks and shutdown ([`server::serve`] with an
//!   [`server::ImapContext`] and a [`server::Connection`]); the daemon wires only that.
//!   COMPRESS=DEFLATE wraps the TLS stream there ([`server::compress`]).
//!
//! Wiring a connection (the daemon's job):
//! 1. Port 143: write [`proto::plaintext::PlaintextPhase::greeting`], then feed socket bytes
//!    to `PlaintextPhase::feed` and write its output until the outcome is `StartTls` (do the
//!    TLS handshake; drop the phase, and with it anything the client sent early) or `Close`.
//! 2. After TLS (993 at once, 143 after STARTTLS): a [`proto::driver::Driver`]
//!    (`after_starttls` true on 143, so no second greeting) and a [`session::Session`] with
//!    the connection's [`commands::sign_in::Authenticator`]. The driver is an imap-next
//!    `State`: loop on `next()`, write `Io::Output`, read on `Io::NeedMoreInput`, pass
//!    events to `Session::handle_event` and errors to `Session::handle_error`. `Flow::Close`
//!    means flush and close; `Flow::Unhandled` carries the commands that need the store
//!    (SELECT, FETCH via [`fetch_items`], SEARCH via [`search_eval`], ...) and IDLE; `Flow::Extended`
//!    the commands our own parser read ([`proto::ext`]: SEARCH RETURN, LIST, CREATE, `$`).
//!
//! Rules: the protocol layer does no I/O and reads no clock (time is passed in); nothing
//! from the network is unwrapped; secrets (passwords, AUTHENTICATE payloads) never reach
//! Debug output or logs (imap-types' `Secret` prints in debug builds: never log imap-next
//! events or commands with `{:?}`).
#![forbid(unsafe_code)]

pub mod account;
pub mod commands;
pub mod context;
pub mod error;
pub mod fetch_items;
pub mod mailbox;
pub mod message;
pub mod out;
pub mod proto;
pub mod search_charset;
pub mod search_eval;
pub mod server;
pub mod session;

pub use error::ImapError;
