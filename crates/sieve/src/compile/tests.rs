//! Compiling tests (RFC 5228 §5 and the extensions' tests) and the comparator, match type
//! and address part every matching test shares (RFC 5228 §2.7).

use super::Compiler;
use super::args::{Args, TagArg, TagKind, tag_number, tag_string, tag_strings};
use crate::ast::{
    AddressPart, BodyTransform, Comparator, Index, MatchType, Matcher, Relation, Test, Value, Zone,
};
use crate::error::{Error, Position};
use crate::eval::matching::build_regex;
use crate::syntax::RawTest;

/// Date parts `date` and `currentdate` know (RFC 5260 §4.2).
pub(crate) const DATE_PARTS: &[&str] = &[
    "year", "month", "day", "date", "julian", "hour", "minute", "second", "time", "iso8601",
    "std11", "zone", "weekday",
];

impl Compiler {
    /// One test.
    pub(crate) fn test(&mut self, raw: RawTest) -> Result<Test, Error> {
        let name = raw.name.to_ascii_lowercase();
        let pos = raw.pos;
        match name.as_str() {
            "true" | "false" | "exists" | "size" | "header" | "address" | "envelope" | "body"
            | "date" | "currentdate" | "hasflag" | "string" | "mailboxexists" => {
                if let Some(t) = raw.tests.first() {
                    return Err(Error::args(t.pos, &name, "takes no nested test"));
                }
                let spec = |tag: &str| test_tag(&name, tag);
                let mut args = Args::split(&name, pos, raw.args, spec)?;
                let test = self.simple_test(&name, &mut args)?;
                args.finish()?;
                Ok(test)
            }
            "not" => {
                if !raw.args.is_empty() || raw.tests.len() != 1 || raw.test_list {
                    return Err(Error::args(pos, "not", "takes exactly one test"));
                }
                let inner = raw.tests.into_iter().map(|t| self.test(t)).next();
                Ok(Test::Not(Box::new(inner.unwrap_or(Ok(Test::False))?)))
            }
            "allof" | "anyof" => {
                if !raw.args.is_empty() || !raw.test_list {
                    return Err(Error::args(pos, &name, "takes a list of tests in `( … )`"));
                }
                let tests = raw
                    .tests
                    .into_iter()
                    .map(|t| self.test(t))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if name == "allof" {
                    Test::AllOf(tests)
                } else {
                    Test::AnyOf(tests)
                })
            }
            _ => Err(Error::UnknownTest {
                pos,
                name: raw.name,
            }),
        }
    }

    fn simple_test(&mut self, name: &str, args: &mut Args) -> Result<Test, Error> {
        Ok(match name {
            "true" => Test::True,
            "false" => Test::False,
            "exists" => Test::Exists(self.list_arg(args, "the header names")?),
            "size" => self.size(args)?,
            "header" => {
                let matcher = self.matcher(args)?;
                Test::Header {
                    index: self.index(args)?,
                    headers: self.list_arg(args, "the header names")?,
                    keys: self.keys(args, matcher)?,
                    matcher,
                }
            }
            "address" | "envelope" => self.address(args, name)?,
            "body" => self.body(args)?,
            "date" | "currentdate" => self.date(args, name)?,
            "hasflag" => {
                self.need("imap4flags", "hasflag", args.pos)?;
                let matcher = self.matcher(args)?;
                let variables = if args.positional.len() >= 2 {
                    self.need("variables", "hasflag with variables", args.pos)?;
                    self.list_arg(args, "the variable names")?
                } else {
                    Vec::new()
                };
                Test::HasFlag {
                    variables,
                    keys: self.keys(args, matcher)?,
                    matcher,
                }
            }
            "string" => {
                self.need("variables", "string", args.pos)?;
                let matcher = self.matcher(args)?;
                Test::String {
                    sources: self.list_arg(args, "the source strings")?,
                    keys: self.keys(args, matcher)?,
                    matcher,
                }
            }
            _ => {
                self.need("mailbox", "mailboxexists", args.pos)?;
                Test::MailboxExists(self.list_arg(args, "the mailbox names")?)
            }
        })
    }

    /// `size <":over" / ":under"> <limit: number>` (RFC 5228 §5.9).
    fn size(&self, args: &mut Args) -> Result<Test, Error> {
        let over = args.flag("over");
        if !over && !args.flag("under") {
            return Err(Error::args(args.pos, "size", "needs `:over` or `:under`"));
        }
        Ok(Test::Size {
            over,
            limit: args.number("the size")?,
        })
    }

    fn address(&self, args: &mut Args, name: &str) -> Result<Test, Error> {
        if name == "envelope" {
            self.need("envelope", "envelope", args.pos)?;
        }
        let matcher = self.matcher(args)?;
        let part = self.address_part(args)?;
        let index = self.index(args)?;
        let fields = self.list_arg(args, "the header names")?;
        let keys = self.keys(args, matcher)?;
        if name == "envelope" {
            for field in &fields {
                if let Some(f) = field.as_literal()
                    && !matches!(f.to_ascii_lowercase().as_str(), "from" | "to")
                {
                    let message = format!("envelope part \"{f}\" is not \"from\" or \"to\"");
                    return Err(Error::args(args.pos, "envelope", message));
                }
            }
            return Ok(Test::Envelope {
                matcher,
                part,
                fields,
                keys,
            });
        }
        Ok(Test::Address {
            matcher,
            index,
            part,
            headers: fields,
            keys,
        })
    }

    /// `body [COMPARATOR] [MATCH-TYPE] [BODY-TRANSFORM] <key-list>` (RFC 5173 §5).
    fn body(&self, args: &mut Args) -> Result<Test, Error> {
        self.need("body", "body", args.pos)?;
        let matcher = self.matcher(args)?;
        let transform = if args.flag("raw") {
            BodyTransform::Raw
        } else if let Some(tag) = args.take_tag("content") {
            BodyTransform::Content(self.values(tag_strings(&tag), tag.pos)?)
        } else {
            args.flag("text");
            BodyTransform::Text
        };
        Ok(Test::Body {
            transform,
            keys: self.keys(args, matcher)?,
            matcher,
        })
    }

    /// `date [":zone" / ":originalzone"] … <header-name> <date-part> <key-list>` and
    /// `currentdate [":zone"] … <date-part> <key-list>` (RFC 5260 §4, §5).
    fn date(&self, args: &mut Args, name: &str) -> Result<Test, Error> {
        self.need("date", name, args.pos)?;
        let matcher = self.matcher(args)?;
        let zone = if let Some(tag) = args.take_tag("zone") {
            Zone::Fixed(parse_zone(&tag)?)
        } else if args.flag("originalzone") {
            Zone::Original
        } else {
            Zone::Local
        };
        let index = self.index(args)?;
        let header = if name == "date" {
            Some((self.string_arg(args, "the header name")?, index))
        } else {
            None
        };
        let (part_text, pos) = args.string("the date part")?;
        if !part_text.contains("${")
            && !DATE_PARTS.contains(&part_text.to_ascii_lowercase().as_str())
        {
            return Err(Error::args(
                pos,
                name,
                format!("unknown date part \"{part_text}\""),
            ));
        }
        let part = self.value(part_text.to_ascii_lowercase(), pos)?;
        let keys = self.keys(args, matcher)?;
        Ok(Test::Date {
            matcher,
            header,
            zone,
            part,
            keys,
        })
    }

    /// `[COMPARATOR] [MATCH-TYPE]` (RFC 5228 §2.7, RFC 5231, regex draft).
    fn matcher(&self, args: &mut Args) -> Result<Matcher, Error> {
        let mut matcher = Matcher::default();
        if let Some(tag) = args.take_tag("comparator") {
            matcher.comparator = self.comparator(&tag, &args.name)?;
        }
        let kinds = ["is", "contains", "matches", "regex", "count", "value"];
        let Some(tag) = kinds.iter().find_map(|k| args.take_tag(k)) else {
            return Ok(matcher);
        };
        matcher.match_type = match tag.name.as_str() {
            "is" => MatchType::Is,
            "contains" => MatchType::Contains,
            "matches" => MatchType::Matches,
            "regex" => {
                self.need("regex", ":regex", tag.pos)?;
                MatchType::Regex
            }
            kind => {
                self.need("relational", &format!(":{kind}"), tag.pos)?;
                let relation = parse_relation(&tag, &args.name)?;
                if kind == "count" {
                    MatchType::Count(relation)
                } else {
                    MatchType::Value(relation)
                }
            }
        };
        let substring = matches!(
            matcher.match_type,
            MatchType::Contains | MatchType::Matches | MatchType::Regex
        );
        if substring && matcher.comparator == Comparator::AsciiNumeric {
            let message = format!(
                "comparator \"i;ascii-numeric\" cannot be used with `:{}`",
                tag.name
            );
            return Err(Error::args(tag.pos, &args.name, message));
        }
        Ok(matcher)
    }

    fn comparator(&self, tag: &TagArg, command: &str) -> Result<Comparator, Error> {
        let name = tag_string(tag).to_ascii_lowercase();
        match name.as_str() {
            "i;octet" => Ok(Comparator::Octet),
            "i;ascii-casemap" => Ok(Comparator::AsciiCasemap),
            "i;ascii-numeric" => {
                self.need("comparator-i;ascii-numeric", "i;ascii-numeric", tag.pos)?;
                Ok(Comparator::AsciiNumeric)
            }
            _ => Err(Error::args(
                tag.pos,
                command,
                format!("unknown comparator \"{name}\""),
            )),
        }
    }

    /// `:index n [:last]` (RFC 5260 §6).
    fn index(&self, args: &mut Args) -> Result<Option<Index>, Error> {
        let last = args.take_tag("last");
        let Some(tag) = args.take_tag("index") else {
            return match last {
                Some(tag) => Err(Error::args(tag.pos, &args.name, "`:last` needs `:index`")),
                None => Ok(None),
            };
        };
        self.need("index", ":index", tag.pos)?;
        let n = tag_number(&tag);
        if n == 0 {
            return Err(Error::args(tag.pos, &args.name, "`:index` counts from 1"));
        }
        Ok(Some(Index {
            n,
            last: last.is_some(),
        }))
    }

    fn address_part(&self, args: &mut Args) -> Result<AddressPart, Error> {
        let parts = [
            ("all", AddressPart::All),
            ("localpart", AddressPart::LocalPart),
            ("domain", AddressPart::Domain),
            ("user", AddressPart::User),
            ("detail", AddressPart::Detail),
        ];
        for (name, part) in parts {
            if let Some(tag) = args.take_tag(name) {
                if matches!(part, AddressPart::User | AddressPart::Detail) {
                    self.need("subaddress", &format!(":{name}"), tag.pos)?;
                }
                return Ok(part);
            }
        }
        Ok(AddressPart::All)
    }

    /// The key list; for `:regex`, literal keys are compiled now so a bad pattern is a
    /// compile error.
    fn keys(&self, args: &mut Args, matcher: Matcher) -> Result<Vec<Value>, Error> {
        let (list, pos) = args.string_list("the key list")?;
        let keys = self.values(list, pos)?;
        if matcher.match_type == MatchType::Regex {
            let fold = matcher.comparator == Comparator::AsciiCasemap;
            for key in &keys {
                if let Some(pattern) = key.as_literal() {
                    build_regex(pattern, fold, self.limits().max_regex_bytes)?;
                }
            }
        }
        Ok(keys)
    }

    fn list_arg(&self, args: &mut Args, what: &str) -> Result<Vec<Value>, Error> {
        let (list, pos) = args.string_list(what)?;
        if what == "the header names" {
            check_header_names(&list, pos, &args.name)?;
        }
        self.values(list, pos)
    }

    fn string_arg(&self, args: &mut Args, what: &str) -> Result<Value, Error> {
        let (s, pos) = args.string(what)?;
        if what == "the header name" {
            check_header_names(std::slice::from_ref(&s), pos, &args.name)?;
        }
        self.value(s, pos)
    }
}

