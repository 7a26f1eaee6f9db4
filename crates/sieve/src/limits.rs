//! [`Limits`]: the bounds on one compile and one run, so that no script, however written,
//! can take unbounded CPU or memory from the delivery path.

/// Bounds on compiling and running a script. Exceeding one gives
/// [`Error::LimitExceeded`](crate::Error::LimitExceeded), never a panic or a hang.
///
/// The defaults are generous for hand-written filters (Thunderbird's and Roundcube's rule
/// editors write scripts of a few KiB) and small enough that a hostile script costs a
/// delivery at most a few milliseconds and a few MiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest script text, in bytes. Default 256 KiB (a rule editor's output is far below;
    /// ManageSieve quotas are usually smaller still).
    pub max_script_bytes: usize,
    /// Deepest nesting of blocks and tests (`if` in `if`, `not` in `anyof`). Default 32:
    /// keeps the recursive parser and evaluator far from the stack's end.
    pub max_nesting: usize,
    /// Work budget of one run, in steps. A command or test is one step; a comparison costs
    /// one step plus one per 64 bytes compared (more for `:matches`/`:regex`). Default
    /// 1 000 000 (a few milliseconds of CPU).
    pub max_steps: u64,
    /// Longest value of one variable or expanded string, in bytes. Default 64 KiB
    /// (RFC 5229 §6 asks for at least 4000 characters).
    pub max_variable_bytes: usize,
    /// Most distinct variables across all scripts of one run. Default 256.
    pub max_variables: usize,
    /// Most actions (keep, fileinto, redirect, vacation, …) one run may produce. Default 64.
    pub max_actions: usize,
    /// Most `redirect`s one run may produce. Default 4 (a forwarding rule needs one).
    pub max_redirects: usize,
    /// Deepest chain of `include`s. Default 4.
    pub max_include_depth: usize,
    /// Most scripts included in one run, counting repeats. Default 16.
    pub max_includes: usize,
    /// Largest compiled regular expression, in bytes (the `regex` crate's size limit).
    /// Default 1 MiB.
    pub max_regex_bytes: usize,
    /// Shortest `:days` a vacation may ask for; smaller values are raised (RFC 5230 §4.1).
    /// Default 1.
    pub min_vacation_days: u64,
    /// Longest `:days` a vacation may ask for; larger values are lowered. Default 90.
    pub max_vacation_days: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_script_bytes: 256 * 1024,
            max_nesting: 32,
            max_steps: 1_000_000,
            max_variable_bytes: 64 * 1024,
            max_variables: 256,
            max_actions: 64,
            max_redirects: 4,
            max_include_depth: 4,
            max_includes: 16,
            max_regex_bytes: 1024 * 1024,
            min_vacation_days: 1,
            max_vacation_days: 90,
        }
    }
}
