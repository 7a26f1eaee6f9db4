//! Bytes to commands' tokens: the [`Framer`] cuts the input into lines, reads the literals
//! they announce (`{n+}` and `{n}`, RFC 5804 §4), and tokenises the rest into atoms,
//! numbers and strings. It keeps framing right past every limit: an oversized literal is
//! skipped byte for byte and then reported; a line over the limit cannot be framed any more
//! and ends the connection.

/// One token of a command line (RFC 5804 §4 `atom`, `number`, `string`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An atom: a command name or an SASL mechanism outside quotes.
    Atom(String),
    /// A number (HAVESPACE's size).
    Number(u64),
    /// A quoted string or a literal, as bytes.
    String(Vec<u8>),
}

/// What the framer found next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole command (or SASL response): its tokens, in order.
    Tokens(Vec<Token>),
    /// A command whose syntax is wrong; it was consumed whole. The text says what is wrong.
    Bad(String),
    /// A command with a literal larger than allowed; the literal was skipped.
    LiteralTooLarge {
        /// The size the client announced.
        size: u64,
        /// The most allowed now.
        max: usize,
    },
    /// A line longer than allowed: framing is lost, the connection must close.
    LineTooLong {
        /// The most allowed.
        max: usize,
    },
}

/// Bounds on what one command may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Longest line (between literals), bytes.
    pub max_line: usize,
    /// Largest literal, bytes.
    pub max_literal: usize,
}

/// Most literals one command may carry (PUTSCRIPT has two strings; RENAMESCRIPT two).
const MAX_LITERALS: usize = 3;

/// Where the framer is within a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Line,
    Literal { remaining: usize },
    Discard { remaining: u64 },
}

/// The incremental parser of the client's input.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    limits: FrameLimits,
    reading: Reading,
    tokens: Vec<Token>,
    literals: usize,
    /// Set when the command is already known bad; its remaining parts are skipped.
    failed: Option<Frame>,
}

impl Framer {
    /// A framer with `limits`.
    pub fn new(limits: FrameLimits) -> Self {
        Self {
            buf: Vec::new(),
            limits,
            reading: Reading::Line,
            tokens: Vec::new(),
            literals: 0,
            failed: None,
        }
    }

    /// Changes the limits from the next literal on (larger once signed in).
    pub fn set_limits(&mut self, limits: FrameLimits) {
        self.limits = limits;
    }

    /// Adds input read from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Drops buffered input (RFC 5804 §2.2: nothing sent before the TLS handshake counts).
    pub fn clear(&mut self) {
        *self = Self::new(self.limits);
    }

    /// The next complete frame, or `None` until more input arrives.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            match self.reading {
                Reading::Discard { remaining } => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    self.buf.drain(..n);
                    let remaining = remaining - n as u64;
                    if remaining > 0 {
                        self.reading = Reading::Discard { remaining };
                        return None;
                    }
                    self.reading = Reading::Line;
                }
                Reading::Literal { remaining } => {
                    if self.buf.len() < remaining {
                        return None;
                    }
                    let bytes: Vec<u8> = self.buf.drain(..remaining).collect();
                    self.tokens.push(Token::String(bytes));
                    self.reading = Reading::Line;
                }
                Reading::Line => return self.line(),
            }
        }
    }

    /// In `Reading::Line`: one line, and either the command's end or its next literal.
    fn line(&mut self) -> Option<Frame> {
        let end = self.buf.iter().position(|&b| b == b'\n');
        if end.unwrap_or(self.buf.len()) > self.limits.max_line {
            // Framing is lost: what is buffered is dropped and the caller closes.
            self.clear();
            return Some(Frame::LineTooLong {
                max: self.limits.max_line,
            });
        }
        let end = end?;
        let mut line: Vec<u8> = self.buf.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        match tokenise(&line) {
            Ok((tokens, literal)) => {
                if self.failed.is_none() {
                    self.tokens.extend(tokens);
                }
                if let Some(size) = literal {
                    self.begin_literal(size);
                    return self.next_frame();
                }
            }
            Err(why) => {
                if self.failed.is_none() {
                    self.failed = Some(Frame::Bad(why));
                }
                // A bad line that still announces a literal: skip the literal too.
                if let Some(size) = trailing_literal(&line) {
                    self.reading = Reading::Discard { remaining: size };
                    return self.next_frame();
                }
            }
        }
        Some(self.finish())
    }

    fn begin_literal(&mut self, size: u64) {
        self.literals += 1;
        if self.failed.is_none() && self.literals > MAX_LITERALS {
            self.failed = Some(Frame::Bad(format!(
                "a command carries at most {MAX_LITERALS} literals"
            )));
        }
        if self.failed.is_none() && size > self.limits.max_literal as u64 {
            self.failed = Some(Frame::LiteralTooLarge {
                size,
                max: self.limits.max_literal,
            });
        }
        self.reading = match self.failed {
            Some(_) => Reading::Discard { remaining: size },
            None => Reading::Literal {
                remaining: usize::try_from(size).expect("checked against max_literal"),
            },
        };
    }

    fn finish(&mut self) -> Frame {
        self.literals = 0;
        let tokens = std::mem::take(&mut self.tokens);
        match self.failed.take() {
            Some(failed) => failed,
            None => Frame::Tokens(tokens),
        }
    }
}

