//! Reading a command's or test's raw arguments against its signature: tagged arguments
//! (with their values) split from positional ones, each checked for kind and repetition
//! (RFC 5228 §2.6.2: a tag may appear once; §2.7: one comparator, one match type, one
//! address part).

use std::collections::VecDeque;

use crate::error::{Error, Position};
use crate::syntax::RawArg;

/// What a tag takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    /// Nothing: `:copy`.
    Flag,
    /// One string: `:comparator "i;octet"`.
    String,
    /// A string list: `:flags ["\\Seen"]`.
    StringList,
    /// A number: `:days 7`.
    Number,
}

/// A tag found in an argument list, with its value if its kind takes one.
#[derive(Debug, Clone)]
pub(crate) struct TagArg {
    pub name: String,
    pub pos: Position,
    pub value: Option<RawArg>,
}

/// The arguments of one command or test, tags taken out.
pub(crate) struct Args {
    pub name: String,
    pub pos: Position,
    pub tags: Vec<TagArg>,
    pub positional: VecDeque<RawArg>,
}

/// Tags that belong to one group: at most one of a group may be given.
const GROUPS: &[&[&str]] = &[
    &["is", "contains", "matches", "regex", "count", "value"],
    &["all", "localpart", "domain", "user", "detail"],
    &["zone", "originalzone"],
    &["personal", "global"],
    &["raw", "content", "text"],
    &["over", "under"],
    &["lower", "upper"],
    &["lowerfirst", "upperfirst"],
    &["quotewildcard", "quoteregex"],
];

impl Args {
    /// Splits `raw` by the signature `spec` (tag name → kind; `None` for an unknown tag).
    pub fn split(
        name: &str,
        pos: Position,
        raw: Vec<RawArg>,
        spec: impl Fn(&str) -> Option<TagKind>,
    ) -> Result<Args, Error> {
        let mut tags: Vec<TagArg> = Vec::new();
        let mut positional = VecDeque::new();
        let mut iter = raw.into_iter();
        while let Some(arg) = iter.next() {
            let RawArg::Tag(tag, tag_pos) = arg else {
                positional.push_back(arg);
                continue;
            };
            let kind = spec(&tag)
                .ok_or_else(|| Error::args(tag_pos, name, format!("unknown tag `:{tag}`")))?;
            if let Some(other) = tags.iter().find(|t| same_group(&t.name, &tag)) {
                let message = if other.name == tag {
                    format!("`:{tag}` is given twice")
                } else {
                    format!("`:{tag}` and `:{}` cannot be used together", other.name)
                };
                return Err(Error::args(tag_pos, name, message));
            }
            let value = match kind {
                TagKind::Flag => None,
                _ => {
                    let value = iter.next();
                    if !value.as_ref().is_some_and(|v| fits(v, kind)) {
                        let what = match kind {
                            TagKind::Number => "a number",
                            TagKind::String => "a string",
                            _ => "a string list",
                        };
                        return Err(Error::args(
                            tag_pos,
                            name,
                            format!("`:{tag}` must be followed by {what}"),
                        ));
                    }
                    value
                }
            };
            tags.push(TagArg {
                name: tag,
                pos: tag_pos,
                value,
            });
        }
        Ok(Args {
            name: name.to_owned(),
            pos,
            tags,
            positional,
        })
    }

    /// Removes and returns the tag `name`, if given.
    pub fn take_tag(&mut self, name: &str) -> Option<TagArg> {
        let i = self.tags.iter().position(|t| t.name == name)?;
        Some(self.tags.remove(i))
    }

    /// Whether the flag tag `name` was given (and removes it).
    pub fn flag(&mut self, name: &str) -> bool {
        self.take_tag(name).is_some()
    }

    /// The next positional argument, which must be a string.
    pub fn string(&mut self, what: &str) -> Result<(String, Position), Error> {
        match self.positional.pop_front() {
            Some(RawArg::Str(s, pos)) => Ok((s, pos)),
            Some(other) => Err(Error::args(
                other.pos(),
                &self.name,
                format!("{what} must be a string"),
            )),
            None => Err(self.missing(what)),
        }
    }

    /// The next positional argument, which must be a string or a string list.
    pub fn string_list(&mut self, what: &str) -> Result<(Vec<String>, Position), Error> {
        match self.positional.pop_front() {
            Some(RawArg::Str(s, pos)) => Ok((vec![s], pos)),
            Some(RawArg::List(l, pos)) => Ok((l, pos)),
            Some(other) => Err(Error::args(
                other.pos(),
                &self.name,
                format!("{what} must be a string or a list of strings"),
            )),
            None => Err(self.missing(what)),
        }
    }

    /// The next positional argument, which must be a number.
    pub fn number(&mut self, what: &str) -> Result<u64, Error> {
        match self.positional.pop_front() {
            Some(RawArg::Number(n, _)) => Ok(n),
            Some(other) => Err(Error::args(
                other.pos(),
                &self.name,
                format!("{what} must be a number"),
            )),
            None => Err(self.missing(what)),
        }
    }

    fn missing(&self, what: &str) -> Error {
        Error::args(self.pos, &self.name, format!("{what} is missing"))
    }

    /// Checks nothing is left over: no unused tag, no extra positional argument.
    pub fn finish(self) -> Result<(), Error> {
        if let Some(tag) = self.tags.first() {
            return Err(Error::args(
                tag.pos,
                &self.name,
                format!("`:{}` is not allowed here", tag.name),
            ));
        }
        if let Some(extra) = self.positional.front() {
            return Err(Error::args(extra.pos(), &self.name, "too many arguments"));
        }
        Ok(())
    }
}

fn same_group(a: &str, b: &str) -> bool {
    a == b || GROUPS.iter().any(|g| g.contains(&a) && g.contains(&b))
}

fn fits(arg: &RawArg, kind: TagKind) -> bool {
    matches!(
        (arg, kind),
        (RawArg::Number(..), TagKind::Number)
            | (RawArg::Str(..), TagKind::String | TagKind::StringList)
            | (RawArg::List(..), TagKind::StringList)
    )
}

/// A tag value as a string list (a single string is a list of one).
pub(crate) fn tag_strings(tag: &TagArg) -> Vec<String> {
    match &tag.value {
        Some(RawArg::Str(s, _)) => vec![s.clone()],
        Some(RawArg::List(l, _)) => l.clone(),
        _ => Vec::new(),
    }
}

/// A tag value as a single string.
pub(crate) fn tag_string(tag: &TagArg) -> String {
    match &tag.value {
        Some(RawArg::Str(s, _)) => s.clone(),
        _ => String::new(),
    }
}

/// A tag value as a number.
pub(crate) fn tag_number(tag: &TagArg) -> u64 {
    match &tag.value {
        Some(RawArg::Number(n, _)) => *n,
        _ => 0,
    }
}
