//! The responses of a successful SELECT / EXAMINE (RFC 3501 §6.3.1–6.3.2; HIGHESTMODSEQ from
//! RFC 7162 §3.1.2.1), built from numbers the store provides. Opening the mailbox itself is
//! the caller's (it needs the store).

use std::num::{NonZeroU32, NonZeroU64};

use imap_codec::imap_types::{
    core::Tag,
    flag::Flag,
    response::{Code, CodeOther, Data, Response},
};

use crate::proto::{
    flags::{mailbox_flags, permanent_flags},
    response::{ok, status},
};

/// What the store knows about the mailbox being selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectInfo {
    /// Number of messages.
    pub exists: u32,
    /// Messages \Recent for this session.
    pub recent: u32,
    /// Sequence number of the first unseen message, if any.
    pub first_unseen: Option<u32>,
    /// UIDVALIDITY.
    pub uid_validity: NonZeroU32,
    /// UIDNEXT.
    pub uid_next: NonZeroU32,
    /// HIGHESTMODSEQ (RFC 7162); sent when the mailbox has one.
    pub highest_modseq: Option<NonZeroU64>,
    /// Keywords in use in the mailbox (listed in FLAGS).
    pub keywords: Vec<Flag<'static>>,
}

/// The untagged responses and the tagged OK, in RFC 3501's order. `read_only` is EXAMINE
/// (or a mailbox the user may not change): `[READ-ONLY]`, and no PERMANENTFLAGS to set.
pub fn responses(
    info: &SelectInfo,
    tag: Tag<'static>,
    read_only: bool,
    command: &str,
) -> Vec<Response<'static>> {
    let untagged = |code: Code<'static>, text: &str| {
        Response::Status(status(
            imap_codec::imap_types::response::StatusKind::Ok,
            None,
            Some(code),
            text,
        ))
    };
    let mut out = vec![
        Response::Data(Data::Flags(mailbox_flags(&info.keywords))),
        Response::Data(Data::Exists(info.exists)),
        Response::Data(Data::Recent(info.recent)),
    ];
    if let Some(unseen) = info.first_unseen.and_then(NonZeroU32::new) {
        out.push(untagged(
            Code::Unseen(unseen),
            &format!("Message {unseen} is first unseen"),
        ));
    }
    let permanent = if read_only {
        Vec::new()
    } else {
        permanent_flags()
    };
    out.push(untagged(
        Code::PermanentFlags(permanent),
        if read_only {
            "No permanent flags"
        } else {
            "Limited"
        },
    ));
    out.push(untagged(Code::UidValidity(info.uid_validity), "UIDs valid"));
    out.push(untagged(Code::UidNext(info.uid_next), "Predicted next UID"));
    match info.highest_modseq {
        Some(modseq) => out.push(untagged(Code::HighestModSeq(modseq), "Highest")),
        // RFC 7162 §3.1.2.2: a mailbox without mod-sequences says NOMODSEQ.
        None => out.push(untagged(
            Code::NoModSeq,
            "Sorry, this mailbox format doesn't support modsequences",
        )),
    }
    // RFC 4467 §7: the URLAUTH mechanisms GENURLAUTH takes for this mailbox.
    out.push(untagged(
        Code::Other(CodeOther::unvalidated(b"URLMECH INTERNAL".as_slice())),
        "URLAUTH mechanisms",
    ));
    let code = if read_only {
        Code::ReadOnly
    } else {
        Code::ReadWrite
    };
    out.push(Response::Status(ok(
        tag,
        Some(code),
        &format!("{command} completed"),
    )));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::response::encode;

    #[test]
    fn rfc3501_select_example() {
        // RFC 3501 §6.3.1 (with our flag list, PERMANENTFLAGS and RFC 7162's HIGHESTMODSEQ).
        let info = SelectInfo {
            exists: 172,
            recent: 1,
            first_unseen: Some(12),
            uid_validity: NonZeroU32::new(3_857_529_045).expect("nonzero"),
            uid_next: NonZeroU32::new(4392).expect("nonzero"),
            highest_modseq: NonZeroU64::new(715_194_045_007),
            keywords: vec![],
        };
        let tag = Tag::try_from("A142").expect("valid tag");
        let wire: Vec<u8> = responses(&info, tag, false, "SELECT")
            .iter()
            .flat_map(encode)
            .collect();
        assert_eq!(
            String::from_utf8(wire).expect("ascii"),
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 172 EXISTS\r\n* 1 RECENT\r\n\
             * OK [UNSEEN 12] Message 12 is first unseen\r\n\
             * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Limited\r\n\
             * OK [UIDVALIDITY 3857529045] UIDs valid\r\n* OK [UIDNEXT 4392] Predicted next UID\r\n\
             * OK [HIGHESTMODSEQ 715194045007] Highest\r\n\
             * OK [URLMECH INTERNAL] URLAUTH mechanisms\r\nA142 OK [READ-WRITE] SELECT completed\r\n"
        );
    }

    #[test]
    fn examine_is_read_only() {
        let info = SelectInfo {
            exists: 0,
            recent: 0,
            first_unseen: None,
            uid_validity: NonZeroU32::MIN,
            uid_next: NonZeroU32::MIN,
            highest_modseq: None,
            keywords: vec![Flag::Keyword("$Junk".try_into().expect("atom"))],
        };
        let tag = Tag::try_from("A932").expect("valid tag");
        let wire: Vec<u8> = responses(&info, tag, true, "EXAMINE")
            .iter()
            .flat_map(encode)
            .collect();
        let wire = String::from_utf8(wire).expect("ascii");
        assert!(wire.starts_with(
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk)\r\n* 0 EXISTS\r\n"
        ));
        assert!(wire.contains("* OK [PERMANENTFLAGS ()] No permanent flags\r\n"));
        assert!(wire.contains("* OK [NOMODSEQ]"));
        assert!(wire.ends_with("A932 OK [READ-ONLY] EXAMINE completed\r\n"));
    }
}
