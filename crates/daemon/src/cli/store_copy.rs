//! `certmail store copy --from sled:DIR --to postgres:URL` (or back): opens both stores
//! with the installation's key file, refuses a source a daemon holds and a target that is
//! not empty, runs [`certmail_store::copy::copy_installation`] with a progress bar on a
//! terminal (plain lines otherwise), and prints the counts of every kind on both sides.

use anyhow::Context as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use certmail_store::copy::{CopyProgress, CopyReport, RecordCopy, RecordKind, copy_installation};
use certmail_store::{CopyError, KeyFile, SledStore, StoreError};
use serde_json::json;

use super::args::{StoreCommand, StoreCopyArgs};
use super::output;
use crate::admin::Response;

/// Connections the copy opens to PostgreSQL (it runs one statement at a time).
const PG_POOL: usize = 2;

/// Runs a `certmail store` subcommand; returns the exit code.
pub fn command(config_path: &Path, cmd: StoreCommand) -> anyhow::Result<u8> {
    match cmd {
        StoreCommand::Copy(args) => {
            let json = args.out.json;
            let resp = copy(config_path, args)?;
            output::print(&resp, json);
            if resp.ok && !json {
                print_counts(&resp.data);
            }
            Ok(output::exit_code(&resp))
        }
        StoreCommand::Migrate => migrate(config_path),
        StoreCommand::Reindex => reindex(config_path),
    }
}

/// `certmail store reindex`: postings for every body that has none.
fn reindex(config_path: &Path) -> anyhow::Result<u8> {
    let config = super::load(config_path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let indexed = rt.block_on(async {
        let store = crate::context::open_store(&config).await?;
        store.reindex().await.context("building the search index")
    })?;
    println!("Search index: {indexed} bodies indexed; every stored body now has postings.");
    Ok(0)
}

/// `certmail store migrate`: the PostgreSQL schema brought up to this build's version.
fn migrate(config_path: &Path) -> anyhow::Result<u8> {
    let config = super::load(config_path)?;
    if config.store.backend != crate::config::StoreBackend::Postgres {
        println!(
            "The sled store needs no migration: its format (version {}) is upgraded when \
             certmail opens it.",
            certmail_store::FORMAT_VERSION
        );
        return Ok(0);
    }
    let pg = crate::context::pg_config(&config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let before = rt
        .block_on(certmail_store_pg::PgStore::check(&pg))
        .context("[store] postgres_url")?;
    rt.block_on(crate::context::open_pg_store(&config))?;
    let now = certmail_store_pg::schema::SCHEMA_VERSION;
    if before == now {
        println!("PostgreSQL schema: version {now}, already current.");
    } else {
        println!("PostgreSQL schema: migrated from version {before} to {now}.");
    }
    Ok(0)
}

/// One side of a copy, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    /// A data directory; the mail is in its `store/`.
    Sled(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl Location {
    fn parse(text: &str) -> Result<Location, Response> {
        if let Some(dir) = text.strip_prefix("sled:") {
            Ok(Location::Sled(PathBuf::from(dir)))
        } else if let Some(url) = text.strip_prefix("postgres:") {
            Ok(Location::Postgres(url.to_owned()))
        } else {
            Err(Response::fail(
                "bad_location",
                format!(
                    "{text:?} names no store: write sled:DIR (a data directory) or \
                     postgres:URL (e.g. postgres:postgresql://certmail@db/certmail)"
                ),
            ))
        }
    }

    /// How the location is shown: a URL's password is left out.
    fn shown(&self) -> String {
        match self {
            Location::Sled(dir) => format!("sled:{}", dir.display()),
            Location::Postgres(url) => format!("postgres:{}", without_password(url)),
        }
    }
}

/// `postgresql://user:secret@host/db` → `postgresql://user:***@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

fn copy(config_path: &Path, args: StoreCopyArgs) -> anyhow::Result<Response> {
    let (from, to) = match (Location::parse(&args.from), Location::parse(&args.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(resp), _) | (_, Err(resp)) => return Ok(resp),
    };
    if from == to {
        return Ok(Response::fail(
            "same_store",
            "--from and --to name the same store: the target must be another, empty one",
        ));
    }
    let config = super::load(config_path)?;
    let key_path = config.server.key_file();
    if !key_path.exists() {
        return Ok(Response::fail(
            "no_key",
            format!(
                "no store key file at {} ([server] key_file of {}): pass the configuration \
                 of the installation being copied with --config",
                key_path.display(),
                config_path.display()
            ),
        ));
    }
    let key = KeyFile::load(&key_path)?;
    let node = config.cluster.node_name();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let source = match open(&from, Side::Source, key.clone(), &node).await {
            Ok(store) => store,
            Err(resp) => return Ok(resp),
        };
        let target = match open(&to, Side::Target, key, &node).await {
            Ok(store) => store,
            Err(resp) => return Ok(resp),
        };
        let mut progress = Progress::new(args.out.json);
        let result = copy_installation(&*source, &*target, args.verify_bodies, &mut progress).await;
        Ok(answer(result, &from, &to))
    })
}

/// Which side a store is opened for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Target,
}

