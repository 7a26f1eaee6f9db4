//! Comparators and match types (RFC 5228 §2.7, RFC 4790, RFC 5231, RFC 5229 §3.2,
//! draft-ietf-sieve-regex): pure functions on strings, each bounded by a work budget.

use std::cmp::Ordering;

use regex::{Regex, RegexBuilder};

use crate::ast::{Comparator, Relation};
use crate::error::{Error, Limit};

/// Compiles a `:regex` key with the size limits in force; `fold` for `i;ascii-casemap`.
pub(crate) fn build_regex(pattern: &str, fold: bool, max_bytes: usize) -> Result<Regex, Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(fold)
        .size_limit(max_bytes)
        .dfa_size_limit(max_bytes)
        .nest_limit(64)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => Error::limit(Limit::RegexSize, max_bytes),
            other => Error::BadRegex {
                pattern: pattern.chars().take(200).collect(),
                message: other.to_string(),
            },
        })
}

fn chars_equal(comparator: Comparator, a: char, b: char) -> bool {
    match comparator {
        Comparator::AsciiCasemap => a.eq_ignore_ascii_case(&b),
        _ => a == b,
    }
}

/// `a` compared to `b` under the comparator's ordering (RFC 4790 §9).
pub(crate) fn order(comparator: Comparator, a: &str, b: &str) -> Ordering {
    match comparator {
        Comparator::Octet => a.as_bytes().cmp(b.as_bytes()),
        Comparator::AsciiCasemap => {
            let fold = |s: &str| {
                s.bytes()
                    .map(|b| b.to_ascii_lowercase())
                    .collect::<Vec<_>>()
            };
            fold(a).cmp(&fold(b))
        }
        Comparator::AsciiNumeric => numeric_order(a, b),
    }
}

/// `i;ascii-numeric`: the leading digits as an unbounded number; a string without leading
/// digits is positive infinity, equal to any other such string (RFC 4790 §9.1).
fn numeric_order(a: &str, b: &str) -> Ordering {
    let digits = |s: &str| -> Option<String> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        if d.is_empty() {
            return None;
        }
        let trimmed = d.trim_start_matches('0');
        Some(if trimmed.is_empty() {
            "0".into()
        } else {
            trimmed.into()
        })
    };
    match (digits(a), digits(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(&y)),
    }
}

/// `:is` (equality under the comparator).
pub(crate) fn is(comparator: Comparator, a: &str, b: &str) -> bool {
    match comparator {
        Comparator::AsciiNumeric => numeric_order(a, b) == Ordering::Equal,
        Comparator::AsciiCasemap => a.eq_ignore_ascii_case(b),
        Comparator::Octet => a == b,
    }
}

/// `:contains`: `needle` is a substring of `hay` under the comparator.
pub(crate) fn contains(comparator: Comparator, hay: &str, needle: &str) -> bool {
    match comparator {
        Comparator::AsciiCasemap => hay
            .to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase()),
        _ => hay.contains(needle),
    }
}

/// `:value` with a relation: `value REL key`.
pub(crate) fn relate(comparator: Comparator, relation: Relation, value: &str, key: &str) -> bool {
    let o = order(comparator, value, key);
    match relation {
        Relation::Gt => o == Ordering::Greater,
        Relation::Ge => o != Ordering::Less,
        Relation::Lt => o == Ordering::Less,
        Relation::Le => o != Ordering::Greater,
        Relation::Eq => o == Ordering::Equal,
        Relation::Ne => o != Ordering::Equal,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Glob {
    Char(char),
    One,
    Many,
}

fn glob_pattern(pattern: &str) -> Vec<Glob> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Glob::Many,
            '?' => Glob::One,
            '\\' => Glob::Char(chars.next().unwrap_or('\\')),
            c => Glob::Char(c),
        });
    }
    out
}

