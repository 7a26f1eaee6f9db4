//! certmail-smtp: the SMTP side of certmail: a sans-IO protocol layer, and the tokio
//! server (sockets, TLS, the store, sign-in) and outbound relay on top of it.
//!
//! - [`proto`]: the protocol layer. [`proto::Session`] is the server state machine, fed
//!   bytes and returning [`proto::Action`]s; [`proto::Reply`] formats replies.
//! - [`inbound`]: the I/O driver of the SMTP server (ports 25, 465, 587): one task per
//!   connection carrying out the session's actions, then checking and delivering mail.
//! - [`mailauth`]: SPF, DKIM and DMARC checks of mail from other servers (port 25) and
//!   DKIM signing of outbound mail.
//! - [`outbound`]: the outbound relay (queue runner, SMTP client, MX routing, DSNs, MTA-STS,
//!   DANE, TLS reports).
//! - [`spam`]: spam filtering through rspamd (scanning on port 25, learning from Junk).
//! - [`message`]: pure header helpers (Received, Message-ID, Date, From: addresses).
//! - [`notice`]: mail the server writes itself (reports, notices to people), delivered
//!   into local INBOXes or queued from the null sender.
//! - [`stats`]: [`stats::MailCounters`], the daemon's counters of accepted, stored,
//!   queued and relayed mail (metrics).
//! - [`wake`]: telling the watching connections about newly stored copies.
//! - [`error`]: the crate's error enum.
//!
//! Rules: the protocol layer has no tokio, no store and no clock (time is passed in); every
//! limit from the network is bounded and framing is kept after a limit is hit; AUTH
//! payloads never reach Debug output ([`proto::Secret`]).
//!
//! # Driving a session
//!
//! The I/O driver owns the socket. It feeds the session what it reads, then performs the
//! actions the session returns, in order, until [`proto::Session::next_action`] returns
//! `None`; only then does it read again. The contract:
//!
//! - [`proto::Action::Write`]: write the bytes (they are whole replies; pipelined replies
//!   come coalesced in one write).
//! - [`proto::Action::StartTls`]: the `220` has already been handed out in a `Write`. Flush
//!   it, run the handshake on the raw socket, then call
//!   [`proto::Session::tls_established`]. The session has dropped every byte that came
//!   after the STARTTLS line, and drops what is fed before `tls_established`; the driver
//!   must not keep plaintext in a read buffer of its own either (CVE-2011-0411).
//! - [`proto::Action::Authenticate`], [`proto::Action::CheckSender`],
//!   [`proto::Action::CheckRecipient`]: decide (this may await the store or the sign-in
//!   registry), then answer with `auth_result`, `mail_result` or `rcpt_result`: `Ok(())`
//!   or `Err(reply)` with the exact refusal (`535 5.7.8 …`, `550 5.7.1 …`, `550 5.1.1 …`).
//!   The session takes no further input until answered, so replies stay in order.
//! - [`proto::Action::MessageStart`], [`proto::Action::MessageChunk`]: open a spool and
//!   append the (already dot-unstuffed) body as it arrives. The size limit is enforced by
//!   the session while reading; [`proto::Action::MessageAborted`] means drop the spool.
//! - [`proto::Action::MessageComplete`]: add the headers ([`message`]), store the message
//!   durably and only then answer [`proto::Session::message_result`] with `250`.
//! - [`proto::Action::Close`]: flush what was written and close.
//! - Timeouts and replaced sessions: [`proto::Session::close_with`] with a `421` reply.
//!
//! ```
//! use certmail_smtp::proto::{Action, ListenerKind, Reply, Session, SessionConfig};
//!
//! let mut config = SessionConfig::new("mail.example.kr", ListenerKind::Mx);
//! config.max_message_size = 10 * 1024 * 1024;
//! let mut session = Session::new(config);
//! let mut written = Vec::new();
//! let mut spool = Vec::new();
//! let reads: [&[u8]; 3] = [
//!     b"EHLO client.example.kr\r\nMAIL FROM:<a@b.kr>\r\n",
//!     b"RCPT TO:<kim@example.kr>\r\nDATA\r\n",
//!     b"Subject: \xec\x95\x88\xeb\x85\x95\r\n\r\nhello\r\n.\r\nQUIT\r\n",
//! ];
//! let mut reads = reads.iter();
//! 'connection: loop {
//!     while let Some(action) = session.next_action() {
//!         match action {
//!             Action::Write(bytes) => written.extend_from_slice(&bytes),
//!             Action::StartTls => { /* handshake, then */ session.tls_established()?; }
//!             Action::Authenticate(_request) => {
//!                 session.auth_result(Err(Reply::new(535, (5, 7, 8), "No")))?;
//!             }
//!             Action::CheckSender { .. } => session.mail_result(Ok(()))?,
//!             Action::CheckRecipient(_rcpt) => session.rcpt_result(Ok(()))?,
//!             Action::MessageStart => spool.clear(),
//!             Action::MessageChunk(chunk) => spool.extend_from_slice(&chunk),
//!             Action::MessageAborted => spool.clear(),
//!             Action::MessageComplete(envelope) => {
//!                 assert_eq!(envelope.rcpts[0].address, "kim@example.kr");
//!                 // store durably here, then:
//!                 session.message_result(Reply::new(250, (2, 0, 0), "Queued"))?;
//!             }
//!             Action::Close => break 'connection,
//!         }
//!     }
//!     match reads.next() {
//!         Some(bytes) => session.feed(bytes),
//!         None => break,
//!     }
//! }
//! assert_eq!(spool, "Subject: 안녕\r\n\r\nhello\r\n".as_bytes());
//! assert!(String::from_utf8(written)?.ends_with("250 2.0.0 Queued\r\n221 2.0.0 Bye\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
#[doc(hidden)]
pub mod http_client;
pub mod inbound;
pub mod mailauth;
pub mod message;
pub mod notice;
pub mod outbound;
pub mod proto;
pub mod spam;
pub mod stats;
pub mod wake;

pub use error::Error;
