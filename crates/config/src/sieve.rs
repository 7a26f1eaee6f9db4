//! `[sieve]`: server-side filters (RFC 5228) run at local delivery, and the limits on the
//! scripts people keep.

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
    /// Most messages one account's scripts may `redirect` per day. Default 100: forwarding
    /// a day's mail to one other address, not a relay for a flood.
    pub max_redirects_per_day: u32,
}

impl Default for SieveSection {
    fn default() -> Self {
        Self {
            max_script_size: 64 * 1024,
            max_scripts: 16,
            max_steps: 1_000_000,
            max_redirects_per_day: 100,
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
    }
}
