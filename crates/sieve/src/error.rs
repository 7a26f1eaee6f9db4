//! The one error type of the crate: compile errors carry the line and column of the
//! offending token; run-time errors say which limit or rule stopped the script.
//!
//! Whatever the variant, the caller's answer to a failed run is the same: RFC 5228 §2.10.6
//! says an error during the run leaves the implicit keep in force, so the message goes to
//! INBOX and the user is told once what went wrong (the `Display` text is written for them).

use std::fmt;

/// A place in a script: 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number, starting at 1.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Which configurable bound of [`crate::Limits`] a script ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `max_script_bytes`: the script text is too long.
    ScriptSize,
    /// `max_nesting`: blocks or tests nested too deeply.
    Nesting,
    /// `max_steps`: the run used up its CPU budget.
    Steps,
    /// `max_variable_bytes`: a variable or expanded string grew too long.
    VariableSize,
    /// `max_variables`: too many distinct variables.
    Variables,
    /// `max_actions`: too many actions.
    Actions,
    /// `max_redirects`: too many `redirect`s.
    Redirects,
    /// `max_include_depth`: includes nested too deeply.
    IncludeDepth,
    /// `max_includes`: too many scripts included in one run.
    Includes,
    /// `max_regex_bytes`: a regular expression compiles too large.
    RegexSize,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::ScriptSize => "the script is too long",
            Limit::Nesting => "blocks or tests are nested too deeply",
            Limit::Steps => "the script did too much work for one message",
            Limit::VariableSize => "a variable grew too long",
            Limit::Variables => "the script uses too many variables",
            Limit::Actions => "the script asked for too many actions",
            Limit::Redirects => "the script redirects the message too many times",
            Limit::IncludeDepth => "includes are nested too deeply",
            Limit::Includes => "the script includes too many scripts",
            Limit::RegexSize => "a regular expression is too large",
        })
    }
}

/// Everything that can go wrong compiling or running a Sieve script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not Sieve: a bad token, an unterminated string or comment, a missing `;`.
    /// RFC 5228 §8 (grammar).
    #[error("{pos}: syntax error: {message}")]
    Syntax {
        /// Where the problem was found.
        pos: Position,
        /// What was expected or found.
        message: String,
    },
    /// A command name that neither the base language nor a supported extension defines.
    #[error("{pos}: unknown command `{name}`")]
    UnknownCommand {
        /// Where the command starts.
        pos: Position,
        /// The command as written.
        name: String,
    },
    /// A test name that neither the base language nor a supported extension defines.
    #[error("{pos}: unknown test `{name}`")]
    UnknownTest {
        /// Where the test starts.
        pos: Position,
        /// The test as written.
        name: String,
    },
    /// `require` names a capability this server does not have (RFC 5228 §3.2).
    #[error("{pos}: extension \"{name}\" is not supported here")]
    UnknownExtension {
        /// Where the name was written.
        pos: Position,
        /// The capability string.
        name: String,
    },
    /// A command, test or argument belongs to an extension the script did not `require`
    /// (RFC 5228 §3.2: using it without `require` is an error).
    #[error("{pos}: `{used}` needs `require \"{extension}\";` at the top of the script")]
    MissingRequire {
        /// Where the use is.
        pos: Position,
        /// What was used (a command, test, tag or comparator).
        used: String,
        /// The capability to require.
        extension: String,
    },
    /// `require` after another command (RFC 5228 §3.2).
    #[error("{pos}: `require` must come before every other command")]
    RequireNotFirst {
        /// Where the late `require` is.
        pos: Position,
    },
    /// Arguments of the wrong kind or number, an unknown or repeated tag, or a tag missing
    /// its value (RFC 5228 §2.6, §2.7).
    #[error("{pos}: `{command}`: {message}")]
    BadArguments {
        /// Where the command or test starts (or the offending argument).
        pos: Position,
        /// The command or test.
        command: String,
        /// What is wrong, in words.
        message: String,
    },
    /// A configured bound was reached (see [`crate::Limits`]).
    #[error("{limit} (limit {max})")]
    LimitExceeded {
        /// Which bound.
        limit: Limit,
        /// Its configured value.
        max: u64,
    },
    /// A regular expression that does not compile (draft-ietf-sieve-regex §3).
    #[error("invalid regular expression {pattern:?}: {message}")]
    BadRegex {
        /// The pattern as given.
        pattern: String,
        /// Why it was refused.
        message: String,
    },
    /// `include` of a script that does not exist, without `:optional` (RFC 6609 §3.2).
    #[error("included script \"{name}\" does not exist")]
    IncludeNotFound {
        /// The script name.
        name: String,
    },
    /// A script includes itself, directly or through others (RFC 6609 §3.2).
    #[error("included script \"{name}\" includes itself (an include loop)")]
    IncludeLoop {
        /// The script found twice on the include stack.
        name: String,
    },
    /// An included script does not compile.
    #[error("in included script \"{name}\": {source}")]
    Included {
        /// The script name.
        name: String,
        /// Its own error.
        source: Box<Error>,
    },
    /// Two actions that cannot both be carried out (RFC 5228 §4.2, RFC 5429 §2.1,
    /// RFC 5230 §4.7).
    #[error("`{first}` and `{second}` cannot be used together in one run")]
    IncompatibleActions {
        /// The earlier action.
        first: &'static str,
        /// The later action.
        second: &'static str,
    },
    /// A `redirect` address that is not a plain `local@domain` (RFC 5228 §4.2), found at
    /// run time after variable expansion.
    #[error("redirect address \"{address}\" is not a valid address")]
    BadAddress {
        /// The address as expanded.
        address: String,
    },
    /// A variable name that is not an identifier, or a `global` clash (RFC 5229 §3,
    /// RFC 6609 §3.3).
    #[error("bad variable name \"{name}\": {message}")]
    BadVariable {
        /// The name as given.
        name: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// A `BadArguments` error.
    pub(crate) fn args(pos: Position, command: &str, message: impl Into<String>) -> Self {
        Error::BadArguments {
            pos,
            command: command.to_owned(),
            message: message.into(),
        }
    }

    /// A `Syntax` error.
    pub(crate) fn syntax(pos: Position, message: impl Into<String>) -> Self {
        Error::Syntax {
            pos,
            message: message.into(),
        }
    }

    /// A `LimitExceeded` error.
    pub(crate) fn limit(limit: Limit, max: impl TryInto<u64>) -> Self {
        Error::LimitExceeded {
            limit,
            max: max.try_into().unwrap_or(u64::MAX),
        }
    }

    /// Where a compile error was found, if it is one.
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Syntax { pos, .. }
            | Error::UnknownCommand { pos, .. }
            | Error::UnknownTest { pos, .. }
            | Error::UnknownExtension { pos, .. }
            | Error::MissingRequire { pos, .. }
            | Error::RequireNotFirst { pos }
            | Error::BadArguments { pos, .. } => Some(*pos),
            _ => None,
        }
    }
}
