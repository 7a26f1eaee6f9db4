//! certmail-imap: the IMAP server, from bytes on the wire to the store.
//!
//! The layers, each using only the ones above it in this list:
//! - [`proto`]: sans-IO protocol pieces (no tokio, no store, no clock): capabilities
//!   (with [`proto::capability::Enabled`], what a client has enabled), the port-143
//!   plaintext phase, the imap-next [`proto::driver::Driver`] with literal accounting, our
//!   own parser for the forms imap-codec does not read ([`proto::ext`]), sequence-set
//!   mapping, mailbox names, flags, response builders.
//! - [`message`]: FETCH views of a raw message (ENVELOPE, BODYSTRUCTURE, `BODY[section]`),
//!   and the header cache; [`fetch_items`]: the FETCH data items of one message (macros,
//!   UID, MODSEQ, the \Seen rule); [`search_eval`]: whether one message matches a SEARCH
//!   key, with [`search_charset`] for SEARCH CHARSET.
//! - [`mailbox`]: the live view of the selected mailbox ([`mailbox::Selected`]: sequence
//!   numbers, \Recent, pending changes from other connections).
//! - [`context`]: what all connections share ([`context::ImapContext`]: store, session
//!   registry, change hub, literal budget, header cache) and [`context::ImapSettings`];
//!   [`filing`]: the hook told of COPY/MOVE between mailboxes (spam learning from Junk).
//! - [`session`]: one connection's state, held once: [`session::Session`] with its
//!   [`session::SessionState`] (not signed in, [`session::SignedIn`] with the account, what
//!   the client enabled and the selected mailbox, logging out). It answers the store-free
//!   commands and sign-in and hands the rest back as [`session::Flow`].
//! - [`account`]: the server's signed-in account ([`account::AccountHandle`]) and the
//!   store-backed methods of [`account::SignedIn`] (hub changes, mailbox sync); [`out`]:
//!   the responses one command collects.
//! - [`shared`]: other people's mailboxes (RFC 4314 ACL, RFC 2342 "Other Users"
//!   namespace): resolving a client's name to owner and store name, and the rights held.
//! - [`commands`]: one file per command, each a function of the connection state
//!   (`&mut Session` for the store-free ones, `&mut account::SignedIn` for the others);
//!   [`commands::dispatch::dispatch`] picks the file and tells pending mailbox updates.
//! - [`server`]: the tokio connection driver, the only place that awaits the socket: TLS
//!   (and STARTTLS on 143), the read loop, sign-in ([`commands::sign_in::Authenticator`]
//!   backed by `certmail_auth` and the session registry), FETCH in batches, IDLE, kicks,
//!   autologout, shutdown and COMPRESS=DEFLATE. The daemon wires only
//!   [`server::serve`] with an [`server::ImapContext`] and a [`server::Connection`].
//!
//! - `fuzzing` (feature `fuzzing`, and in unit tests): what the fuzz targets and the
//!   robustness tests share; `server::fuzz_stream` serves a connection over any stream.
//!
//! A new IMAP command: parse it in imap-codec or [`proto::ext`], add its file under
//! `commands/` and its arm in `commands/mod.rs` (store-free) or `commands/dispatch.rs`.
//!
//! Rules: nothing below [`server`] does I/O, and [`proto`] reads no clock (time is
//! passed in); `commands` never imports [`server`]; one command runs at a time per
//! connection; nothing from the network is unwrapped; secrets (passwords, AUTHENTICATE
//! payloads) never reach Debug output or logs (imap-types' `Secret` prints in debug
//! builds: never log imap-next events or commands with `{:?}`).
#![forbid(unsafe_code)]

pub mod account;
pub mod commands;
pub mod context;
pub mod error;
pub mod fetch_items;
pub mod filing;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod mailbox;
pub mod message;
pub mod out;
pub mod proto;
pub mod search_charset;
pub mod search_eval;
pub mod server;
pub mod session;
pub mod shared;

pub use error::ImapError;
