//! The crate's error type, and the one place errors become IMAP responses
//! (STYLE.md rule 5: say whose fault it is: BAD for the client's syntax, NO for a request
//! we refuse, `NO [SERVERBUG]` for ours).

use imap_codec::imap_types::{
    core::Tag,
    response::{Code, Status},
};

use crate::{
    fetch_items::FetchError,
    proto::{
        ext::SyntaxError,
        mailbox_name::MailboxNameError,
        response::{bad, code, no},
        seqmap::SeqMapError,
    },
    search_charset::{UnsupportedCharset, bad_charset},
};

/// Errors of the IMAP protocol layer that end a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImapError {
    /// A message set could not be resolved (client: bad sequence number; us: UID order).
    #[error(transparent)]
    SeqMap(#[from] SeqMapError),
    /// A mailbox name is malformed or not allowed (client).
    #[error(transparent)]
    MailboxName(#[from] MailboxNameError),
    /// A FETCH item cannot be answered (client: BINARY; us: content not loaded).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// SEARCH CHARSET names a charset we cannot convert (client).
    #[error(transparent)]
    Charset(#[from] UnsupportedCharset),
    /// A command our own parser (`proto::ext`) cannot read (client).
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
}

impl ImapError {
    /// The tagged response that ends the command.
    pub fn to_status(&self, tag: Tag<'static>) -> Status<'static> {
        match self {
            ImapError::SeqMap(SeqMapError::NoSuchSequenceNumber(_)) => {
                bad(Some(tag), "Invalid message sequence number")
            }
            ImapError::SeqMap(SeqMapError::UidNotAscending(_)) => no(
                tag,
                Some(code("SERVERBUG")),
                "Internal error, please try again",
            ),
            ImapError::MailboxName(MailboxNameError::BadUtf7) => {
                bad(Some(tag), "Mailbox name is not valid modified UTF-7")
            }
            ImapError::MailboxName(MailboxNameError::NotAllowed(why)) => no(
                tag,
                Some(code("CANNOT")),
                &format!("Mailbox name not allowed: {why}"),
            ),
            ImapError::Fetch(FetchError::UnknownCte) => no(
                tag,
                Some(Code::UnknownCte),
                "A part has a transfer encoding the server cannot decode",
            ),
            ImapError::Fetch(FetchError::ContentNotLoaded) => no(
                tag,
                Some(code("SERVERBUG")),
                "Internal error, please try again",
            ),
            ImapError::Syntax(SyntaxError(why)) => bad(Some(tag), &format!("Syntax error: {why}")),
            // RFC 3501 §6.4.4: NO [BADCHARSET (...)] lists what we support.
            ImapError::Charset(_) => no(tag, Some(bad_charset()), "Unsupported search charset"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::response::encode_status;

    fn wire(error: ImapError) -> String {
        let tag = Tag::try_from("a1").expect("valid tag");
        String::from_utf8(encode_status(error.to_status(tag))).expect("ascii")
    }

    #[test]
    fn errors_map_to_bad_or_no_with_codes() {
        assert_eq!(
            wire(SeqMapError::NoSuchSequenceNumber(9).into()),
            "a1 BAD Invalid message sequence number\r\n"
        );
        assert_eq!(
            wire(UnsupportedCharset("X".into()).into()),
            "a1 NO [BADCHARSET (UTF-8 US-ASCII EUC-KR)] Unsupported search charset\r\n"
        );
        assert_eq!(
            wire(MailboxNameError::NotAllowed("empty name").into()),
            "a1 NO [CANNOT] Mailbox name not allowed: empty name\r\n"
        );
        assert_eq!(
            wire(SyntaxError("expected RETURN").into()),
            "a1 BAD Syntax error: expected RETURN\r\n"
        );
    }
}
