//! The store-backed mailbox side of a session:
//! - [`selected`]: the selected mailbox as this connection's client sees it (sequence
//!   numbers, flags, MODSEQ, \Recent) and the changes other connections made that it has
//!   not been told yet, announced only when RFC 3501 §7.4.1 allows;
//! - [`recent`]: which connection first saw a message (\Recent, RFC 3501 §2.3.2);
//! - [`seen`]: each reader's own `\Seen` in a mailbox someone else owns (RFC 4314 §4).
//!
//! Mailbox names on the wire and flags use `crate::proto::{mailbox_name, flags}`.

pub mod recent;
pub mod seen;
pub mod selected;

pub use recent::RecentTracker;
pub use selected::{Entry, Selected};

use imap_codec::imap_types::flag::Flag;

use crate::proto::flags::{flag_from_str, flag_to_string};

/// The store's flag strings as flags (strings that are not flags are skipped).
pub fn flags_of(stored: &[String]) -> Vec<Flag<'static>> {
    stored.iter().filter_map(|f| flag_from_str(f)).collect()
}

/// Flags as the store's strings.
pub fn strings_of(flags: &[Flag<'_>]) -> Vec<String> {
    flags.iter().map(flag_to_string).collect()
}
