//! The typed syntax tree a script compiles to. Every value here was checked against its
//! command's signature; what is left for run time is variable expansion and the message.

/// A string argument. With `require "variables"` a string may hold `${name}` or `${1}`
/// references, expanded at run time (RFC 5229 §3); without it, every string is literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string with no references.
    Literal(String),
    /// A string with references, as pieces in order.
    Template(Vec<Piece>),
}

/// One piece of a [`Value::Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// `${name}`: a variable, its name lower-cased (names are case-insensitive).
    Variable(String),
    /// `${N}`: a match variable of the last successful `:matches` or `:regex` test.
    Match(usize),
}

impl Value {
    /// The literal text, if the value has no references.
    pub fn as_literal(&self) -> Option<&str> {
        match self {
            Value::Literal(s) => Some(s),
            Value::Template(_) => None,
        }
    }
}

/// A compiled script: its commands, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The capabilities named by `require`.
    pub requires: Vec<String>,
    /// The top-level commands.
    pub commands: Vec<Command>,
}

/// A command (RFC 5228 §3, §4 and the extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `if` / `elsif` / `else` (RFC 5228 §3.1), as one command.
    If {
        /// Each condition with its block, `if` first then every `elsif`.
        branches: Vec<(Test, Vec<Command>)>,
        /// The `else` block, empty when there is none.
        otherwise: Vec<Command>,
    },
    /// `stop` (RFC 5228 §3.3).
    Stop,
    /// `keep [:flags]` (RFC 5228 §4.3, RFC 5232 §5).
    Keep {
        /// Flags to store the message with instead of the internal flags.
        flags: Option<Vec<Value>>,
    },
    /// `discard` (RFC 5228 §4.4).
    Discard,
    /// `fileinto [:flags] [:copy] [:create] mailbox` (RFC 5228 §4.1, 5232, 3894, 5490).
    FileInto {
        /// The target mailbox.
        mailbox: Value,
        /// Flags to store the message with instead of the internal flags.
        flags: Option<Vec<Value>>,
        /// `:copy`: do not cancel the implicit keep.
        copy: bool,
        /// `:create`: create the mailbox if it does not exist.
        create: bool,
    },
    /// `redirect [:copy] address` (RFC 5228 §4.2, RFC 3894).
    Redirect {
        /// The address to send the message to.
        address: Value,
        /// `:copy`: do not cancel the implicit keep.
        copy: bool,
    },
    /// `reject reason` or `ereject reason` (RFC 5429).
    Reject {
        /// The text given back to the sender.
        reason: Value,
        /// `ereject`: refuse in the SMTP transaction if at all possible.
        extended: bool,
    },
    /// `vacation` (RFC 5230).
    Vacation(Box<VacationCommand>),
    /// `setflag`, `addflag`, `removeflag` (RFC 5232 §3).
    Flags {
        /// Which of the three.
        op: FlagOp,
        /// A variable to change instead of the internal flags.
        variable: Option<Value>,
        /// The flags, each string possibly holding several space-separated flags.
        flags: Vec<Value>,
    },
    /// `set [modifiers] name value` (RFC 5229 §4).
    Set {
        /// The variable, lower-cased.
        name: String,
        /// The value to expand.
        value: Value,
        /// Modifiers, already sorted by precedence (highest first).
        modifiers: Vec<Modifier>,
    },
    /// `include [:personal|:global] [:once] [:optional] name` (RFC 6609 §3.2).
    Include {
        /// The script name.
        name: String,
        /// Whose script.
        location: Location,
        /// `:once`: skip if already included in this run.
        once: bool,
        /// `:optional`: a missing script is not an error.
        optional: bool,
    },
    /// `return` (RFC 6609 §3.4).
    Return,
    /// `global names` (RFC 6609 §3.3), lower-cased.
    Global(Vec<String>),
}

/// The vacation command's arguments (RFC 5230 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacationCommand {
    /// `:days`, if given.
    pub days: Option<u64>,
    /// `:subject`.
    pub subject: Option<Value>,
    /// `:from`.
    pub from: Option<Value>,
    /// `:addresses`: more of the user's own addresses.
    pub addresses: Vec<Value>,
    /// `:mime`: the reason is a MIME entity.
    pub mime: bool,
    /// `:handle`.
    pub handle: Option<Value>,
    /// The reply text.
    pub reason: Value,
}

/// Which imap4flags command (RFC 5232 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// `setflag`: replace.
    Set,
    /// `addflag`: union.
    Add,
    /// `removeflag`: difference.
    Remove,
}

/// A `set` modifier (RFC 5229 §4.1, draft-ietf-sieve-regex §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Modifier {
    /// `:lower` (precedence 40).
    Lower,
    /// `:upper` (precedence 40).
    Upper,
    /// `:lowerfirst` (precedence 30).
    LowerFirst,
    /// `:upperfirst` (precedence 30).
    UpperFirst,
    /// `:quotewildcard` (precedence 20).
    QuoteWildcard,
    /// `:quoteregex` (precedence 20, regex extension).
    QuoteRegex,
    /// `:length` (precedence 10).
    Length,
}

impl Modifier {
    /// Its precedence: higher is applied first; two of the same precedence is an error.
    pub fn precedence(self) -> u8 {
        match self {
            Modifier::Lower | Modifier::Upper => 40,
            Modifier::LowerFirst | Modifier::UpperFirst => 30,
            Modifier::QuoteWildcard | Modifier::QuoteRegex => 20,
            Modifier::Length => 10,
        }
    }
}

/// Where an included script lives (RFC 6609 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// The user's own scripts (the default).
    Personal,
    /// The site's shared scripts.
    Global,
}

