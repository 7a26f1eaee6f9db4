//! The full-text search index's rules, shared by every backend and by IMAP SEARCH: which
//! text of a message SEARCH BODY/TEXT reads, how it is cut into n-grams, how an n-gram is
//! hashed.
//!
//! IMAP SEARCH matches substrings case-insensitively (RFC 3501 §6.4.4: "port" matches
//! "report"), so the index only narrows: a message whose postings lack one of the needle's
//! n-grams cannot contain the needle; every other message is a candidate that the caller
//! confirms against the message itself.
//!
//! - **Text.** [`any_header_text`] and [`any_body_text`] hand out exactly the strings that
//!   SEARCH TEXT and BODY compare (the imap crate's `search_eval` calls them): the raw
//!   header block, each decoded header value ([`value_text`]), each decoded text or HTML
//!   part (those of attached messages to depth 8), all as mail-parser's default parser
//!   decodes them; an unparsable message is its raw bytes. SEARCH lowercases each whole
//!   string with `str::to_lowercase` and so does the index ([`message_grams`]).
//! - **N-grams.** At each character position of a lowercased text, one gram starts: two
//!   characters if that character is a Hangul syllable (U+AC00..=U+D7A3), else three; a gram
//!   that would run past the end is not taken ([`grams`]). The gram at a position depends
//!   only on the characters from there on, so every gram of a substring is a gram of the
//!   text: each of a needle's grams is a posting of any message that contains it. A needle
//!   shorter than its first gram has no gram and cannot be narrowed: the caller scans.
//! - **Hashing.** A posting is the first 8 bytes of HMAC-SHA256 of the gram ([`GramKey`]),
//!   keyed by HKDF from the store key: the index holds no text in clear. Two grams sharing
//!   a hash only add candidates.
//! - **Bound.** A message with more than [`MAX_GRAMS_PER_MESSAGE`] distinct grams is not
//!   given postings; it is marked as such and is a candidate of every search.

use std::collections::HashSet;

use mail_parser::{Address, HeaderValue, Message, MessageParser, PartType};
use ring::{hkdf, hmac};

/// The most distinct n-grams one message gets postings for (about 400 KiB of varied
/// text); a message with more is a candidate of every search instead, so that one huge
/// message cannot make every append write hundreds of thousands of keys.
pub const MAX_GRAMS_PER_MESSAGE: usize = 50_000;

/// Depth of attached messages whose text SEARCH BODY reads (as `search_eval` does).
const MAX_DEPTH: usize = 8;

/// A posting: the truncated keyed hash of one n-gram.
pub type GramHash = [u8; 8];

/// The key n-grams are hashed with. `Debug` never shows it.
#[derive(Clone)]
pub struct GramKey(hmac::Key);

impl std::fmt::Debug for GramKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GramKey(..)")
    }
}