/// Longest quoted string, bytes (RFC 5804 §4: quoted strings are for short values;
/// scripts come as literals).
const MAX_QUOTED: usize = 1024;

/// The tokens of one line, and the size of the literal it announces at its end, if any.
fn tokenise(line: &[u8]) -> Result<(Vec<Token>, Option<u64>), String> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b' ' => i += 1,
            b'"' => {
                let (s, next) = quoted(line, i + 1)?;
                tokens.push(Token::String(s));
                i = next;
            }
            b'{' => {
                let Some(size) = trailing_literal(&line[i..]) else {
                    return Err("a literal is written {size+} at the end of a line".into());
                };
                return Ok((tokens, Some(size)));
            }
            b'0'..=b'9' => {
                let end = word_end(line, i);
                let text = std::str::from_utf8(&line[i..end]).unwrap_or_default();
                let n = text
                    .parse()
                    .map_err(|_| format!("{text:?} is not a number"))?;
                tokens.push(Token::Number(n));
                i = end;
            }
            b if b.is_ascii_alphabetic() => {
                let end = word_end(line, i);
                let word = String::from_utf8_lossy(&line[i..end]).into_owned();
                if !word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(format!("{word:?} is not a command word"));
                }
                tokens.push(Token::Atom(word));
                i = end;
            }
            other => {
                return Err(format!(
                    "unexpected character {:?}; strings are quoted",
                    char::from(other)
                ));
            }
        }
    }
    Ok((tokens, None))
}

fn word_end(line: &[u8], from: usize) -> usize {
    line[from..]
        .iter()
        .position(|&b| b == b' ')
        .map_or(line.len(), |p| from + p)
}

