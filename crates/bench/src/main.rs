//! certmail-bench: the load generator behind BENCHMARKS.md.
//!
//! `certmail-bench smtp` builds a throw-away installation (test PKI, config, accounts),
//! starts `certmail serve` as a separate process, submits N messages of S bytes over C
//! concurrent TLS sessions with client certificates, and prints throughput, latency
//! percentiles and the daemon's peak memory and CPU time. Speed is measured here, never
//! asserted in a test: compare figures within one run and on one machine.
//!
//! Modules:
//! - [`install`]: the temporary PKI, config and accounts (via the `certmail` CLI).
//! - [`cluster`]: `--backend postgres` (a PostgreSQL server for the run, stopped by pid)
//!   and `--nodes N` (N daemons on its one database).
//! - [`daemon`]: the daemon process, killed when its guard is dropped.
//! - [`client`]: a small SMTP client (PIPELINING, AUTH PLAIN, DATA) with reply timeouts.
//! - [`tls`]: the rustls client presenting a GPKI-shaped certificate.
//! - [`message`]: realistic Korean MIME messages of an exact size.
//! - [`load`]: the C concurrent sessions sharing N messages.
//! - [`verify`]: counts what reached the INBOXes, over IMAP.
//! - [`procstat`]: peak RSS and CPU time from /proc (of a process tree too).
//! - [`pgstat`]: what PostgreSQL spent: CPU, WAL, commits, flushes.
//! - [`run`]: one whole run (install, start, load, measure, stop).
//! - [`report`]: percentiles and the figures table.
//! - [`kick`]: `certmail-bench kick`, how fast a new device's sign-in ends the old one's.
//! - [`imap_run`]: `certmail-bench imap`: the IMAP load mix and memory per idle connection.
//! - [`imap_mix`]: the mix of FETCH, SEARCH, STORE and IDLE, and delivery-to-IDLE latency.
//! - [`imap_idle`]: the second process holding thousands of idle IMAP connections.
//! - [`imap_client`]: a small IMAP client (TLS, client certificate, literals counted).
//! - [`crash`]: `certmail-bench crash`, kill -9 rounds under SMTP + APPEND + STORE load
//!   ([`crash_load`]), each acknowledged change checked after the restart.
//!
//! Rules: every wait is bounded; neither the daemon nor PostgreSQL outlives the benchmark
//! (Drop guards, Ctrl-C handled); one sender account and certificate per client, so no sign-in replaces
//! another's session.
#![forbid(unsafe_code)]

mod client;
mod cluster;
mod crash;
mod crash_load;
mod daemon;
mod imap_client;
mod imap_idle;
mod imap_mix;
mod imap_run;
mod install;
mod kick;
mod load;
mod message;
mod pgstat;
mod procstat;
mod report;
mod run;
mod search;
mod tls;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Load generator and benchmark table for certmail.
#[derive(Debug, Parser)]
#[command(name = "certmail-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Submit N messages of S bytes over C concurrent TLS sessions (port 465, client
    /// certificate + AUTH PLAIN) to random local recipients.
    Smtp(SmtpArgs),
    /// How long a sign-in from another device takes to end the old device's connections.
    Kick(KickArgs),
    /// IMAP: a mix of FETCH, SEARCH, STORE and IDLE over C signed-in clients, the latency
    /// from an SMTP delivery to the IDLE notice, and the daemon's memory per idle
    /// signed-in connection (connections held by a second process).
    Imap(ImapArgs),
    /// Kill -9 rounds: the daemon is killed mid-load (SMTP submissions, IMAP APPEND and
    /// STORE, clients with certificates), restarted, and every acknowledged message and
    /// flag change is checked; exits non-zero on any loss.
    Crash(CrashArgs),
    /// SEARCH TEXT over one large mailbox, through the full-text index and by scan, in
    /// process on a sled store (p50/p99).
    Search(search::SearchArgs),
    /// Internal: the second process of `imap` that holds the idle connections.
    #[command(hide = true)]
    ImapIdleClients {
        /// The plan file written by `imap`.
        #[arg(long)]
        plan: PathBuf,
    },
}

