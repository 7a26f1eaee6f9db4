//! Golden files for FETCH ENVELOPE, BODYSTRUCTURE and BODY over a corpus of real-world MIME
//! shapes (tests/corpus/*.eml → tests/golden/*.golden).
//!
//! Each golden file holds the three untagged FETCH responses exactly as they go on the wire.
//! `UPDATE_GOLDEN=1 cargo test -p certmail-imap --test golden` rewrites them; every rewrite
//! must be reviewed by hand against RFC 3501 §7.4.2 before it is committed.

use std::{fs, path::Path};

use certmail_imap::message::{Extensions, MessageView};
use imap_codec::{
    ResponseCodec,
    encode::Encoder,
    imap_types::{
        fetch::MessageDataItem,
        response::{Data, Response},
    },
};

fn fetch_line(item: MessageDataItem<'static>) -> Vec<u8> {
    let data = Data::fetch(1, vec![item]).expect("one item is a valid FETCH");
    ResponseCodec::default()
        .encode(&Response::Data(data))
        .dump()
}

fn render(raw: &[u8]) -> Vec<u8> {
    let view = MessageView::parse(raw);
    let mut out = fetch_line(MessageDataItem::Envelope(view.envelope()));
    out.extend(fetch_line(MessageDataItem::BodyStructure(
        view.body_structure(Extensions::With),
    )));
    out.extend(fetch_line(MessageDataItem::Body(
        view.body_structure(Extensions::Without),
    )));
    out
}

#[test]
fn corpus_matches_golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut entries: Vec<_> = fs::read_dir(root.join("corpus"))
        .expect("corpus directory exists")
        .map(|e| e.expect("readable corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 10, "corpus is missing files");
    let mut mismatches = Vec::new();
    for eml in entries {
        let raw = fs::read(&eml).expect("readable corpus file");
        let actual = render(&raw);
        let stem = eml
            .file_stem()
            .expect("file has a name")
            .to_string_lossy()
            .into_owned();
        let golden = root.join("golden").join(format!("{stem}.golden"));
        if update {
            fs::write(&golden, &actual).expect("writable golden file");
            continue;
        }
        let expected = fs::read(&golden).unwrap_or_default();
        if expected != actual {
            mismatches.push(format!(
                "{stem}:\n--- expected\n{}\n--- actual\n{}",
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&actual)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatches:\n{}",
        mismatches.join("\n")
    );
}

/// Every truncation of every corpus message still gives a structure, an envelope and every
/// section without panicking, and what we encode still parses.
#[test]
fn truncated_messages_never_panic() {
    use certmail_imap::message::section::resolve;
    use imap_codec::imap_types::fetch::Part;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    for entry in fs::read_dir(root).expect("corpus directory exists") {
        let raw = fs::read(entry.expect("entry").path()).expect("readable");
        for end in 0..=raw.len() {
            let cut = &raw[..end];
            let _ = render(cut);
            let view = MessageView::parse(cut);
            for path in [vec![1], vec![1, 1], vec![2, 1, 1], vec![3]] {
                let part = Part(
                    path.iter()
                        .map(|&n| std::num::NonZeroU32::new(n).expect("nonzero"))
                        .collect::<Vec<_>>()
                        .try_into()
                        .expect("non-empty"),
                );
                let _ = resolve(view.root(), &part);
            }
        }
    }
}
