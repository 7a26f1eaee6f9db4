//! Compiling: the generic tree of [`crate::syntax`] to the typed [`crate::ast`], with the
//! compile-time errors of RFC 5228 §2–§5 and the extensions: unknown commands and tests,
//! arguments of the wrong kind or number, tags repeated or conflicting, and anything used
//! without its `require`.
//!
//! - this file: the entry point, `require`, commands, and string values;
//! - `args`: tags and positional arguments against a signature;
//! - `tests`: tests, comparators, match types;
//! - `encoded`: `${hex:…}` and `${unicode:…}` (RFC 5228 §2.4.2.4).

mod args;
mod encoded;
mod tests;

use std::collections::HashSet;

use crate::ast::{Command, FlagOp, Location, Modifier, Piece, Script, VacationCommand, Value};
use crate::error::{Error, Limit, Position};
use crate::lexer::tokenize;
use crate::limits::Limits;
use crate::syntax::{self, RawCommand};
use args::{Args, TagKind, tag_number, tag_string, tag_strings};

/// The capabilities `require` accepts (what a ManageSieve server would advertise).
pub const EXTENSIONS: &[&str] = &[
    "fileinto",
    "reject",
    "ereject",
    "envelope",
    "imap4flags",
    "vacation",
    "copy",
    "body",
    "variables",
    "relational",
    "comparator-i;ascii-numeric",
    "comparator-i;octet",
    "comparator-i;ascii-casemap",
    "date",
    "mailbox",
    "include",
    "regex",
    "subaddress",
    "encoded-character",
    "index",
];

/// Compiles a script's text, checking it against [`Limits::max_script_bytes`] and
/// [`Limits::max_nesting`].
pub fn compile(text: &str, limits: &Limits) -> Result<Script, Error> {
    if text.len() > limits.max_script_bytes {
        return Err(Error::limit(Limit::ScriptSize, limits.max_script_bytes));
    }
    let tokens = tokenize(text)?;
    let raw = syntax::parse(&tokens, limits.max_nesting)?;
    let mut compiler = Compiler {
        requires: HashSet::new(),
        order: Vec::new(),
        limits: limits.clone(),
    };
    let commands = compiler.top_level(raw)?;
    Ok(Script {
        requires: compiler.order,
        commands,
    })
}

pub(crate) struct Compiler {
    requires: HashSet<String>,
    order: Vec<String>,
    limits: Limits,
}

impl Compiler {
    /// Fails unless `extension` was required.
    pub(crate) fn need(&self, extension: &str, used: &str, pos: Position) -> Result<(), Error> {
        if self.requires.contains(extension) {
            Ok(())
        } else {
            Err(Error::MissingRequire {
                pos,
                used: used.to_owned(),
                extension: extension.to_owned(),
            })
        }
    }

    fn top_level(&mut self, raw: Vec<RawCommand>) -> Result<Vec<Command>, Error> {
        let mut rest = raw.into_iter().peekable();
        while let Some(cmd) = rest.next_if(|c| c.head.name.eq_ignore_ascii_case("require")) {
            self.require(cmd)?;
        }
        self.block(rest.collect())
    }

    /// `require <capabilities: string-list>` (RFC 5228 §3.2).
    fn require(&mut self, cmd: RawCommand) -> Result<(), Error> {
        no_tests_or_block(&cmd)?;
        let mut args = Args::split("require", cmd.head.pos, cmd.head.args, |_| None)?;
        let (names, pos) = args.string_list("the list of capabilities")?;
        args.finish()?;
        for name in names {
            if !EXTENSIONS.contains(&name.as_str()) {
                return Err(Error::UnknownExtension { pos, name });
            }
            if self.requires.insert(name.clone()) {
                self.order.push(name);
            }
        }
        Ok(())
    }

