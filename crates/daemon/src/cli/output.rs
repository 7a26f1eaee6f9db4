//! How an admin answer reaches the terminal: its exit code and its printed form (JSON, or
//! the message and the tables of [`crate::cli::table`]).

use crate::admin::Response;

/// Exit code for a refused or failed request (clap uses 2 for usage errors).
pub const EXIT_REFUSED: u8 = 1;
/// Exit code for a request that needs the running daemon when none answers on the admin
/// socket (or, for `restore`, one that needs it stopped while it runs).
pub const EXIT_NOT_RUNNING: u8 = 3;

/// The exit code for an answer: 0 ok, 3 when the daemon's state was wrong for it, else 1.
pub fn exit_code(resp: &Response) -> u8 {
    match resp.code.as_deref() {
        _ if resp.ok => 0,
        Some("not_running" | "daemon_running") => EXIT_NOT_RUNNING,
        _ => EXIT_REFUSED,
    }
}

/// Prints an answer: JSON, or its message and tables.
pub fn print(resp: &Response, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(resp).unwrap_or_default());
        return;
    }
    if resp.ok {
        println!("{}", resp.message);
    } else {
        match &resp.code {
            Some(code) => eprintln!("refused ({code}): {}", resp.message),
            None => eprintln!("failed: {}", resp.message),
        }
    }
    crate::cli::table::print(&resp.data);
}
