//! RFC 5322 §3.4 address lists, parsed from raw header values into the four-field address
//! structures of RFC 3501 §7.4.2 (name, source route, mailbox, host), groups included.
//!
//! Display names keep their RFC 2047 encoded-words as they were sent; only quoting and
//! comments are removed. Parsing is lenient: every input gives some list.

/// One entry of an envelope address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressItem {
    /// A mailbox.
    Mailbox {
        /// Display name (phrase) or, failing that, a trailing comment.
        name: Option<Vec<u8>>,
        /// Obsolete source route (`@a,@b`), without the colon.
        adl: Option<Vec<u8>>,
        /// Local part.
        mailbox: Vec<u8>,
        /// Domain. A mailbox without one gets `MISSING_DOMAIN`: a NIL host would read as a
        /// group marker (RFC 3501 §7.4.2).
        host: Vec<u8>,
    },
    /// Start of a group: `(NIL NIL "name" NIL)`.
    GroupStart(Vec<u8>),
    /// End of a group: `(NIL NIL NIL NIL)`.
    GroupEnd,
}

/// The host used for an address that has none.
pub const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Atom(Vec<u8>),
    Quoted(Vec<u8>),
    Comment(Vec<u8>),
    DomainLiteral(Vec<u8>),
    Special(u8),
}

const SPECIALS: &[u8] = b"<>@,;:.";

fn tokenize(input: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let (content, next) = delimited(input, i, b'"', b'"');
                tokens.push(Token::Quoted(content));
                i = next;
            }
            b'(' => {
                let (content, next) = delimited(input, i, b'(', b')');
                tokens.push(Token::Comment(content));
                i = next;
            }
            b'[' => {
                let (content, next) = delimited(input, i, b'[', b']');
                tokens.push(Token::DomainLiteral(content));
                i = next;
            }
            _ if SPECIALS.contains(&b) => {
                tokens.push(Token::Special(b));
                i += 1;
            }
            // A closing `)` or `]` with nothing open (`Cc: a)`) has no meaning: drop it,
            // as whitespace. Falling through to the atom arm would push an empty atom
            // without advancing, forever.
            b')' | b']' => i += 1,
            _ => {
                let start = i;
                while i < input.len() && !ends_atom(input[i]) {
                    i += 1;
                }
                // Invariant: `b` itself does not end an atom (every byte that does is
                // matched above), so the atom holds at least one byte and `i` advanced.
                debug_assert!(i > start, "tokenize must advance");
                tokens.push(Token::Atom(input[start..i].to_vec()));
            }
        }
    }
    tokens
}

/// Whether `b` ends an atom: whitespace, a delimiter that opens or closes, or a special.
fn ends_atom(b: u8) -> bool {
    b" \t\r\n\"()[]".contains(&b) || SPECIALS.contains(&b)
}

/// Reads a quoted-string, comment (nested) or domain literal starting at `start`; returns
/// its unescaped content and the index after it. Unterminated ones take the rest.
fn delimited(input: &[u8], start: usize, open: u8, close: u8) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut depth = 1usize;
    let mut i = start + 1;
    while i < input.len() {
        let b = input[i];
        i += 1;
        match b {
            b'\\' if i < input.len() => {
                out.push(input[i]);
                i += 1;
            }
            b'\r' | b'\n' => {}
            _ if b == close => {
                depth -= 1;
                if depth == 0 {
                    return (out, i);
                }
                out.push(b);
            }
            _ if b == open && open == b'(' => {
                depth += 1;
                out.push(b);
            }
            _ => out.push(b),
        }
    }
    (out, i)
}

