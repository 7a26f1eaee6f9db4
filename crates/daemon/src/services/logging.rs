//! Structured logging with `tracing`, shaped for the systemd journal.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

/// A line format with the syslog priority of the event's level in front, as journald
/// reads it from a service's stderr.
struct Priority<F>(F);

impl<S, N, F> FormatEvent<S, N> for Priority<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// The syslog priority of a level: err(3), warning(4), info(6), debug(7).
fn priority(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

/// Installs the global subscriber. `RUST_LOG` wins over the configured level.
/// Colour only when stderr is a terminal. Under systemd (`JOURNAL_STREAM` set) timestamps
/// are left to the journal and each line starts with its syslog priority (`<3>` error …
/// `<7>` debug, sd-daemon(3)), which journald reads as the entry's priority.
pub fn init(level: &str, format: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_directives(level)));
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match (format, under_journal) {
        ("json", _) => builder.json().try_init(),
        (_, true) => builder
            .with_ansi(false)
            .event_format(Priority(tracing_subscriber::fmt::format().without_time()))
            .try_init(),
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
