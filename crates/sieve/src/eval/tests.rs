//! Evaluating tests (RFC 5228 §5 and the extensions). Each test gathers the strings it
//! compares (header values, addresses, body texts, date parts, flags) and hands them to
//! [`Machine::compare`], which applies the match type and comparator.

use mail_parser::parsers::MessageStream;
use mail_parser::{Address, HeaderValue};

use super::date::{Timestamp, parse_header_date};
use super::matching::{self, build_regex};
use super::{Frame, Machine};
use crate::ast::{AddressPart, BodyTransform, Index, MatchType, Matcher, Test, Value, Zone};
use crate::error::{Error, Limit};
use crate::message::HeaderField;

impl<'a> Machine<'a> {
    /// Evaluates one test.
    pub(super) fn test(&mut self, frame: &mut Frame, test: &Test) -> Result<bool, Error> {
        self.charge(1)?;
        match test {
            Test::True => Ok(true),
            Test::False => Ok(false),
            Test::Not(inner) => Ok(!self.test(frame, inner)?),
            Test::AllOf(tests) => {
                for t in tests {
                    if !self.test(frame, t)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Test::AnyOf(tests) => {
                for t in tests {
                    if self.test(frame, t)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Test::Exists(names) => {
                for name in names {
                    let name = self.expand(frame, name)?;
                    self.charge_header_scan()?;
                    if self.message.header(&name).next().is_none() {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Test::Size { over, limit } => Ok(if *over {
                self.message.size > *limit
            } else {
                self.message.size < *limit
            }),
            Test::MailboxExists(names) => {
                for name in names {
                    let name = self.expand(frame, name)?;
                    if !self.env.mailbox_exists(&name) {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            _ => self.matching_test(frame, test),
        }
    }

    /// The tests that compare values with keys.
    fn matching_test(&mut self, frame: &mut Frame, test: &Test) -> Result<bool, Error> {
        let (matcher, values, keys) = match test {
            Test::Header {
                matcher,
                index,
                headers,
                keys,
            } => (matcher, self.header_values(frame, headers, *index)?, keys),
            Test::Address {
                matcher,
                index,
                part,
                headers,
                keys,
            } => {
                let values = self.address_values(frame, headers, *part, *index)?;
                (matcher, values, keys)
            }
            Test::Envelope {
                matcher,
                part,
                fields,
                keys,
            } => (matcher, self.envelope_values(frame, fields, *part)?, keys),
            Test::Body {
                matcher,
                transform,
                keys,
            } => (matcher, self.body_values(frame, transform)?, keys),
            Test::Date {
                matcher,
                header,
                zone,
                part,
                keys,
            } => {
                let header = header.as_ref().map(|(name, index)| (name, *index));
                (matcher, self.date_values(frame, zone, header, part)?, keys)
            }
            Test::HasFlag {
                matcher,
                variables,
                keys,
            } => (matcher, self.flag_values(frame, variables)?, keys),
            Test::String {
                matcher,
                sources,
                keys,
            } => {
                let mut values = Vec::new();
                for s in sources {
                    values.push(self.expand(frame, s)?);
                }
                // RFC 5229 §5: for :count, empty strings are not counted.
                if matches!(matcher.match_type, MatchType::Count(_)) {
                    values.retain(|v| !v.is_empty());
                }
                (matcher, values, keys)
            }
            _ => return Ok(false),
        };
        self.compare(frame, *matcher, &values, keys)
    }

    /// Looking a name up scans every header field: a message with thousands of fields
    /// costs a script more steps per lookup.
    fn charge_header_scan(&mut self) -> Result<(), Error> {
        self.charge(self.message.headers.len() as u64 / 32)
    }

    /// The fields named `name`, or with `:index` only the one chosen (RFC 5260 §6).
    fn fields(&mut self, name: &str, index: Option<Index>) -> Result<Vec<&'a HeaderField>, Error> {
        self.charge_header_scan()?;
        let message: &'a crate::message::Message = self.message;
        let all: Vec<&'a HeaderField> = message
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .collect();
        let Some(Index { n, last }) = index else {
            return Ok(all);
        };
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n == 0 || n > all.len() {
            return Ok(Vec::new());
        }
        Ok(vec![if last { all[all.len() - n] } else { all[n - 1] }])
    }

    /// The decoded values of every named header, in order (RFC 5228 §5.7).
    fn header_values(
        &mut self,
        frame: &Frame,
        headers: &[Value],
        index: Option<Index>,
    ) -> Result<Vec<String>, Error> {
        let mut values = Vec::new();
        for name in headers {
            let name = self.expand(frame, name)?;
            values.extend(self.fields(&name, index)?.iter().map(|h| h.decoded.clone()));
        }
        Ok(values)
    }

    /// The envelope addresses named (`from`, `to`), reduced to `part` (RFC 5228 §5.4).
    fn envelope_values(
        &mut self,
        frame: &Frame,
        fields: &[Value],
        part: AddressPart,
    ) -> Result<Vec<String>, Error> {
        let mut values = Vec::new();
        for field in fields {
            let address = match self.expand(frame, field)?.to_ascii_lowercase().as_str() {
                "from" => &self.context.envelope.from,
                "to" => &self.context.envelope.to,
                _ => continue,
            };
            values.push(address_part(address, part));
        }
        Ok(values)
    }

    /// The flags `hasflag` looks at: the named variables', or the internal ones
    /// (RFC 5232 §4).
    fn flag_values(&mut self, frame: &Frame, variables: &[Value]) -> Result<Vec<String>, Error> {
        if variables.is_empty() {
            return Ok(self.flags.clone());
        }
        let mut lists = Vec::new();
        for v in variables {
            let name = self.expand(frame, v)?;
            lists.push(self.variable(frame, &name));
        }
        Ok(super::variables::flag_list(&lists))
    }

    /// Applies a match type and comparator: true if any value matches any key. A
    /// successful `:matches` or `:regex` sets the match variables (RFC 5229 §3.2).
    fn compare(
        &mut self,
        frame: &mut Frame,
        matcher: Matcher,
        values: &[String],
        keys: &[Value],
    ) -> Result<bool, Error> {
        let mut expanded = Vec::with_capacity(keys.len());
        for key in keys {
            expanded.push(self.expand(frame, key)?);
        }
        let c = matcher.comparator;
        if let MatchType::Count(relation) = matcher.match_type {
            let count = values.len().to_string();
            return Ok(expanded
                .iter()
                .any(|k| matching::relate(c, relation, &count, k)));
        }
        for value in values {
            for key in &expanded {
                self.charge(1 + (value.len() + key.len()) as u64 / 64)?;
                let groups = match matcher.match_type {
                    MatchType::Is => matching::is(c, value, key).then(Vec::new),
                    MatchType::Contains => matching::contains(c, value, key).then(Vec::new),
                    MatchType::Value(rel) => matching::relate(c, rel, value, key).then(Vec::new),
                    MatchType::Matches => {
                        let mut budget = self.budget_left();
                        let found = matching::matches(c, value, key, &mut budget)
                            .map_err(|()| Error::limit(Limit::Steps, self.limits.max_steps))?;
                        self.charge(self.budget_left() - budget)?;
                        found
                    }
                    MatchType::Regex => self.regex(value, key, c)?,
                    MatchType::Count(_) => None,
                };
                if let Some(groups) = groups {
                    if !groups.is_empty() {
                        frame.matches = groups;
                    }
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn regex(
        &mut self,
        value: &str,
        pattern: &str,
        comparator: crate::ast::Comparator,
    ) -> Result<Option<Vec<String>>, Error> {
        let fold = comparator == crate::ast::Comparator::AsciiCasemap;
        let key = (pattern.to_owned(), fold);
        if !self.regex_cache.contains_key(&key) {
            self.charge(1 + pattern.len() as u64)?;
            let re = build_regex(pattern, fold, self.limits.max_regex_bytes)?;
            self.regex_cache.insert(key.clone(), re);
        }
        self.charge(value.len() as u64 / 16)?;
        let Some(re) = self.regex_cache.get(&key) else {
            return Ok(None);
        };
        Ok(re.captures(value).map(|caps| {
            caps.iter()
                .map(|m| m.map_or_else(String::new, |m| m.as_str().to_owned()))
                .collect()
        }))
    }

    /// Every address in the named headers, reduced to `part` (RFC 5228 §5.1).
    fn address_values(
        &mut self,
        frame: &Frame,
        headers: &[Value],
        part: AddressPart,
        index: Option<Index>,
    ) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for name in headers {
            let name = self.expand(frame, name)?;
            for field in self.fields(&name, index)? {
                self.charge(1 + field.raw.len() as u64 / 64)?;
                out.extend(
                    parse_addresses(&field.raw)
                        .iter()
                        .map(|a| address_part(a, part)),
                );
            }
        }
        Ok(out)
    }

    /// The texts `body` compares (RFC 5173 §5).
    fn body_values(
        &mut self,
        frame: &Frame,
        transform: &BodyTransform,
    ) -> Result<Vec<String>, Error> {
        let message = self.message;
        Ok(match transform {
            BodyTransform::Raw => vec![message.raw_body.clone()],
            BodyTransform::Text => message
                .parts
                .iter()
                .filter(|p| p.content_type.starts_with("text/"))
                .map(|p| p.text.clone())
                .collect(),
            BodyTransform::Content(types) => {
                let mut wanted = Vec::new();
                for t in types {
                    wanted.push(self.expand(frame, t)?.to_ascii_lowercase());
                }
                message
                    .parts
                    .iter()
                    .filter(|p| {
                        wanted.iter().any(|w| {
                            w.is_empty()
                                || p.content_type == *w
                                || (!w.contains('/')
                                    && p.content_type.split('/').next() == Some(w.as_str()))
                        })
                    })
                    .map(|p| p.text.clone())
                    .collect()
            }
        })
    }

    /// The date part of a header's date or of now, in the requested zone (RFC 5260).
    fn date_values(
        &mut self,
        frame: &Frame,
        zone: &Zone,
        header: Option<(&Value, Option<Index>)>,
        part: &Value,
    ) -> Result<Vec<String>, Error> {
        let part = self.expand(frame, part)?.to_ascii_lowercase();
        let when: Timestamp = match header {
            None => self.context.now,
            Some((name, index)) => {
                let name = self.expand(frame, name)?;
                // RFC 5260 §4: the first field of that name (or the one `:index` names);
                // no valid date, no match.
                let index = index.or(Some(Index { n: 1, last: false }));
                match self.fields(&name, index)?.first().and_then(|h| {
                    // In Received the date follows the last `;` (RFC 5321 §4.4).
                    let raw = h.raw.as_str();
                    if name.eq_ignore_ascii_case("received") {
                        parse_header_date(raw.rsplit(';').next().unwrap_or(raw))
                    } else {
                        parse_header_date(raw)
                    }
                }) {
                    Some(ts) => ts,
                    None => return Ok(Vec::new()),
                }
            }
        };
        let when = match zone {
            Zone::Local => when.in_zone(self.context.now.offset_minutes),
            Zone::Original => when,
            Zone::Fixed(minutes) => when.in_zone(*minutes),
        };
        Ok(when.part(&part).into_iter().collect())
    }
}

/// The addresses of a header value, display names and groups left out.
pub(super) fn parse_addresses(raw: &str) -> Vec<String> {
    let mut buf = raw.as_bytes().to_vec();
    buf.extend_from_slice(b"\r\n");
    let value = MessageStream::new(&buf).parse_address();
    let mut out = Vec::new();
    match value {
        HeaderValue::Address(Address::List(list)) => {
            out.extend(
                list.iter()
                    .filter_map(|a| a.address.as_deref().map(str::to_owned)),
            );
        }
        HeaderValue::Address(Address::Group(groups)) => {
            for group in &groups {
                out.extend(
                    group
                        .addresses
                        .iter()
                        .filter_map(|a| a.address.as_deref().map(str::to_owned)),
                );
            }
        }
        _ => {}
    }
    out
}

/// One part of an address (RFC 5228 §2.7.4, RFC 5233 with `+` as the separator).
fn address_part(address: &str, part: AddressPart) -> String {
    let (local, domain) = match address.rfind('@') {
        Some(at) => (&address[..at], &address[at + 1..]),
        None => (address, ""),
    };
    match part {
        AddressPart::All => address.to_owned(),
        AddressPart::LocalPart => local.to_owned(),
        AddressPart::Domain => domain.to_owned(),
        AddressPart::User => local.split('+').next().unwrap_or_default().to_owned(),
        AddressPart::Detail => local.split_once('+').map_or("", |(_, d)| d).to_owned(),
    }
}