/// Parses an address-list header value (From, To, Cc, ...).
pub fn parse_address_list(input: &[u8]) -> Vec<AddressItem> {
    let tokens = tokenize(input);
    let mut parser = Parser { tokens, pos: 0 };
    let mut items = Vec::new();
    while parser.pos < parser.tokens.len() {
        parser.address(&mut items, false);
        // Skip to the next comma (stray tokens after a complete address are dropped).
        while let Some(t) = parser.peek().cloned() {
            parser.pos += 1;
            if t == Token::Special(b',') {
                break;
            }
        }
    }
    items
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    /// Parses one address (mailbox or group) into `items`, stopping before `,` / `;`.
    fn address(&mut self, items: &mut Vec<AddressItem>, in_group: bool) {
        let start = self.pos;
        let mut last_comment = None;
        while let Some(token) = self.peek().cloned() {
            match token {
                Token::Special(b'<') => {
                    let phrase = phrase(&self.tokens[start..self.pos]);
                    self.pos += 1;
                    items.push(self.angle_addr(phrase.or(last_comment)));
                    return;
                }
                Token::Special(b':') if !in_group => {
                    let name = phrase(&self.tokens[start..self.pos]).unwrap_or_default();
                    self.pos += 1;
                    items.push(AddressItem::GroupStart(name));
                    self.group_members(items);
                    items.push(AddressItem::GroupEnd);
                    return;
                }
                Token::Special(b',') | Token::Special(b';') => break,
                Token::Comment(c) => {
                    last_comment = Some(c);
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        // No angle brackets: an addr-spec, with an optional trailing comment as the name.
        let words: Vec<Token> = self.tokens[start..self.pos]
            .iter()
            .filter(|t| !matches!(t, Token::Comment(_)))
            .cloned()
            .collect();
        if !words.is_empty() {
            let (mailbox, host) = addr_spec(&words);
            let name = last_comment.filter(|c| !c.is_empty());
            items.push(AddressItem::Mailbox {
                name,
                adl: None,
                mailbox,
                host,
            });
        }
    }

    fn group_members(&mut self, items: &mut Vec<AddressItem>) {
        while let Some(token) = self.peek() {
            match token {
                Token::Special(b';') => {
                    self.pos += 1;
                    return;
                }
                Token::Special(b',') => self.pos += 1,
                _ => self.address(items, true),
            }
        }
    }

    /// After `<`: `[route ":"] addr-spec ">"`.
    fn angle_addr(&mut self, name: Option<Vec<u8>>) -> AddressItem {
        let start = self.pos;
        while let Some(token) = self.peek().cloned() {
            self.pos += 1;
            if token == Token::Special(b'>') {
                break;
            }
        }
        let end = if self.tokens.get(self.pos - 1) == Some(&Token::Special(b'>')) {
            self.pos - 1
        } else {
            self.pos
        };
        let inner: Vec<Token> = self.tokens[start..end]
            .iter()
            .filter(|t| !matches!(t, Token::Comment(_)))
            .cloned()
            .collect();
        let (adl, spec) = match inner.iter().rposition(|t| *t == Token::Special(b':')) {
            Some(colon) if inner.first() == Some(&Token::Special(b'@')) => {
                (Some(join_tokens(&inner[..colon])), &inner[colon + 1..])
            }
            _ => (None, &inner[..]),
        };
        let (mailbox, host) = addr_spec(spec);
        AddressItem::Mailbox {
            name,
            adl,
            mailbox,
            host,
        }
    }
}

/// Splits `local@domain` tokens; a missing domain becomes [`MISSING_DOMAIN`].
fn addr_spec(tokens: &[Token]) -> (Vec<u8>, Vec<u8>) {
    match tokens.iter().rposition(|t| *t == Token::Special(b'@')) {
        Some(at) => {
            let host = join_tokens(&tokens[at + 1..]);
            let host = if host.is_empty() {
                MISSING_DOMAIN.to_vec()
            } else {
                host
            };
            (join_tokens(&tokens[..at]), host)
        }
        None => (join_tokens(tokens), MISSING_DOMAIN.to_vec()),
    }
}

/// Concatenates tokens without spaces (local parts, domains, routes); quoted strings keep
/// their quotes so the mailbox can be put back together as `mailbox@host`.
fn join_tokens(tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            Token::Atom(a) => out.extend_from_slice(a),
            Token::Quoted(q) => {
                out.push(b'"');
                for &b in q {
                    if b == b'"' || b == b'\\' {
                        out.push(b'\\');
                    }
                    out.push(b);
                }
                out.push(b'"');
            }
            Token::DomainLiteral(d) => {
                out.push(b'[');
                out.extend_from_slice(d);
                out.push(b']');
            }
            Token::Special(s) => out.push(*s),
            Token::Comment(_) => {}
        }
    }
    out
}

/// A display name: words joined by single spaces, quotes removed, comments dropped, and
/// obsolete `.` glued to the word before it (RFC 5322 §4.1 obs-phrase).
fn phrase(tokens: &[Token]) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    for token in tokens {
        match token {
            Token::Atom(w) | Token::Quoted(w) => {
                if !out.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(w);
            }
            Token::Special(b'.') => out.push(b'.'),
            _ => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(name: Option<&str>, mailbox: &str, host: &str) -> AddressItem {
        AddressItem::Mailbox {
            name: name.map(|n| n.as_bytes().to_vec()),
            adl: None,
            mailbox: mailbox.as_bytes().to_vec(),
            host: host.as_bytes().to_vec(),
        }
    }

    #[test]
    fn name_addr_and_addr_spec() {
        let items =
            parse_address_list("\"홍길동\" <hong@example.kr>, kim@example.kr (김철수)".as_bytes());
        assert_eq!(
            items,
            vec![
                mailbox(Some("홍길동"), "hong", "example.kr"),
                mailbox(Some("김철수"), "kim", "example.kr")
            ]
        );
    }

    #[test]
    fn encoded_words_are_kept() {
        let items = parse_address_list(b"=?UTF-8?B?7ZmN6ri464+Z?= <hong@example.kr>");
        assert_eq!(
            items,
            vec![mailbox(
                Some("=?UTF-8?B?7ZmN6ri464+Z?="),
                "hong",
                "example.kr"
            )]
        );
    }

    #[test]
    fn groups_and_empty_groups() {
        let items = parse_address_list(b"team: a@x, \"B b\" <b@y>;, undisclosed-recipients:;");
        assert_eq!(
            items,
            vec![
                AddressItem::GroupStart(b"team".to_vec()),
                mailbox(None, "a", "x"),
                mailbox(Some("B b"), "b", "y"),
                AddressItem::GroupEnd,
                AddressItem::GroupStart(b"undisclosed-recipients".to_vec()),
                AddressItem::GroupEnd,
            ]
        );
    }

    #[test]
    fn route_quoted_local_part_and_missing_domain() {
        let items = parse_address_list(b"<@a.example,@b.example:\"john doe\"@c.example>, nobody");
        assert_eq!(
            items,
            vec![
                AddressItem::Mailbox {
                    name: None,
                    adl: Some(b"@a.example,@b.example".to_vec()),
                    mailbox: b"\"john doe\"".to_vec(),
                    host: b"c.example".to_vec(),
                },
                mailbox(None, "nobody", "MISSING_DOMAIN"),
            ]
        );
    }

    #[test]
    fn obsolete_phrase_with_dot() {
        let items = parse_address_list(b"John Q. Public <jqp@example.com>");
        assert_eq!(
            items,
            vec![mailbox(Some("John Q. Public"), "jqp", "example.com")]
        );
    }

    #[test]
    fn empty_and_garbage_inputs_give_no_panic() {
        assert!(parse_address_list(b"").is_empty());
        assert!(parse_address_list(b" , ,").is_empty());
        let _ = parse_address_list(b"<<<@@>>>:;;\"unterminated");
        let _ = parse_address_list(b"(((");
    }

    /// F1 of the hostile-input issue: a stray `)` or `]` outside a comment or a domain
    /// literal made `tokenize` loop forever, pushing empty atoms until memory ran out.
    #[test]
    fn stray_closing_delimiters_end_and_are_dropped() {
        assert_eq!(
            parse_address_list(b"a)"),
            vec![mailbox(None, "a", "MISSING_DOMAIN")]
        );
        assert_eq!(
            parse_address_list(b"team]"),
            vec![mailbox(None, "team", "MISSING_DOMAIN")]
        );
        assert_eq!(
            parse_address_list(b"\"Kim\" <kim@example.kr>) , lee@example.kr]"),
            vec![
                mailbox(Some("Kim"), "kim", "example.kr"),
                mailbox(None, "lee", "example.kr")
            ]
        );
        assert!(parse_address_list(b")]))]]").is_empty());
        // The input the imap_parse fuzz target found.
        let _ = parse_address_list(&[0x63, 0x63, 0x3a, 0xff, 0xff, 0xff, 0x00, 0x29, 0x09]);
    }

    /// Every input, however hostile, gives at most one token per input byte: the tokenizer
    /// always advances. Checked exhaustively over short strings of the bytes that matter.
    #[test]
    fn tokenizer_advances_on_every_input() {
        const ALPHABET: &[u8] = b"a\"()[]<>@,;:.\\ \xff";
        let mut input = Vec::new();
        for len in 0..=5u32 {
            for n in 0..ALPHABET.len().pow(len) {
                input.clear();
                let mut k = n;
                for _ in 0..len {
                    input.push(ALPHABET[k % ALPHABET.len()]);
                    k /= ALPHABET.len();
                }
                let tokens = tokenize(&input);
                assert!(tokens.len() <= input.len(), "{input:?} gave {tokens:?}");
                let items = parse_address_list(&input);
                assert!(
                    items.len() <= 2 * input.len() + 2,
                    "{input:?} gave {items:?}"
                );
            }
        }
    }
}