/// A quoted string's bytes from after its opening quote, and the index after its end.
fn quoted(line: &[u8], mut i: usize) -> Result<(Vec<u8>, usize), String> {
    let mut out = Vec::new();
    while i < line.len() {
        match line[i] {
            b'"' => return Ok((out, i + 1)),
            b'\\' => match line.get(i + 1) {
                Some(&c @ (b'"' | b'\\')) => {
                    out.push(c);
                    i += 2;
                }
                _ => return Err("in a quoted string only \\\" and \\\\ may be escaped".into()),
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
        if out.len() > MAX_QUOTED {
            return Err(format!(
                "a quoted string may hold at most {MAX_QUOTED} bytes; send longer ones as literals"
            ));
        }
    }
    Err("a quoted string is not closed".into())
}

/// `{n+}` or `{n}` ending `line`: `n`.
fn trailing_literal(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let open = text.rfind('{')?;
    let inner = text[open..].strip_prefix('{')?.strip_suffix('}')?;
    let digits = inner.strip_suffix('+').unwrap_or(inner);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FrameLimits = FrameLimits {
        max_line: 64,
        max_literal: 32,
    };

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut f = Framer::new(LIMITS);
        f.feed(input);
        std::iter::from_fn(|| f.next_frame()).collect()
    }

    #[test]
    fn a_literal_split_at_every_byte_gives_the_same_command() {
        let input = b"PUTSCRIPT \"\xea\xb7\x9c\xec\xb9\x99\" {12+}\r\nkeep;\r\nstop;\r\nNOOP\r\n";
        let whole = frames(input);
        assert_eq!(
            whole[0],
            Frame::Tokens(vec![
                Token::Atom("PUTSCRIPT".into()),
                Token::String("규칙".as_bytes().to_vec()),
                Token::String(b"keep;\r\nstop;".to_vec()),
            ])
        );
        assert_eq!(whole[1], Frame::Tokens(vec![Token::Atom("NOOP".into())]));
        for split in 1..input.len() {
            let mut f = Framer::new(LIMITS);
            let mut got = Vec::new();
            for part in [&input[..split], &input[split..]] {
                f.feed(part);
                got.extend(std::iter::from_fn(|| f.next_frame()));
            }
            assert_eq!(got, whole, "split at {split}");
        }
    }

    #[test]
    fn an_oversized_literal_is_skipped_and_the_next_command_still_parses() {
        let mut input = b"PUTSCRIPT \"a\" {40}\r\n".to_vec();
        input.extend([b'x'; 40]);
        input.extend(b"\r\nLOGOUT\r\n");
        assert_eq!(
            frames(&input),
            [
                Frame::LiteralTooLarge { size: 40, max: 32 },
                Frame::Tokens(vec![Token::Atom("LOGOUT".into())]),
            ]
        );
    }

    #[test]
    fn bad_lines_and_long_lines_are_told_apart() {
        assert!(matches!(&frames(b"GETSCRIPT 'x'\r\n")[..], [Frame::Bad(_)]));
        assert!(matches!(&frames(b"GETSCRIPT \"x\r\n")[..], [Frame::Bad(_)]));
        let long = [b'A'; 100];
        assert_eq!(frames(&long), [Frame::LineTooLong { max: 64 }]);
    }

    #[test]
    fn generated_inputs_frame_the_same_whole_or_split() {
        // Pieces the framer treats specially, joined at random (a fixed xorshift sequence).
        const PIECES: [&[u8]; 12] = [
            b"PUTSCRIPT ",
            b"\"\xea\xb7\x9c\" ",
            b"{5+}\r\n",
            b"{40}\r\n",
            b"keep;",
            b"\r\n",
            b"\n",
            b"\"a\\\"b\"",
            b"\\",
            b"123 ",
            b"{x}",
            &[b'A'; 70],
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let mut input = Vec::new();
            for _ in 0..(next() % 12) {
                input.extend_from_slice(PIECES[(next() % 12) as usize]);
            }
            let until_lost = |frames: Vec<Frame>| -> Vec<Frame> {
                let end = frames
                    .iter()
                    .position(|f| matches!(f, Frame::LineTooLong { .. }))
                    .map_or(frames.len(), |i| i + 1);
                frames[..end].to_vec()
            };
            let whole = until_lost(frames(&input));
            let cut = (next() as usize) % (input.len() + 1);
            let mut f = Framer::new(LIMITS);
            let mut split = Vec::new();
            for part in [&input[..cut], &input[cut..]] {
                f.feed(part);
                split.extend(std::iter::from_fn(|| f.next_frame()));
            }
            assert_eq!(until_lost(split), whole, "{input:?} cut at {cut}");
        }
    }

    #[test]
    fn quoted_escapes_and_numbers() {
        assert_eq!(
            frames(b"HAVESPACE \"a\\\"b\\\\\" 1024\r\n"),
            [Frame::Tokens(vec![
                Token::Atom("HAVESPACE".into()),
                Token::String(b"a\"b\\".to_vec()),
                Token::Number(1024),
            ])]
        );
    }
}
