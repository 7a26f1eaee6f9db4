//! `certmail crl fetch`: the clap command; runs the [`crate::crl_fetch`] job with the
//! configuration, then asks a running daemon to re-read the CRLs it replaced.

use std::path::Path;

use crate::admin::Request;
use crate::cli::args::CrlCommand;
use crate::cli::client;
use crate::crl_fetch::FetchOptions;

/// Runs a `certmail crl` subcommand; returns the exit status.
pub fn command(config_path: &Path, cmd: CrlCommand) -> anyhow::Result<u8> {
    match cmd {
        CrlCommand::Fetch { certs, uris, json } => {
            let config = crate::config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
            let options = FetchOptions { certs, uris, json };
            let fetched = crate::crl_fetch::run(&config.pki, &config.crl_fetch, &options)?;
            if fetched.updated {
                tell_daemon(&config.server.admin_socket());
            }
            Ok(fetched.status)
        }
    }
}

/// Asks a running daemon to re-read its CRLs now, so a revocation ends sessions at once
/// instead of at the next directory poll. Without a daemon there is nothing to tell (it
/// reads the files when it starts); a daemon that cannot be told is warned about on stderr
/// (its poll still picks the files up).
fn tell_daemon(socket: &Path) {
    match client::send(socket, &Request::ReloadCrls) {
        Ok(None) => {}
        Ok(Some(resp)) if resp.ok => eprintln!("the running daemon re-read its CRLs"),
        Ok(Some(resp)) => eprintln!("warning: the running daemon: {}", resp.message),
        Err(e) => eprintln!("warning: cannot tell the running daemon to re-read CRLs: {e:#}"),
    }
}
