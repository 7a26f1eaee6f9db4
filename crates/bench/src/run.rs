//! One complete `smtp` run: install (and start PostgreSQL, with `--backend postgres`),
//! start the daemons, load them, measure, stop them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::client::Reply;
use crate::cluster::{self, Backend};
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
    /// The daemons' store.
    pub backend: Backend,
    /// Daemons on the store (more than one on PostgreSQL only).
    pub nodes: usize,
}

/// Runs the benchmark with the installation in a new directory under `parent` (and, on
/// PostgreSQL, a server of its own); returns the figures and the replies of refused
/// messages.
pub async fn smtp_once(opts: &RunOptions, parent: &Path) -> anyhow::Result<(SmtpRun, Vec<Reply>)> {
    // Declared first, so dropped last: the database outlives the installation and the
    // daemons, which are stopped (or killed, on an error) before it.
    let database = match opts.backend {
        Backend::Sled => None,
        Backend::Postgres => Some(cluster::Database::start().await?),
    };
    let (inst, store_fs) = set_up(opts, parent, database.as_ref()).await?;
    let nodes = cluster::nodes(inst.dir(), &inst.install.config_path, &inst.log, opts.nodes)?;
    let daemons = start_daemons(&opts.certmail, &nodes).await?;
    let listeners = |name: &str| listeners(&daemons, name);

    let plan = load::LoadPlan {
        messages: opts.messages,
        size: opts.size,
        addrs: listeners("submissions")?,
        server_ca: inst.install.server_ca.clone(),
        senders: inst.senders.clone(),
        recipients: Arc::new(inst.recipients.clone()),
        reply_timeout: opts.reply_timeout,
    };
    let mut before = None;
    let outcome = load::run(plan, async || {
        let database = match &database {
            Some(db) => Some(db.snapshot().await),
            None => None,
        };
        before = Some((servers_stat(&daemons), procstat::read(None), database));
    })
    .await
    .map_err(|e| daemon::with_log_tail(e, &inst.log))?;
    let (server_before, client_before, database_before) =
        before.context("the load never started")?;
    let (server_before, client_before) = (server_before?, client_before?);
    let server_after = servers_stat(&daemons)?;
    let client_after = procstat::read(None)?;
    let load_average = procstat::load_average();
    let database_figures = match (&database, database_before) {
        (Some(db), Some(before)) => Some(db.snapshot().await?.since(&before?)),
        _ => None,
    };
    let delivered = if opts.verify {
        let imaps = listeners("imaps")?;
        let count = verify::count_delivered(
            &imaps,
            &inst.install.server_ca,
            &inst.recipients,
            opts.reply_timeout,
        );
        Some(
            count
                .await
                .map_err(|e| daemon::with_log_tail(e, &inst.log))?,
        )
    } else {
        None
    };
    for d in daemons {
        d.stop(Duration::from_secs(10)).await;
    }
    if let Some(db) = database {
        db.stop().await;
    }
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
        nodes: nodes.len(),
        server_rss_signed_in: server_before.rss,
        server_peak_rss: server_after.peak_rss,
        server_cpu: server_after.cpu.saturating_sub(server_before.cpu),
        client_cpu: client_after.cpu.saturating_sub(client_before.cpu),
        server_disk_writes: server_after
            .disk_writes
            .zip(server_before.disk_writes)
            .map(|(after, before)| after.saturating_sub(before)),
        database: database_figures,
        store_fs,
        delivered,
        load_average,
    };
    Ok((run, refusals))
}

/// Each daemon's listener called `name` (`imaps`, `submissions`, ...), in node order.
pub(crate) fn listeners(
    daemons: &[daemon::DaemonProcess],
    name: &str,
) -> anyhow::Result<Vec<SocketAddr>> {
    daemons
        .iter()
        .map(|d| {
            d.listener(name)
                .with_context(|| format!("no {name} listener"))
        })
        .collect()
}

/// The daemons' figures added up: memory (each node's peak, summed), CPU time, disk writes.
pub(crate) fn servers_stat(
    daemons: &[daemon::DaemonProcess],
) -> anyhow::Result<procstat::ProcStat> {
    let mut sum = procstat::ProcStat {
        peak_rss: 0,
        rss: 0,
        cpu: Duration::ZERO,
        disk_writes: Some(0),
    };
    for d in daemons {
        let s = d.stat()?;
        sum.peak_rss += s.peak_rss;
        sum.rss += s.rss;
        sum.cpu += s.cpu;
        sum.disk_writes = sum.disk_writes.zip(s.disk_writes).map(|(a, b)| a + b);
    }
    Ok(sum)
}

/// Writes the installation into a new directory under `parent` (kept with `--keep-dir`),
/// its store on `database` if given (as node 1), and creates its accounts; returns it and
/// the file system the store is on.
async fn set_up(
    opts: &RunOptions,
    parent: &Path,
    database: Option<&cluster::Database>,
) -> anyhow::Result<(install::Setup, String)> {
    let mut tmp = tempfile::Builder::new()
        .prefix("certmail-bench-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a directory in {}", parent.display()))?;
    tmp.disable_cleanup(opts.keep_dir);
    let store_dir = database.map_or_else(|| tmp.path().to_owned(), |db| db.data_dir());
    let store_fs = procstat::filesystem_of(&store_dir).map_or_else(
        || "unknown".to_owned(),
        |(fs, src)| format!("{fs} on {src}"),
    );
    let store_fs = match database {
        Some(_) => format!("PostgreSQL in {} ({store_fs})", store_dir.display()),
        None => store_fs,
    };
    let url = database.map(cluster::Database::url);

    let t = Instant::now();
    let (c, a) = (opts.concurrency, opts.accounts);
    let (level, certmail) = (opts.log_level.clone(), opts.certmail.clone());
    let inst = tokio::task::spawn_blocking(move || {
        install::write_files(tmp, &certmail, (c, a), &level, |config| {
            if let Some(url) = url {
                cluster::configure(config, url, &cluster::node_name(0));
            }
        })
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

/// Starts a daemon for each of `nodes`, one after the other (the first one migrates the
/// schema), each waited for until its submissions listener is up.
pub(crate) async fn start_daemons(
    certmail: &Path,
    nodes: &[cluster::Node],
) -> anyhow::Result<Vec<daemon::DaemonProcess>> {
    let mut daemons = Vec::with_capacity(nodes.len());
    for node in nodes {
        let daemon = daemon::DaemonProcess::start(
            certmail,
            &node.config,
            &node.log,
            "submissions",
            Duration::from_secs(60),
        )
        .await
        .with_context(|| format!("starting node {}", node.name))?;
        if let Some(addr) = daemon.listener("submissions") {
            eprintln!(
                "daemon {} pid {} listening on {addr} (submissions)",
                node.name,
                daemon.pid()
            );
        }
        daemons.push(daemon);
    }
    Ok(daemons)
}
