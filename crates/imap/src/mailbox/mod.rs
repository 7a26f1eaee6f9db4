//! The store-backed mailbox side of a session:
//! - [`name`]: mailbox names on the wire (modified UTF-7) and LIST patterns;
//! - [`selected`]: the selected mailbox as this connection's client sees it (sequence
//!   numbers, flags, MODSEQ, \Recent) and the changes other connections made that it has
//!   not been told yet, announced only when RFC 3501 §7.4.1 allows;
//! - [`recent`]: which connection first saw a message (\Recent, RFC 3501 §2.3.2);
//! - [`flags`]: flags between the store's strings and imap-codec's types.

pub mod flags;
pub mod name;
pub mod recent;
pub mod selected;

pub use recent::RecentTracker;
pub use selected::{Entry, Selected};
