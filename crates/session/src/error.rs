//! Why a sign-in was refused by the session registry.

use std::net::IpAddr;

/// A sign-in the registry refused. The credentials were fine; the session rule was not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// Another device holds the account's session and the policy is `reject`.
    #[error("signed in on another device ({ip}); sign out there first")]
    Rejected {
        /// The address of the device that holds the session.
        ip: IpAddr,
    },
    /// This device already has as many connections as one session may hold.
    #[error("too many connections from this device (at most {cap})")]
    ConnectionCapReached {
        /// The per-session connection cap in force.
        cap: usize,
    },
    /// The shared session registry (PostgreSQL, in a cluster) could not be reached: a
    /// temporary failure, the client should retry.
    #[error("the session registry is unavailable ({0}); try again in a moment")]
    Unavailable(String),
}
