//! The IMAP server's I/O side: sockets, TLS, sign-in, the store and the change hub around
//! the sans-IO protocol pieces of [`crate::proto`].
//!
//! One task per connection ([`serve`]). Port 993 does the TLS handshake, then greets; port
//! 143 runs [`crate::proto::plaintext`] until STARTTLS, then carries on without a second
//! greeting. After TLS, an imap-next server ([`crate::proto::driver::Driver`]) frames
//! commands and [`crate::session::Session`], the connection's one state, answers the
//! store-free ones and sign-in (its `Authenticator` here, in `identity`, is the certificate
//! check of `certmail_auth` plus the session registry). What it passes on runs in
//! [`crate::commands::dispatch::dispatch`] against the session's signed-in state. This
//! module is the driver above the commands: they never import it.
//! Each command runs to completion before the next is read (one command at a time per
//! connection), and mutating commands answer OK only after the store returned (its writes
//! are durable then) and the change was published to the hub.
//!
//! Every wait (reading, IDLE, a store call, writing) also watches the session's kick, the
//! daemon's shutdown and the autologout timer: a kicked connection hears
//! `* BYE [UNAVAILABLE] <reason>` at once, even mid-IDLE (a client that stopped reading is
//! simply dropped); a shutdown says BYE at the next command boundary.
//!
//! Wiring (the daemon): build one [`ImapContext`] with [`ImapContext::new`] (and
//! [`ImapContext::reloaded`] on reload), then for each accepted socket
//! `tokio::spawn(serve(ctx.clone(), Connection { .. }))`.

pub mod compress;
mod connection;
mod identity;

pub use crate::account::SignedIn;
pub use crate::context::{
    DEFAULT_APPEND_LIMIT, DEFAULT_AUTOLOGOUT_MINUTES, DEFAULT_HEADER_CACHE_MEMORY,
    DEFAULT_MAX_ACL_ENTRIES, DEFAULT_MAX_BAD_COMMANDS, DEFAULT_MAX_COMMAND_LINE,
    DEFAULT_MAX_LITERAL_MEMORY, DEFAULT_MAX_SEARCH_CONTEXTS, DEFAULT_PREAUTH_TIMEOUT_SECS,
    ImapContext, ImapSettings,
};
pub use crate::out::Out;
pub use crate::proto::driver::DEFAULT_MAX_LITERAL_BEFORE_LOGIN;
#[cfg(feature = "fuzzing")]
pub use connection::fuzz_stream;
pub use connection::{Connection, serve};
