//! systemd readiness notification (`sd_notify`): a datagram to `$NOTIFY_SOCKET`.
//!
//! Ten lines do not need a crate. Abstract sockets (a leading `@`) are not supported by
//! std's `UnixDatagram` without unsafe code; systemd uses a path under `/run`.

use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `READY=1`) to the service manager, if there is one.
/// Failures are logged and otherwise ignored: notification is advisory.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let result = UnixDatagram::unbound().and_then(|s| s.send_to(state.as_bytes(), &path));
    if let Err(e) = result {
        tracing::warn!(error = %e, socket = ?path, "could not notify the service manager");
    }
}
