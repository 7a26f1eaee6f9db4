//! certmail-imap: the IMAP server's protocol side.
//!
//! Main modules:
//! - [`message`]: FETCH views of a raw message (ENVELOPE, BODYSTRUCTURE, BODY[section]);
//! - [`fetch`]: FETCH data items for one message (macros, UID, MODSEQ, \Seen rule);
//! - [`search`]: SEARCH evaluation of one message against imap-codec's `SearchKey`;
//! - [`proto`]: sans-IO protocol pieces: capabilities, the plaintext STARTTLS phase, the
//!   imap-next driver with literal accounting, sequence-set mapping, mailbox names, flags;
//! - [`session`] and [`commands`]: the connection state and one file per command.
//!
//! Rules: the protocol layer does no I/O and reads no clock (time is passed in); nothing
//! from the network is unwrapped; secrets (passwords, AUTHENTICATE payloads) never reach
//! Debug output or logs.
#![forbid(unsafe_code)]

pub mod commands;
pub mod error;
pub mod fetch;
pub mod message;
pub mod proto;
pub mod search;
pub mod session;

pub use error::ImapError;
