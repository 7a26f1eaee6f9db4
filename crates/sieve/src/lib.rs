//! certmail-sieve: a Sieve mail filter interpreter (RFC 5228 and extensions), written from
//! the RFCs, with no IO.
//!
//! A script goes through three stages:
//!
//! 1. [`lexer`] turns text into tokens (comments, quoted and `text:` strings, numbers with
//!    `K`/`M`/`G`);
//! 2. [`syntax`] builds the generic command/argument/test tree of RFC 5228 §8.2, and
//!    [`mod@compile`] types it into [`ast::Script`], reporting the RFC's compile-time errors
//!    (unknown command or test, wrong arguments, tag rules, missing `require`) with line
//!    and column;
//! 3. [`eval`] runs the script against a [`Message`] and returns an [`Outcome`]: the
//!    [`Action`]s, with the implicit keep of RFC 5228 §2.10.2 resolved.
//!
//! Other modules: [`message`] (the message view, [`Context`] and the [`Environment`]
//! trait through which the store answers `mailboxexists` and `include`), [`action`],
//! [`limits`] and [`error`]; [`vacation`] writes and reads back the out-of-office script
//! certmail generates (the CLI's and the self-service page's).
//!
//! Extensions: fileinto, reject, ereject, envelope, imap4flags, vacation, copy, body,
//! variables, relational, comparator-i;ascii-numeric, date, mailbox, include, regex,
//! subaddress, encoded-character, index (the list is [`EXTENSIONS`]).
//!
//! Rules:
//! - No IO and no clock: time, envelope and the store's answers are passed in.
//! - Everything is bounded by [`Limits`]: script size, nesting, a step budget for the
//!   run, variable sizes and counts, actions, redirects, includes, regex size. Running
//!   into a bound is an [`Error`], never a panic or a hang. The lexer, parser and
//!   evaluator are fuzzed (`fuzz/fuzz_targets/sieve_parse.rs`).
//! - On any error the caller keeps the message in INBOX (RFC 5228 §2.10.6).
//! - Written from the RFCs only: the AGPL `sieve-rs` is never consulted.
//!
//! ```
//! use certmail_sieve::{compile, run, Action, Context, Envelope, Limits, Message, Timestamp};
//!
//! struct NoStore;
//! impl certmail_sieve::Environment for NoStore {
//!     fn mailbox_exists(&self, _: &str) -> bool { true }
//! }
//!
//! let limits = Limits::default();
//! let script = compile(
//!     "require \"fileinto\";\nif header :contains \"subject\" \"보고서\" { fileinto \"Reports\"; }",
//!     &limits,
//! ).unwrap();
//! let message = Message::parse(b"Subject: =?UTF-8?B?7KO86rCEIOuztOqzoOyEnA==?=\r\n\r\nhi\r\n");
//! let context = Context {
//!     envelope: Envelope { from: "a@example.com".into(), to: "b@example.org".into() },
//!     now: Timestamp { unix: 0, offset_minutes: 540 },
//!     user_addresses: vec!["b@example.org".into()],
//!     script_name: None,
//! };
//! let outcome = run(&script, &message, &context, &NoStore, &limits).unwrap();
//! assert_eq!(outcome.mailboxes(), ["Reports"]);
//! ```
#![forbid(unsafe_code)]

pub mod action;
pub mod ast;
pub mod compile;
pub mod error;
pub mod eval;
pub mod lexer;
pub mod limits;
pub mod message;
pub mod syntax;
pub mod vacation;

pub use action::{Action, Outcome, Vacation};
pub use ast::Script;
pub use compile::{EXTENSIONS, compile};
pub use error::{Error, Limit, Position};
pub use eval::date::Timestamp;
pub use eval::run;
pub use limits::Limits;
pub use message::{BodyPart, Context, Envelope, Environment, HeaderField, Message};