impl GramKey {
    /// Derives the key from a store key (HKDF-SHA256, its own salt and info).
    pub fn derive(store_key: &[u8; 32]) -> GramKey {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"certmail search index");
        let prk = salt.extract(store_key);
        let info: &[&[u8]] = &[b"n-gram hmac v1"];
        let okm = prk
            .expand(info, hmac::HMAC_SHA256)
            .expect("HMAC-SHA256's key length is within HKDF-SHA256's output limit");
        GramKey(hmac::Key::from(okm))
    }

    /// The posting of one gram.
    pub fn hash(&self, gram: &str) -> GramHash {
        let tag = hmac::sign(&self.0, gram.as_bytes());
        let mut out = [0u8; 8];
        out.copy_from_slice(&tag.as_ref()[..8]);
        out
    }

    /// The postings of a needle (the string SEARCH looks for, lowercased as it compares),
    /// deduplicated; empty when the needle is too short to narrow anything.
    pub fn needle_postings(&self, needle: &str) -> Vec<GramHash> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        grams(needle, |g| {
            if seen.insert(g) {
                out.push(self.hash(g));
            }
        });
        out
    }

    /// The postings every candidate must hold for all of `needles` (SEARCH's strings,
    /// joined by AND), sorted and deduplicated; empty when none narrows anything.
    pub fn needles_postings(&self, needles: &[String]) -> Vec<GramHash> {
        let mut postings: Vec<GramHash> = needles
            .iter()
            .flat_map(|n| self.needle_postings(n))
            .collect();
        postings.sort_unstable();
        postings.dedup();
        postings
    }

    /// The postings of a message, sorted; `None` when it has more than
    /// [`MAX_GRAMS_PER_MESSAGE`] distinct grams (a candidate of every search).
    pub fn message_postings(&self, raw: &[u8]) -> Option<Vec<GramHash>> {
        let texts = message_texts(raw);
        let mut distinct: HashSet<&str> = HashSet::new();
        for text in &texts {
            let mut full = false;
            grams(text, |g| {
                full = full || (distinct.insert(g) && distinct.len() > MAX_GRAMS_PER_MESSAGE);
            });
            if full {
                return None;
            }
        }
        let mut out: Vec<GramHash> = distinct.into_iter().map(|g| self.hash(g)).collect();
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

/// Calls `take` with each n-gram of `text` (already lowercased), in order.
pub fn grams<'t>(text: &'t str, mut take: impl FnMut(&'t str)) {
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    for (n, (&start, c)) in starts.iter().zip(text.chars()).enumerate() {
        let width = if is_hangul_syllable(c) { 2 } else { 3 };
        let end = match starts.get(n + width) {
            Some(&end) => end,
            None if n + width == starts.len() => text.len(),
            None => return,
        };
        take(&text[start..end]);
    }
}

fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// The lowercased strings SEARCH TEXT compares for this message.
fn message_texts(raw: &[u8]) -> Vec<String> {
    let mut texts = Vec::new();
    let mut keep = |t: &str| {
        texts.push(t.to_lowercase());
        false
    };
    match MessageParser::default().parse(raw) {
        Some(parsed) => {
            any_header_text(&parsed, &mut keep);
            any_body_text(&parsed, &mut keep);
        }
        None => {
            keep(&String::from_utf8_lossy(raw));
        }
    }
    texts
}

/// Calls `visit` with the raw header block (field names included) and each decoded header
/// value, until it returns true; returns whether it did (SEARCH TEXT's header half).
pub fn any_header_text(message: &Message<'_>, visit: &mut dyn FnMut(&str) -> bool) -> bool {
    let root = message.root_part();
    let block = message
        .raw_message()
        .get(root.raw_header_offset() as usize..root.raw_body_offset() as usize)
        .unwrap_or_default();
    visit(&String::from_utf8_lossy(block))
        || root.headers().iter().any(|h| visit(&value_text(h.value())))
}

/// Calls `visit` with each decoded text or HTML part (attached messages' included, to depth
/// 8), until it returns true; returns whether it did (SEARCH BODY).
pub fn any_body_text(message: &Message<'_>, visit: &mut dyn FnMut(&str) -> bool) -> bool {
    body_text_at(message, visit, 0)
}

fn body_text_at(message: &Message<'_>, visit: &mut dyn FnMut(&str) -> bool, depth: usize) -> bool {
    // The root part of a single-part message is the body itself; part 0's headers are the
    // message header, which BODY must not match.
    message.parts.iter().any(|part| match &part.body {
        PartType::Text(t) | PartType::Html(t) => visit(t),
        PartType::Message(inner) if depth < MAX_DEPTH => body_text_at(inner, visit, depth + 1),
        _ => false,
    })
}

/// The searchable text of a header value: decoded text, or "name <address>" per mailbox.
pub fn value_text(value: &HeaderValue<'_>) -> String {
    let addr_text = |a: &mail_parser::Addr<'_>| {
        format!(
            "{} <{}>",
            a.name.as_deref().unwrap_or(""),
            a.address.as_deref().unwrap_or("")
        )
    };
    match value {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(list) => list.join(" "),
        HeaderValue::Address(Address::List(list)) => {
            list.iter().map(addr_text).collect::<Vec<_>>().join(", ")
        }
        HeaderValue::Address(Address::Group(groups)) => groups
            .iter()
            .map(|g| {
                let members: Vec<String> = g.addresses.iter().map(addr_text).collect();
                format!(
                    "{}: {}",
                    g.name.as_deref().unwrap_or(""),
                    members.join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        grams(text, |g| out.push(g));
        out
    }

    #[test]
    fn hangul_syllables_make_bigrams_and_other_text_trigrams() {
        assert_eq!(all("보고서"), ["보고", "고서"]);
        assert_eq!(all("report"), ["rep", "epo", "por", "ort"]);
        // A Hangul syllable starts a bigram even beside Latin letters.
        assert_eq!(all("a보고b"), ["a보고", "보고", "고b"]);
        assert!(all("ab").is_empty());
        assert!(all("보").is_empty());
    }

    #[test]
    fn message_postings_hold_every_needle_gram_and_no_text() {
        let key = GramKey::derive(&[7; 32]);
        let raw = "Subject: =?UTF-8?B?7ZqM7J2Y?=\r\nFrom: 김민준 <minjun@example.kr>\r\n\r\n\
                   분기 보고서를 보냅니다. REPORT attached.\r\n"
            .as_bytes();
        let postings = key
            .message_postings(raw)
            .expect("a small message is indexed");
        for needle in ["보고서", "report", "회의", "minjun@", "김민준"] {
            for gram in key.needle_postings(needle) {
                assert!(postings.binary_search(&gram).is_ok(), "{needle}");
            }
        }
        assert!(key.needle_postings("보").is_empty());
        let other = GramKey::derive(&[8; 32]);
        assert_ne!(key.hash("보고"), other.hash("보고"));
    }
}
