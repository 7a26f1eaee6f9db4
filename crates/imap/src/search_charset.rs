//! SEARCH CHARSET (RFC 3501 §6.4.4): search strings arrive in the client's charset; we match
//! in UTF-8. US-ASCII and UTF-8 pass through; any charset mail-parser decodes (EUC-KR,
//! ISO-2022-KR, Shift_JIS, ...) is converted; others get `NO [BADCHARSET]`.

use imap_codec::imap_types::{
    core::{AString, Charset, Vec1},
    response::Code,
    search::SearchKey,
};
use mail_parser::decoders::charsets::map::charset_decoder;

/// The client named a charset we cannot convert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported search charset {0}")]
pub struct UnsupportedCharset(pub String);

/// The charsets to list in `NO [BADCHARSET (...)]`.
pub const LISTED_CHARSETS: &[&str] = &["UTF-8", "US-ASCII", "EUC-KR"];

/// `[BADCHARSET (...)]` listing [`LISTED_CHARSETS`] (RFC 3501 §6.4.4).
pub fn bad_charset() -> Code<'static> {
    let allowed = LISTED_CHARSETS
        .iter()
        .filter_map(|c| Charset::try_from(*c).ok())
        .collect();
    Code::BadCharset { allowed }
}

/// The criteria of a SEARCH, SORT or THREAD as one key (several are ANDed), every string
/// converted from `charset` to UTF-8.
pub fn criteria_to_utf8(
    criteria: &Vec1<SearchKey<'_>>,
    charset: Option<&Charset<'_>>,
) -> Result<SearchKey<'static>, UnsupportedCharset> {
    match criteria.as_ref() {
        [single] => to_utf8(single, charset),
        _ => to_utf8(&SearchKey::And(criteria.clone()), charset),
    }
}

/// Converts every string of `key` from `charset` to UTF-8.
pub fn to_utf8(
    key: &SearchKey<'_>,
    charset: Option<&Charset<'_>>,
) -> Result<SearchKey<'static>, UnsupportedCharset> {
    let name = charset.map(|c| c.as_ref().to_string());
    let decode: fn(&[u8]) -> String = match name.as_deref() {
        None => utf8_lossy,
        Some(n) if n.eq_ignore_ascii_case("UTF-8") || n.eq_ignore_ascii_case("US-ASCII") => {
            utf8_lossy
        }
        Some(n) => match charset_decoder(n.as_bytes()) {
            Some(decoder) => decoder,
            None => return Err(UnsupportedCharset(n.to_string())),
        },
    };
    Ok(convert(key, decode))
}

fn utf8_lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn convert(key: &SearchKey<'_>, decode: fn(&[u8]) -> String) -> SearchKey<'static> {
    let text = |s: &AString<'_>| -> AString<'static> {
        let utf8: String = decode(s.as_ref())
            .chars()
            .filter(|&c| c != '\0' && c != '\r' && c != '\n')
            .collect();
        AString::try_from(utf8)
            .unwrap_or_else(|_| AString::try_from("").expect("empty quoted string is valid"))
    };
    match key {
        SearchKey::And(keys) => {
            let list: Vec<SearchKey<'static>> =
                keys.as_ref().iter().map(|k| convert(k, decode)).collect();
            SearchKey::And(Vec1::try_from(list).unwrap_or_else(|_| Vec1::from(SearchKey::All)))
        }
        SearchKey::Or(a, b) => {
            SearchKey::Or(Box::new(convert(a, decode)), Box::new(convert(b, decode)))
        }
        SearchKey::Not(k) => SearchKey::Not(Box::new(convert(k, decode))),
        SearchKey::Bcc(s) => SearchKey::Bcc(text(s)),
        SearchKey::Body(s) => SearchKey::Body(text(s)),
        SearchKey::Cc(s) => SearchKey::Cc(text(s)),
        SearchKey::From(s) => SearchKey::From(text(s)),
        SearchKey::Header(name, s) => SearchKey::Header(text(name), text(s)),
        SearchKey::Subject(s) => SearchKey::Subject(text(s)),
        SearchKey::Text(s) => SearchKey::Text(text(s)),
        SearchKey::To(s) => SearchKey::To(text(s)),
        other => imap_codec::imap_types::ToStatic::to_static(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euc_kr_search_strings_become_utf8() {
        // "홍길동" in EUC-KR.
        let euc_kr: &[u8] = &[0xC8, 0xAB, 0xB1, 0xE6, 0xB5, 0xBF];
        let key = SearchKey::From(AString::try_from(euc_kr).expect("literal"));
        let charset = Charset::try_from("EUC-KR").expect("atom");
        let converted =
            to_utf8(&SearchKey::Not(Box::new(key)), Some(&charset)).expect("known charset");
        let SearchKey::Not(inner) = converted else {
            panic!("NOT kept")
        };
        let SearchKey::From(s) = *inner else {
            panic!("FROM kept")
        };
        assert_eq!(s.as_ref(), "홍길동".as_bytes());
    }

    #[test]
    fn unknown_charset_is_refused() {
        let charset = Charset::try_from("X-NO-SUCH").expect("atom");
        assert_eq!(
            to_utf8(&SearchKey::All, Some(&charset)),
            Err(UnsupportedCharset("X-NO-SUCH".to_string()))
        );
        assert_eq!(to_utf8(&SearchKey::Seen, None), Ok(SearchKey::Seen));
    }
}
