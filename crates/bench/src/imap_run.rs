//! `certmail-bench imap`: the IMAP load mix with delivery-to-IDLE latency, and the
//! daemon's memory per idle signed-in connection, each on its own fresh installation and
//! daemon.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

use crate::client::SmtpClient;
use crate::cluster::{self, Backend, Database};
use crate::imap_client::SignIn;
use crate::imap_idle::{HolderAccount, HolderPlan};
use crate::imap_mix::{self, MixPlan, Notice, Op};
use crate::install::{self, DOMAIN, Recipient, Sender, Setup};
use crate::message::{self, Envelope, Rng};
use crate::procstat;
use crate::report::percentile;

/// What `certmail-bench imap` does.
#[derive(Debug, Clone)]
pub struct ImapOptions {
    /// The `certmail` binary.
    pub certmail: PathBuf,
    /// Concurrent IMAP clients in the mix, each its own account.
    pub clients: usize,
    /// Messages in each client's INBOX before the mix.
    pub messages: usize,
    /// Bytes per message.
    pub size: usize,
    /// How long the mix runs.
    pub duration: Duration,
    /// Deliveries timed on a quiet server for the delivery-to-IDLE latency.
    pub deliveries: usize,
    /// Connection counts at which the memory is read (empty: skip the memory part).
    pub memory_steps: Vec<usize>,
    /// Accounts the idle connections are spread over.
    pub memory_accounts: usize,
    /// Messages in each of those accounts' INBOX.
    pub memory_messages: usize,
    /// How the idle connections sign in.
    pub memory_sign_in: SignIn,
    /// The daemon's log level.
    pub log_level: String,
    /// The longest wait for one response.
    pub timeout: Duration,
    /// Keep the installation directories.
    pub keep_dir: bool,
    /// The daemon's store.
    pub backend: Backend,
    /// Daemons on one database for the load mix.
    pub nodes: usize,
}

/// A fresh installation in a temporary directory, kept on request, with its store on a
/// PostgreSQL server of its own (returned) with `--backend postgres`; `edit` adjusts its
/// configuration.
async fn install(
    opts: &ImapOptions,
    prefix: &str,
    senders: usize,
    recipients: usize,
    edit: impl FnOnce(&mut certmail_config::Config) + Send + 'static,
) -> anyhow::Result<(Setup, Option<Database>)> {
    let database = match opts.backend {
        Backend::Sled => None,
        Backend::Postgres => Some(Database::start().await?),
    };
    let url = database.as_ref().map(Database::url);
    let mut tmp = tempfile::Builder::new().prefix(prefix).tempdir()?;
    if opts.keep_dir {
        tmp.disable_cleanup(true);
        eprintln!("keeping {}", tmp.path().display());
    }
    let (level, certmail) = (opts.log_level.clone(), opts.certmail.clone());
    let t = Instant::now();
    let inst = tokio::task::spawn_blocking(move || {
        install::write_files(tmp, &certmail, (senders, recipients), &level, |c| {
            if let Some(url) = url {
                cluster::configure(c, url, &cluster::node_name(0));
            }
            edit(c);
        })
    })
    .await
    .context("PKI generation panicked")??;
    inst.create_accounts().await?;
    eprintln!(
        "setup: {} accounts with certificates in {:.1} s ({})",
        senders + recipients,
        t.elapsed().as_secs_f64(),
        inst.dir().display()
    );
    Ok((inst, database))
}

/// Starts the daemon on `inst`; returns it with its IMAPS and submissions addresses.
async fn start(
    inst: &Setup,
    certmail: &Path,
) -> anyhow::Result<(crate::daemon::DaemonProcess, SocketAddr, SocketAddr)> {
    let d = crate::daemon::DaemonProcess::start(
        certmail,
        &inst.install.config_path,
        &inst.log,
        "submissions",
        Duration::from_secs(60),
    )
    .await?;
    let imaps = d.listener("imaps").context("no imaps listener")?;
    let subs = d
        .listener("submissions")
        .context("no submissions listener")?;
    Ok((d, imaps, subs))
}

