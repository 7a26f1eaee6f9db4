//! The `certmail` binary: configuration, listeners, signals, systemd integration, the admin
//! socket and the command-line interface.
//!
//! Modules: [`cli`] (arguments), [`config`] (TOML, checked key by key), [`serve`] (the
//! daemon's main loop: listeners, reload, drain), [`listener`] (connection limits),
//! [`tls`] (reloadable rustls configs), [`dev`] (the self-contained development mode),
//! [`notify`] (sd_notify), [`logging`], [`crl_fetch`] (`certmail crl fetch`: CRLs from the
//! LDAP distribution points into `[pki] crl_dir`), [`metrics`] and [`state_metrics`]
//! (`/metrics`), [`ops_cmd`] (backup, restore, audit, stats),
//! [`import_maildir`] (Dovecot Maildir import), [`qr`] (terminal QR codes for TOTP),
//! [`relay`] (the outbound queue runner, reloadable), [`man`] (the manual page).
//!
//! Rules: no blocking call on the async runtime (store opening and file reads at reload run
//! on the blocking pool); secrets never reach logs; every refusal says why.
#![forbid(unsafe_code)]

mod admin;
mod cli;
mod config;
mod crl_fetch;
mod services;
mod tls;

use std::process::ExitCode;

use clap::Parser;

use cli::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => {
            load(&cli.config).and_then(|c| services::serve::run_blocking(&cli.config, c))
        }
        Command::CheckConfig => match config::load(&cli.config) {
            Ok(_) => {
                println!("{}: OK", cli.config.display());
                Ok(())
            }
            Err(e) => {
                eprint!("{e}");
                return ExitCode::from(1);
            }
        },
        Command::Dev {
            data,
            ephemeral_ports,
        } => cli::dev::run(&data, ephemeral_ports),
        Command::Keygen { out } => keygen(&cli.config, out),
        Command::Dkim(cmd) => cli::dkim::run(cmd),
        Command::Man => cli::man::page().map_err(Into::into).and_then(|page| {
            use std::io::Write as _;
            std::io::stdout().write_all(&page).map_err(Into::into)
        }),
        Command::Account(cmd) => return exit(cli::admin::account(&cli.config, cmd)),
        Command::Cert(cmd) => return exit(cli::admin::cert(&cli.config, cmd)),
        Command::Alias(cmd) => return exit(cli::admin::alias(&cli.config, cmd)),
        Command::Session(cmd) => return exit(cli::admin::session(&cli.config, cmd)),
        Command::Reload { out } => return exit(cli::admin::reload(&cli.config, out.json)),
        Command::Device(cmd) => return exit(cli::admin::device(&cli.config, cmd)),
        Command::Crl(cmd) => return exit(crl_fetch::command(&cli.config, cmd)),
        Command::Backup { dir, out } => return exit(cli::ops::backup(&cli.config, &dir, out)),
        Command::Restore { dir, force, out } => {
            return exit(cli::ops::restore(&cli.config, &dir, force, out));
        }
        Command::ImportMaildir(args) => return exit(cli::import_maildir::run(&cli.config, args)),
        Command::Audit(cmd) => return exit(cli::ops::audit(&cli.config, cmd)),
        Command::Stats { out } => return exit(cli::ops::stats(&cli.config, out)),
        Command::Queue(cmd) => return exit(admin::queue::command(&cli.config, cmd)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certmail: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn exit(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("certmail: {e:#}");
            ExitCode::from(cli::admin::EXIT_REFUSED)
        }
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<config::Config> {
    config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn keygen(config_path: &std::path::Path, out: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let path = match out {
        Some(p) => p,
        None => load(config_path)?.server.key_file(),
    };
    certmail_store::KeyFile::generate(&path)?;
    println!(
        "wrote a new store key to {} (mode 0600); keep a copy with your backups",
        path.display()
    );
    Ok(())
}
