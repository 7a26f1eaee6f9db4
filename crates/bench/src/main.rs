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
//! - [`daemon`]: the daemon process, killed when its guard is dropped.
//! - [`client`]: a small SMTP client (PIPELINING, AUTH PLAIN, DATA) with reply timeouts.
//! - [`tls`]: the rustls client presenting a GPKI-shaped certificate.
//! - [`message`]: realistic Korean MIME messages of an exact size.
//! - [`load`]: the C concurrent sessions sharing N messages.
//! - [`procstat`]: peak RSS and CPU time from /proc.
//! - [`report`]: percentiles and the figures table.
//!
//! Rules: every wait is bounded; the daemon never outlives the benchmark (Drop guard,
//! Ctrl-C handled); one sender account and certificate per client, so no sign-in replaces
//! another's session.
#![forbid(unsafe_code)]

mod client;
mod daemon;
mod install;
mod load;
mod message;
mod procstat;
mod report;
mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
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
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = tokio::select! {
        r = match cli.command { Command::Smtp(args) => smtp(args) } => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certmail-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn smtp(args: SmtpArgs) -> anyhow::Result<()> {
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
    let tmp = tempfile::Builder::new()
        .prefix("certmail-bench-")
        .tempdir()?;
    // Dropped (removing the directory) after the daemon, which is declared later.
    let (_tmp_guard, dir) = if args.keep_dir {
        (None, tmp.keep())
    } else {
        let path = tmp.path().to_owned();
        (Some(tmp), path)
    };

    let t = Instant::now();
    let (c, a) = (args.concurrency as usize, args.accounts as usize);
    let log_level = args.log_level.clone();
    let dir2 = dir.clone();
    let inst = tokio::task::spawn_blocking(move || install::write_files(&dir2, c, a, &log_level))
        .await
        .context("PKI generation panicked")??;
    inst.create_accounts(&certmail).await?;
    eprintln!(
        "setup: {} senders with certificates, {} recipients in {:.1} s ({})",
        inst.senders.len(),
        inst.recipients.len(),
        t.elapsed().as_secs_f64(),
        inst.dir.display()
    );

    let daemon = daemon::DaemonProcess::start(
        &certmail,
        &inst.config,
        &inst.log,
        "submissions",
        Duration::from_secs(60),
    )
    .await?;
    let addr = daemon
        .listener("submissions")
        .context("no submissions listener")?;
    eprintln!(
        "daemon pid {} listening on {addr} (submissions)",
        daemon.pid()
    );

    let plan = load::LoadPlan {
        messages: args.messages as usize,
        size: args.size as usize,
        addr,
        server_ca: inst.server_ca.clone(),
        senders: inst.senders.clone(),
        recipients: Arc::new(inst.recipients.clone()),
        reply_timeout: Duration::from_secs(args.reply_timeout_secs),
    };
    let mut before = None;
    let outcome = load::run(plan, || {
        before = Some((daemon.stat(), procstat::read(None)))
    })
    .await
    .map_err(|e| e.context(format!("daemon log tail:\n{}", daemon::log_tail(&inst.log))))?;
    let (server_before, client_before) = before.context("the load never started")?;
    let (server_before, client_before) = (server_before?, client_before?);
    let server_after = daemon.stat()?;
    let client_after = procstat::read(None)?;
    let finished = outcome
        .clients
        .iter()
        .filter_map(|c| c.finished)
        .max()
        .unwrap_or(outcome.started);
    let refusals: Vec<&client::Reply> = outcome.clients.iter().flat_map(|c| &c.refusals).collect();
    let run = report::SmtpRun {
        accepted: outcome.clients.iter().map(|c| c.latencies.len()).sum(),
        refused: refusals.len(),
        size: args.size as usize,
        concurrency: args.concurrency as usize,
        pipelining: outcome.pipelining,
        elapsed: finished - outcome.started,
        latencies: outcome
            .clients
            .iter()
            .flat_map(|c| c.latencies.iter().copied())
            .collect(),
        sign_ins: outcome.sign_ins.clone(),
        server_peak_rss: server_after.peak_rss,
        server_cpu: server_after.cpu.saturating_sub(server_before.cpu),
        client_cpu: client_after.cpu.saturating_sub(client_before.cpu),
    };
    daemon.stop(Duration::from_secs(10)).await;

    println!("{}", machine_line());
    println!(
        "command: {}",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    println!();
    print!("{}", run.table());
    if args.keep_dir {
        eprintln!("kept: {}", inst.dir.display());
    }
    if let Some(first) = refusals.first() {
        anyhow::bail!(
            "{} messages were refused; the first: {first}",
            refusals.len()
        );
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