/// The tags each test takes.
fn test_tag(test: &str, tag: &str) -> Option<TagKind> {
    use TagKind::*;
    let matching = !matches!(test, "true" | "false" | "exists" | "size" | "mailboxexists");
    match tag {
        "comparator" | "count" | "value" if matching => Some(String),
        "is" | "contains" | "matches" | "regex" if matching => Some(Flag),
        "all" | "localpart" | "domain" | "user" | "detail"
            if matches!(test, "address" | "envelope") =>
        {
            Some(Flag)
        }
        "index" if matches!(test, "header" | "address" | "date") => Some(Number),
        "last" if matches!(test, "header" | "address" | "date") => Some(Flag),
        "raw" | "text" if test == "body" => Some(Flag),
        "content" if test == "body" => Some(StringList),
        "zone" if matches!(test, "date" | "currentdate") => Some(String),
        "originalzone" if test == "date" => Some(Flag),
        "over" | "under" if test == "size" => Some(Flag),
        _ => None,
    }
}

/// Header names must be RFC 5322 field names: printable ASCII without `:` (RFC 5228
/// §2.4.2.2). Names holding a variable reference are left for run time.
fn check_header_names(names: &[String], pos: Position, command: &str) -> Result<(), Error> {
    for name in names {
        let ok = !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
        if !ok && !name.contains("${") {
            let message = format!("\"{name}\" is not a header field name");
            return Err(Error::args(pos, command, message));
        }
    }
    Ok(())
}