/// Delivers `per_mailbox` messages of `size` bytes to each of `targets` over SMTP, one
/// session per sender; every sender writes to every mailbox (so SEARCH FROM finds a
/// share of each).
pub async fn fill(
    submissions: SocketAddr,
    server_ca: &Path,
    senders: &[Sender],
    targets: &[Recipient],
    per_mailbox: usize,
    size: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let total = per_mailbox * targets.len();
    let targets = Arc::new(targets.to_vec());
    let mut tasks = tokio::task::JoinSet::new();
    for (j, sender) in senders.iter().cloned().enumerate() {
        let (targets, ca, step) = (targets.clone(), server_ca.to_owned(), senders.len());
        tasks.spawn(async move {
            let cfg = crate::tls::client_config(&ca, &sender.cert, &sender.key)?;
            let tls = crate::tls::connect(submissions, cfg).await?;
            let mut smtp = SmtpClient::start(tls, "bench.client.go.kr", timeout).await?;
            smtp.auth_plain(&sender.id, &sender.password).await?;
            let mut rng = Rng::seeded(j as u64);
            for k in (j..total).step_by(step) {
                let to = &targets[(k / step) % targets.len()];
                let env = Envelope {
                    from: (&sender).into(),
                    to: to.into(),
                    seq: k as u64,
                    domain: DOMAIN,
                };
                let msg = message::build(&env, size, &mut rng);
                let reply = smtp
                    .submit(
                        &sender.address,
                        &to.address,
                        msg.len(),
                        &message::data_payload(&msg),
                    )
                    .await?;
                ensure!(reply.is_ok(), "filling: refused {reply:?}");
            }
            smtp.quit().await;
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("fill task panicked")??;
    }
    Ok(())
}

/// The load mix and the delivery-to-IDLE latency: prints their tables.
pub async fn load(opts: &ImapOptions) -> anyhow::Result<()> {
    let (inst, database) =
        &install(opts, "certmail-bench-imap-", 4, opts.clients + 1, |_| {}).await?;
    let nodes =
        crate::cluster::nodes(inst.dir(), &inst.install.config_path, &inst.log, opts.nodes)?;
    let daemons = crate::run::start_daemons(&opts.certmail, &nodes).await?;
    let listeners = |name: &str| crate::run::listeners(&daemons, name);
    let (all_imaps, all_subs) = (listeners("imaps")?, listeners("submissions")?);
    // IDLE on the first node, deliveries through the last: across the cluster.
    let (imaps, subs) = (all_imaps[0], all_subs[all_subs.len() - 1]);
    let (mix_accounts, watcher) = inst.recipients.split_at(opts.clients);
    let watcher = &watcher[0];
    fill_inboxes(inst, subs, mix_accounts, opts).await?;

    let plan = MixPlan {
        addrs: all_imaps,
        server_ca: inst.install.server_ca.clone(),
        accounts: mix_accounts.to_vec(),
        senders: inst.senders.iter().map(|s| s.address.clone()).collect(),
        duration: opts.duration,
        timeout: opts.timeout,
    };
    let mut before = None;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let mix = imap_mix::run(plan, || {
        before = Some((
            crate::run::servers_stat(&daemons),
            database.as_ref().map(Database::processes),
        ));
        let _ = started_tx.send(Instant::now());
    });
    // Deliveries under load: one at a time, for as long as the mix runs.
    let under_load = async {
        let Ok(started) = started_rx.await else {
            return Ok(Vec::new());
        };
        imap_mix::notify_latency(
            (imaps, subs),
            &inst.install.server_ca,
            &inst.senders[0],
            watcher,
            usize::MAX,
            Some(started + opts.duration),
            opts.timeout,
        )
        .await
    };
    let (mix, busy) = tokio::join!(mix, under_load);
    let mix = mix.map_err(|e| crate::daemon::with_log_tail(e, &inst.log))?;
    let busy = busy.map_err(|e| crate::daemon::with_log_tail(e, &inst.log))?;
    let (server_before, database_before) = before.context("the mix never started")?;
    let server_before = server_before?;
    let server_after = crate::run::servers_stat(&daemons)?;
    let database_cpu = match (database, database_before) {
        (Some(db), Some(before)) => Some(db.processes()?.since(&before?).cpu),
        _ => None,
    };
    let load_average = procstat::load_average();
    let quiet = imap_mix::notify_latency(
        (imaps, subs),
        &inst.install.server_ca,
        &inst.senders[1],
        watcher,
        opts.deliveries,
        None,
        opts.timeout,
    )
    .await
    .map_err(|e| crate::daemon::with_log_tail(e, &inst.log))?;
    for d in daemons {
        d.stop(Duration::from_secs(10)).await;
    }
    let load = LoadFigures {
        cpu: server_after.cpu.saturating_sub(server_before.cpu),
        database_cpu,
        after: server_after,
        load_average,
    };
    print_load(opts, &mix, &load, &busy, &quiet);
    Ok(())
}

/// Fills the INBOXes of `accounts` with the messages of the load run, and says how long
/// it took.
async fn fill_inboxes(
    inst: &Setup,
    subs: SocketAddr,
    accounts: &[Recipient],
    opts: &ImapOptions,
) -> anyhow::Result<()> {
    let t = Instant::now();
    fill(
        subs,
        &inst.install.server_ca,
        &inst.senders,
        accounts,
        opts.messages,
        opts.size,
        opts.timeout,
    )
    .await
    .map_err(|e| crate::daemon::with_log_tail(e, &inst.log))?;
    eprintln!(
        "filled {} INBOXes with {} messages of {} bytes in {:.1} s",
        accounts.len(),
        opts.messages,
        opts.size,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The daemon's figures over the load mix.
struct LoadFigures {
    /// CPU time the daemon spent during the mix.
    cpu: Duration,
    /// CPU time PostgreSQL's processes spent during the mix, on PostgreSQL.
    database_cpu: Option<Duration>,
    /// The daemon's state after the mix.
    after: procstat::ProcStat,
    /// The machine's load average after the mix.
    load_average: Option<f64>,
}

/// Prints the load run's tables.
fn print_load(
    opts: &ImapOptions,
    mix: &imap_mix::MixOutcome,
    load: &LoadFigures,
    busy: &[imap_mix::Notice],
    quiet: &[imap_mix::Notice],
) {
    print_header();
    print_mix(opts, mix);
    let cpu = load.cpu;
    println!();
    if opts.nodes > 1 {
        println!(
            "{} nodes on one PostgreSQL database: clients round-robin, deliveries timed \
             from the last node to IDLE on the first; server figures summed over the nodes",
            opts.nodes
        );
    }
    println!(
        "server CPU during the mix: {:.2} s = {:.0}% of one core, {:.3} ms per operation; \
         RSS {:.1} MiB, peak {:.1} MiB; load average {}",
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / mix.elapsed.as_secs_f64().max(1e-9),
        1e3 * cpu.as_secs_f64() / mix.ops.len().max(1) as f64,
        load.after.rss as f64 / 1048576.0,
        load.after.peak_rss as f64 / 1048576.0,
        load.load_average
            .map_or_else(|| "?".into(), |l| format!("{l:.1}"))
    );
    if let Some(db) = load.database_cpu {
        println!(
            "PostgreSQL CPU during the mix (postmaster + children): {:.2} s = {:.0}% of one \
             core, {:.3} ms per operation",
            db.as_secs_f64(),
            100.0 * db.as_secs_f64() / mix.elapsed.as_secs_f64().max(1e-9),
            1e3 * db.as_secs_f64() / mix.ops.len().max(1) as f64,
        );
    }
    println!();
    print_notices("delivery → IDLE `* n EXISTS`, during the mix", busy);
    println!();
    print_notices("delivery → IDLE `* n EXISTS`, quiet server", quiet);
}

/// The first lines of every table: the machine and the command line.
fn print_header() {
    println!("{}", crate::machine_line());
    println!(
        "command: {}",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    println!();
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn print_mix(opts: &ImapOptions, mix: &imap_mix::MixOutcome) {
    let secs = mix.elapsed.as_secs_f64().max(1e-9);
    println!(
        "IMAP mix: {} clients (one account each, certificate + AUTHENTICATE PLAIN), INBOX of {} \
         messages of {} bytes, {:.1} s",
        opts.clients, opts.messages, opts.size, secs
    );
    println!();
    println!("| operation | count | ops/s | p50 | p99 |");
    println!("| --- | --- | --- | --- | --- |");
    let mut by_kind: BTreeMap<Op, Vec<Duration>> = BTreeMap::new();
    for (op, d) in &mix.ops {
        by_kind.entry(*op).or_default().push(*d);
    }
    for (op, mut v) in by_kind {
        v.sort_unstable();
        println!(
            "| {} | {} | {:.0} | {} | {} |",
            op.label(),
            v.len(),
            v.len() as f64 / secs,
            ms(percentile(&v, 50.0)),
            ms(percentile(&v, 99.0))
        );
    }
    let mut all: Vec<Duration> = mix.ops.iter().map(|(_, d)| *d).collect();
    all.sort_unstable();
    println!(
        "| **all** | {} | **{:.0}** | {} | {} |",
        all.len(),
        all.len() as f64 / secs,
        ms(percentile(&all, 50.0)),
        ms(percentile(&all, 99.0))
    );
    let mut sign = mix.sign_ins.clone();
    sign.sort_unstable();
    println!();
    println!(
        "bodies fetched: {:.1} MB; sign-in p50 (connect → OK, TLS + certificate + argon2id): {}",
        mix.body_bytes as f64 / 1e6,
        ms(percentile(&sign, 50.0))
    );
}

fn print_notices(what: &str, notices: &[Notice]) {
    let mut submit: Vec<Duration> = notices.iter().map(|n| n.from_submit).collect();
    let mut ack: Vec<Duration> = notices.iter().map(|n| n.from_ack).collect();
    submit.sort_unstable();
    ack.sort_unstable();
    let early = notices.iter().filter(|n| n.before_ack).count();
    println!(
        "{what}: {} deliveries of 4 KB, one at a time",
        notices.len()
    );
    println!();
    println!("| measured from | p50 | p90 | p99 | max |");
    println!("| --- | --- | --- | --- | --- |");
    for (label, v) in [("MAIL FROM sent", &submit), ("250 after DATA read", &ack)] {
        println!(
            "| {label} | {} | {} | {} | {} |",
            ms(percentile(v, 50.0)),
            ms(percentile(v, 90.0)),
            ms(percentile(v, 99.0)),
            ms(percentile(v, 100.0))
        );
    }
    println!();
    println!(
        "({early} of {} notices arrived before the sender had read its 250)",
        notices.len()
    );
}

/// The memory part: idle signed-in connections held by a second process, the daemon's
/// RSS read at each step.
pub async fn memory(opts: &ImapOptions) -> anyhow::Result<()> {
    let require_password = opts.memory_sign_in == SignIn::Plain;
    let accounts = opts.memory_accounts;
    // The database (on PostgreSQL) outlives the daemon, declared after it.
    let (inst, _database) = &install(opts, "certmail-bench-imapmem-", 2, accounts, move |c| {
        c.auth.require_password = require_password;
        c.auth.max_connections_per_session = 1_000_000;
    })
    .await?;
    let (d, imaps, subs) = start(inst, &opts.certmail).await?;
    if opts.memory_messages > 0 {
        fill(
            subs,
            &inst.install.server_ca,
            &inst.senders,
            &inst.recipients,
            opts.memory_messages,
            4096,
            opts.timeout,
        )
        .await
        .map_err(|e| crate::daemon::with_log_tail(e, &inst.log))?;
    }
    let plan = holder_plan(inst, imaps, opts);
    let plan_path = inst.dir().join("idle-plan.tsv");
    std::fs::write(&plan_path, plan.to_text())?;
    let mut holder = spawn_holder(&plan_path)?;
    let mut to_holder = holder.stdin.take().context("stdin piped")?;
    let mut from_holder =
        tokio::io::BufReader::new(holder.stdout.take().context("stdout piped")?).lines();

    let base = settled_rss(d.pid()).await?;
    let mut rows = Vec::new();
    for &n in &opts.memory_steps {
        to_holder
            .write_all(format!("grow {n}\n").as_bytes())
            .await?;
        let line = from_holder
            .next_line()
            .await?
            .context("the holder process ended")?;
        let Some(rest) = line.strip_prefix("ready ") else {
            bail!(crate::daemon::with_log_tail(
                anyhow::anyhow!("holder: {line}"),
                &inst.log
            ));
        };
        let secs = rest.split(' ').nth(1).unwrap_or("?").to_owned();
        let rss = settled_rss(d.pid()).await?;
        let holder_rss = holder
            .id()
            .and_then(|p| procstat::read(Some(p)).ok())
            .map_or(0, |s| s.rss);
        let fds = std::fs::read_dir(format!("/proc/{}/fd", d.pid())).map_or(0, |r| r.count());
        eprintln!(
            "{n} idle connections in {secs} s: daemon RSS {:.1} MiB",
            rss as f64 / 1048576.0
        );
        rows.push(MemoryRow {
            n,
            secs,
            rss,
            holder_rss,
            fds,
        });
    }
    let stat = d.stat()?;
    drop(to_holder);
    let _ = tokio::time::timeout(Duration::from_secs(30), holder.wait()).await;
    d.stop(Duration::from_secs(10)).await;

    print_memory_table(opts, accounts, base, &rows, stat.peak_rss);
    Ok(())
}

/// One step of the memory run: `n` idle connections opened in `secs`, the daemon's RSS,
/// the holder's RSS and the daemon's open file descriptors.
struct MemoryRow {
    n: usize,
    secs: String,
    rss: u64,
    holder_rss: u64,
    fds: usize,
}

/// Starts this program as the idle-connection holder (`imap-idle-clients`) on `plan`.
fn spawn_holder(plan: &std::path::Path) -> anyhow::Result<tokio::process::Child> {
    tokio::process::Command::new(std::env::current_exe()?)
        .arg("imap-idle-clients")
        .arg("--plan")
        .arg(plan)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the idle-connection holder")
}

/// The idle-connection holder's plan: every recipient from its own loopback address.
fn holder_plan(inst: &Setup, imaps: SocketAddr, opts: &ImapOptions) -> HolderPlan {
    HolderPlan {
        addr: imaps,
        server_ca: inst.install.server_ca.clone(),
        sign_in: opts.memory_sign_in,
        timeout: opts.timeout,
        accounts: inst
            .recipients
            .iter()
            .enumerate()
            .map(|(i, r)| HolderAccount {
                from: source_address(i),
                id: r.id.clone(),
                cert: r.cert.clone(),
                key: r.key.clone(),
                password: r.password.clone(),
            })
            .collect(),
    }
}

/// Prints the memory run's table.
fn print_memory_table(
    opts: &ImapOptions,
    accounts: usize,
    base: u64,
    rows: &[MemoryRow],
    peak_rss: u64,
) {
    print_header();
    println!(
        "idle signed-in IMAP connections (TLS 1.3, client certificate, AUTHENTICATE {}, SELECT \
         INBOX of {} messages, IDLE), {} accounts from {} loopback addresses, held by a second \
         process",
        match opts.memory_sign_in {
            SignIn::Plain => "PLAIN",
            SignIn::External => "EXTERNAL",
        },
        opts.memory_messages,
        accounts,
        accounts.min(250 * 250)
    );
    println!();
    println!(
        "| connections | opened in | daemon RSS | KB per connection (from 0) | KB per connection (from the previous step) | daemon fds | client process RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| 0 | - | {:.1} MiB | - | - | - | - |",
        base as f64 / 1048576.0
    );
    let mut prev = (0usize, base);
    for row in rows {
        let MemoryRow {
            n,
            ref secs,
            rss,
            holder_rss,
            fds,
        } = *row;
        let per =
            |from: u64, count: usize| (rss as f64 - from as f64) / 1024.0 / count.max(1) as f64;
        println!(
            "| {n} | {secs} s | {:.1} MiB | **{:.1}** | {:.1} | {fds} | {:.1} MiB |",
            rss as f64 / 1048576.0,
            per(base, n),
            per(prev.1, n - prev.0),
            holder_rss as f64 / 1048576.0
        );
        prev = (n, rss);
    }
    println!();
    println!(
        "daemon peak RSS (VmHWM): {:.1} MiB",
        peak_rss as f64 / 1048576.0
    );
}

/// Account `i`'s source address: 127.1.x.y, one per account (its device).
fn source_address(i: usize) -> IpAddr {
    let (hi, lo) = (i / 250, i % 250);
    IpAddr::from([127, 1, (hi % 250) as u8, (lo + 1) as u8])
}

/// The daemon's VmRSS once it stops moving: read every 500 ms until two readings in a
/// row differ by under 0.5% (at most 20 readings).
async fn settled_rss(pid: u32) -> anyhow::Result<u64> {
    let mut last = procstat::read(Some(pid))?.rss;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = procstat::read(Some(pid))?.rss;
        if (now as f64 - last as f64).abs() < last as f64 * 0.005 {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addresses_are_distinct_loopback() {
        let all: std::collections::HashSet<IpAddr> = (0..2000).map(source_address).collect();
        assert_eq!(all.len(), 2000);
        assert!(all.iter().all(IpAddr::is_loopback));
        assert_eq!(source_address(0), IpAddr::from([127, 1, 0, 1]));
        assert_eq!(source_address(251), IpAddr::from([127, 1, 1, 2]));
    }
}