/// `certmail-bench imap`.
#[derive(Debug, clap::Args)]
struct ImapArgs {
    /// Concurrent IMAP clients in the mix, each signed in as its own account.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1000))]
    clients: u64,
    /// Messages delivered (over SMTP) to each client's INBOX before the mix.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    messages: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 10_240, value_parser = clap::value_parser!(u64).range(1024..=10_000_000))]
    size: u64,
    /// Seconds the mix runs once every client has signed in.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Deliveries timed one at a time on a quiet server (delivery → `* n EXISTS`).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    deliveries: u64,
    /// Idle connection counts at which the daemon's memory is read, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    memory_steps: Vec<usize>,
    /// Accounts the idle connections are spread over (each from its own 127.1.x.y).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=9999))]
    memory_accounts: u64,
    /// Messages in each of those accounts' INBOX (selected before IDLE).
    #[arg(long, default_value_t = 20)]
    memory_messages: u64,
    /// Idle connections sign in with the password too (AUTHENTICATE PLAIN, one argon2id
    /// each, slow); by default the bench's config sets `require_password = false` and they
    /// use AUTHENTICATE EXTERNAL (the certificate alone).
    #[arg(long)]
    memory_with_password: bool,
    /// Only the load mix.
    #[arg(long, conflicts_with = "memory_only")]
    load_only: bool,
    /// Only the memory part.
    #[arg(long)]
    memory_only: bool,
    /// The certmail binary (default: $CERTMAIL_BIN, target/release/certmail, target/debug/certmail).
    #[arg(long)]
    certmail: Option<PathBuf>,
    /// Keep the temporary installations and print their paths.
    #[arg(long)]
    keep_dir: bool,
    /// The daemon's log level.
    #[arg(long, default_value = "warn")]
    log_level: String,
    /// Seconds to wait for any one response.
    #[arg(long, default_value_t = 60)]
    reply_timeout_secs: u64,
    /// The store: sled, or postgres (a PostgreSQL server of its own per installation, as
    /// with `smtp --backend postgres`).
    #[arg(long, value_enum, default_value_t = cluster::Backend::Sled)]
    backend: cluster::Backend,
    /// Daemons on the one database for the load mix (clients go round-robin across them,
    /// deliveries are timed from the last node to IDLE on the first); more than one
    /// needs --backend postgres. The memory part runs on one.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    nodes: u64,
}

#[derive(Debug, clap::Args)]
struct SmtpArgs {
    /// Messages in all.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    messages: u64,
    /// Bytes per message (headers included).
    #[arg(long, default_value_t = 10_240, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    size: u64,
    /// Concurrent TLS sessions, each signed in as its own account with its own certificate.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=4000))]
    concurrency: u64,
    /// Recipient accounts (each message goes to one, chosen at random).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=9999))]
    accounts: u64,
    /// The certmail binary. Default: $CERTMAIL_BIN, then target/release/certmail, then
    /// target/debug/certmail.
    #[arg(long)]
    certmail: Option<PathBuf>,
    /// Keep the temporary installation (config, PKI, store, daemon log) and print its path.
    #[arg(long)]
    keep_dir: bool,
    /// The daemon's log level ([server] log_level).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Seconds to wait for any one reply before failing the run.
    #[arg(long, default_value_t = 60)]
    reply_timeout_secs: u64,
    /// Where to create the installation (its store is what gets fsynced). Default: the
    /// system temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Run twice: with the store in --dir, then on /dev/shm (tmpfs, where fsync costs
    /// nothing), and print the ratio: what durable acknowledgement costs.
    #[arg(long)]
    compare_fsync: bool,
    /// Repeat the run R times, each on a fresh installation; print every run's summary
    /// and the median run's full table (the faster middle
    /// one for an even R).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    repeat: u64,
    /// Skip counting the recipients' INBOXes over IMAP after the load.
    #[arg(long)]
    no_verify: bool,
    /// The store: sled, or postgres (a PostgreSQL server from the distribution's package,
    /// /usr/lib/postgresql/<version>/bin, started with fsync on for each run in a
    /// temporary directory and stopped at its end).
    #[arg(long, value_enum, default_value_t = cluster::Backend::Sled)]
    backend: cluster::Backend,
    /// Daemons sharing the load (each its own ports and `[cluster] node_name`; the
    /// sessions go round-robin across them); more than one needs --backend postgres.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    nodes: u64,
}

