//! One complete `smtp` run: install, start the daemon, load it, measure, stop it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::client::Reply;
use crate::report::SmtpRun;
use crate::{daemon, install, load, procstat, verify};

/// What one run does.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Messages in all.
    pub messages: usize,
    /// Bytes per message.
    pub size: usize,
    /// Concurrent sessions (and sender accounts).
    pub concurrency: usize,
    /// Recipient accounts.
    pub accounts: usize,
    /// The `certmail` binary.
    pub certmail: PathBuf,
    /// Keep the installation directory.
    pub keep_dir: bool,
    /// The daemon's log level.
    pub log_level: String,
    /// The longest wait for one reply.
    pub reply_timeout: Duration,
    /// Count the recipients' INBOXes over IMAP afterwards.
    pub verify: bool,
}

/// Runs the benchmark with the installation in a new directory under `parent`; returns
/// the figures and the replies of refused messages.
pub async fn smtp_once(opts: &RunOptions, parent: &Path) -> anyhow::Result<(SmtpRun, Vec<Reply>)> {
    // Dropped (removing the directory) after the daemon, which is declared later.
    let (inst, store_fs) = set_up(opts, parent).await?;
    let daemon = start_daemon(opts, &inst).await?;
    let addr = daemon
        .listener("submissions")
        .context("no submissions listener")?;

    let plan = load::LoadPlan {
        messages: opts.messages,
        size: opts.size,
        addr,
        server_ca: inst.install.server_ca.clone(),
        senders: inst.senders.clone(),
        recipients: Arc::new(inst.recipients.clone()),
        reply_timeout: opts.reply_timeout,
    };
    let mut before = None;
    let outcome = load::run(plan, || {
        before = Some((daemon.stat(), procstat::read(None)))
    })
    .await
    .map_err(|e| daemon::with_log_tail(e, &inst.log))?;
    let (server_before, client_before) = before.context("the load never started")?;
    let (server_before, client_before) = (server_before?, client_before?);
    let server_after = daemon.stat()?;
    let client_after = procstat::read(None)?;
    let load_average = procstat::load_average();
    let delivered = match daemon.listener("imaps") {
        Some(imaps) if opts.verify => Some(
            verify::count_delivered(
                imaps,
                &inst.install.server_ca,
                &inst.recipients,
                opts.reply_timeout,
            )
            .await
            .map_err(|e| daemon::with_log_tail(e, &inst.log))?,
        ),
        _ => None,
    };
    daemon.stop(Duration::from_secs(10)).await;
    if opts.keep_dir {
        eprintln!("kept: {}", inst.dir().display());
    }

    let finished = outcome.clients.iter().filter_map(|c| c.finished).max();
    let refusals: Vec<Reply> = outcome
        .clients
        .iter()
        .flat_map(|c| c.refusals.clone())
        .collect();
    let run = SmtpRun {
        accepted: outcome.clients.iter().map(|c| c.latencies.len()).sum(),
        refused: refusals.len(),
        size: opts.size,
        concurrency: opts.concurrency,
        pipelining: outcome.pipelining,
        elapsed: finished.unwrap_or(outcome.started) - outcome.started,
        latencies: outcome
            .clients
            .iter()
            .flat_map(|c| c.latencies.iter().copied())
            .collect(),
        sign_ins: outcome.sign_ins,
        server_rss_signed_in: server_before.rss,
        server_peak_rss: server_after.peak_rss,
        server_cpu: server_after.cpu.saturating_sub(server_before.cpu),
        client_cpu: client_after.cpu.saturating_sub(client_before.cpu),
        server_disk_writes: server_after
            .disk_writes
            .zip(server_before.disk_writes)
            .map(|(after, before)| after.saturating_sub(before)),
        store_fs,
        delivered,
        load_average,
    };
    Ok((run, refusals))
}

/// Writes the installation into a new directory under `parent` (kept with `--keep-dir`)
/// and creates its accounts; returns it and the file system the store is on.
async fn set_up(opts: &RunOptions, parent: &Path) -> anyhow::Result<(install::Setup, String)> {
    let mut tmp = tempfile::Builder::new()
        .prefix("certmail-bench-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a directory in {}", parent.display()))?;
    tmp.disable_cleanup(opts.keep_dir);
    let store_fs = procstat::filesystem_of(tmp.path()).map_or_else(
        || "unknown".to_owned(),
        |(fs, src)| format!("{fs} on {src}"),
    );

    let t = Instant::now();
    let (c, a) = (opts.concurrency, opts.accounts);
    let (level, certmail) = (opts.log_level.clone(), opts.certmail.clone());
    let inst = tokio::task::spawn_blocking(move || {
        install::write_files(tmp, &certmail, (c, a), &level, |_| {})
    })
    .await
    .context("PKI generation panicked")??;
    inst.create_accounts().await?;
    eprintln!(
        "setup: {} senders with certificates, {} recipients in {:.1} s ({}, {store_fs})",
        inst.senders.len(),
        inst.recipients.len(),
        t.elapsed().as_secs_f64(),
        inst.dir().display()
    );
    Ok((inst, store_fs))
}

/// Starts the daemon on `inst` and waits for its submissions listener.
async fn start_daemon(
    opts: &RunOptions,
    inst: &install::Setup,
) -> anyhow::Result<daemon::DaemonProcess> {
    let daemon = daemon::DaemonProcess::start(
        &opts.certmail,
        &inst.install.config_path,
        &inst.log,
        "submissions",
        Duration::from_secs(60),
    )
    .await?;
    if let Some(addr) = daemon.listener("submissions") {
        eprintln!(
            "daemon pid {} listening on {addr} (submissions)",
            daemon.pid()
        );
    }
    Ok(daemon)
}
