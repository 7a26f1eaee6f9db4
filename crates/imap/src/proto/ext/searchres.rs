//! SEARCHRES (RFC 5182): `$` stands for the result a `SEARCH RETURN (SAVE)` kept, as a
//! sequence set (FETCH, STORE, COPY, MOVE, UID EXPUNGE) or as a search key.
//!
//! imap-codec does not read `$`. A command using it is claimed by the driver whole; at run
//! time, when the saved result is known, [`substitute`] writes the result in place of each
//! `$` token (outside quoted strings and literals) and the command is parsed as usual.

/// The commands whose first argument may be `$` (RFC 5182 §2.2 `seq-or-uid`).
const SET_COMMANDS: [&str; 5] = ["FETCH", "STORE", "COPY", "MOVE", "EXPUNGE"];

/// Byte ranges of the `$` tokens in `command`, outside quoted strings and literals.
pub fn dollar_tokens(command: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < command.len() {
        match command[i] {
            b'"' => {
                i += 1;
                while i < command.len() && command[i] != b'"' {
                    // A backslash escapes the next octet inside a quoted string.
                    i += if command[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'{' => {
                let digits: Vec<u8> = command[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .copied()
                    .collect();
                let after = i + 1 + digits.len();
                let close = match command.get(after) {
                    Some(b'+') => after + 1,
                    _ => after,
                };
                let length = std::str::from_utf8(&digits)
                    .ok()
                    .and_then(|d| d.parse::<usize>().ok());
                match (length, command.get(close..close + 3)) {
                    (Some(n), Some(b"}\r\n")) => i = close + 3 + n,
                    _ => i += 1,
                }
            }
            b'$' => {
                let before = i.checked_sub(1).map(|p| command[p]);
                let after = command.get(i + 1).copied();
                let delimited_before = matches!(before, Some(b' ' | b'('));
                let delimited_after = matches!(after, Some(b' ' | b')' | b'\r'));
                if delimited_before && delimited_after {
                    found.push(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    found
}

/// Whether the command starting with `line` uses `$` where RFC 5182 allows it: as the
/// sequence set of FETCH/STORE/COPY/MOVE/UID EXPUNGE, or as a key of SEARCH (seen on the
/// first line only).
pub fn uses_saved_result(line: &[u8]) -> bool {
    let Some((_, names)) = super::lexer::command_head(line) else {
        return false;
    };
    let word = |i: usize| {
        names
            .get(i)
            .map(|w| String::from_utf8_lossy(w).to_ascii_uppercase())
    };
    let (command, set) = match word(0).as_deref() {
        Some("UID") => (word(1), names.get(2)),
        _ => (word(0), names.get(1)),
    };
    match command.as_deref() {
        Some("SEARCH") => !dollar_tokens(line).is_empty(),
        Some(c) if SET_COMMANDS.contains(&c) => {
            set.is_some_and(|s| *s == b"$") && !dollar_tokens(line).is_empty()
        }
        _ => false,
    }
}

/// Reads a command that uses `$`: it must parse with `$` standing for a message.
pub(super) fn parse(command: &[u8]) -> Result<super::ExtCommand, super::SyntaxError> {
    use imap_codec::{CommandCodec, decode::Decoder, imap_types::core::Tag};
    let (tag, names) =
        super::lexer::command_head(command).ok_or(super::SyntaxError("bad command"))?;
    let tag = Tag::try_from(tag.to_vec()).map_err(|_| super::SyntaxError("bad tag"))?;
    let uid = names
        .first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"UID"));
    let name = names.get(usize::from(uid)).copied().unwrap_or_default();
    let as_set = !name.eq_ignore_ascii_case(b"SEARCH");
    if dollar_tokens(command).is_empty() {
        // Never parse a command that would still read as one with `$` (no recursion).
        return Err(super::SyntaxError("bad command around $"));
    }
    let sample = substitute(command, if as_set { "1" } else { "ALL" });
    let readable = if super::claims(&sample) {
        super::parse(&sample).is_ok()
    } else {
        matches!(CommandCodec::default().decode(&sample), Ok((b"", _)))
    };
    if !readable {
        return Err(super::SyntaxError("bad command around $"));
    }
    Ok(super::ExtCommand {
        tag,
        body: super::ExtBody::SavedResult(super::SavedResultCommand {
            raw: command.to_vec(),
            as_set,
            uid,
        }),
    })
}

/// `command` with every `$` token replaced by `replacement`.
pub fn substitute(command: &[u8], replacement: &str) -> Vec<u8> {
    let tokens = dollar_tokens(command);
    let mut out = Vec::with_capacity(command.len() + tokens.len() * replacement.len());
    let mut last = 0;
    for at in tokens {
        out.extend_from_slice(&command[last..at]);
        out.extend_from_slice(replacement.as_bytes());
        last = at + 1;
    }
    out.extend_from_slice(&command[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_dollar_only_as_a_token() {
        assert!(uses_saved_result(b"a FETCH $ (FLAGS)\r\n"));
        assert!(uses_saved_result(b"a UID MOVE $ Trash\r\n"));
        assert!(uses_saved_result(b"a UID EXPUNGE $\r\n"));
        assert!(uses_saved_result(b"a SEARCH OR $ 1:3 UNSEEN\r\n"));
        assert!(uses_saved_result(
            b"a UID SEARCH RETURN (COUNT) ($ SEEN)\r\n"
        ));
        assert!(!uses_saved_result(b"a SEARCH SUBJECT \"$ 5\"\r\n"));
        assert!(!uses_saved_result(b"a SEARCH SUBJECT {3}\r\n"));
        assert!(!uses_saved_result(b"a FETCH 1:$ FLAGS\r\n"));
        assert!(!uses_saved_result(b"a SEARCH KEYWORD $Forwarded\r\n"));
        assert!(!uses_saved_result(b"a LIST \"\" $\r\n"));
        // `$` not ended by a space, ")" or CRLF is no token (found by fuzzing: this once
        // recursed without end).
        assert!(!uses_saved_result(b"P STORE $\n"));
        assert!(super::super::parse(b"P STORE $\n").is_err());
        assert!(super::parse(b"P STORE $\n").is_err());
    }

    #[test]
    fn substitutes_outside_strings_and_literals() {
        let command = b"a SEARCH SUBJECT {3}\r\n $ OR $ \"$\" ($)\r\n";
        assert_eq!(
            substitute(command, "UID 1:4"),
            b"a SEARCH SUBJECT {3}\r\n $ OR UID 1:4 \"$\" (UID 1:4)\r\n"
        );
    }
}
