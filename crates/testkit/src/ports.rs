//! Ports for servers a test starts (the daemon's web listener, slapd, rspamd, knotd,
//! chromedriver) that must be named before the server binds them.
//!
//! Binding port 0 and handing the number over leaves a window in which the port is free,
//! and ports the kernel hands out for port 0 and for outgoing connections (the ephemeral
//! range, `/proc/sys/net/ipv4/ip_local_port_range`) are taken all the time while tests
//! run in parallel: a test that had such a port stolen failed to start its server. So
//! these ports come from below the ephemeral range, where the kernel never hands one out,
//! checked free by a bind, spread by process and call so that parallel tests rarely try
//! the same one.

use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out.
const FLOOR: u32 = 10_000;

/// A port on 127.0.0.1, free a moment ago and outside the kernel's ephemeral range.
pub fn free_port() -> std::io::Result<u16> {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let ceiling = ephemeral_start().max(FLOOR + 1_000);
    let span = ceiling - FLOOR;
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    for _ in 0..200 {
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        let port = FLOOR + seed.wrapping_add(call.wrapping_mul(7_919)) % span;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    // Nothing free below the range (a crowded machine): the kernel's choice.
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The first port of the kernel's ephemeral range (32768 when it cannot be read).
fn ephemeral_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_and_below_the_ephemeral_range() {
        let start = ephemeral_start();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let port = free_port().expect("a port");
            assert!(u32::from(port) < start.max(FLOOR + 1_000), "{port}");
            assert!(u32::from(port) >= FLOOR, "{port}");
            seen.insert(port);
        }
        assert!(seen.len() > 15, "calls spread over the range: {seen:?}");
    }
}
