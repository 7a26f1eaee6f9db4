//! The lexer: script text to tokens (RFC 5228 §2.2–§2.4, §8.1).
//!
//! Comments (`#` to end of line, `/* … */`) and white space are dropped. Strings come out
//! with their escapes removed (quoted) or dot-unstuffed (`text:` multi-line); variable
//! references inside them are the parser's business. Line endings may be CRLF or bare LF.

use crate::error::{Error, Position};

/// One token of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A command or test name, or a comparator-less word like `true`.
    Identifier(String),
    /// `:name`, stored without the colon and lower-cased.
    Tag(String),
    /// A number, with its `K`/`M`/`G` quantifier already applied.
    Number(u64),
    /// A quoted or multi-line string.
    String(String),
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spanned {
    pub token: Token,
    pub pos: Position,
}

/// Turns a whole script into tokens, or the first lexical error.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Spanned>, Error> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        at: 0,
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    while let Some(token) = lexer.next_token()? {
        out.push(token);
    }
    Ok(out)
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: u32,
    column: u32,
}

impl Lexer {
    fn pos(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.at + n).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn next_token(&mut self) -> Result<Option<Spanned>, Error> {
        self.skip_blanks()?;
        let pos = self.pos();
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let token = match c {
            '[' | ']' | '(' | ')' | ',' | ';' | '{' | '}' => {
                self.bump();
                match c {
                    '[' => Token::LBracket,
                    ']' => Token::RBracket,
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    ',' => Token::Comma,
                    ';' => Token::Semicolon,
                    '{' => Token::LBrace,
                    _ => Token::RBrace,
                }
            }
            '"' => Token::String(self.quoted()?),
            ':' => {
                self.bump();
                if !self.peek().is_some_and(is_ident_start) {
                    return Err(Error::syntax(pos, "`:` must be followed by a tag name"));
                }
                Token::Tag(self.identifier().to_ascii_lowercase())
            }
            '0'..='9' => Token::Number(self.number(pos)?),
            c if is_ident_start(c) => {
                let word = self.identifier();
                if word.eq_ignore_ascii_case("text") && self.peek() == Some(':') {
                    self.bump();
                    Token::String(self.multiline(pos)?)
                } else {
                    Token::Identifier(word)
                }
            }
            other => {
                return Err(Error::syntax(
                    pos,
                    format!("unexpected character {other:?}"),
                ));
            }
        };
        Ok(Some(Spanned { token, pos }))
    }

    /// White space and comments (RFC 5228 §2.3).
    fn skip_blanks(&mut self) -> Result<(), Error> {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r' | '\n') => {
                    self.bump();
                }
                Some('#') => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                Some('/') if self.peek_at(1) == Some('*') => {
                    let pos = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(Error::syntax(pos, "unterminated /* comment")),
                            Some('*') if self.peek() == Some('/') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn identifier(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                word.push(c);
                self.bump();
            } else {
                break;
            }
        }
        word
    }

    /// `1*DIGIT [QUANTIFIER]` (RFC 5228 §2.4.1).
    fn number(&mut self, pos: Position) -> Result<u64, Error> {
        let mut value: u64 = 0;
        let too_big = || Error::syntax(pos, "number too large");
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            self.bump();
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d)))
                .ok_or_else(too_big)?;
        }
        let shift = match self.peek() {
            Some('k' | 'K') => 10,
            Some('m' | 'M') => 20,
            Some('g' | 'G') => 30,
            _ => 0,
        };
        if shift > 0 {
            self.bump();
            value = value.checked_mul(1 << shift).ok_or_else(too_big)?;
        }
        if self.peek().is_some_and(is_ident_start) {
            return Err(Error::syntax(pos, "a number must not run into a word"));
        }
        Ok(value)
    }

    /// A quoted string: `\` escapes the next character (RFC 5228 §2.4.2).
    fn quoted(&mut self) -> Result<String, Error> {
        let pos = self.pos();
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(Error::syntax(pos, "unterminated string")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some(c) => out.push(c),
                    None => return Err(Error::syntax(pos, "unterminated string")),
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// `text:` … `.` (RFC 5228 §2.4.2): the rest of the `text:` line may hold only blanks
    /// and a `#` comment; a line starting with `..` loses one dot.
    fn multiline(&mut self, pos: Position) -> Result<String, Error> {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => {
                    self.bump();
                }
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                Some('\n') => {
                    self.bump();
                    break;
                }
                _ => {
                    return Err(Error::syntax(
                        pos,
                        "`text:` must be followed by the end of the line",
                    ));
                }
            }
        }
        let mut out = String::new();
        loop {
            let mut line = String::new();
            let mut ended = false;
            while let Some(c) = self.bump() {
                if c == '\n' {
                    ended = true;
                    break;
                }
                line.push(c);
            }
            if line.ends_with('\r') {
                line.pop();
            }
            if line == "." {
                return Ok(out);
            }
            if !ended {
                return Err(Error::syntax(
                    pos,
                    "`text:` string is not ended by a lone `.`",
                ));
            }
            let unstuffed = line.strip_prefix('.').filter(|l| l.starts_with('.'));
            out.push_str(unstuffed.unwrap_or(&line));
            out.push_str("\r\n");
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Token> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|s| s.token)
            .collect()
    }

    #[test]
    fn numbers_with_quantifiers() {
        assert_eq!(
            tokens("1 10K 2M 1G"),
            vec![
                Token::Number(1),
                Token::Number(10 * 1024),
                Token::Number(2 << 20),
                Token::Number(1 << 30)
            ]
        );
        assert!(tokenize("99999999999999999999").is_err());
        assert!(tokenize("18446744073709551615G").is_err());
    }

    #[test]
    fn strings_and_comments() {
        assert_eq!(
            tokens("\"a\\\"b\\\\c\" # c\n/* x\n */ :Over"),
            vec![Token::String("a\"b\\c".into()), Token::Tag("over".into())]
        );
        assert!(tokenize("/* open").is_err());
        assert!(tokenize("\"open").is_err());
    }

    #[test]
    fn multiline_strings_are_dot_unstuffed() {
        let t = tokens("text: # comment\r\nline 1\r\n..dot\r\n.\r\n;");
        assert_eq!(
            t,
            vec![Token::String("line 1\r\n.dot\r\n".into()), Token::Semicolon]
        );
        assert!(tokenize("text: x\n.\n").is_err());
        assert!(tokenize("text:\nno end").is_err());
    }

    #[test]
    fn positions_count_lines_and_columns() {
        let t = tokenize("a\n  b").unwrap();
        assert_eq!(t[1].pos, Position { line: 2, column: 3 });
    }
}
