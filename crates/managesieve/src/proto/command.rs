//! Tokens to [`Command`]s (RFC 5804 §2), and the client's answers during AUTHENTICATE.

use super::framer::Token;

/// One client command (RFC 5804 §2). Names are UTF-8 (§1.6); scripts stay bytes until the
/// session checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// §2.1: a SASL mechanism and, optionally, its initial response (base64).
    Authenticate {
        /// The mechanism, e.g. "PLAIN".
        mechanism: String,
        /// The initial response, still base64.
        initial: Option<Vec<u8>>,
    },
    /// §2.2.
    StartTls,
    /// §2.3.
    Logout,
    /// §2.4.
    Capability,
    /// §2.5: may a script of `size` bytes be stored as `name`?
    HaveSpace {
        /// The script name.
        name: String,
        /// Its size, bytes.
        size: u64,
    },
    /// §2.6.
    PutScript {
        /// The script name.
        name: String,
        /// The script text.
        content: Vec<u8>,
    },
    /// §2.7.
    ListScripts,
    /// §2.8: activate `name`, or none for "".
    SetActive {
        /// The script name, empty for none.
        name: String,
    },
    /// §2.9.
    GetScript {
        /// The script name.
        name: String,
    },
    /// §2.10.
    DeleteScript {
        /// The script name.
        name: String,
    },
    /// §2.11.
    RenameScript {
        /// The current name.
        from: String,
        /// The new name.
        to: String,
    },
    /// §2.12.
    CheckScript {
        /// The script text.
        content: Vec<u8>,
    },
    /// §2.13, with an optional tag echoed in the response code.
    Noop {
        /// The tag, if given.
        tag: Option<Vec<u8>>,
    },
    /// §2.14.1.
    Unauthenticate,
}

/// The client's answer to a server challenge during AUTHENTICATE (RFC 5804 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslResponse {
    /// Base64 data.
    Data(Vec<u8>),
    /// `"*"`: the client gives up.
    Cancel,
}

/// The command of `tokens`, or a sentence saying what is wrong with it.
pub fn parse(tokens: Vec<Token>) -> Result<Command, String> {
    let mut it = tokens.into_iter();
    let Some(Token::Atom(name)) = it.next() else {
        return Err("a command starts with its name, e.g. LISTSCRIPTS".into());
    };
    let mut args = Args {
        command: name.to_ascii_uppercase(),
        rest: it.collect(),
    };
    let command = match args.command.as_str() {
        "AUTHENTICATE" => Command::Authenticate {
            mechanism: args.name("the SASL mechanism")?,
            initial: args.optional_string(),
        },
        "STARTTLS" => Command::StartTls,
        "LOGOUT" => Command::Logout,
        "CAPABILITY" => Command::Capability,
        "HAVESPACE" => Command::HaveSpace {
            name: args.name("the script name")?,
            size: args.number("the script size")?,
        },
        "PUTSCRIPT" => Command::PutScript {
            name: args.name("the script name")?,
            content: args.string("the script")?,
        },
        "LISTSCRIPTS" => Command::ListScripts,
        "SETACTIVE" => Command::SetActive {
            name: args.name("the script name (\"\" for none)")?,
        },
        "GETSCRIPT" => Command::GetScript {
            name: args.name("the script name")?,
        },
        "DELETESCRIPT" => Command::DeleteScript {
            name: args.name("the script name")?,
        },
        "RENAMESCRIPT" => Command::RenameScript {
            from: args.name("the current script name")?,
            to: args.name("the new script name")?,
        },
        "CHECKSCRIPT" => Command::CheckScript {
            content: args.string("the script")?,
        },
        "NOOP" => Command::Noop {
            tag: args.optional_string(),
        },
        "UNAUTHENTICATE" => Command::Unauthenticate,
        other => return Err(format!("unknown command {other}")),
    };
    args.finish()?;
    Ok(command)
}

/// The client's line during AUTHENTICATE: one string, `"*"` to cancel.
pub fn parse_sasl_response(tokens: Vec<Token>) -> Result<SaslResponse, String> {
    match &tokens[..] {
        [Token::String(s)] if s == b"*" => Ok(SaslResponse::Cancel),
        [Token::String(s)] => Ok(SaslResponse::Data(s.clone())),
        _ => Err("the answer to a SASL challenge is one string (\"*\" to cancel)".into()),
    }
}

/// The arguments after a command's name, taken in order.
struct Args {
    command: String,
    rest: std::collections::VecDeque<Token>,
}

impl Args {
    fn string(&mut self, what: &str) -> Result<Vec<u8>, String> {
        match self.rest.pop_front() {
            Some(Token::String(s)) => Ok(s),
            Some(Token::Atom(a)) => Ok(a.into_bytes()),
            _ => Err(format!("{} needs {what} as a string", self.command)),
        }
    }

    fn name(&mut self, what: &str) -> Result<String, String> {
        let bytes = self.string(what)?;
        String::from_utf8(bytes).map_err(|_| format!("{what} must be UTF-8 (RFC 5804 §1.6)"))
    }

    fn number(&mut self, what: &str) -> Result<u64, String> {
        match self.rest.pop_front() {
            Some(Token::Number(n)) => Ok(n),
            _ => Err(format!("{} needs {what} as a number", self.command)),
        }
    }

    fn optional_string(&mut self) -> Option<Vec<u8>> {
        match self.rest.front() {
            Some(Token::String(_)) => self.string("").ok(),
            _ => None,
        }
    }

    fn finish(self) -> Result<(), String> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("too many arguments to {}", self.command))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Token {
        Token::String(text.as_bytes().to_vec())
    }

    #[test]
    fn commands_with_their_arguments() {
        let atom = |a: &str| Token::Atom(a.into());
        assert_eq!(
            parse(vec![atom("putscript"), s("휴가"), s("keep;")]),
            Ok(Command::PutScript {
                name: "휴가".into(),
                content: b"keep;".to_vec()
            })
        );
        assert_eq!(
            parse(vec![atom("SETACTIVE"), s("")]),
            Ok(Command::SetActive { name: "".into() })
        );
        assert_eq!(
            parse(vec![atom("AUTHENTICATE"), s("PLAIN")]),
            Ok(Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: None
            })
        );
        assert!(parse(vec![atom("GETSCRIPT")]).is_err());
        assert!(parse(vec![atom("LOGOUT"), s("x")]).is_err());
        assert!(parse(vec![atom("FROB")]).unwrap_err().contains("FROB"));
    }
}
