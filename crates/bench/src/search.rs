//! `certmail-bench search`: SEARCH TEXT over one large mailbox, by scan and through the
//! full-text index, on the store and the IMAP layer's evaluator (no wire, no TLS: what the
//! index changes is the store work behind the command).
//!
//! A sled store in a temporary directory (or, with `--backend postgres`, a PostgreSQL
//! server started for the run) gets `messages` generated messages (Korean and
//! English business mail, about 2 KiB each; the needle in about one in a hundred), appended
//! in batches. Then each round answers SEARCH TEXT "<needle>" as the IMAP command does: the
//! mailbox listing, the index's candidates, each candidate read, decrypted, parsed and
//! evaluated ("index"); and by reading every message ("scan", as before the index).

use std::time::{Duration, Instant};

use anyhow::Context;
use certmail_imap::search_eval::{SearchMessage, SearchScope, matches, parser_for};
use std::sync::Arc;

use certmail_store::{Account, KeyFile, NewMessage, SledStore, Store};
use certmail_store_pg::{PgConfig, PgStore};
use imap_codec::imap_types::{core::AString, search::SearchKey};

use crate::cluster::{Backend, Database};

const WORDS: &[&str] = &[
    "회의",
    "예산",
    "결재",
    "안녕하세요",
    "분기",
    "검토",
    "첨부",
    "일정",
    "공지",
    "행정안전부",
    "부탁드립니다",
    "자료",
    "요청",
    "확인",
    "담당자",
    "사업",
    "계획",
    "report",
    "meeting",
    "budget",
    "draft",
    "Seoul",
    "schedule",
    "please",
    "review",
];

/// `certmail-bench search` arguments.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Messages in the searched mailbox.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    messages: u64,
    /// The string searched for (SEARCH TEXT).
    #[arg(long, default_value = "보고서")]
    needle: String,
    /// Timed searches through the index.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    rounds: u64,
    /// Timed full scans (slow: every message decrypted and parsed).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=1_000))]
    scan_rounds: u64,
    /// The store: sled in a temporary directory, or postgres (a PostgreSQL server started
    /// for the run, fsync on, as `smtp --backend postgres`).
    #[arg(long, value_enum, default_value_t = Backend::Sled)]
    backend: Backend,
}

/// A deterministic message `n`; every hundredth mentions the needle.
fn message(n: u64, needle_text: &str) -> Vec<u8> {
    let mut state = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut word = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        WORDS[(state % WORDS.len() as u64) as usize]
    };
    let subject: Vec<&str> = (0..4).map(|_| word()).collect();
    let mut text = String::new();
    for line in 0..24 {
        let words: Vec<&str> = (0..8).map(|_| word()).collect();
        text.push_str(&words.join(" "));
        if n % 100 == 7 && line == 12 {
            text.push_str(&format!(" 첨부한 {needle_text}를 확인해 주세요."));
        }
        text.push_str("\r\n");
    }
    format!(
        "From: 김민준 <minjun{n}@example.kr>\r\nTo: 홍길동 <hong@example.kr>\r\n\
         Subject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}",
        subject.join(" ")
    )
    .into_bytes()
}

/// Runs the scenario and prints the table.
pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let key = KeyFile::from_bytes([5; 32]);
    let (store, sled, database): (Arc<dyn Store>, _, _) = match args.backend {
        Backend::Sled => {
            let sled = Arc::new(SledStore::open_async(dir.path(), key.clone()).await?);
            (sled.clone(), Some(sled), None)
        }
        Backend::Postgres => {
            let database = Database::start().await?;
            let store = PgStore::open(&PgConfig::new(&database.url()), key.clone())
                .await
                .context("opening the PostgreSQL store")?;
            (Arc::new(store), None, Some(database))
        }
    };
    let account = Account::new(
        "hong",
        "홍길동",
        vec!["hong@example.kr".into()],
        1_700_000_000,
    );
    store.create_account(account).await?;
    let mut fill = fill(&*store, &args, &key).await?;
    fill.index_bytes = match (sled, &database) {
        (Some(sled), _) => {
            tokio::task::spawn_blocking(move || sled.search_index_size())
                .await??
                .0
        }
        (None, Some(database)) => database.relation_bytes("search_docs").await?,
        (None, None) => 0,
    };
    let needle = SearchKey::Text(AString::try_from(args.needle.clone()).context("needle")?);
    let (mut index, mut scan) = (Vec::new(), Vec::new());
    let mut found = 0;
    let mut phases = Phases::default();
    for _ in 0..args.rounds {
        let t = Instant::now();
        found = search(&*store, &needle, true, &mut phases).await?;
        index.push(t.elapsed());
    }
    for _ in 0..args.scan_rounds {
        let t = Instant::now();
        let scanned = search(&*store, &needle, false, &mut Phases::default()).await?;
        scan.push(t.elapsed());
        anyhow::ensure!(scanned == found, "scan found {scanned}, index {found}");
    }
    fill.print(&args);
    println!("SEARCH TEXT {:?}: {found} matches", args.needle);
    println!("| path | rounds | p50 | p99 |");
    println!("|---|---|---|---|");
    for (name, times) in [("index", &mut index), ("scan", &mut scan)] {
        if times.is_empty() {
            continue;
        }
        times.sort();
        let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "| {name} | {} | {:.2} ms | {:.2} ms |",
            times.len(),
            ms(p(0.5)),
            ms(p(0.99))
        );
    }
    phases.print();
    drop(store);
    if let Some(database) = database {
        database.stop().await;
    }
    Ok(())
}

