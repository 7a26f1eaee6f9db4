//! Responses imap-codec 2.0.0-alpha.10 cannot express, written by hand: ESEARCH
//! (RFC 4731 §3.1, RFC 9051 §7.3.4), LIST with extended data items (RFC 5258 §3.5
//! CHILDINFO) and FETCH with a partial `BINARY[section]<origin>` (RFC 3516 §4.2). Each
//! function returns one whole response line with its CRLF.

use std::num::NonZeroU32;

use imap_codec::imap_types::{
    body::BodyStructure,
    core::Vec1,
    fetch::MessageDataItem,
    response::{Data, Response},
};

/// Numbers (sorted or not) as a compact sequence set, e.g. `1:3,7` (RFC 9051 §9
/// `sequence-set`); empty input gives an empty string.
pub fn sequence_set(numbers: &[u32]) -> String {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end.saturating_add(1) {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Numbers in the order given, runs of consecutive ascending numbers as ranges
/// (`3:5,1,2`): RFC 5267 §3.2's ESORT result, where `x:y` stands for x, x+1, …, y.
pub fn ordered_sequence_set(numbers: &[u32]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &n in numbers {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(n) => *end = n,
            _ => runs.push((n, n)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|&(start, end)| match start == end {
            true => start.to_string(),
            false => format!("{start}:{end}"),
        })
        .collect();
    parts.join(",")
}

/// What an ESEARCH response reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EsearchData {
    /// The command's tag (RFC 4731 §3.1: the response is correlated by it).
    pub tag: String,
    /// Numbers are UIDs.
    pub uid: bool,
    /// `MIN n`.
    pub min: Option<u32>,
    /// `MAX n`.
    pub max: Option<u32>,
    /// `ALL set` (omitted when nothing matched).
    pub all: Option<Vec<u32>>,
    /// `ALL` keeps the numbers' order (RFC 5267 §3.2, ESORT) instead of ascending.
    pub in_order: bool,
    /// `COUNT n`.
    pub count: Option<u32>,
    /// `PARTIAL (lo:hi set)` (RFC 5267 §4.4): the range asked for and the numbers at
    /// those positions (`NIL` when none).
    pub partial: Option<((u32, u32), Vec<u32>)>,
    /// `MODSEQ n` (RFC 7162 §3.1.5 with a MODSEQ criterion).
    pub modseq: Option<u64>,
}

/// `* ESEARCH (TAG "a1") UID MIN 1 ...` (RFC 4731 §3.1; a tag holds no quoted-specials).
pub fn esearch(data: &EsearchData) -> Vec<u8> {
    let mut line = format!("* ESEARCH (TAG \"{}\")", data.tag);
    if data.uid {
        line.push_str(" UID");
    }
    if let Some(min) = data.min {
        line.push_str(&format!(" MIN {min}"));
    }
    if let Some(max) = data.max {
        line.push_str(&format!(" MAX {max}"));
    }
    if let Some(all) = data.all.as_ref().filter(|a| !a.is_empty()) {
        let set = match data.in_order {
            true => ordered_sequence_set(all),
            false => sequence_set(all),
        };
        line.push_str(&format!(" ALL {set}"));
    }
    if let Some(count) = data.count {
        line.push_str(&format!(" COUNT {count}"));
    }
    if let Some(((lo, hi), numbers)) = &data.partial {
        let set = match (numbers.is_empty(), data.in_order) {
            (true, _) => "NIL".to_owned(),
            (false, true) => ordered_sequence_set(numbers),
            (false, false) => sequence_set(numbers),
        };
        line.push_str(&format!(" PARTIAL ({lo}:{hi} {set})"));
    }
    if let Some(modseq) = data.modseq {
        line.push_str(&format!(" MODSEQ {modseq}"));
    }
    line.push_str("\r\n");
    line.into_bytes()
}

/// `* ESEARCH (TAG "t") [UID] ADDTO (0 set)` or `REMOVEFROM` (RFC 5267 §4.3): how a
/// SEARCH context's result changed. Position 0: a SEARCH result has no order to place
/// the numbers in beyond their own.
pub fn context_update(tag: &str, uid: bool, kind: &str, numbers: &[u32]) -> Vec<u8> {
    let uid = if uid { " UID" } else { "" };
    let set = sequence_set(numbers);
    format!("* ESEARCH (TAG \"{tag}\"){uid} {kind} (0 {set})\r\n").into_bytes()
}

/// A mailbox name as an IMAP string: quoted when it can be, a literal otherwise.
pub fn string(name: &str) -> String {
    if name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    } else {
        format!("{{{}}}\r\n{name}", name.len())
    }
}

/// `* LIST (attributes) "/" name [("CHILDINFO" ("SUBSCRIBED"))]` (RFC 5258 §3.5, §9
/// `mbox-list-extended`); `wire_name` is already in its wire form (modified UTF-7).
pub fn list_line(
    attributes: &[&str],
    delimiter: char,
    wire_name: &str,
    child_info: &[&str],
) -> Vec<u8> {
    let mut line = format!(
        "* LIST ({}) \"{delimiter}\" {}",
        attributes.join(" "),
        string(wire_name)
    );
    if !child_info.is_empty() {
        let infos: Vec<String> = child_info.iter().map(|i| format!("\"{i}\"")).collect();
        line.push_str(&format!(" (\"CHILDINFO\" ({}))", infos.join(" ")));
    }
    line.push_str("\r\n");
    line.into_bytes()
}

/// `* seq FETCH (...)` where item `i` is followed by `<origins[i]>` when that is `Some`:
/// RFC 3516 §4.2 (and RFC 9051 §7.5.2) answer a partial `BINARY[section]<origin.count>`
/// as `BINARY[section]<origin>`, which imap-codec's `MessageDataItem::Binary` cannot
/// carry. Each item is encoded by imap-codec alone and the origin put after the section's
/// `]` (a BINARY section holds only part numbers, so the first `]` closes it).
pub fn fetch_with_origins(
    seq: NonZeroU32,
    items: &[MessageDataItem<'static>],
    origins: &[Option<u32>],
) -> Vec<u8> {
    let mut line = format!("* {seq} FETCH (").into_bytes();
    for (i, item) in items.iter().enumerate() {
        let inner = fetch_item(seq, item);
        if i > 0 {
            line.push(b' ');
        }
        match (
            origins.get(i).copied().flatten(),
            inner.iter().position(|&b| b == b']'),
        ) {
            (Some(origin), Some(close)) => {
                line.extend_from_slice(&inner[..=close]);
                line.extend_from_slice(format!("<{origin}>").as_bytes());
                line.extend_from_slice(&inner[close + 1..]);
            }
            _ => line.extend_from_slice(&inner),
        }
    }
    line.extend_from_slice(b")\r\n");
    line
}

/// One FETCH data item as imap-codec writes it inside `* seq FETCH (...)`.
fn fetch_item(seq: NonZeroU32, item: &MessageDataItem<'static>) -> Vec<u8> {
    let prefix = format!("* {seq} FETCH (");
    let one = Response::Data(Data::Fetch {
        seq,
        items: Vec1::from(item.clone()),
    });
    let encoded = crate::proto::response::encode(&one);
    encoded
        .strip_prefix(prefix.as_bytes())
        .and_then(|rest| rest.strip_suffix(b")\r\n"))
        .map_or_else(|| encoded.clone(), <[u8]>::to_vec)
}

/// A body structure in its BODYSTRUCTURE form, parenthesised (RFC 3501 `body`), as
/// RFC 5524's URLFETCH `BODYPARTSTRUCTURE` carries it.
pub fn body_structure(structure: &BodyStructure<'static>) -> Vec<u8> {
    let item = fetch_item(
        NonZeroU32::MIN,
        &MessageDataItem::BodyStructure(structure.clone()),
    );
    match item.strip_prefix(b"BODYSTRUCTURE ") {
        Some(body) => body.to_vec(),
        None => item,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_sets_are_compact() {
        assert_eq!(sequence_set(&[5, 1, 2, 3, 9, 10]), "1:3,5,9:10");
        assert_eq!(sequence_set(&[]), "");
        assert_eq!(
            sequence_set(&[u32::MAX, u32::MAX - 1]),
            "4294967294:4294967295"
        );
    }

    #[test]
    fn rfc5267_partial_and_context_lines() {
        let data = EsearchData {
            tag: "P1".into(),
            partial: Some(((2, 4), vec![4, 2, 5])),
            ..EsearchData::default()
        };
        assert_eq!(
            esearch(&data),
            b"* ESEARCH (TAG \"P1\") PARTIAL (2:4 2,4:5)\r\n"
        );
        let none = EsearchData {
            tag: "P2".into(),
            uid: true,
            partial: Some(((6, 6), vec![])),
            ..EsearchData::default()
        };
        assert_eq!(
            esearch(&none),
            b"* ESEARCH (TAG \"P2\") UID PARTIAL (6:6 NIL)\r\n"
        );
        assert_eq!(
            context_update("B1", false, "ADDTO", &[4, 1, 2]),
            b"* ESEARCH (TAG \"B1\") ADDTO (0 1:2,4)\r\n"
        );
    }

    #[test]
    fn esort_all_keeps_the_sort_order() {
        assert_eq!(ordered_sequence_set(&[1, 2, 3, 4, 5]), "1:5");
        assert_eq!(ordered_sequence_set(&[5, 4, 3, 2, 1]), "5,4,3,2,1");
        assert_eq!(ordered_sequence_set(&[3, 4, 9, 1, 2]), "3:4,9,1:2");
        assert_eq!(ordered_sequence_set(&[]), "");
        let data = EsearchData {
            tag: "E1".into(),
            all: Some(vec![3, 1, 2]),
            in_order: true,
            ..EsearchData::default()
        };
        assert_eq!(esearch(&data), b"* ESEARCH (TAG \"E1\") ALL 3,1:2\r\n");
    }

    #[test]
    fn rfc4731_esearch_lines() {
        let data = EsearchData {
            tag: "A282".into(),
            min: Some(2),
            count: Some(3),
            ..EsearchData::default()
        };
        assert_eq!(
            esearch(&data),
            b"* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"
        );
        let data = EsearchData {
            tag: "A283".into(),
            all: Some(vec![2, 10, 11]),
            ..EsearchData::default()
        };
        assert_eq!(esearch(&data), b"* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n");
        let none = EsearchData {
            tag: "A284".into(),
            uid: true,
            all: Some(vec![]),
            ..EsearchData::default()
        };
        assert_eq!(esearch(&none), b"* ESEARCH (TAG \"A284\") UID\r\n");
    }

    #[test]
    fn rfc5258_list_lines() {
        let line = list_line(&["\\HasChildren"], '/', "Fruit", &["SUBSCRIBED"]);
        assert_eq!(
            line,
            b"* LIST (\\HasChildren) \"/\" \"Fruit\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
        );
        assert_eq!(
            list_line(&[], '/', "a\"b", &[]),
            b"* LIST () \"/\" \"a\\\"b\"\r\n"
        );
    }

    #[test]
    fn partial_binary_carries_its_origin() {
        use imap_codec::imap_types::core::{NString, NString8};
        let seq = NonZeroU32::new(1).expect("1 is not zero");
        let binary = MessageDataItem::Binary {
            section: vec![NonZeroU32::new(5).expect("5 is not zero")],
            value: NString8::NString(NString(Some(crate::message::envelope::istring(b"fghij]")))),
        };
        let uid = MessageDataItem::Uid(NonZeroU32::new(9).expect("9 is not zero"));
        assert_eq!(
            fetch_with_origins(seq, &[uid, binary], &[None, Some(5)]),
            b"* 1 FETCH (UID 9 BINARY[5]<5> \"fghij]\")\r\n"
        );
    }
}
