//! Responses imap-codec 2.0.0-alpha.10 cannot express, written by hand: ESEARCH
//! (RFC 4731 §3.1, RFC 9051 §7.3.4) and LIST with extended data items (RFC 5258 §3.5
//! CHILDINFO). Each function returns one whole response line with its CRLF.

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
    /// `COUNT n`.
    pub count: Option<u32>,
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
        line.push_str(&format!(" ALL {}", sequence_set(all)));
    }
    if let Some(count) = data.count {
        line.push_str(&format!(" COUNT {count}"));
    }
    if let Some(modseq) = data.modseq {
        line.push_str(&format!(" MODSEQ {modseq}"));
    }
    line.push_str("\r\n");
    line.into_bytes()
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
}