async fn open(
    location: &Location,
    side: Side,
    key: KeyFile,
    node: &str,
) -> Result<Arc<dyn RecordCopy>, Response> {
    match location {
        Location::Sled(dir) => open_sled(dir, side, key).await,
        Location::Postgres(url) => {
            let config = certmail_store_pg::PgConfig {
                url: url.clone(),
                pool_size: PG_POOL,
                node_name: node.to_owned(),
            };
            let store = match certmail_store_pg::PgStore::open(&config, key).await {
                Ok(store) => store,
                Err(e) => {
                    let text = format!("cannot open {}: {e}", location.shown());
                    return Err(Response::fail("open_failed", text));
                }
            };
            match running_nodes(&store).await {
                Ok(nodes) if nodes.is_empty() => Ok(Arc::new(store)),
                Ok(nodes) => Err(Response::fail(
                    "daemon_running",
                    format!(
                        "certmail nodes are running on {} ({}): a copy must see no change \
                         while it runs; stop certmail on every node (systemctl stop certmail) \
                         and run the copy again",
                        location.shown(),
                        nodes.join(", ")
                    ),
                )),
                Err(e) => Err(Response::fail(
                    "open_failed",
                    format!("cannot open {}: {e}", location.shown()),
                )),
            }
        }
    }
}

/// The nodes running on a PostgreSQL store, asked again for up to two seconds while any
/// are seen: a node stopped just before the copy leaves its connection's row behind for
/// a moment.
async fn running_nodes(store: &certmail_store_pg::PgStore) -> Result<Vec<String>, StoreError> {
    let mut nodes = store.running_nodes().await?;
    for _ in 0..4 {
        if nodes.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        nodes = store.running_nodes().await?;
    }
    Ok(nodes)
}

async fn open_sled(dir: &Path, side: Side, key: KeyFile) -> Result<Arc<dyn RecordCopy>, Response> {
    let store_dir = dir.join("store");
    if side == Side::Source && !store_dir.join("conf").exists() {
        let hint = if dir.join("conf").exists() {
            format!(
                "{} is a store directory itself: give the data directory that holds it ({})",
                dir.display(),
                dir.parent().unwrap_or(dir).display()
            )
        } else {
            format!(
                "no sled store in {}: give the data directory ([server] data_dir) of the \
                 installation to copy",
                store_dir.display()
            )
        };
        return Err(Response::fail("no_store", hint));
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        let text = format!("cannot create {}: {e}", dir.display());
        return Err(Response::fail("open_failed", text));
    }
    match SledStore::open_async(&store_dir, key).await {
        Ok(store) => Ok(Arc::new(store)),
        Err(StoreError::Db(e)) if e.to_string().contains("could not acquire lock") => {
            Err(Response::fail(
                "daemon_running",
                format!(
                    "the sled store in {} is in use by a running certmail daemon (or another \
                     copy) that holds its lock: stop it (systemctl stop certmail) and run the \
                     copy again",
                    store_dir.display()
                ),
            ))
        }
        Err(e @ (StoreError::WrongKey { .. } | StoreError::UnknownKeyId(_))) => {
            Err(Response::fail(
                "wrong_key",
                format!(
                    "{e}: the sled store in {} was written with another key file; pass the \
                     configuration of its installation with --config",
                    store_dir.display()
                ),
            ))
        }
        Err(e) => Err(Response::fail(
            "open_failed",
            format!("cannot open the sled store in {}: {e}", store_dir.display()),
        )),
    }
}

