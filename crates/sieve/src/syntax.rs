//! The generic grammar of RFC 5228 §8.2: tokens to a tree of commands, arguments and tests,
//! before any command is known. [`mod@crate::compile`] then types that tree.
//!
//! ```text
//! command   = identifier arguments (";" / block)
//! arguments = *argument [test / test-list]
//! argument  = string-list / number / tag
//! test      = identifier arguments
//! ```

use crate::error::{Error, Limit, Position};
use crate::lexer::{Spanned, Token};

/// One argument as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawArg {
    /// `:tag`, lower-cased.
    Tag(String, Position),
    /// A number.
    Number(u64, Position),
    /// A single string.
    Str(String, Position),
    /// `[ "a", "b" ]`.
    List(Vec<String>, Position),
}

impl RawArg {
    pub fn pos(&self) -> Position {
        match self {
            RawArg::Tag(_, p) | RawArg::Number(_, p) | RawArg::Str(_, p) | RawArg::List(_, p) => *p,
        }
    }
}

/// A test as written, or a command's head (RFC 5228 §8.2: both are an identifier and its
/// arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawTest {
    pub name: String,
    pub pos: Position,
    pub args: Vec<RawArg>,
    pub tests: Vec<RawTest>,
    /// Whether the tests were written as a parenthesised list.
    pub test_list: bool,
}

/// A command as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawCommand {
    /// The identifier and its arguments.
    pub head: RawTest,
    pub block: Option<Vec<RawCommand>>,
}

/// Parses the token stream of a whole script.
pub(crate) fn parse(tokens: &[Spanned], max_nesting: usize) -> Result<Vec<RawCommand>, Error> {
    let mut parser = Parser {
        tokens,
        at: 0,
        max_nesting,
    };
    let commands = parser.commands(0)?;
    if let Some(t) = parser.peek() {
        return Err(Error::syntax(t.pos, "unexpected `}`"));
    }
    Ok(commands)
}

