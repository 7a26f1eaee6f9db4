//! Our own parser for the command forms imap-codec 2.0.0-alpha.10 does not parse, written
//! from the RFC ABNF:
//! - `[UID] SEARCH RETURN (...)` (RFC 4731 ESEARCH, RFC 5182 SAVE, RFC 9051 §6.4.4) and
//!   `[UID] SORT RETURN (...)` (RFC 5267 ESORT);
//! - `LIST` with selection options, several patterns and return options (RFC 5258,
//!   RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE, RFC 9051 §6.3.9);
//! - `CREATE name (USE (...))` (RFC 6154 §5.2);
//! - the ACL commands SETACL, DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS (RFC 4314 §3,
//!   [`acl`]);
//! - commands using `$`, the saved search result (RFC 5182 SEARCHRES, [`searchres`]);
//! - APPEND with several messages (RFC 3502 MULTIAPPEND) or CATENATE (RFC 4469);
//! - GENURLAUTH, RESETKEY and URLFETCH (RFC 4467 URLAUTH, RFC 5524, [`urlauth`]).
//!
//! The driver ([`super::driver::Driver`]) looks at each command's first line with
//! [`claims`]; a claimed command is collected whole (line and literals) and handed to
//! [`parse`] instead of imap-next, and reaches the session as an [`ExtCommand`]. STATUS
//! SIZE and DELETED need no parser of ours: imap-codec's `ext_status_size` parses them.

pub mod acl;
mod append;
mod create;
pub mod encode;
mod lexer;
mod list;
pub mod notify;
pub mod rev2;
mod search;
pub mod searchres;
pub mod urlauth;

use imap_codec::imap_types::{
    command::CommandBody,
    core::{Charset, Tag, Vec1},
    extensions::sort::SortCriterion,
    search::SearchKey,
    status::StatusDataItemName,
};

use imap_codec::{CommandCodec, decode::Decoder};
use lexer::{Cursor, command_head};

/// A command our parser turned into values.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtCommand {
    /// The command's tag.
    pub tag: Tag<'static>,
    /// What it asks.
    pub body: ExtBody,
}

/// The commands [`parse`] understands.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtBody {
    /// `[UID] SEARCH RETURN (...) ...`.
    Search(SearchRequest),
    /// `[UID] SORT RETURN (...) ...` (RFC 5267 ESORT).
    Sort(SortRequest),
    /// `APPEND` with several messages (RFC 3502 MULTIAPPEND) or CATENATE (RFC 4469).
    Append(AppendRequest),
    /// `LIST` in any form (basic or extended).
    List(ListRequest),
    /// `CREATE name [(USE (...))]`.
    Create(CreateRequest),
    /// An RFC 4314 ACL command.
    Acl(AclRequest),
    /// A command with `$` (RFC 5182), run once the saved result is written in.
    SavedResult(SavedResultCommand),
    /// `CANCELUPDATE tag...` (RFC 5267 §4.2): the contexts to stop updating.
    CancelUpdate(Vec<String>),
    /// `NOTIFY SET ...` or `NOTIFY NONE` (RFC 5465).
    Notify(notify::NotifyRequest),
    /// `GENURLAUTH url mechanism ...` (RFC 4467 §6.1): (URL rump, mechanism) pairs.
    GenUrlAuth(Vec<(String, String)>),
    /// `RESETKEY [mailbox [mechanism ...]]` (RFC 4467 §6.2).
    ResetKey(urlauth::ResetKey),
    /// `URLFETCH url ...` (RFC 4467 §6.4, RFC 5524 §4).
    UrlFetch(Vec<urlauth::FetchUrl>),
    /// A command in a form imap-codec reads, collected here only because its first line
    /// could have begun one it does not: a `[UID] SEARCH` whose first line announced a
    /// literal (a `$` could have followed), an APPEND of one message (more could have
    /// followed). Parsed by imap-codec (see [`decode_standard`]).
    Standard(Box<CommandBody<'static>>),
}

/// A command that uses `$`; it parses once `$` is replaced (checked when it was read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedResultCommand {
    /// The whole command as received (line, literals, CRLF).
    pub raw: Vec<u8>,
    /// `$` stands for a sequence set (FETCH, STORE, COPY, MOVE, UID EXPUNGE) rather than a
    /// search key.
    pub as_set: bool,
    /// A UID command (the set is UIDs).
    pub uid: bool,
}

