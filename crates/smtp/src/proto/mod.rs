//! The sans-IO SMTP protocol layer: no sockets, no store, no clock.
//!
//! - [`reply`]: our reply formatter and the EHLO capability list.
//! - [`session`]: the server state machine, bytes in and [`Action`]s out.
//! - [`sasl`]: AUTH EXTERNAL, PLAIN and LOGIN decoding.
//! - [`envelope`]: what a transaction collects (reverse-path, parameters, recipients).
//! - [`config`]: limits and listener kind.

pub mod config;
pub mod envelope;
pub mod reply;
pub mod sasl;
pub mod session;

pub use config::{ListenerKind, SessionConfig};
pub use envelope::{BodyType, DsnReturn, Envelope, MailParams, Notify, Rcpt};
pub use reply::{Capabilities, EnhancedCode, Reply, ehlo_reply};
pub use sasl::{AuthRequest, Secret};
pub use session::{Action, Expecting, Session};