    /// A block of commands, pairing `if` with its `elsif`s and `else`.
    fn block(&mut self, raw: Vec<RawCommand>) -> Result<Vec<Command>, Error> {
        let mut out = Vec::new();
        let mut iter = raw.into_iter().peekable();
        while let Some(cmd) = iter.next() {
            let lower = cmd.head.name.to_ascii_lowercase();
            match lower.as_str() {
                "if" => {
                    let mut branches = vec![self.branch(cmd)?];
                    while let Some(next) =
                        iter.next_if(|c| c.head.name.eq_ignore_ascii_case("elsif"))
                    {
                        branches.push(self.branch(next)?);
                    }
                    let mut otherwise = Vec::new();
                    if let Some(next) = iter.next_if(|c| c.head.name.eq_ignore_ascii_case("else")) {
                        if !next.head.args.is_empty() || !next.head.tests.is_empty() {
                            return Err(Error::args(next.head.pos, "else", "takes no arguments"));
                        }
                        let Some(block) = next.block else {
                            return Err(Error::args(
                                next.head.pos,
                                "else",
                                "needs a `{ … }` block",
                            ));
                        };
                        otherwise = self.block(block)?;
                    }
                    out.push(Command::If {
                        branches,
                        otherwise,
                    });
                }
                "elsif" | "else" => {
                    return Err(Error::syntax(
                        cmd.head.pos,
                        format!("`{lower}` without a preceding `if`"),
                    ));
                }
                "require" => return Err(Error::RequireNotFirst { pos: cmd.head.pos }),
                _ => out.push(self.command(cmd, &lower)?),
            }
        }
        Ok(out)
    }

    /// One `if` or `elsif`: exactly one test and a block.
    fn branch(&mut self, cmd: RawCommand) -> Result<(crate::ast::Test, Vec<Command>), Error> {
        let name = cmd.head.name.to_ascii_lowercase();
        let Some(block) = cmd.block else {
            return Err(Error::args(cmd.head.pos, &name, "needs a `{ … }` block"));
        };
        if !cmd.head.args.is_empty() {
            return Err(Error::args(
                cmd.head.pos,
                &name,
                "takes a test, not arguments",
            ));
        }
        if cmd.head.tests.len() != 1 || cmd.head.test_list {
            return Err(Error::args(cmd.head.pos, &name, "needs exactly one test"));
        }
        let test = cmd.head.tests.into_iter().next().map(|t| self.test(t));
        let test = test.unwrap_or_else(|| Err(Error::args(cmd.head.pos, &name, "needs a test")))?;
        Ok((test, self.block(block)?))
    }

    /// Any command but `if`/`elsif`/`else`/`require`.
    fn command(&mut self, cmd: RawCommand, name: &str) -> Result<Command, Error> {
        let pos = cmd.head.pos;
        let known = matches!(
            name,
            "keep"
                | "discard"
                | "stop"
                | "redirect"
                | "fileinto"
                | "reject"
                | "ereject"
                | "vacation"
                | "setflag"
                | "addflag"
                | "removeflag"
                | "set"
                | "include"
                | "return"
                | "global"
        );
        if !known {
            return Err(Error::UnknownCommand {
                pos,
                name: cmd.head.name,
            });
        }
        no_tests_or_block(&cmd)?;
        let spec = |tag: &str| command_tag(name, tag);
        let mut args = Args::split(name, pos, cmd.head.args, spec)?;
        let command = match name {
            "keep" => Command::Keep {
                flags: self.flags_tag(&mut args)?,
            },
            "discard" => Command::Discard,
            "stop" => Command::Stop,
            "redirect" => Command::Redirect {
                copy: self.copy_tag(&mut args)?,
                address: self.address_arg(&mut args)?,
            },
            "fileinto" => self.fileinto(&mut args)?,
            "reject" | "ereject" => {
                self.need(name, name, pos)?;
                Command::Reject {
                    reason: self.value_arg(&mut args, "the reason")?,
                    extended: name == "ereject",
                }
            }
            "vacation" => self.vacation(&mut args)?,
            "setflag" | "addflag" | "removeflag" => self.flag_command(&mut args, name)?,
            "set" => self.set(&mut args)?,
            "include" => self.include(&mut args)?,
            "return" => {
                self.need("include", name, pos)?;
                Command::Return
            }
            _ => self.global(&mut args)?,
        };
        args.finish()?;
        Ok(command)
    }

    fn copy_tag(&self, args: &mut Args) -> Result<bool, Error> {
        match args.take_tag("copy") {
            Some(tag) => self.need("copy", ":copy", tag.pos).map(|()| true),
            None => Ok(false),
        }
    }

    fn flags_tag(&self, args: &mut Args) -> Result<Option<Vec<Value>>, Error> {
        let Some(tag) = args.take_tag("flags") else {
            return Ok(None);
        };
        self.need("imap4flags", ":flags", tag.pos)?;
        Ok(Some(self.values(tag_strings(&tag), tag.pos)?))
    }

