//! Structured logging with `tracing`, shaped for the systemd journal.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` wins over the configured level.
/// Under systemd (`JOURNAL_STREAM` set) timestamps are left to the journal.
pub fn init(level: &str, format: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_directives(level)));
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match (format, under_journal) {
        ("json", _) => builder.json().try_init(),
        (_, true) => builder.without_time().with_ansi(false).try_init(),
        _ => builder.try_init(),
    };
    // A second init (tests, dev re-exec) keeps the first subscriber.
    let _ = result;
}

/// The filter for the configured `level`: rustls is held to errors unless the level asks
/// for debugging, as it warns at each handshake from a client that sends an IP address as
/// SNI (stunnel, clients set up with the server's address), which no one can act on.
fn default_directives(level: &str) -> String {
    if level.contains("debug") || level.contains("trace") || level.contains("rustls") {
        level.to_string()
    } else {
        format!("{level},rustls=error")
    }
}

#[cfg(test)]
mod tests {
    use super::default_directives;

    #[test]
    fn rustls_warnings_are_quiet_unless_debugging() {
        assert_eq!(default_directives("info"), "info,rustls=error");
        assert_eq!(default_directives("warn"), "warn,rustls=error");
        assert_eq!(default_directives("debug"), "debug");
        assert_eq!(default_directives("info,rustls=warn"), "info,rustls=warn");
        for level in ["info", "warn", "error", "debug", "trace"] {
            assert!(
                tracing_subscriber::EnvFilter::try_new(default_directives(level)).is_ok(),
                "{level}"
            );
        }
    }
}
