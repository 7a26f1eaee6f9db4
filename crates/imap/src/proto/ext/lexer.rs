//! A cursor over one complete command (its line and inlined literals), with the RFC 9051
//! §9 tokens our own parsers need: atoms, astrings, quoted strings, literals, list-mailbox
//! and numbers. Written from the ABNF; every step is bounded by the input.

use super::SyntaxError;

/// Where parsing is in the command's bytes.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

type Parsed<T> = Result<T, SyntaxError>;

/// RFC 9051 §9 `ATOM-CHAR`: any CHAR except atom-specials.
pub(crate) fn is_atom_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !b"(){ %*\"\\]".contains(&b)
}

/// RFC 9051 §9 `ASTRING-CHAR` = ATOM-CHAR / resp-specials (`]`).
fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// RFC 9051 §9 `list-char` = ATOM-CHAR / list-wildcards / resp-specials.
fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `input`.
    pub(crate) fn new(input: &'a [u8]) -> Cursor<'a> {
        Cursor { input, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// True when the next octet is `b`.
    pub(crate) fn at(&self, b: u8) -> bool {
        self.peek() == Some(b)
    }

    /// Consumes `b` or fails with `what`.
    pub(crate) fn expect(&mut self, b: u8, what: &'static str) -> Parsed<()> {
        if self.at(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(SyntaxError(what))
        }
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        let here = self.at(b);
        if here {
            self.pos += 1;
        }
        here
    }

    /// Moves past `n` bytes already looked at through [`Cursor::rest`].
    pub(crate) fn skip(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.input.len());
    }

    /// Exactly one space (RFC 9051 §9: SP is one space).
    pub(crate) fn sp(&mut self) -> Parsed<()> {
        self.expect(b' ', "expected a space")
    }

    /// The command's end: CRLF and nothing after it.
    pub(crate) fn end(&mut self) -> Parsed<()> {
        if &self.input[self.pos..] == b"\r\n" {
            self.pos = self.input.len();
            Ok(())
        } else {
            Err(SyntaxError("unexpected text at the end of the command"))
        }
    }

    /// How far parsing has come, for [`Cursor::since`].
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The input from `start` (an earlier [`Cursor::position`]) to here.
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        &self.input[start.min(self.pos)..self.pos]
    }

    /// RFC 3516 `literal8` (`~{n}`) or a `literal`; true for `literal8`. A plain literal
    /// holds no NUL (RFC 9051 §9 CHAR8).
    pub(crate) fn literal_or_literal8(&mut self) -> Parsed<(Vec<u8>, bool)> {
        let binary = self.eat(b'~');
        let octets = self.literal()?;
        if !binary && octets.contains(&0) {
            return Err(SyntaxError("a literal holds no NUL octet: send it as ~{n}"));
        }
        Ok((octets, binary))
    }

    /// The rest of the input, untouched.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.input[self.pos..]
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// `1*ATOM-CHAR`.
    pub(crate) fn atom(&mut self) -> Parsed<&'a [u8]> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            return Err(SyntaxError("expected an atom"));
        }
        Ok(atom)
    }

    /// An atom that may start with `\` (a flag or attribute such as `\Drafts`).
    pub(crate) fn flag_like(&mut self) -> Parsed<&'a [u8]> {
        let start = self.pos;
        self.eat(b'\\');
        self.atom()?;
        Ok(&self.input[start..self.pos])
    }

    /// A case-insensitive keyword, consumed only if it is next as a whole atom.
    pub(crate) fn keyword(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        let matches = self
            .input
            .get(self.pos..end)
            .is_some_and(|b| b.eq_ignore_ascii_case(word.as_bytes()))
            && !self.input.get(end).copied().is_some_and(is_astring_char);
        if matches {
            self.pos = end;
        }
        matches
    }

    /// RFC 9051 §9 `number` (fits in u32).
    pub(crate) fn number(&mut self) -> Parsed<u32> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() || digits.len() > 10 {
            return Err(SyntaxError("expected a number"));
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or(SyntaxError("number out of range"))
    }

    /// RFC 9051 §9 `string` = quoted / literal; returns its octets.
    pub(crate) fn string(&mut self) -> Parsed<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            _ => Err(SyntaxError("expected a string")),
        }
    }

    fn quoted(&mut self) -> Parsed<Vec<u8>> {
        self.expect(b'"', "expected a quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                // RFC 9051 §9 quoted-specials may be escaped, nothing else.
                Some(b'\\') => match self.input.get(self.pos + 1) {
                    Some(&c @ (b'"' | b'\\')) => {
                        out.push(c);
                        self.pos += 2;
                    }
                    _ => return Err(SyntaxError("bad escape in a quoted string")),
                },
                Some(b'\r' | b'\n') | None => {
                    return Err(SyntaxError("unterminated quoted string"));
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `{n}` or `{n+}` (RFC 7888), CRLF, then n octets.
    fn literal(&mut self) -> Parsed<Vec<u8>> {
        self.expect(b'{', "expected a literal")?;
        let length = self.number()? as usize;
        self.eat(b'+');
        self.expect(b'}', "bad literal announcement")?;
        self.expect(b'\r', "expected CRLF after a literal announcement")?;
        self.expect(b'\n', "expected CRLF after a literal announcement")?;
        let end = self
            .pos
            .checked_add(length)
            .filter(|&end| end <= self.input.len())
            .ok_or(SyntaxError("literal longer than the command"))?;
        let octets = self.input[self.pos..end].to_vec();
        self.pos = end;
        Ok(octets)
    }

    /// RFC 9051 §9 `astring` = 1*ASTRING-CHAR / string.
    pub(crate) fn astring(&mut self) -> Parsed<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let word = self.take_while(is_astring_char);
                if word.is_empty() {
                    return Err(SyntaxError("expected an astring"));
                }
                Ok(word.to_vec())
            }
        }
    }

    /// RFC 9051 §9 `list-mailbox` = 1*list-char / string.
    pub(crate) fn list_mailbox(&mut self) -> Parsed<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let word = self.take_while(is_list_char);
                if word.is_empty() {
                    return Err(SyntaxError("expected a mailbox pattern"));
                }
                Ok(word.to_vec())
            }
        }
    }

    /// `"(" item *(SP item) ")"`, or `"()"` when `allow_empty`.
    pub(crate) fn paren_list<T>(
        &mut self,
        allow_empty: bool,
        mut item: impl FnMut(&mut Cursor<'a>) -> Parsed<T>,
    ) -> Parsed<Vec<T>> {
        self.expect(b'(', "expected \"(\"")?;
        let mut items = Vec::new();
        if self.eat(b')') {
            return if allow_empty {
                Ok(items)
            } else {
                Err(SyntaxError("empty list"))
            };
        }
        loop {
            items.push(item(self)?);
            if self.eat(b')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }
}

/// The tag and command name(s) at the start of a line: `(tag, names)` where names are the
/// first one or two words after the tag (two for `UID <command>`).
pub(crate) fn command_head(line: &[u8]) -> Option<(&[u8], Vec<&[u8]>)> {
    let mut words = line.split(|&b| b == b' ' || b == b'\r' || b == b'\n');
    let tag = words.next().filter(|t| !t.is_empty())?;
    let names: Vec<&[u8]> = words.take(3).collect();
    Some((tag, names))
}
