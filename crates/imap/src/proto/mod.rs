//! Sans-IO protocol pieces that need no store:
//! - [`capability`]: the CAPABILITY list per connection phase;
//! - [`plaintext`]: port 143 before STARTTLS, by hand;
//! - [`driver`]: an imap-next `Server` driven without I/O, with the post-STARTTLS greeting
//!   dropped and literal memory accounted across connections;
//! - [`ext`]: our own parser for the forms imap-codec does not read (SEARCH RETURN,
//!   extended LIST, CREATE (USE), `$`), the responses it cannot write (ESEARCH, CHILDINFO)
//!   and the IMAP4rev2 rewrite of responses;
//! - [`seqmap`]: sequence numbers ↔ UIDs for one session;
//! - [`mailbox_name`], [`flags`]: mailbox names and flag helpers;
//! - [`response`]: building and encoding responses;
//! - [`utf8_quoted`]: IMAP4rev2 UTF-8 quoted strings rewritten as literals for imap-codec.

pub mod capability;
pub mod driver;
pub mod ext;
pub mod flags;
pub mod imap_url;
pub mod literal;
pub mod mailbox_name;
pub mod plaintext;
pub mod response;
pub mod seqmap;
pub mod sets;
pub mod urlauth;
pub mod utf8_quoted;