    fn fileinto(&self, args: &mut Args) -> Result<Command, Error> {
        self.need("fileinto", "fileinto", args.pos)?;
        let create = match args.take_tag("create") {
            Some(tag) => self.need("mailbox", ":create", tag.pos).map(|()| true)?,
            None => false,
        };
        Ok(Command::FileInto {
            flags: self.flags_tag(args)?,
            copy: self.copy_tag(args)?,
            create,
            mailbox: self.value_arg(args, "the mailbox")?,
        })
    }

    /// `vacation` (RFC 5230 §4).
    fn vacation(&self, args: &mut Args) -> Result<Command, Error> {
        self.need("vacation", "vacation", args.pos)?;
        let opt = |args: &mut Args, name: &str| -> Result<Option<Value>, Error> {
            args.take_tag(name)
                .map(|t| self.value(tag_string(&t), t.pos))
                .transpose()
        };
        let days = args.take_tag("days").map(|t| tag_number(&t));
        let subject = opt(args, "subject")?;
        let from = opt(args, "from")?;
        let handle = opt(args, "handle")?;
        let addresses = match args.take_tag("addresses") {
            Some(tag) => self.values(tag_strings(&tag), tag.pos)?,
            None => Vec::new(),
        };
        let mime = args.flag("mime");
        let reason = self.value_arg(args, "the reason")?;
        Ok(Command::Vacation(Box::new(VacationCommand {
            days,
            subject,
            from,
            addresses,
            mime,
            handle,
            reason,
        })))
    }

    /// `setflag`/`addflag`/`removeflag [<variablename: string>] <list-of-flags>` (RFC 5232 §3).
    fn flag_command(&self, args: &mut Args, name: &str) -> Result<Command, Error> {
        self.need("imap4flags", name, args.pos)?;
        let op = match name {
            "setflag" => FlagOp::Set,
            "addflag" => FlagOp::Add,
            _ => FlagOp::Remove,
        };
        let variable = if args.positional.len() >= 2 {
            let (var, pos) = args.string("the variable name")?;
            self.need("variables", "a flag variable", pos)?;
            check_variable_name(&var)?;
            Some(Value::Literal(var.to_ascii_lowercase()))
        } else {
            None
        };
        let (flags, pos) = args.string_list("the flags")?;
        Ok(Command::Flags {
            op,
            variable,
            flags: self.values(flags, pos)?,
        })
    }

    /// `set [MODIFIER] <name: string> <value: string>` (RFC 5229 §4).
    fn set(&self, args: &mut Args) -> Result<Command, Error> {
        self.need("variables", "set", args.pos)?;
        let mut modifiers = Vec::new();
        for (tag, modifier) in [
            ("lower", Modifier::Lower),
            ("upper", Modifier::Upper),
            ("lowerfirst", Modifier::LowerFirst),
            ("upperfirst", Modifier::UpperFirst),
            ("quotewildcard", Modifier::QuoteWildcard),
            ("quoteregex", Modifier::QuoteRegex),
            ("length", Modifier::Length),
        ] {
            if let Some(t) = args.take_tag(tag) {
                if modifier == Modifier::QuoteRegex {
                    self.need("regex", ":quoteregex", t.pos)?;
                }
                modifiers.push(modifier);
            }
        }
        modifiers.sort_by_key(|m| std::cmp::Reverse(m.precedence()));
        let (name, _) = args.string("the variable name")?;
        check_variable_name(&name)?;
        let value = self.value_arg(args, "the value")?;
        Ok(Command::Set {
            name: name.to_ascii_lowercase(),
            value,
            modifiers,
        })
    }

    /// `include [LOCATION] [":once"] [":optional"] <value: string>` (RFC 6609 §3.2).
    fn include(&self, args: &mut Args) -> Result<Command, Error> {
        self.need("include", "include", args.pos)?;
        let location = if args.flag("global") {
            Location::Global
        } else {
            args.flag("personal");
            Location::Personal
        };
        let once = args.flag("once");
        let optional = args.flag("optional");
        let (name, pos) = args.string("the script name")?;
        if name.is_empty() || name.contains('/') || name.chars().any(char::is_control) {
            return Err(Error::args(
                pos,
                "include",
                "a script name must be a plain, non-empty name",
            ));
        }
        Ok(Command::Include {
            name,
            location,
            once,
            optional,
        })
    }