fn parse_relation(tag: &TagArg, command: &str) -> Result<Relation, Error> {
    let text = tag_string(tag).to_ascii_lowercase();
    Ok(match text.as_str() {
        "gt" => Relation::Gt,
        "ge" => Relation::Ge,
        "lt" => Relation::Lt,
        "le" => Relation::Le,
        "eq" => Relation::Eq,
        "ne" => Relation::Ne,
        _ => {
            let message = format!("unknown relation \"{text}\" (use gt, ge, lt, le, eq or ne)");
            return Err(Error::args(tag.pos, command, message));
        }
    })
}

/// `+hhmm` / `-hhmm` as minutes east of UTC (RFC 5260 §4.1).
fn parse_zone(tag: &TagArg) -> Result<i32, Error> {
    let text = tag_string(tag);
    zone_minutes(&text).ok_or_else(|| {
        Error::args(
            tag.pos,
            ":zone",
            format!("time zone \"{text}\" is not of the form +hhmm or -hhmm"),
        )
    })
}

/// `+hhmm` / `-hhmm` as minutes east of UTC.
pub(crate) fn zone_minutes(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || !bytes[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sign = match bytes[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i32 = text[1..3].parse().ok()?;
    let minutes: i32 = text[3..5].parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 60 + minutes))
}
