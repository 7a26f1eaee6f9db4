//! CATENATE (RFC 4469): an APPENDed message made of texts and of messages or parts
//! already on this server, named by IMAP URLs ([`crate::proto::imap_url`]). A URL the
//! user cannot read, or that names nothing, refuses the whole APPEND with
//! `NO [BADURL url]` and a sentence (RFC 4469 §5); nothing is marked `\Seen`.

use certmail_store::StoreError;
use imap_codec::{
    CommandCodec,
    decode::Decoder,
    imap_types::{
        command::CommandBody,
        fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section},
        response::{Code, CodeOther},
    },
};

use super::acl::capitalised;
use crate::account::SignedIn;
use crate::message::{MessageView, section::partial};
use crate::proto::ext::CatenatePart;
use crate::proto::imap_url::{self, MessageRef};

/// Why a CATENATE cannot be made.
#[derive(Debug)]
pub(super) enum Refusal {
    /// A URL names nothing this user can read: the URL and a sentence.
    BadUrl(String, String),
    /// The store failed.
    Store(StoreError),
}

impl Refusal {
    /// The `BADURL` response code (RFC 4469 §5; `]` cannot appear in it).
    pub(super) fn code(url: &str) -> Code<'static> {
        let url: String = url
            .chars()
            .filter(|&c| c != ']' && !c.is_control())
            .collect();
        Code::Other(CodeOther::unvalidated(format!("BADURL {url}").into_bytes()))
    }
}

/// The message `parts` make, in order.
pub(super) async fn assemble(s: &SignedIn, parts: Vec<CatenatePart>) -> Result<Vec<u8>, Refusal> {
    let mut message = Vec::new();
    for part in parts {
        match part {
            CatenatePart::Text(text) => message.extend_from_slice(&text),
            CatenatePart::Url(url) => {
                let reference = imap_url::parse(&url)
                    .map_err(|why| Refusal::BadUrl(url.clone(), capitalised(why)))?;
                match referenced(s, &reference).await {
                    Ok(Some(octets)) => message.extend_from_slice(&octets),
                    Ok(None) => {
                        let why = "That URL names no message or part you can read here";
                        return Err(Refusal::BadUrl(url, why.to_owned()));
                    }
                    Err(Lookup::Gone(why)) => return Err(Refusal::BadUrl(url, why.to_owned())),
                    Err(Lookup::Store(e)) => return Err(Refusal::Store(e)),
                }
            }
        }
    }
    Ok(message)
}

/// Why a URL's content cannot be had.
pub(super) enum Lookup {
    /// It names nothing there is: a sentence.
    Gone(&'static str),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for Lookup {
    fn from(e: StoreError) -> Lookup {
        match e {
            StoreError::MailboxNotFound(_) => Lookup::Gone("The URL's mailbox does not exist"),
            other => Lookup::Store(other),
        }
    }
}

/// The octets `r` names, if the signed-in user may read them.
async fn referenced(s: &SignedIn, r: &MessageRef) -> Result<Option<Vec<u8>>, Lookup> {
    let store = s.account.ctx.store.as_ref();
    match message_of(store, &s.account.record, r).await? {
        Some(raw) => part_of(&raw, r),
        None => Ok(None),
    }
}

/// The whole message `r` names, if `reader` may read it ("r" on its mailbox); a mailbox
/// they cannot see is `Gone` as one that does not exist.
pub(super) async fn message_of(
    store: &dyn certmail_store::Store,
    reader: &certmail_store::Account,
    r: &MessageRef,
) -> Result<Option<Vec<u8>>, Lookup> {
    let name = crate::proto::ext::mailbox_name(r.mailbox.as_bytes())
        .map_err(|_| Lookup::Gone("The URL's mailbox name is not valid"))?;
    let target = crate::shared::resolve(store, reader, &name).await?;
    if !target.rights.has('r') {
        return Ok(None);
    }
    let Some(mailbox) = store.mailbox(&target.owner, &target.name).await? else {
        return Err(Lookup::Gone("The URL's mailbox does not exist"));
    };
    if r.uid_validity.is_some_and(|v| v != mailbox.uid_validity) {
        return Err(Lookup::Gone(
            "The URL's UIDVALIDITY is not the mailbox's: the message it named is gone",
        ));
    }
    let found = store
        .messages(&target.owner, &target.name, r.uid..=r.uid)
        .await?;
    let Some(meta) = found.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(store.message_body(&target.owner, &meta.blob).await?))
}

/// The octets of `raw` that `r`'s SECTION and PARTIAL name.
pub(super) fn part_of(raw: &[u8], r: &MessageRef) -> Result<Option<Vec<u8>>, Lookup> {
    let octets = match &r.section {
        None => raw.to_vec(),
        Some(text) => {
            let Some(section) = section(text) else {
                return Err(Lookup::Gone(
                    "The URL's SECTION is not a section FETCH knows",
                ));
            };
            match MessageView::parse(raw).section(section.as_ref()) {
                Some(octets) => octets,
                None => return Ok(None),
            }
        }
    };
    Ok(Some(match r.partial {
        None => octets,
        Some((origin, count)) => partial(&octets, origin, count.unwrap_or(u32::MAX)).to_vec(),
    }))
}

/// `HEADER`, `1.MIME`, ... as FETCH's `BODY[...]` reads it; `Some(None)` for the empty
/// section (the whole message).
pub(super) fn section(text: &str) -> Option<Option<Section<'static>>> {
    if text.contains(['\r', '\n', ']']) {
        return None;
    }
    let command = format!("a FETCH 1 BODY.PEEK[{text}]\r\n");
    let Ok((b"", parsed)) = CommandCodec::default().decode(command.as_bytes()) else {
        return None;
    };
    let CommandBody::Fetch {
        macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(items),
        ..
    } = parsed.body
    else {
        return None;
    };
    match items.into_iter().next()? {
        MessageDataItemName::BodyExt { section, .. } => {
            Some(section.map(|s| imap_codec::imap_types::ToStatic::to_static(&s)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_read_as_fetch_reads_them() {
        assert!(matches!(
            section("HEADER"),
            Some(Some(Section::Header(None)))
        ));
        assert!(matches!(section("1.MIME"), Some(Some(Section::Mime(_)))));
        assert!(matches!(section("text"), Some(Some(Section::Text(None)))));
        assert!(matches!(section(""), Some(None)));
        assert!(section("HEADER]").is_none());
        assert!(section("NOPE").is_none());
    }

    #[test]
    fn badurl_codes_cannot_close_the_bracket() {
        let code = Refusal::code("/INBOX/;UID=1]x");
        assert!(
            format!("{code:?}").contains("BADURL /INBOX/;UID=1x"),
            "{code:?}"
        );
    }
}
