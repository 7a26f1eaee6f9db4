//! Message flags (RFC 3501 §2.3.2): system flags versus keywords, storage strings, STORE
//! arithmetic, and \Recent, which belongs to a session and never to the store.

use imap_codec::imap_types::{
    core::Atom,
    flag::{Flag, FlagFetch, FlagPerm, StoreType},
};

/// The flag as stored: `\Seen`, `$Forwarded`, ...
pub fn flag_to_string(flag: &Flag<'_>) -> String {
    flag.to_string()
}

/// A stored flag string back to a flag; `None` for strings that are not flags.
pub fn flag_from_str(stored: &str) -> Option<Flag<'static>> {
    Flag::try_from(stored)
        .ok()
        .map(|f| imap_codec::imap_types::ToStatic::to_static(&f))
}

/// True for the five system flags clients may set (\Recent is not settable).
pub fn is_system(flag: &Flag<'_>) -> bool {
    matches!(
        flag,
        Flag::Answered | Flag::Deleted | Flag::Draft | Flag::Flagged | Flag::Seen
    )
}

fn is_recent(flag: &Flag<'_>) -> bool {
    matches!(flag, Flag::Extension(_)) && flag.to_string().eq_ignore_ascii_case("\\Recent")
}

/// The flags a client asked to set (STORE, APPEND), cleaned: \Recent removed (RFC 3501
/// §2.3.2: the server sets it; clients cannot), other unknown `\`-flags removed (we cannot
/// keep flags RFC 3501 does not define), duplicates dropped case-insensitively.
pub fn client_flags(flags: &[Flag<'_>]) -> Vec<Flag<'static>> {
    let mut out: Vec<Flag<'static>> = Vec::new();
    for flag in flags {
        if is_recent(flag) || matches!(flag, Flag::Extension(_)) {
            continue;
        }
        if !out.iter().any(|f| same_flag(f, flag)) {
            out.push(imap_codec::imap_types::ToStatic::to_static(flag));
        }
    }
    out
}

/// Flags and keywords compare case-insensitively.
pub fn same_flag(a: &Flag<'_>, b: &Flag<'_>) -> bool {
    a.to_string().eq_ignore_ascii_case(&b.to_string())
}

/// The flags after a STORE (RFC 3501 §6.4.6): replace, add or remove.
pub fn apply_store(
    current: &[Flag<'static>],
    kind: StoreType,
    flags: &[Flag<'_>],
) -> Vec<Flag<'static>> {
    let requested = client_flags(flags);
    match kind {
        StoreType::Replace => requested,
        StoreType::Add => {
            let mut out = current.to_vec();
            for flag in requested {
                if !out.iter().any(|f| same_flag(f, &flag)) {
                    out.push(flag);
                }
            }
            out
        }
        StoreType::Remove => current
            .iter()
            .filter(|f| !requested.iter().any(|r| same_flag(r, f)))
            .cloned()
            .collect(),
    }
}

/// The FLAGS of a FETCH response: the stored flags plus \Recent when this session has it.
pub fn fetch_flags(flags: &[Flag<'static>], recent: bool) -> Vec<FlagFetch<'static>> {
    let mut out: Vec<FlagFetch<'static>> = flags.iter().cloned().map(FlagFetch::Flag).collect();
    if recent {
        out.push(FlagFetch::Recent);
    }
    out
}

/// The system flags for the FLAGS response of SELECT (RFC 3501 §7.2.6), plus `keywords`.
pub fn mailbox_flags(keywords: &[Flag<'static>]) -> Vec<Flag<'static>> {
    let mut out = vec![
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Seen,
        Flag::Draft,
    ];
    out.extend(keywords.iter().filter(|k| !is_system(k)).cloned());
    out
}

/// PERMANENTFLAGS for SELECT (RFC 3501 §7.1): the system flags and `\*` (clients may
/// create keywords).
pub fn permanent_flags() -> Vec<FlagPerm<'static>> {
    let mut out: Vec<FlagPerm<'static>> =
        mailbox_flags(&[]).into_iter().map(FlagPerm::Flag).collect();
    out.push(FlagPerm::Asterisk);
    out
}

/// A keyword flag from a name (e.g. `$Forwarded`, `$Junk`); `None` if not an atom.
pub fn keyword(name: &str) -> Option<Flag<'static>> {
    Atom::try_from(name.to_string()).ok().map(Flag::Keyword)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(list: &[&str]) -> Vec<Flag<'static>> {
        list.iter()
            .map(|s| flag_from_str(s).expect("valid flag"))
            .collect()
    }

    #[test]
    fn strings_round_trip() {
        for s in [
            "\\Seen",
            "\\Answered",
            "\\Deleted",
            "\\Draft",
            "\\Flagged",
            "$Forwarded",
            "NonJunk",
        ] {
            assert_eq!(flag_to_string(&flag_from_str(s).expect("valid")), s);
        }
        assert_eq!(flag_from_str("\\seen"), Some(Flag::Seen));
        assert_eq!(flag_from_str("bad flag"), None);
    }

    #[test]
    fn clients_cannot_set_recent_or_unknown_system_flags() {
        let cleaned = client_flags(&flags(&[
            "\\Recent", "\\Seen", "\\seen", "\\Foo", "$Work", "$WORK",
        ]));
        assert_eq!(cleaned, flags(&["\\Seen", "$Work"]));
    }

    #[test]
    fn store_add_remove_replace() {
        let current = flags(&["\\Seen", "$Work"]);
        assert_eq!(
            apply_store(&current, StoreType::Add, &flags(&["\\Flagged", "$work"])),
            flags(&["\\Seen", "$Work", "\\Flagged"])
        );
        assert_eq!(
            apply_store(&current, StoreType::Remove, &flags(&["$WORK"])),
            flags(&["\\Seen"])
        );
        assert_eq!(
            apply_store(
                &current,
                StoreType::Replace,
                &flags(&["\\Deleted", "\\Recent"])
            ),
            flags(&["\\Deleted"])
        );
    }

    #[test]
    fn recent_is_added_only_for_the_session() {
        assert_eq!(
            fetch_flags(&flags(&["\\Seen"]), true),
            vec![FlagFetch::Flag(Flag::Seen), FlagFetch::Recent]
        );
        assert_eq!(fetch_flags(&[], false), vec![]);
        assert_eq!(permanent_flags().last(), Some(&FlagPerm::Asterisk));
    }
}
