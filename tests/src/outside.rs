//! Running outside programs (swaks, curl, mbsync, Python) and reading what they left.

use std::process::Command;

/// What a successful command printed.
pub struct Printed {
    /// Its stdout.
    pub stdout: String,
    /// Its stdout, then its stderr.
    pub all: String,
}

/// Runs `cmd`; an error with everything it printed unless it exits with success.
pub fn run_ok(cmd: &mut Command) -> anyhow::Result<Printed> {
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    anyhow::ensure!(out.status.success(), "{cmd:?} failed:\n{all}");
    Ok(Printed { stdout, all })
}

/// The Subject of each message in `bodies` that has one, sorted.
pub fn subjects(bodies: &[Vec<u8>]) -> Vec<String> {
    let mut s: Vec<String> = bodies
        .iter()
        .filter_map(|b| {
            mail_parser::MessageParser::default()
                .parse(b)
                .and_then(|m| m.subject().map(str::to_string))
        })
        .collect();
    s.sort();
    s
}
