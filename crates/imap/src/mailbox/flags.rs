//! Flags between the store (strings such as `\Seen`, `$Forwarded`) and imap-codec.

use imap_codec::imap_types::flag::{Flag, FlagFetch, FlagPerm};

/// The store's spelling of a flag.
pub fn to_store(flag: &Flag<'_>) -> String {
    flag.to_string()
}

/// A store flag as imap-codec's type; `None` for a string that is not a flag.
pub fn from_store(flag: &str) -> Option<Flag<'static>> {
    Flag::try_from(flag)
        .ok()
        .map(imap_codec::imap_types::IntoStatic::into_static)
}

/// The FETCH FLAGS list of a message: its flags, plus \Recent when this session sees it so.
pub fn fetch_list(flags: &[String], recent: bool) -> Vec<FlagFetch<'static>> {
    let mut list: Vec<FlagFetch<'static>> = flags
        .iter()
        .filter_map(|f| from_store(f))
        .map(FlagFetch::Flag)
        .collect();
    if recent {
        list.push(FlagFetch::Recent);
    }
    list
}

/// The five system flags (RFC 3501 §2.3.2), for FLAGS and PERMANENTFLAGS.
pub fn system() -> Vec<Flag<'static>> {
    vec![
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Seen,
        Flag::Draft,
    ]
}

/// PERMANENTFLAGS: the system flags and `\*` (clients may create keywords).
pub fn permanent() -> Vec<FlagPerm<'static>> {
    let mut list: Vec<FlagPerm<'static>> = system().into_iter().map(FlagPerm::Flag).collect();
    list.push(FlagPerm::Asterisk);
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_strings_round_trip() {
        for s in ["\\Seen", "\\Deleted", "$Forwarded", "NonJunk"] {
            let flag = from_store(s).expect("a flag");
            assert_eq!(to_store(&flag).to_lowercase(), s.to_lowercase());
        }
        assert_eq!(fetch_list(&["\\Seen".into()], true).len(), 2);
    }
}