/// A test (RFC 5228 §5 and the extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `true`.
    True,
    /// `false`.
    False,
    /// `not test`.
    Not(Box<Test>),
    /// `allof (…)`.
    AllOf(Vec<Test>),
    /// `anyof (…)`.
    AnyOf(Vec<Test>),
    /// `exists headers`: every named header is present.
    Exists(Vec<Value>),
    /// `size :over|:under n`.
    Size {
        /// `:over` (true) or `:under` (false).
        over: bool,
        /// The size in bytes.
        limit: u64,
    },
    /// `header`.
    Header {
        /// How to compare.
        matcher: Matcher,
        /// `:index`/`:last`: only one occurrence of each field.
        index: Option<Index>,
        /// Header names.
        headers: Vec<Value>,
        /// Keys.
        keys: Vec<Value>,
    },
    /// `address` (RFC 5228 §5.1).
    Address {
        /// How to compare.
        matcher: Matcher,
        /// `:index`/`:last`: only one occurrence of each field.
        index: Option<Index>,
        /// Which part of each address.
        part: AddressPart,
        /// Header names.
        headers: Vec<Value>,
        /// Keys.
        keys: Vec<Value>,
    },
    /// `envelope` (RFC 5228 §5.4).
    Envelope {
        /// How to compare.
        matcher: Matcher,
        /// Which part of each address.
        part: AddressPart,
        /// `"from"`, `"to"`.
        fields: Vec<Value>,
        /// Keys.
        keys: Vec<Value>,
    },
    /// `body` (RFC 5173).
    Body {
        /// How to compare.
        matcher: Matcher,
        /// Which text to compare.
        transform: BodyTransform,
        /// Keys.
        keys: Vec<Value>,
    },
    /// `date` (RFC 5260 §4) and `currentdate` (§5).
    Date {
        /// How to compare.
        matcher: Matcher,
        /// `date`: the header holding a date, and with `:index`/`:last` which occurrence of
        /// the field (default: the first). `currentdate` (`None`): the time of evaluation.
        header: Option<(Value, Option<Index>)>,
        /// Time zone to convert to.
        zone: Zone,
        /// Which part of the date.
        part: Value,
        /// Keys.
        keys: Vec<Value>,
    },
    /// `hasflag` (RFC 5232 §4).
    HasFlag {
        /// How to compare.
        matcher: Matcher,
        /// Variables to read instead of the internal flags.
        variables: Vec<Value>,
        /// Keys.
        keys: Vec<Value>,
    },
    /// `string` (RFC 5229 §5).
    String {
        /// How to compare.
        matcher: Matcher,
        /// The strings to test.
        sources: Vec<Value>,
        /// Keys.
        keys: Vec<Value>,
    },
    /// `mailboxexists` (RFC 5490 §3.1).
    MailboxExists(Vec<Value>),
}

/// `:index n [:last]` (RFC 5260 §6): the n-th occurrence of a field, counted from the top,
/// or from the bottom with `:last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    /// The occurrence, 1-based.
    pub n: u64,
    /// Count from the last field up.
    pub last: bool,
}

/// A comparator (RFC 4790, RFC 5228 §2.7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `i;octet`: bytes as they are.
    Octet,
    /// `i;ascii-casemap`: ASCII letters folded (the default).
    AsciiCasemap,
    /// `i;ascii-numeric`: leading decimal digits as a number; no digits sorts last.
    AsciiNumeric,
}

/// An ordering for `:count` and `:value` (RFC 5231 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// `"gt"`
    Gt,
    /// `"ge"`
    Ge,
    /// `"lt"`
    Lt,
    /// `"le"`
    Le,
    /// `"eq"`
    Eq,
    /// `"ne"`
    Ne,
}

/// A match type (RFC 5228 §2.7.1, RFC 5231, draft-ietf-sieve-regex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    /// `:is` (the default).
    Is,
    /// `:contains`.
    Contains,
    /// `:matches` with `*` and `?`.
    Matches,
    /// `:regex` (POSIX-like extended regular expressions, run by the `regex` crate).
    Regex,
    /// `:count relation`.
    Count(Relation),
    /// `:value relation`.
    Value(Relation),
}

/// A comparator and a match type, as one test uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matcher {
    /// The comparator.
    pub comparator: Comparator,
    /// The match type.
    pub match_type: MatchType,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher {
            comparator: Comparator::AsciiCasemap,
            match_type: MatchType::Is,
        }
    }
}

/// The part of an address to compare (RFC 5228 §2.7.4, RFC 5233).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressPart {
    /// `:all` (the default).
    #[default]
    All,
    /// `:localpart`.
    LocalPart,
    /// `:domain`.
    Domain,
    /// `:user` (subaddress): the local part before the separator `+`.
    User,
    /// `:detail` (subaddress): the local part after the separator `+`.
    Detail,
}

/// What `body` compares (RFC 5173 §5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BodyTransform {
    /// `:text` (the default): the decoded text of every `text/*` part.
    #[default]
    Text,
    /// `:raw`: the body as transmitted, undecoded.
    Raw,
    /// `:content types`: the decoded parts whose type matches one of the given
    /// (`"text"`, `"text/html"`, `""` for all).
    Content(Vec<Value>),
}

/// The time zone a date test converts to (RFC 5260 §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Zone {
    /// The server's local zone (the default): the zone of the `now` passed in.
    #[default]
    Local,
    /// `:originalzone`: the zone written in the header (`date` only).
    Original,
    /// `:zone "+hhmm"`, as minutes east of UTC.
    Fixed(i32),
}