/// `certmail-bench crash`.
#[derive(Debug, clap::Args)]
struct CrashArgs {
    /// Kill -9 rounds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    rounds: u64,
    /// Mean milliseconds of load before each kill, from the round's first acknowledged
    /// message (each round draws 0.5–1.5 times this).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    load_ms: u64,
    /// Concurrent SMTP clients (port 465), each its own sender with its own certificate.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=100))]
    smtp_clients: u64,
    /// Concurrent IMAP clients (port 993), each signed in as its own recipient.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=100))]
    imap_clients: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1024..=10_000_000))]
    size: u64,
    /// The certmail binary (default: $CERTMAIL_BIN, target/release/certmail, target/debug/certmail).
    #[arg(long)]
    certmail: Option<PathBuf>,
    /// Keep the temporary installation and print its path.
    #[arg(long)]
    keep_dir: bool,
    /// Seconds to wait for any one reply.
    #[arg(long, default_value_t = 60)]
    reply_timeout_secs: u64,
}

/// `certmail-bench kick`.
#[derive(Debug, clap::Args)]
struct KickArgs {
    /// Rounds (each: old device signs in K connections, new device signs in).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    rounds: u64,
    /// IMAP connections of the old device, each in IDLE.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=9))]
    connections: u64,
    /// The certmail binary (default: $CERTMAIL_BIN, target/release/certmail, target/debug/certmail).
    #[arg(long)]
    certmail: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // On SIGINT or SIGTERM the run is dropped, and with it the daemon guard (which kills
    // the daemon) and the temporary directory.
    let outcome = tokio::select! {
        r = async {
            match cli.command {
                Command::Smtp(args) => smtp(args).await,
                Command::Imap(args) => imap(args).await,
                Command::ImapIdleClients { plan } => imap_idle::holder_main(&plan).await,
                Command::Crash(args) => crash(args).await,
                Command::Search(args) => search::run(args).await,
                Command::Kick(args) => {
                    let certmail = daemon::find_binary(args.certmail.as_deref())?;
                    kick::run(certmail, args.rounds as usize, args.connections as usize).await
                }
            }
        } => r,
        e = interrupted() => Err(e),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certmail-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn interrupted() -> anyhow::Error {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => anyhow::anyhow!("interrupted (SIGINT)"),
            _ = term.recv() => anyhow::anyhow!("terminated (SIGTERM)"),
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            anyhow::anyhow!("interrupted (SIGINT)")
        }
    }
}

async fn crash(args: CrashArgs) -> anyhow::Result<()> {
    crash::run(crash::CrashOptions {
        certmail: daemon::find_binary(args.certmail.as_deref())?,
        rounds: args.rounds,
        load: Duration::from_millis(args.load_ms),
        smtp_clients: args.smtp_clients as usize,
        imap_clients: args.imap_clients as usize,
        size: args.size as usize,
        timeout: Duration::from_secs(args.reply_timeout_secs),
        keep_dir: args.keep_dir,
    })
    .await
}