struct Parser<'t> {
    tokens: &'t [Spanned],
    at: usize,
    max_nesting: usize,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Spanned> {
        self.tokens.get(self.at)
    }

    fn end_pos(&self) -> Position {
        self.tokens.last().map(|t| t.pos).unwrap_or_default()
    }

    fn expect(&mut self, want: &Token, what: &str) -> Result<(), Error> {
        match self.peek() {
            Some(t) if &t.token == want => {
                self.at += 1;
                Ok(())
            }
            Some(t) => Err(Error::syntax(t.pos, format!("expected {what}"))),
            None => Err(Error::syntax(
                self.end_pos(),
                format!("expected {what} at the end"),
            )),
        }
    }

    fn nest(&self, depth: usize) -> Result<usize, Error> {
        if depth >= self.max_nesting {
            return Err(Error::limit(Limit::Nesting, self.max_nesting));
        }
        Ok(depth + 1)
    }

    /// Commands until the end or a `}` (left for the caller).
    fn commands(&mut self, depth: usize) -> Result<Vec<RawCommand>, Error> {
        let mut out = Vec::new();
        while let Some(t) = self.peek() {
            match &t.token {
                Token::RBrace => break,
                Token::Identifier(name) => {
                    self.at += 1;
                    out.push(self.command(name.clone(), t.pos, depth)?);
                }
                _ => return Err(Error::syntax(t.pos, "expected a command name")),
            }
        }
        Ok(out)
    }

    fn command(&mut self, name: String, pos: Position, depth: usize) -> Result<RawCommand, Error> {
        let head = self.head(name, pos, depth)?;
        let block = match self.peek() {
            Some(Spanned {
                token: Token::Semicolon,
                ..
            }) => {
                self.at += 1;
                None
            }
            Some(Spanned {
                token: Token::LBrace,
                ..
            }) => {
                self.at += 1;
                let inner = self.commands(self.nest(depth)?)?;
                self.expect(&Token::RBrace, "`}`")?;
                Some(inner)
            }
            Some(t) => return Err(Error::syntax(t.pos, "expected `;` or `{`")),
            None => {
                return Err(Error::syntax(
                    self.end_pos(),
                    format!("`{}` is missing its `;`", head.name),
                ));
            }
        };
        Ok(RawCommand { head, block })
    }

    fn arguments(&mut self) -> Result<Vec<RawArg>, Error> {
        let mut args = Vec::new();
        while let Some(t) = self.peek() {
            let arg = match &t.token {
                Token::Tag(tag) => RawArg::Tag(tag.clone(), t.pos),
                Token::Number(n) => RawArg::Number(*n, t.pos),
                Token::String(s) => RawArg::Str(s.clone(), t.pos),
                Token::LBracket => {
                    self.at += 1;
                    args.push(RawArg::List(self.string_list()?, t.pos));
                    continue;
                }
                _ => break,
            };
            self.at += 1;
            args.push(arg);
        }
        Ok(args)
    }

    /// The rest of `[ string *("," string) ]` after the `[`.
    fn string_list(&mut self) -> Result<Vec<String>, Error> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                Some(Spanned {
                    token: Token::String(s),
                    ..
                }) => {
                    self.at += 1;
                    items.push(s.clone());
                }
                Some(t) => return Err(Error::syntax(t.pos, "expected a string in the list")),
                None => return Err(Error::syntax(self.end_pos(), "unterminated string list")),
            }
            match self.peek().map(|t| &t.token) {
                Some(Token::Comma) => self.at += 1,
                Some(Token::RBracket) => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => {
                    let pos = self.peek().map_or(self.end_pos(), |t| t.pos);
                    return Err(Error::syntax(pos, "expected `,` or `]` in the string list"));
                }
            }
        }
    }

    /// `[test / test-list]` after a command's or test's arguments.
    fn tests(&mut self, depth: usize) -> Result<(Vec<RawTest>, bool), Error> {
        if let Some(test) = self.test_here(depth) {
            return Ok((vec![test?], false));
        }
        if self.peek().map(|t| &t.token) != Some(&Token::LParen) {
            return Ok((Vec::new(), false));
        }
        self.at += 1;
        let depth = self.nest(depth)?;
        let mut tests = Vec::new();
        loop {
            match (self.test_here(depth), self.peek()) {
                (Some(test), _) => tests.push(test?),
                (None, Some(t)) => return Err(Error::syntax(t.pos, "expected a test")),
                (None, None) => {
                    return Err(Error::syntax(self.end_pos(), "unterminated test list"));
                }
            }
            match self.peek().map(|t| &t.token) {
                Some(Token::Comma) => self.at += 1,
                Some(Token::RParen) => {
                    self.at += 1;
                    return Ok((tests, true));
                }
                _ => {
                    let pos = self.peek().map_or(self.end_pos(), |t| t.pos);
                    return Err(Error::syntax(pos, "expected `,` or `)` in the test list"));
                }
            }
        }
    }

    /// The test that starts at the next token, if that is an identifier.
    fn test_here(&mut self, depth: usize) -> Option<Result<RawTest, Error>> {
        let Some(Spanned {
            token: Token::Identifier(name),
            pos,
        }) = self.peek()
        else {
            return None;
        };
        self.at += 1;
        Some(self.test(name.clone(), *pos, depth))
    }

    fn test(&mut self, name: String, pos: Position, depth: usize) -> Result<RawTest, Error> {
        self.head(name, pos, self.nest(depth)?)
    }

    /// An identifier's arguments and tests (the tests one level below `depth`'s caller).
    fn head(&mut self, name: String, pos: Position, depth: usize) -> Result<RawTest, Error> {
        let args = self.arguments()?;
        let (tests, test_list) = self.tests(depth)?;
        Ok(RawTest {
            name,
            pos,
            args,
            tests,
            test_list,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::tokenize;

    fn parse_text(text: &str) -> Result<Vec<RawCommand>, Error> {
        parse(&tokenize(text)?, 32)
    }

    #[test]
    fn nested_tests_and_blocks() {
        let cmds = parse_text(
            "if anyof (not exists [\"From\", \"Date\"], size :over 1M) { discard; } else { keep; }",
        )
        .unwrap();
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].head.tests[0].name, "anyof");
        assert_eq!(cmds[0].head.tests[0].tests.len(), 2);
        assert_eq!(cmds[0].head.tests[0].tests[0].tests[0].name, "exists");
        assert_eq!(cmds[1].head.name, "else");
    }

    #[test]
    fn syntax_errors() {
        assert!(parse_text("keep").is_err());
        assert!(parse_text("if true { keep;").is_err());
        assert!(parse_text("}").is_err());
        assert!(parse_text("x [\"a\",];").is_err());
        assert!(parse_text("if anyof(true,) {}").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "if ".to_owned() + &"not ".repeat(100) + "true {}";
        assert!(matches!(
            parse_text(&deep),
            Err(Error::LimitExceeded {
                limit: Limit::Nesting,
                ..
            })
        ));
        let blocks = "if true {".repeat(100) + &"}".repeat(100);
        assert!(parse_text(&blocks).is_err());
    }
}
