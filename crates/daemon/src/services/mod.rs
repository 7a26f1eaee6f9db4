//! The daemon's runtime services.

pub mod admin_socket;
pub mod http;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod notices;
pub mod notify;
pub mod protocols;
pub mod relay;
pub mod revocation;
pub mod serve;
pub mod state_metrics;
