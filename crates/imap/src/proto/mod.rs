//! Sans-IO protocol pieces that need no store:
//! - [`capability`]: the CAPABILITY list per connection phase;
//! - [`plaintext`]: port 143 before STARTTLS, by hand;
//! - [`driver`]: an imap-next `Server` driven without I/O, with the post-STARTTLS greeting
//!   dropped and literal memory accounted across connections;
//! - [`seqmap`]: sequence numbers ↔ UIDs for one session;
//! - [`mailbox_name`], [`flags`]: mailbox names and flag helpers;
//! - [`response`]: building and encoding responses.

pub mod capability;
pub mod driver;
pub mod ext;
pub mod flags;
pub mod literal;
pub mod mailbox_name;
pub mod plaintext;
pub mod response;
pub mod seqmap;