async fn smtp(args: SmtpArgs) -> anyhow::Result<()> {
    cluster::check(args.backend, args.nodes as usize, args.compare_fsync)
        .map_err(anyhow::Error::msg)?;
    let certmail = daemon::find_binary(args.certmail.as_deref())?;
    let debug_build = certmail.components().any(|c| c.as_os_str() == "debug");
    eprintln!(
        "daemon: {}{}",
        certmail.display(),
        if debug_build {
            " (a DEBUG build: figures are not representative)"
        } else {
            ""
        }
    );
    let opts = run::RunOptions {
        messages: args.messages as usize,
        size: args.size as usize,
        concurrency: args.concurrency as usize,
        accounts: args.accounts as usize,
        certmail,
        keep_dir: args.keep_dir,
        log_level: args.log_level.clone(),
        reply_timeout: Duration::from_secs(args.reply_timeout_secs),
        verify: !args.no_verify,
        backend: args.backend,
        nodes: args.nodes as usize,
    };
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut variants = vec![(
        match (args.backend, args.nodes) {
            (cluster::Backend::Sled, _) => "store on disk".to_owned(),
            (cluster::Backend::Postgres, 1) => "store on PostgreSQL, 1 node".to_owned(),
            (cluster::Backend::Postgres, n) => format!("store on PostgreSQL, {n} nodes"),
        },
        parent,
    )];
    if args.compare_fsync {
        let shm = PathBuf::from("/dev/shm");
        let is_tmpfs = procstat::filesystem_of(&shm).is_some_and(|(fs, _)| fs == "tmpfs");
        anyhow::ensure!(is_tmpfs, "--compare-fsync needs /dev/shm to be a tmpfs");
        variants.push(("store on tmpfs (fsync is free)".to_owned(), shm));
    }
    // Variants alternate within each repetition, so both see the same background load.
    let mut runs: Vec<Vec<report::SmtpRun>> = vec![Vec::new(); variants.len()];
    let mut refusals = Vec::new();
    for _ in 0..args.repeat {
        for (i, (_, dir)) in variants.iter().enumerate() {
            let (figures, refused) = run::smtp_once(&opts, dir).await?;
            if let Some(found) = figures.delivered {
                anyhow::ensure!(
                    found == figures.accepted as u64,
                    "the server accepted {} messages but the INBOXes hold {found}",
                    figures.accepted
                );
            }
            refusals.extend(refused);
            runs[i].push(figures);
        }
    }

    println!("{}", machine_line());
    println!(
        "command: {}",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    let labels: Vec<&str> = variants.iter().map(|(label, _)| label.as_str()).collect();
    print_smtp_runs(&labels, runs);
    if let Some(first) = refusals.first() {
        anyhow::bail!(
            "{} messages were refused; the first: {first}",
            refusals.len()
        );
    }
    Ok(())
}

/// Prints each variant's runs (a summary when there are several) and the table of its
/// median run, then compares the medians of the disk and tmpfs variants.
fn print_smtp_runs(labels: &[&str], runs: Vec<Vec<report::SmtpRun>>) {
    let mut medians = Vec::new();
    for (label, mut list) in labels.iter().zip(runs) {
        list.sort_by(|a, b| a.messages_per_second().total_cmp(&b.messages_per_second()));
        println!();
        if list.len() > 1 {
            println!("{label}, {} runs (slowest first):", list.len());
            println!();
            print!("{}", report::SmtpRun::summary_header());
            for r in &list {
                print!("{}", r.summary_row());
            }
            println!();
        }
        let costs: Vec<String> = list.iter().filter_map(report::SmtpRun::cost_row).collect();
        if !costs.is_empty() {
            println!("{label}, where the time went (per accepted message, slowest first):");
            println!();
            print!("{}", report::SmtpRun::cost_header());
            costs.iter().for_each(|row| print!("{row}"));
            println!();
        }
        if list.len() > 1 {
            println!("{label}, the median run:");
        } else {
            println!("{label}:");
        }
        println!();
        let median = list.swap_remove(list.len() / 2);
        print!("{}", median.table());
        medians.push(median);
    }
    if let [disk, tmpfs] = medians.as_slice() {
        println!();
        println!(
            "fsync: {:.0} msg/s with the store on disk, {:.0} msg/s on tmpfs: disk runs at {:.0}% \
             of the fsync-free rate",
            disk.messages_per_second(),
            tmpfs.messages_per_second(),
            100.0 * disk.messages_per_second() / tmpfs.messages_per_second().max(1e-9)
        );
    }
}

async fn imap(args: ImapArgs) -> anyhow::Result<()> {
    let certmail = daemon::find_binary(args.certmail.as_deref())?;
    if certmail.components().any(|c| c.as_os_str() == "debug") {
        eprintln!(
            "daemon: {} (a DEBUG build: figures are not representative)",
            certmail.display()
        );
    }
    cluster::check(args.backend, args.nodes as usize, false).map_err(anyhow::Error::msg)?;
    let mut steps = args.memory_steps.clone();
    steps.sort_unstable();
    steps.dedup();
    anyhow::ensure!(
        steps.iter().all(|&n| n > 0),
        "--memory-steps: counts must be positive"
    );
    let opts = imap_run::ImapOptions {
        certmail,
        clients: args.clients as usize,
        messages: args.messages as usize,
        size: args.size as usize,
        duration: Duration::from_secs(args.seconds),
        deliveries: args.deliveries as usize,
        memory_steps: steps,
        memory_accounts: args.memory_accounts as usize,
        memory_messages: args.memory_messages as usize,
        memory_sign_in: if args.memory_with_password {
            imap_client::SignIn::Plain
        } else {
            imap_client::SignIn::External
        },
        log_level: args.log_level.clone(),
        timeout: Duration::from_secs(args.reply_timeout_secs),
        keep_dir: args.keep_dir,
        backend: args.backend,
        nodes: args.nodes as usize,
    };
    if !args.memory_only {
        imap_run::load(&opts).await?;
    }
    if !args.load_only {
        if !args.memory_only {
            println!();
        }
        imap_run::memory(&opts).await?;
    }
    Ok(())
}

/// One line describing the machine: cores, memory, kernel.
fn machine_line() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    format!(
        "machine: {cores} cores, {:.1} GiB RAM, Linux {}",
        mem_kb as f64 / 1048576.0,
        kernel.trim()
    )
}
