//! The configuration keys a reload cannot apply: listeners (bound once, at start), the
//! store, the log set-up, and budgets shared with live connections. A reload that finds
//! one of them changed refuses as a whole and names them, rather than answering "reloaded"
//! while the old value silently stays in force.
//!
//! A new section adds a row here: `("section", Some("key"))` for one key, or
//! `("section", None)` for a section none of whose keys can change while running. A row for
//! a section the file does not have compares equal, so rows may name sections other
//! branches add.

use serde_json::Value;

use crate::config::Config;

/// Keys that take effect only at a restart, as (section, key); `None`: the whole section.
pub const RESTART_ONLY: &[(&str, Option<&str>)] = &[
    // Listeners: bound once at start.
    ("imap", Some("listen_tls")),
    ("imap", Some("listen_starttls")),
    ("smtp", Some("listen_submissions")),
    ("smtp", Some("listen_submission")),
    ("smtp", Some("listen_mx")),
    ("http", Some("metrics_listen")),
    ("http", Some("autoconfig_listen")),
    ("web", Some("listen")),
    ("sieve", Some("listen")),
    // The store and the admin socket: opened once.
    ("server", Some("data_dir")),
    ("server", Some("key_file")),
    ("server", Some("admin_socket")),
    ("store", None),
    ("cluster", None),
    // The log subscriber is installed before the runtime starts.
    ("server", Some("log_level")),
    ("server", Some("log_format")),
    ("server", Some("shutdown_grace_secs")),
    // Budgets and counters shared with the connections already open.
    ("limits", Some("max_connections")),
    ("limits", Some("max_connections_per_ip")),
    ("server", Some("proxy_protocol_from")),
    ("imap", Some("max_literal_memory")),
    ("smtp", Some("max_message_memory")),
    ("auth", Some("max_connections_per_session")),
    ("auth", Some("ip_failure_limit")),
    ("auth", Some("ip_failure_window_secs")),
    // The spam learning queue is sized once.
    ("spam", Some("max_learn_queue")),
];

/// The restart-only keys whose values differ between `old` and `new`, as `[section] key`.
pub fn changed(old: &Config, new: &Config) -> Vec<String> {
    let (old, new) = (as_json(old), as_json(new));
    RESTART_ONLY
        .iter()
        .filter(|(section, key)| pick(&old, section, *key) != pick(&new, section, *key))
        .map(|(section, key)| match key {
            Some(key) => format!("[{section}] {key}"),
            None => format!("[{section}]"),
        })
        .collect()
}

fn as_json(config: &Config) -> Value {
    serde_json::to_value(config).unwrap_or(Value::Null)
}

fn pick<'a>(config: &'a Value, section: &str, key: Option<&str>) -> Option<&'a Value> {
    let section = config.get(section)?;
    match key {
        Some(key) => section.get(key),
        None => Some(section),
    }
}

#[cfg(test)]
mod tests {
    use super::changed;

    fn config(extra: &str) -> crate::config::Config {
        let text = format!("[pki]\ncerts_dir = \"/\"\ncrl_dir = \"/\"\n{extra}");
        toml::from_str(&text).expect("a valid configuration")
    }

    #[test]
    fn listener_and_store_changes_are_named_and_others_are_not() {
        let old = config("[http]\nmetrics_listen = []\n[auth]\ncontact = \"김민수\"\n");
        let new = config(
            "[http]\nmetrics_listen = [\"127.0.0.1:9100\"]\n\
             [server]\ndata_dir = \"/srv/메일\"\n[auth]\ncontact = \"이서연\"\n",
        );
        assert_eq!(
            changed(&old, &new),
            ["[http] metrics_listen", "[server] data_dir"]
        );
        assert!(changed(&old, &old).is_empty());
    }
}
