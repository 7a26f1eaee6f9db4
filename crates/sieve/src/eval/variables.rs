//! Variables (RFC 5229): expanding `${…}` in values, `set` and its modifiers, and the
//! space-separated flag lists of imap4flags (RFC 5232 §3).

use super::{Frame, Machine};
use crate::ast::{FlagOp, Modifier, Piece, Value};
use crate::error::{Error, Limit};

impl Machine<'_> {
    /// Expands a value's references; an unset variable or match group is empty
    /// (RFC 5229 §3). The result is bounded by `max_variable_bytes`.
    pub(super) fn expand(&mut self, frame: &Frame, value: &Value) -> Result<String, Error> {
        let pieces = match value {
            Value::Literal(s) => return Ok(s.clone()),
            Value::Template(pieces) => pieces,
        };
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Variable(name) => out.push_str(&self.variable(frame, name)),
                Piece::Match(n) => out.push_str(frame.matches.get(*n).map_or("", String::as_str)),
            }
            if out.len() > self.limits.max_variable_bytes {
                return Err(Error::limit(
                    Limit::VariableSize,
                    self.limits.max_variable_bytes,
                ));
            }
        }
        self.charge(out.len() as u64 / 64)?;
        Ok(out)
    }

    /// A variable's value: global if this script declared it `global`, else local.
    pub(super) fn variable(&self, frame: &Frame, name: &str) -> String {
        let name = name.to_ascii_lowercase();
        let map = if frame.globals.contains(&name) {
            &self.globals
        } else {
            &frame.locals
        };
        map.get(&name).cloned().unwrap_or_default()
    }

    /// Sets a variable, counting it against `max_variables` the first time.
    pub(super) fn set_variable(
        &mut self,
        frame: &mut Frame,
        name: &str,
        mut value: String,
    ) -> Result<(), Error> {
        let name = name.to_ascii_lowercase();
        if crate::compile::check_variable_name(&name).is_err() {
            return Err(Error::BadVariable {
                name,
                message: "a variable name is a letter or `_` followed by letters, digits or `_`"
                    .into(),
            });
        }
        if value.len() > self.limits.max_variable_bytes {
            let mut end = self.limits.max_variable_bytes;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            value.truncate(end);
        }
        let map = if frame.globals.contains(&name) {
            &mut self.globals
        } else {
            &mut frame.locals
        };
        if !map.contains_key(&name) {
            self.variable_count += 1;
            if self.variable_count > self.limits.max_variables {
                return Err(Error::limit(Limit::Variables, self.limits.max_variables));
            }
        }
        map.insert(name, value);
        Ok(())
    }
}

/// Applies `set` modifiers, already sorted highest precedence first (RFC 5229 §4.1).
pub(super) fn modify(mut value: String, modifiers: &[Modifier]) -> String {
    for m in modifiers {
        value = match m {
            Modifier::Lower => value.to_lowercase(),
            Modifier::Upper => value.to_uppercase(),
            Modifier::LowerFirst => first_char(&value, |c| c.to_lowercase().collect()),
            Modifier::UpperFirst => first_char(&value, |c| c.to_uppercase().collect()),
            Modifier::QuoteWildcard => {
                let mut out = String::with_capacity(value.len());
                for c in value.chars() {
                    if matches!(c, '*' | '?' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out
            }
            Modifier::QuoteRegex => regex::escape(&value),
            // RFC 5229 §4.1.4: the length in characters.
            Modifier::Length => value.chars().count().to_string(),
        };
    }
    value
}

fn first_char(value: &str, f: impl Fn(char) -> String) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(c) => f(c) + chars.as_str(),
        None => String::new(),
    }
}

/// Splits strings into flags on spaces, dropping repeats (case-insensitive, RFC 5232 §3).
pub(super) fn flag_list(strings: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for flag in strings.iter().flat_map(|s| s.split_ascii_whitespace()) {
        if !out.iter().any(|f| f.eq_ignore_ascii_case(flag)) {
            out.push(flag.to_owned());
        }
    }
    out
}

/// `setflag`/`addflag`/`removeflag` on a flag list.
pub(super) fn apply_flags(op: FlagOp, current: Vec<String>, given: Vec<String>) -> Vec<String> {
    match op {
        FlagOp::Set => given,
        FlagOp::Add => {
            let mut all = current;
            all.extend(given);
            flag_list(&all)
        }
        FlagOp::Remove => current
            .into_iter()
            .filter(|f| !given.iter().any(|g| g.eq_ignore_ascii_case(f)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_in_precedence_order() {
        let mut m = vec![Modifier::Length, Modifier::Upper];
        m.sort_by_key(|m| std::cmp::Reverse(m.precedence()));
        assert_eq!(modify("abc".into(), &m), "3");
        assert_eq!(
            modify("juMBlEd".into(), &[Modifier::Lower, Modifier::UpperFirst]),
            "Jumbled"
        );
        assert_eq!(
            modify("a*b?".into(), &[Modifier::QuoteWildcard]),
            "a\\*b\\?"
        );
        assert_eq!(modify("보고서".into(), &[Modifier::Length]), "3");
    }

    #[test]
    fn flag_lists() {
        let l = flag_list(&["\\Seen  \\Flagged".into(), "\\seen".into()]);
        assert_eq!(l, ["\\Seen", "\\Flagged"]);
        let l = apply_flags(FlagOp::Remove, l, vec!["\\SEEN".into()]);
        assert_eq!(l, ["\\Flagged"]);
    }
}