impl ExtBody {
    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            ExtBody::Search(_) => "SEARCH",
            ExtBody::Sort(_) => "SORT",
            ExtBody::List(_) => "LIST",
            ExtBody::Create(_) => "CREATE",
            ExtBody::Acl(request) => request.name(),
            ExtBody::SavedResult(_) => "($ command)",
            ExtBody::Append(_) => "APPEND",
            ExtBody::CancelUpdate(_) => "CANCELUPDATE",
            ExtBody::Notify(_) => "NOTIFY",
            ExtBody::GenUrlAuth(_) => "GENURLAUTH",
            ExtBody::ResetKey(_) => "RESETKEY",
            ExtBody::UrlFetch(_) => "URLFETCH",
            ExtBody::Standard(body) => body.name(),
        }
    }
}

/// RFC 4731 §3.1 result options (RFC 5182 §2 SAVE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchReturn {
    /// `MIN`: the lowest matching number.
    pub min: bool,
    /// `MAX`: the highest matching number.
    pub max: bool,
    /// `ALL`: every match, as a sequence set.
    pub all: bool,
    /// `COUNT`: how many matched.
    pub count: bool,
    /// `SAVE` (RFC 5182): keep the result for `$`.
    pub save: bool,
    /// `UPDATE` (RFC 5267 §4.2): keep telling the client how the result changes.
    pub update: bool,
    /// `PARTIAL lo:hi` (RFC 5267 §4.4): the matches at positions lo..=hi (lo <= hi).
    pub partial: Option<(u32, u32)>,
}

impl SearchReturn {
    /// RFC 4731 §3.1: `RETURN ()` means `RETURN (ALL)`.
    pub fn all_if_empty(mut self) -> SearchReturn {
        let any = self.min || self.max || self.all || self.count || self.save;
        if !(any || self.update || self.partial.is_some()) {
            self.all = true;
        }
        self
    }
}

/// `[UID] SEARCH RETURN (options) [CHARSET x] criteria`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// UID SEARCH.
    pub uid: bool,
    /// What to return.
    pub options: SearchReturn,
    /// The CHARSET argument, if given.
    pub charset: Option<Charset<'static>>,
    /// The criteria (ANDed).
    pub criteria: Vec1<SearchKey<'static>>,
}

/// `[UID] SORT RETURN (options) (criteria) charset search-keys` (RFC 5267 §3.1).
#[derive(Debug, Clone, PartialEq)]
pub struct SortRequest {
    /// UID SORT.
    pub uid: bool,
    /// What to return (never SAVE).
    pub options: SearchReturn,
    /// The sort criteria.
    pub criteria: Vec1<SortCriterion>,
    /// The search charset.
    pub charset: Charset<'static>,
    /// The search criteria (ANDed).
    pub search: Vec1<SearchKey<'static>>,
}

/// `APPEND mailbox message message ...` (RFC 3502 §6.3.11).
#[derive(Debug, Clone, PartialEq)]
pub struct AppendRequest {
    /// The mailbox.
    pub mailbox: imap_codec::imap_types::mailbox::Mailbox<'static>,
    /// The messages, in order; at least one.
    pub messages: Vec<AppendMessage>,
}

/// One message of an [`AppendRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct AppendMessage {
    /// Its flags.
    pub flags: Vec<imap_codec::imap_types::flag::Flag<'static>>,
    /// Its INTERNALDATE, if given.
    pub date: Option<imap_codec::imap_types::datetime::DateTime>,
    /// The message, or the parts to make it of.
    pub content: AppendContent,
}

/// What one APPEND message is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendContent {
    /// The message as a literal (or `literal8`, RFC 3516 §4.4).
    Literal(Vec<u8>),
    /// `CATENATE (...)` (RFC 4469 §5): texts and URLs of messages or parts, joined.
    Catenate(Vec<CatenatePart>),
}

/// One part of a CATENATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatenatePart {
    /// `TEXT literal`.
    Text(Vec<u8>),
    /// `URL "..."`: a message or part on this server ([`crate::proto::imap_url`]).
    Url(String),
}

/// RFC 5258 §3 selection options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListSelection {
    /// `SUBSCRIBED`: subscribed mailboxes only (and subscribed names that do not exist).
    pub subscribed: bool,
    /// `REMOTE`: also remote mailboxes (we have none).
    pub remote: bool,
    /// `RECURSIVEMATCH`: also parents of matching mailboxes, with CHILDINFO.
    pub recursive_match: bool,
    /// `SPECIAL-USE` (RFC 6154 §5.1): mailboxes with a special use only.
    pub special_use: bool,
}

/// RFC 5258 §3 return options (RFC 5819 STATUS, RFC 6154 SPECIAL-USE).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListReturn {
    /// `SUBSCRIBED`: add `\Subscribed`.
    pub subscribed: bool,
    /// `CHILDREN`: add `\HasChildren` / `\HasNoChildren`.
    pub children: bool,
    /// `SPECIAL-USE`: add the special-use attribute.
    pub special_use: bool,
    /// `STATUS (...)`: a STATUS response per listed mailbox.
    pub status: Option<Vec<StatusDataItemName>>,
}

