//! certmail-session: the live state shared between connections of the running daemon.
//!
//! - [`registry`]: the single-active-session rule (DESIGN.md "One active session per
//!   account"). [`SessionRegistry`] is the trait; [`LocalRegistry`] the in-process
//!   implementation (a cluster on PostgreSQL wraps it: `certmail_store_pg::sessions`). A connection signs in, holds the [`ConnectionGuard`] for its lifetime and
//!   selects on [`ConnectionGuard::kicked`] at every await point.
//! - [`device`]: the [`DeviceKey`] fixed at sign-in, and the device registry's key.
//! - [`kick`]: [`KickReason`], and the text IMAP and SMTP send when a session is ended.
//! - [`hub`]: the per-account [`ChangeHub`] that carries mailbox changes between connections
//!   (SMTP delivery and IMAP writes publish; IDLE and NOOP read).
//! - [`error`]: [`SignInError`], why a sign-in was refused.
//! - [`stats`]: [`stats::SessionStats`], each registry's gauges and counters for metrics
//!   (signed-in and idling connections, kicks by cause).
//!
//! Rules: no store and no protocol code here, only tokio. No lock is held across an
//! `.await`; every lock is a short std mutex around a map. Kicks are delivered at once
//! through a watch channel, never by polling.
#![forbid(unsafe_code)]

pub mod budget;
pub mod device;
pub mod error;
pub mod hub;
pub mod kick;
pub mod registry;
pub mod stats;

pub use device::{DeviceKey, DeviceRegistryKey, NetworkPrefix};
pub use error::SignInError;
pub use hub::{Change, ChangeHub, Subscription};
pub use kick::KickReason;
pub use registry::{
    ConnectionGuard, ConnectionId, Decision, EndHook, LocalRegistry, Protocol, RegistryConfig,
    SessionId, SessionInfo, SessionPolicy, SessionRegistry, decide,
};