/// What filling the mailbox cost.
struct Fill {
    /// Wall time of every append (the store computes the postings in it).
    appending: Duration,
    /// CPU time of computing the postings alone (done again here, outside the store).
    hashing: Duration,
    /// Bytes of the generated messages.
    mail_bytes: u64,
    /// Distinct n-grams of all messages.
    grams: usize,
    /// The store's size afterwards.
    store_bytes: u64,
    /// What the index takes of it: sled, the bytes of its keys and values (before sled's
    /// overhead); PostgreSQL, `search_docs` with its TOAST data and GIN index.
    index_bytes: u64,
}

impl Fill {
    fn print(&self, args: &SearchArgs) {
        let n = args.messages as f64;
        println!(
            "search ({:?}): {} messages ({:.0} bytes each) appended in {:.1} s ({:.0} msgs/s), \
             of which computing postings {:.1} s; {:.0} distinct n-grams per message",
            args.backend,
            args.messages,
            self.mail_bytes as f64 / n,
            self.appending.as_secs_f64(),
            n / self.appending.as_secs_f64(),
            self.hashing.as_secs_f64(),
            self.grams as f64 / n
        );
        println!(
            "store {:.1} MB on disk, {:.1} KB per message; index {:.1} MB, {:.2} KB per message",
            self.store_bytes as f64 / 1e6,
            self.store_bytes as f64 / n / 1e3,
            self.index_bytes as f64 / 1e6,
            self.index_bytes as f64 / n / 1e3
        );
    }
}

/// Appends the generated messages to hong's INBOX in batches of 500.
async fn fill(store: &dyn Store, args: &SearchArgs, key: &KeyFile) -> anyhow::Result<Fill> {
    let gram_key = key.search_index_key();
    let (mut appending, mut hashing) = (Duration::ZERO, Duration::ZERO);
    let (mut grams, mut mail_bytes) = (0usize, 0u64);
    for batch in (0..args.messages).collect::<Vec<_>>().chunks(500) {
        let messages: Vec<NewMessage> = batch
            .iter()
            .map(|&n| NewMessage {
                body: message(n, &args.needle),
                flags: vec![],
                internal_date: 1_700_000_000 + n as i64,
            })
            .collect();
        let t = Instant::now();
        for m in &messages {
            grams += gram_key.message_postings(&m.body).map_or(0, |p| p.len());
            mail_bytes += m.body.len() as u64;
        }
        hashing += t.elapsed();
        let t = Instant::now();
        store
            .append_many(
                "hong",
                "INBOX",
                messages,
                certmail_store::MailQuota::Unlimited,
            )
            .await?;
        appending += t.elapsed();
    }
    Ok(Fill {
        appending,
        hashing,
        mail_bytes,
        grams,
        store_bytes: store.size_bytes().await?,
        index_bytes: 0,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Where the time of each indexed round goes.
#[derive(Default)]
struct Phases {
    /// The mailbox listing (UIDs, sizes, body ids).
    listing: Vec<Duration>,
    /// The index's answer.
    candidates: Vec<Duration>,
    /// Reading, decrypting, parsing and evaluating the candidates.
    reading: Vec<Duration>,
}

impl Phases {
    fn print(mut self) {
        let p50 = |times: &mut Vec<Duration>| {
            times.sort();
            times.get(times.len() / 2).map_or(0.0, |d| ms(*d))
        };
        println!(
            "index rounds, p50 of each part: listing {:.2} ms, candidates {:.2} ms, \
             reading and evaluating them {:.2} ms",
            p50(&mut self.listing),
            p50(&mut self.candidates),
            p50(&mut self.reading)
        );
    }
}

/// SEARCH `key` over hong's INBOX as the IMAP command evaluates it; with `indexed`, only
/// the index's candidates are read. Returns the number of matches.
async fn search(
    store: &dyn Store,
    key: &SearchKey<'_>,
    indexed: bool,
    phases: &mut Phases,
) -> anyhow::Result<usize> {
    let t = Instant::now();
    let metas = store.messages("hong", "INBOX", 1..=u32::MAX).await?;
    phases.listing.push(t.elapsed());
    let t = Instant::now();
    let needles = certmail_imap::search_eval::required_needles(key);
    let candidates = if indexed {
        let blobs = metas.iter().map(|m| m.blob).collect();
        store.search_candidates("hong", blobs, needles).await?
    } else {
        None
    };
    phases.candidates.push(t.elapsed());
    let t = Instant::now();
    let parser = parser_for(key, &[]);
    let scope = SearchScope {
        max_seq: metas.len() as u32,
        max_uid: u32::MAX,
    };
    let mut found = 0;
    for (i, meta) in metas.iter().enumerate() {
        if candidates.as_ref().is_some_and(|c| !c[i]) {
            continue;
        }
        let raw = store.message_body("hong", &meta.blob).await?;
        let parsed = parser.parse(&raw[..]);
        let facts = certmail_imap::fetch_items::FetchFacts {
            uid: meta.uid,
            flags: &[],
            recent: false,
            internal_date: Default::default(),
            size: meta.size as u32,
            modseq: meta.modseq,
        };
        let m = SearchMessage {
            seq: i as u32 + 1,
            facts,
            raw: &raw,
            parsed: parsed.as_ref(),
        };
        found += usize::from(matches(key, &m, scope));
    }
    phases.reading.push(t.elapsed());
    Ok(found)
}
