//! The command line: [`args`] (the clap types), [`run`] (what each subcommand does), the
//! client side of the admin socket ([`client`], [`link`]) and the printers ([`table`],
//! [`qr`], and each command's own lines); [`store_copy`] runs `certmail store copy` in this
//! process (it opens both stores itself, the daemon stopped).
//!
//! Rules: no store or service code here. An administrative command builds an
//! [`crate::admin::Request`] and sends it to the running daemon, or, with the daemon
//! stopped, executes it in this process with [`crate::admin::execute`]; then prints the
//! [`crate::admin::Response`]. `serve` and `dev` hand over to [`crate::services::serve`].

pub mod admin;
pub mod args;
pub mod client;
pub mod crl;
pub mod demo;
pub mod dev;
pub mod dkim;
pub mod import_maildir;
pub mod link;
pub mod man;
pub mod ops;
pub mod output;
pub mod qr;
pub mod queue;
pub mod store_copy;
pub mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use args::{Cli, Command};

/// Runs one parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let config = cli.config.as_path();
    let result = match cli.command {
        Command::Serve => {
            load(config).and_then(|c| crate::services::serve::run_blocking(config, c))
        }
        Command::CheckConfig => return check_config(config),
        Command::Dev {
            data,
            ephemeral_ports,
        } => dev::run(&data, ephemeral_ports),
        Command::Keygen { out } => keygen(config, out),
        Command::Dkim(cmd) => dkim::run(cmd),
        Command::Man { page } => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(man::render(page).as_bytes())
                .map_err(Into::into)
        }
        Command::Account(cmd) => return exit(admin::account(config, cmd)),
        Command::Cert(cmd) => return exit(admin::cert(config, cmd)),
        Command::Alias(cmd) => return exit(admin::alias(config, cmd)),
        Command::Mailbox(cmd) => return exit(admin::mailbox(config, cmd)),
        Command::Session(cmd) => return exit(admin::session(config, cmd)),
        Command::Reload { out } => return exit(admin::reload(config, out.json)),
        Command::Device(cmd) => return exit(admin::device(config, cmd)),
        Command::Crl(cmd) => return exit(crl::command(config, cmd)),
        Command::Backup { dir, out } => return exit(ops::backup(config, &dir, out)),
        Command::Restore { dir, force, out } => {
            return exit(ops::restore(config, &dir, force, out));
        }
        Command::ImportMaildir(args) => return exit(import_maildir::run(config, args)),
        Command::Audit(cmd) => return exit(ops::audit(config, cmd)),
        Command::Stats { out } => return exit(ops::stats(config, out)),
        Command::Queue(cmd) => return exit(queue::command(config, cmd)),
        Command::Store(cmd) => return exit(store_copy::command(config, cmd)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certmail: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `certmail check-config`: every problem of the file, or OK; with `[store] backend =
/// "postgres"`, also whether the database answers and which schema version it holds.
fn check_config(path: &Path) -> ExitCode {
    let config = match crate::config::load(path) {
        Ok(config) => config,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(1);
        }
    };
    if config.store.backend == crate::config::StoreBackend::Postgres {
        match check_postgres(&config) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!(
                    "{}: 1 problem:\n  [store] postgres_url: {e:#}",
                    path.display()
                );
                return ExitCode::from(1);
            }
        }
    }
    println!("{}: OK", path.display());
    ExitCode::SUCCESS
}

/// Connects to the configured PostgreSQL store without changing it: a sentence on its
/// schema version.
fn check_postgres(config: &crate::config::Config) -> anyhow::Result<String> {
    let pg = crate::context::pg_config(config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let found = rt.block_on(certmail_store_pg::PgStore::check(&pg))?;
    let known = certmail_store_pg::schema::SCHEMA_VERSION;
    Ok(if found == known {
        format!("PostgreSQL store: connected, schema version {found} (current)")
    } else {
        format!(
            "PostgreSQL store: connected, schema version {found}; the daemon migrates it to \
             {known} when it starts"
        )
    })
}

fn exit(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("certmail: {e:#}");
            ExitCode::from(output::EXIT_REFUSED)
        }
    }
}

fn load(path: &Path) -> anyhow::Result<crate::config::Config> {
    crate::config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `certmail keygen`: a new store key file.
fn keygen(config_path: &Path, out: Option<PathBuf>) -> anyhow::Result<()> {
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
