//! The `certmail` binary: parses the command line and runs it with the [`certmail`]
//! library.
#![forbid(unsafe_code)]

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    certmail::cli::run(certmail::cli::args::Cli::parse())
}
