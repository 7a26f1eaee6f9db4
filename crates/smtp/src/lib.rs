//! certmail-smtp: the SMTP side of certmail.
//!
//! This round holds the sans-IO protocol layer; the I/O driver (sockets, TLS, the store,
//! sign-in) is wired on top of it.
//!
//! - [`proto`]: the protocol layer. [`proto::Session`] is the server state machine, fed
//!   bytes and returning [`proto::Action`]s; [`proto::Reply`] formats replies.
//! - [`message`]: pure header helpers (Received, Message-ID, Date, From: addresses).
//! - [`error`]: the crate's error enum.
//!
//! Rules: the protocol layer has no tokio, no store and no clock (time is passed in); every
//! limit from the network is bounded and framing is kept after a limit is hit; AUTH
//! payloads never reach Debug output ([`proto::Secret`]).
#![forbid(unsafe_code)]

pub mod error;
pub mod inbound;
pub mod message;
pub mod proto;

pub use error::Error;