/// `LIST [(selection)] reference (pattern | (patterns)) [RETURN (options)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// Selection options (all off for the basic form).
    pub selection: ListSelection,
    /// The reference name, as sent (modified UTF-7 or UTF-8).
    pub reference: Vec<u8>,
    /// The patterns, as sent; at least one.
    pub patterns: Vec<Vec<u8>>,
    /// Return options.
    pub returns: ListReturn,
    /// True when any RFC 5258 syntax was used (selection options, several patterns or
    /// RETURN); the basic LIST keeps RFC 3501 behaviour.
    pub extended: bool,
}

/// `CREATE mailbox [(USE (attributes))]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// The mailbox name, as sent.
    pub mailbox: Vec<u8>,
    /// The special-use attributes asked for (RFC 6154 §5.2), e.g. `\Drafts`.
    pub special_use: Vec<String>,
}

/// An RFC 4314 §3 command; mailbox names as sent, identifiers and rights as UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclRequest {
    /// `SETACL mailbox identifier [+|-]rights`.
    SetAcl {
        /// The mailbox, as sent.
        mailbox: Vec<u8>,
        /// Whose rights change.
        identifier: String,
        /// Replace, add or remove.
        change: acl::RightsChange,
        /// The rights, without the `+` or `-`.
        rights: String,
    },
    /// `DELETEACL mailbox identifier`.
    DeleteAcl {
        /// The mailbox, as sent.
        mailbox: Vec<u8>,
        /// Whose entry goes.
        identifier: String,
    },
    /// `GETACL mailbox`.
    GetAcl {
        /// The mailbox, as sent.
        mailbox: Vec<u8>,
    },
    /// `LISTRIGHTS mailbox identifier`.
    ListRights {
        /// The mailbox, as sent.
        mailbox: Vec<u8>,
        /// Whose rights may be granted.
        identifier: String,
    },
    /// `MYRIGHTS mailbox`.
    MyRights {
        /// The mailbox, as sent.
        mailbox: Vec<u8>,
    },
}

impl AclRequest {
    /// The command's name.
    pub fn name(&self) -> &'static str {
        match self {
            AclRequest::SetAcl { .. } => "SETACL",
            AclRequest::DeleteAcl { .. } => "DELETEACL",
            AclRequest::GetAcl { .. } => "GETACL",
            AclRequest::ListRights { .. } => "LISTRIGHTS",
            AclRequest::MyRights { .. } => "MYRIGHTS",
        }
    }

    /// The mailbox it is about, as sent.
    pub fn mailbox(&self) -> &[u8] {
        match self {
            AclRequest::SetAcl { mailbox, .. }
            | AclRequest::DeleteAcl { mailbox, .. }
            | AclRequest::GetAcl { mailbox }
            | AclRequest::ListRights { mailbox, .. }
            | AclRequest::MyRights { mailbox } => mailbox,
        }
    }
}

/// The UTF-8 name of a mailbox (or pattern) as our parser read it: modified UTF-7 when it
/// is ASCII (RFC 3501 §5.1.3), UTF-8 as it stands otherwise (RFC 9051 §5.1 allows UTF-8
/// names); `INBOX` in any case is `INBOX`.
pub fn mailbox_name(wire: &[u8]) -> Result<String, crate::proto::mailbox_name::MailboxNameError> {
    let name = crate::proto::mailbox_name::decode_wire(wire)?;
    Ok(match name.get(..5) {
        Some(head)
            if head.eq_ignore_ascii_case("INBOX")
                && (name.len() == 5 || name[5..].starts_with('/')) =>
        {
            format!("INBOX{}", &name[5..])
        }
        _ => name,
    })
}

