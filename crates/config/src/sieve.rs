//! `[sieve]`: server-side filters (RFC 5228) run at local delivery, and the limits on the
//! scripts people keep.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// `[sieve]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SieveSection {
    /// Largest script one account may store, bytes. Default 65536: a rule editor's output
    /// (Thunderbird's, Roundcube's) is a few KiB; 64 KiB leaves room for long vacation
    /// texts and keeps every delivery's parse cheap.
    pub max_script_size: u64,
    /// Most scripts one account may store. Default 16: one active, the rest kept for
    /// switching (a vacation script, last year's rules).
    pub max_scripts: u32,
    /// Work budget of one script run at delivery, in steps (a command or test is one; a
    /// comparison one per 64 bytes compared). Default 1000000: a few milliseconds of CPU;
    /// a script that needs more is stopped and the message goes to INBOX.
    pub max_steps: u64,
    /// Most messages one account's scripts may `redirect` per UTC day, counted in each
    /// delivery's transaction (exact on both backends); past it the message is kept and
    /// the person told once that day. Default 100: forwarding a day's mail to one other
    /// address, not a relay for a flood.
    pub max_redirects_per_day: u32,
    /// Shortest period between two vacation replies to one sender, days; a script's
    /// smaller `:days` is raised to it (RFC 5230 §4.1 lets the site set a minimum).
    /// Default 1: RFC 5230 asks for no less than a day.
    pub vacation_min_days: u64,
    /// Longest period between two vacation replies to one sender, days; a larger `:days`
    /// is lowered to it. Default 90: a long leave, and a reply memory that is pruned
    /// within a season.
    pub vacation_max_days: u64,
    /// ManageSieve (RFC 5804) listeners, where people edit their filters from Thunderbird's
    /// Sieve add-on or `sieve-connect` (STARTTLS, a client certificate and the password).
    /// Default empty: off. The registered port is 4190.
    pub listen: Vec<SocketAddr>,
    /// Longest ManageSieve command line, bytes (a script itself comes as a literal, bounded
    /// by `max_script_size`). Default 8192: names and SASL responses are far shorter.
    pub max_line_length: usize,
    /// Bad ManageSieve commands one connection may send before it is closed. Default 10:
    /// a client that keeps sending what is not ManageSieve is not a filter editor.
    pub max_bad_commands: u32,
    /// ManageSieve connections idle longer than this are closed, seconds. Default 1800, as
    /// IMAP's autologout: an editor left open over lunch reconnects on its own.
    pub idle_timeout_secs: u64,
}

impl Default for SieveSection {
    fn default() -> Self {
        Self {
            max_script_size: 64 * 1024,
            max_scripts: 16,
            max_steps: 1_000_000,
            max_redirects_per_day: 100,
            vacation_min_days: 1,
            vacation_max_days: 90,
            listen: Vec::new(),
            max_line_length: 8192,
            max_bad_commands: 10,
            idle_timeout_secs: 1800,
        }
    }
}

/// The most `max_script_size` may be (1 MiB): every delivery parses the active script.
pub const MAX_SCRIPT_SIZE_CAP: u64 = 1024 * 1024;

impl SieveSection {
    /// Range checks, each naming its key.
    pub(crate) fn validate(&self, bad: &mut impl FnMut(&str, String)) {
        if self.max_script_size == 0 || self.max_script_size > MAX_SCRIPT_SIZE_CAP {
            bad(
                "[sieve] max_script_size",
                format!("must be between 1 and {MAX_SCRIPT_SIZE_CAP} bytes"),
            );
        }
        if self.max_scripts == 0 {
            bad(
                "[sieve] max_scripts",
                "must be at least 1 (set 1 to allow only one script)".into(),
            );
        }
        if self.max_steps < 1000 {
            bad(
                "[sieve] max_steps",
                "must be at least 1000; smaller budgets stop even simple filters".into(),
            );
        }
        if !(512..=1024 * 1024).contains(&self.max_line_length) {
            bad(
                "[sieve] max_line_length",
                "must be between 512 and 1048576 bytes".into(),
            );
        }
        if self.max_bad_commands == 0 {
            bad(
                "[sieve] max_bad_commands",
                "must be at least 1; a client's typing mistake must not end its connection".into(),
            );
        }
        if self.idle_timeout_secs < 30 {
            bad(
                "[sieve] idle_timeout_secs",
                "must be at least 30 seconds; clients need time to send a script".into(),
            );
        }
        if self.vacation_min_days == 0 {
            bad(
                "[sieve] vacation_min_days",
                "must be at least 1 (RFC 5230 §4.1: a reply at most once a day)".into(),
            );
        }
        if self.vacation_max_days < self.vacation_min_days || self.vacation_max_days > 365 {
            bad(
                "[sieve] vacation_max_days",
                "must be between vacation_min_days and 365".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(s: &SieveSection) -> Vec<String> {
        let mut out = Vec::new();
        s.validate(&mut |key: &str, why: String| out.push(format!("{key}: {why}")));
        out
    }

    #[test]
    fn vacation_days_are_bounded() {
        assert!(problems(&SieveSection::default()).is_empty());
        let zero = SieveSection {
            vacation_min_days: 0,
            ..SieveSection::default()
        };
        assert!(problems(&zero)[0].starts_with("[sieve] vacation_min_days"));
        for max in [0, 366] {
            let bad = SieveSection {
                vacation_min_days: 1,
                vacation_max_days: max,
                ..SieveSection::default()
            };
            let p = problems(&bad);
            assert!(
                p.iter().any(|p| p.starts_with("[sieve] vacation_max_days")),
                "{p:?}"
            );
        }
    }
}