/// The answer for a finished (or failed) copy.
fn answer(result: Result<CopyReport, CopyError>, from: &Location, to: &Location) -> Response {
    let report = match result {
        Ok(report) => report,
        Err(e @ CopyError::TargetNotEmpty { .. }) => {
            return Response::fail("not_empty", format!("{}: {e}", to.shown()));
        }
        Err(e) => return Response::fail("copy_failed", e.to_string()),
    };
    let counts: Vec<_> = RecordKind::ALL
        .iter()
        .map(|k| {
            json!({
                "kind": k.label(),
                "source": report.source.get(*k),
                "target": report.target.get(*k),
            })
        })
        .collect();
    Response::ok(
        format!(
            "copied {} to {}: {} accounts, {} messages; every count matches and {} bodies \
             read back identical; search index built for {} bodies",
            from.shown(),
            to.shown(),
            report.target.get(RecordKind::Accounts),
            report.target.get(RecordKind::Messages),
            report.bodies_checked,
            report.bodies_indexed
        ),
        json!({
            "counts": counts,
            "bodies_checked": report.bodies_checked,
            "bodies_indexed": report.bodies_indexed,
        }),
    )
}

/// The summary table: each kind with its count on both sides.
fn print_counts(data: &serde_json::Value) {
    let Some(rows) = data.get("counts").and_then(|c| c.as_array()) else {
        return;
    };
    println!("  {:<22} {:>12} {:>12}", "RECORDS", "SOURCE", "TARGET");
    for row in rows {
        let n = |key: &str| row.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
        let kind = row.get("kind").and_then(|v| v.as_str()).unwrap_or_default();
        println!("  {kind:<22} {:>12} {:>12}", n("source"), n("target"));
    }
}

/// Progress on stderr: a bar on a terminal, a line per stage otherwise, nothing with
/// `--json`.
struct Progress {
    mode: Mode,
    stage: String,
    done: u64,
}

enum Mode {
    Quiet,
    Lines,
    Bar(Option<indicatif::ProgressBar>),
}

impl Progress {
    fn new(json: bool) -> Progress {
        let mode = match (json, std::io::stderr().is_terminal()) {
            (true, _) => Mode::Quiet,
            (false, true) => Mode::Bar(None),
            (false, false) => Mode::Lines,
        };
        Progress {
            mode,
            stage: String::new(),
            done: 0,
        }
    }
}

impl CopyProgress for Progress {
    fn stage(&mut self, name: &str, total: u64) {
        (self.stage, self.done) = (name.to_owned(), 0);
        match &mut self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{name}: {total} to go"),
            Mode::Bar(bar) => {
                let style = indicatif::ProgressStyle::with_template(
                    "{msg:>16} [{bar:40}] {pos}/{len} ({eta})",
                )
                .expect("the template is a valid indicatif template")
                .progress_chars("=> ");
                let new = indicatif::ProgressBar::new(total).with_style(style);
                new.set_message(name.to_owned());
                *bar = Some(new);
            }
        }
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
        if let Mode::Bar(Some(bar)) = &self.mode {
            bar.inc(n);
        }
    }

    fn finish(&mut self) {
        match &mut self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{}: {} done", self.stage, self.done),
            Mode::Bar(bar) => {
                if let Some(bar) = bar.take() {
                    bar.finish();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_hide_passwords() {
        let pg = Location::parse("postgres:postgresql://certmail:비밀@db.example/certmail");
        assert_eq!(
            pg.as_ref().map(Location::shown).ok(),
            Some("postgres:postgresql://certmail:***@db.example/certmail".to_owned())
        );
        assert_eq!(
            Location::parse("sled:/var/lib/certmail").ok(),
            Some(Location::Sled("/var/lib/certmail".into()))
        );
        let refused = Location::parse("/var/lib/certmail").unwrap_err();
        assert!(refused.message.contains("sled:DIR"), "{}", refused.message);
    }
}
