//! certmail-imap: the IMAP server's protocol side.
//!
//! Main modules:
//! - [`message`]: FETCH views of a raw message (ENVELOPE, BODYSTRUCTURE, BODY[section]);
//! - [`search`]: SEARCH evaluation of one message against imap-codec's `SearchKey`;
//! - [`proto`]: sans-IO protocol pieces: capabilities, the plaintext STARTTLS phase, the
//!   imap-next driver with literal accounting, sequence-set mapping, mailbox names, flags;
//! - [`session`] and [`commands`]: the connection state and one file per command;
//! - [`mailbox`]: the selected mailbox's view, \Recent, mailbox names (modified UTF-7);
//! - [`server`]: the tokio server: TLS, sign-in, the read loop, IDLE, kicks and shutdown
//!   ([`server::serve`] with an [`server::ImapContext`] and a [`server::Connection`]).
//!
//! Rules: the protocol layer does no I/O and reads no clock (time is passed in); nothing
//! from the network is unwrapped; secrets (passwords, AUTHENTICATE payloads) never reach
//! Debug output or logs.
#![forbid(unsafe_code)]

pub mod commands;
pub mod error;
pub mod mailbox;
pub mod message;
pub mod proto;
pub mod search;
pub mod server;
pub mod session;

pub use error::ImapError;