/// A command our parser could not read (answered `BAD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syntax error: {0}")]
pub struct SyntaxError(pub &'static str);

/// Whether the command starting with `line` (its first line) is parsed by us rather than
/// imap-next: every LIST, CREATE, APPEND, ACL and URLAUTH command, SEARCH / UID SEARCH and SORT / UID SORT
/// with RETURN, commands using `$`,
/// and a SEARCH whose first line ends in a literal (a `$` may follow it, RFC 5182).
pub fn claims(line: &[u8]) -> bool {
    let Some((_, names)) = command_head(line) else {
        return false;
    };
    let is = |i: usize, word: &str| {
        names
            .get(i)
            .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    if is(0, "LIST")
        || is(0, "CREATE")
        || is(0, "APPEND")
        || is(0, "CANCELUPDATE")
        || is(0, "NOTIFY")
        || acl::NAMES.iter().any(|name| is(0, name))
        || urlauth::NAMES.iter().any(|name| is(0, name))
        || searchres::uses_saved_result(line)
    {
        return true;
    }
    let command = |name| is(0, name) || (is(0, "UID") && is(1, name));
    let after = if is(0, "UID") { 2 } else { 1 };
    (command("SEARCH") && (is(after, "RETURN") || super::literal::announcement(line).is_some()))
        || (command("SORT") && is(after, "RETURN"))
}

/// Whether the command starting with `line` is an APPEND (its literals are messages).
pub fn is_append(line: &[u8]) -> bool {
    command_head(line).is_some_and(|(_, names)| {
        names
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case(b"APPEND"))
    })
}

/// Parses a complete command (line, literals, CRLF) in a form imap-codec reads, with UTF-8
/// quoted strings written as literals first, as the driver does after ENABLE IMAP4rev2.
/// (Before it, the driver refuses a quoted string with 8-bit octets before it gets here.)
pub fn decode_standard(command: &[u8]) -> Result<CommandBody<'static>, SyntaxError> {
    let rewritten = super::utf8_quoted::command_quoted_to_literals(command);
    match CommandCodec::default().decode(&rewritten) {
        Ok((b"", parsed)) => Ok(imap_codec::imap_types::ToStatic::to_static(&parsed.body)),
        _ => Err(SyntaxError("bad command")),
    }
}

/// Parses one complete command (line, literals, final CRLF) that [`claims`] accepted.
pub fn parse(input: &[u8]) -> Result<ExtCommand, SyntaxError> {
    // Framed as the driver frames it, or not a command (one reader of lines and literals).
    super::literal::check_framing(input).map_err(SyntaxError)?;
    if searchres::uses_saved_result(input) {
        return searchres::parse(input);
    }
    let mut c = Cursor::new(input);
    let tag = c.atom()?;
    // RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">.
    let tag = Tag::try_from(tag.to_vec()).map_err(|_| SyntaxError("bad tag"))?;
    c.sp()?;
    let uid = c.keyword("UID");
    if uid {
        c.sp()?;
    }
    let body = if c.keyword("SEARCH") {
        let mut ahead = c.clone();
        let returns = ahead.sp().is_ok() && ahead.keyword("RETURN");
        if !returns {
            // An incomplete or bad one is BAD now, as imap-next would answer it.
            return Ok(ExtCommand {
                tag,
                body: ExtBody::Standard(Box::new(decode_standard(input)?)),
            });
        }
        ExtBody::Search(search::parse(&mut c, &tag, uid)?)
    } else if c.keyword("SORT") {
        ExtBody::Sort(search::parse_sort(&mut c, &tag, uid)?)
    } else if uid {
        return Err(SyntaxError("unexpected UID command"));
    } else if c.keyword("APPEND") {
        let request = append::parse(&mut c, &tag)?;
        let plain = |m: &AppendMessage| matches!(m.content, AppendContent::Literal(_));
        if request.messages.len() == 1 && request.messages.iter().all(plain) {
            // The standard form: imap-codec reads it as it always has.
            return Ok(ExtCommand {
                tag,
                body: ExtBody::Standard(Box::new(decode_standard(input)?)),
            });
        }
        ExtBody::Append(request)
    } else if c.keyword("CANCELUPDATE") {
        let mut tags = Vec::new();
        while c.rest() != b"\r\n" {
            c.sp()?;
            let tag = c.string()?;
            tags.push(String::from_utf8(tag).map_err(|_| SyntaxError("a tag is ASCII"))?);
        }
        c.end()?;
        if tags.is_empty() {
            return Err(SyntaxError("CANCELUPDATE needs a tag"));
        }
        ExtBody::CancelUpdate(tags)
    } else if c.keyword("NOTIFY") {
        ExtBody::Notify(notify::parse(&mut c)?)
    } else if c.keyword("LIST") {
        ExtBody::List(list::parse(&mut c)?)
    } else if c.keyword("CREATE") {
        ExtBody::Create(create::parse(&mut c)?)
    } else if c.keyword("GENURLAUTH") {
        ExtBody::GenUrlAuth(urlauth::parse_genurlauth(&mut c)?)
    } else if c.keyword("RESETKEY") {
        ExtBody::ResetKey(urlauth::parse_resetkey(&mut c)?)
    } else if c.keyword("URLFETCH") {
        ExtBody::UrlFetch(urlauth::parse_urlfetch(&mut c)?)
    } else if let Some(name) = acl::NAMES.into_iter().find(|name| c.keyword(name)) {
        ExtBody::Acl(acl::parse(&mut c, name)?)
    } else {
        return Err(SyntaxError("not a command this parser reads"));
    };
    Ok(ExtCommand { tag, body })
}

#[cfg(test)]
mod tests;