    /// `global <value: string-list>` (RFC 6609 §3.3).
    fn global(&self, args: &mut Args) -> Result<Command, Error> {
        self.need("include", "global", args.pos)?;
        self.need("variables", "global", args.pos)?;
        let (names, _) = args.string_list("the variable names")?;
        for name in &names {
            check_variable_name(name)?;
        }
        Ok(Command::Global(
            names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        ))
    }

    /// `redirect`'s address: a literal one must be valid now (RFC 5228 §4.2).
    fn address_arg(&self, args: &mut Args) -> Result<Value, Error> {
        let (s, pos) = args.string("the address")?;
        let value = self.value(s, pos)?;
        if let Some(address) = value.as_literal()
            && !is_valid_address(address)
        {
            let message = format!("\"{address}\" is not a valid address (local@domain)");
            return Err(Error::args(pos, "redirect", message));
        }
        Ok(value)
    }

    /// The next positional argument as a string value.
    fn value_arg(&self, args: &mut Args, what: &str) -> Result<Value, Error> {
        let (s, pos) = args.string(what)?;
        self.value(s, pos)
    }

    /// A string as a [`Value`]: with `variables` required, `${…}` references are found.
    pub(crate) fn value(&self, s: String, pos: Position) -> Result<Value, Error> {
        let s = if self.requires.contains("encoded-character") && s.contains("${") {
            encoded::decode(&s, pos)?
        } else {
            s
        };
        if !self.requires.contains("variables") || !s.contains("${") {
            return Ok(Value::Literal(s));
        }
        Ok(parse_template(&s))
    }

    /// Several strings as values.
    pub(crate) fn values(&self, list: Vec<String>, pos: Position) -> Result<Vec<Value>, Error> {
        list.into_iter().map(|s| self.value(s, pos)).collect()
    }

    /// The limits in force.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// The tags each command takes.
fn command_tag(command: &str, tag: &str) -> Option<TagKind> {
    use TagKind::*;
    match (command, tag) {
        ("keep" | "fileinto", "flags") => Some(StringList),
        ("fileinto" | "redirect", "copy") | ("fileinto", "create") => Some(Flag),
        ("vacation", "days") => Some(Number),
        ("vacation", "subject" | "from" | "handle") => Some(String),
        ("vacation", "addresses") => Some(StringList),
        ("vacation", "mime") => Some(Flag),
        (
            "set",
            "lower" | "upper" | "lowerfirst" | "upperfirst" | "quotewildcard" | "quoteregex"
            | "length",
        ) => Some(Flag),
        ("include", "personal" | "global" | "once" | "optional") => Some(Flag),
        _ => None,
    }
}

fn no_tests_or_block(cmd: &RawCommand) -> Result<(), Error> {
    let name = cmd.head.name.to_ascii_lowercase();
    if let Some(test) = cmd.head.tests.first() {
        return Err(Error::args(test.pos, &name, "takes no test"));
    }
    if cmd.block.is_some() {
        return Err(Error::args(
            cmd.head.pos,
            &name,
            "takes no block; end it with `;`",
        ));
    }
    Ok(())
}

/// A plain `local@domain` address with nothing that could break a header or an SMTP
/// command (white space, controls, brackets, separators).
pub(crate) fn is_valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let clean = |s: &str| {
        !s.is_empty()
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
    };
    clean(local) && clean(domain) && !domain.contains('@')
}

/// RFC 5229 §3: `identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_")`.
pub(crate) fn check_variable_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::BadVariable {
            name: name.to_owned(),
            message: "a name is a letter or `_` followed by letters, digits or `_`".into(),
        })
    }
}

/// Splits a string into text and `${…}` references (RFC 5229 §3). Anything that is not a
/// well-formed reference, or names a namespace we do not have, stays literal text.
pub(crate) fn parse_template(s: &str) -> Value {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let reference = after.find('}').and_then(|end| {
            let inner = &after[..end];
            let piece = if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
                Piece::Match(inner.parse().unwrap_or(usize::MAX))
            } else if check_variable_name(inner).is_ok() {
                Piece::Variable(inner.to_ascii_lowercase())
            } else {
                return None;
            };
            Some((piece, end))
        });
        match reference {
            Some((piece, end)) => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(piece);
                rest = &after[end + 1..];
            }
            None => {
                text.push_str("${");
                rest = after;
            }
        }
    }
    text.push_str(rest);
    if pieces.is_empty() {
        return Value::Literal(text);
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Value::Template(pieces)
}
