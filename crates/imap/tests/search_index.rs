//! The full-text index never changes a SEARCH answer: over a seeded corpus mixing Korean
//! and English (encoded-word subjects, base64 and quoted-printable bodies, HTML
//! alternatives, attached messages), SEARCH TEXT and BODY evaluated on the candidates the
//! store's index leaves give the same messages as a scan of every message, for random
//! substrings of the messages' text in random case and for absent words; on sled and on
//! PostgreSQL.

use base64::Engine;
use certmail_imap::search_eval::{SearchMessage, SearchScope, matches, needle, parser_for};
use certmail_store::{Account, KeyFile, NewMessage, SledStore, Store};
use certmail_store_pg::pg_harness::PgServer;
use certmail_store_pg::{PgConfig, PgStore};
use imap_codec::imap_types::{core::AString, search::SearchKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const WORDS: &[&str] = &[
    "보고서",
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
    "김민준",
    "이서연",
    "report",
    "Budget",
    "meeting",
    "Quarterly",
    "draft",
    "approval",
    "Seoul",
    "notice",
    "ΣΊΣΥΦΟΣ",
    "İstanbul",
    "straße",
    "2026",
    "x",
];

fn phrase(rng: &mut StdRng, n: usize) -> String {
    let words: Vec<&str> = (0..n)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect();
    words.join(if rng.random_bool(0.3) { "" } else { " " })
}

/// One message in one of several shapes.
fn message(rng: &mut StdRng, n: usize) -> Vec<u8> {
    let subject = phrase(rng, 3);
    let text = phrase(rng, 12);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let subject_field = if rng.random_bool(0.5) {
        format!("=?UTF-8?B?{}?=", b64(&subject))
    } else {
        subject.clone()
    };
    let head = format!(
        "From: {} <sender{n}@example.kr>\r\nTo: 홍길동 <hong@example.kr>\r\n\
         Subject: {subject_field}\r\nMIME-Version: 1.0\r\n",
        phrase(rng, 1)
    );
    let body = match rng.random_range(0..4) {
        0 => format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"),
        1 => format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(&text)
        ),
        2 => format!(
            "Content-Type: multipart/alternative; boundary=b{n}\r\n\r\n--b{n}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b{n}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\r\n<p>{}</p>\r\n--b{n}--\r\n",
            phrase(rng, 4)
        ),
        _ => format!(
            "Content-Type: multipart/mixed; boundary=m{n}\r\n\r\n--m{n}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--m{n}\r\n\
             Content-Type: message/rfc822\r\n\r\nSubject: {}\r\n\r\n{}\r\n--m{n}--\r\n",
            phrase(rng, 2),
            phrase(rng, 5)
        ),
    };
    format!("{head}{body}").into_bytes()
}

/// A random substring (in characters) of the message's decoded text, in random case.
fn needle_from(rng: &mut StdRng, raw: &[u8]) -> String {
    let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
    let mut texts = Vec::new();
    certmail_store::search_index::any_header_text(&parsed, &mut |t| {
        texts.push(t.to_owned());
        false
    });
    certmail_store::search_index::any_body_text(&parsed, &mut |t| {
        texts.push(t.to_owned());
        false
    });
    texts.retain(|t| !t.is_empty());
    let chars: Vec<char> = texts[rng.random_range(0..texts.len())].chars().collect();
    let start = rng.random_range(0..chars.len());
    let len = rng.random_range(1..=7).min(chars.len() - start);
    let picked: String = chars[start..start + len].iter().collect();
    match rng.random_range(0..3) {
        0 => picked.to_uppercase(),
        1 => picked.to_lowercase(),
        _ => picked,
    }
}

/// The indices of `bodies` that `key` matches, evaluated on `among`.
fn evaluate(key: &SearchKey<'_>, bodies: &[Vec<u8>], among: &[usize]) -> Vec<usize> {
    let parser = parser_for(key, &[]);
    let scope = SearchScope {
        max_seq: bodies.len() as u32,
        max_uid: bodies.len() as u32,
    };
    among
        .iter()
        .copied()
        .filter(|&i| {
            let parsed = parser.parse(&bodies[i][..]);
            let facts = certmail_imap::fetch_items::FetchFacts {
                uid: i as u32 + 1,
                flags: &[],
                recent: false,
                internal_date: Default::default(),
                size: bodies[i].len() as u32,
                modseq: 1,
            };
            let m = SearchMessage {
                seq: i as u32 + 1,
                facts,
                raw: &bodies[i],
                parsed: parsed.as_ref(),
            };
            matches(key, &m, scope)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_narrowed_search_always_agrees_with_a_scan_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open_async(dir.path(), KeyFile::from_bytes([9; 32]))
        .await
        .unwrap();
    agrees_with_a_scan(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_narrowed_search_always_agrees_with_a_scan_on_postgres() {
    let url = PgServer::shared().create_database().await;
    let store = PgStore::open(&PgConfig::new(&url), KeyFile::from_bytes([9; 32]))
        .await
        .unwrap();
    agrees_with_a_scan(&store).await;
}

/// The property on one store: 150 messages, 400 needles.
async fn agrees_with_a_scan(store: &dyn Store) {
    let account = Account::new(
        "hong",
        "홍길동",
        vec!["hong@example.kr".into()],
        1_700_000_000,
    );
    store.create_account(account).await.unwrap();
    let mut rng = StdRng::seed_from_u64(0x5ea2c4);
    let bodies: Vec<Vec<u8>> = (0..150).map(|n| message(&mut rng, n)).collect();
    let appended = bodies.iter().map(|b| NewMessage {
        body: b.clone(),
        flags: vec![],
        internal_date: 1_700_000_000,
    });
    store
        .append_many(
            "hong",
            "INBOX",
            appended.collect(),
            certmail_store::MailQuota::Unlimited,
        )
        .await
        .unwrap();
    let metas = store.messages("hong", "INBOX", 1..=u32::MAX).await.unwrap();
    let blobs: Vec<_> = metas.iter().map(|m| m.blob).collect();
    let everyone: Vec<usize> = (0..bodies.len()).collect();
    let (mut narrowed_some, mut found_some) = (0, 0);
    for round in 0..400 {
        let text = if round % 10 == 9 {
            phrase(&mut rng, 2) + "없는말"
        } else {
            let source = rng.random_range(0..bodies.len());
            needle_from(&mut rng, &bodies[source])
        };
        let s = AString::try_from(text.clone()).unwrap();
        let key = if round % 2 == 0 {
            SearchKey::Text(s)
        } else {
            SearchKey::Body(s)
        };
        let scanned = evaluate(&key, &bodies, &everyone);
        let candidates = store
            .search_candidates("hong", blobs.clone(), vec![needle(text.as_bytes())])
            .await
            .unwrap();
        let among: Vec<usize> = match &candidates {
            Some(c) => everyone.iter().copied().filter(|&i| c[i]).collect(),
            None => everyone.clone(),
        };
        for i in &scanned {
            assert!(
                among.contains(i),
                "{text:?}: message {i} matches but was left out"
            );
        }
        assert_eq!(evaluate(&key, &bodies, &among), scanned, "{text:?}");
        narrowed_some += usize::from(among.len() < bodies.len());
        found_some += usize::from(!scanned.is_empty());
    }
    // The corpus exercises both sides: most needles narrow, most are found.
    assert!(narrowed_some > 100, "narrowed {narrowed_some} of 400");
    assert!(found_some > 200, "found {found_some} of 400");
}