/// `:matches` (RFC 5228 §2.7.1): `*` any sequence, `?` one character, `\` escapes.
///
/// On a match, returns the match groups of RFC 5229 §3.2: the whole value first, then
/// what each wildcard matched, earlier wildcards matching as little as possible. The
/// search keeps one back-tracking point (the last `*`), so it costs at most
/// `value × pattern` steps; `budget` is decreased by the steps used and the search gives
/// up with `Err(())` when it runs out.
pub(crate) fn matches(
    comparator: Comparator,
    value: &str,
    pattern: &str,
    budget: &mut u64,
) -> Result<Option<Vec<String>>, ()> {
    let v: Vec<char> = value.chars().collect();
    let p = glob_pattern(pattern);
    // Each entry: (start, end) in `v` of one wildcard's match.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    // (pattern index after the star, where the star's match ends now, its group index)
    let mut star: Option<(usize, usize, usize)> = None;
    let (mut vi, mut pi) = (0usize, 0usize);
    loop {
        *budget = budget.checked_sub(1).ok_or(())?;
        if pi < p.len() {
            match p[pi] {
                Glob::Many => {
                    groups.push((vi, vi));
                    star = Some((pi + 1, vi, groups.len() - 1));
                    pi += 1;
                    continue;
                }
                Glob::One if vi < v.len() => {
                    groups.push((vi, vi + 1));
                    vi += 1;
                    pi += 1;
                    continue;
                }
                Glob::Char(c) if vi < v.len() && chars_equal(comparator, c, v[vi]) => {
                    vi += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        } else if vi == v.len() {
            break;
        }
        match star {
            Some((after, end, group)) if end < v.len() => {
                let end = end + 1;
                star = Some((after, end, group));
                groups.truncate(group + 1);
                groups[group].1 = end;
                vi = end;
                pi = after;
            }
            _ => return Ok(None),
        }
    }
    let mut out = vec![value.to_owned()];
    out.extend(
        groups
            .iter()
            .map(|&(s, e)| v[s..e].iter().collect::<String>()),
    );
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(value: &str, pattern: &str) -> Option<Vec<String>> {
        matches(Comparator::AsciiCasemap, value, pattern, &mut 1_000_000).unwrap()
    }

    #[test]
    fn wildcards_and_groups() {
        assert!(m("hello", "h*o").is_some());
        assert!(m("hello", "h?llo").is_some());
        assert!(m("hello", "h?lo").is_none());
        assert!(m("", "*").is_some());
        assert!(m("a*b", "a\\*b").is_some());
        assert!(m("axb", "a\\*b").is_none());
        assert!(m("HELLO", "h*").is_some());
        // RFC 5229 §3.2's example.
        let g = m("[acme-users] [fwd] version 1.2 is out", "[*] *").unwrap();
        assert_eq!(g[1], "acme-users");
        assert_eq!(g[2], "[fwd] version 1.2 is out");
        let g = m("Sieve group <sieve@ietf.org>", "*<*@*").unwrap();
        assert_eq!(&g[1..], ["Sieve group ", "sieve", "ietf.org>"]);
    }

    #[test]
    fn glob_work_is_bounded() {
        let value = "a".repeat(5000);
        let pattern = "*a".repeat(50) + "b";
        let mut budget = 10_000;
        assert!(matches(Comparator::Octet, &value, &pattern, &mut budget).is_err());
    }

    #[test]
    fn numeric_comparator() {
        assert!(is(Comparator::AsciiNumeric, "007", "7"));
        assert!(is(Comparator::AsciiNumeric, "abc", "x"));
        assert!(relate(Comparator::AsciiNumeric, Relation::Gt, "10", "9"));
        assert!(relate(
            Comparator::AsciiNumeric,
            Relation::Gt,
            "x",
            "99999999999999999999999"
        ));
        assert!(relate(Comparator::AsciiCasemap, Relation::Lt, "abc", "ABD"));
    }

    #[test]
    fn regex_size_is_limited() {
        assert!(build_regex("a{1000}{1000}", false, 1 << 20).is_err());
        assert!(matches!(
            build_regex("(", false, 1 << 20),
            Err(Error::BadRegex { .. })
        ));
        assert!(build_regex("^a.*b$", true, 1 << 20).is_ok());
    }
}
