//! SORT and UID SORT (RFC 5256 §3): the messages SEARCH would find, in the order of the
//! sort criteria (ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, each optionally REVERSE),
//! ties broken by sequence number. Also the per-message facts THREAD works from
//! ([`Candidate`], [`candidates`]).

use std::cmp::Ordering;
use std::num::NonZeroU32;

use imap_codec::imap_types::{
    core::{Charset, Tag, Vec1},
    extensions::sort::{SortCriterion, SortKey},
    response::Data,
    search::SearchKey,
};
use mail_parser::{HeaderName, Message};

use super::search::{Reads, scan};
use super::{Outcome, store_error};
use crate::message::address::{AddressItem, parse_address_list};
use crate::message::base_subject::base_subject;

use crate::search_charset::{bad_charset, criteria_to_utf8};
use crate::{account::SignedIn, out::Out};

/// What SORT and THREAD compare of one message that matched the search criteria.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidate {
    /// Sequence number.
    pub seq: u32,
    /// UID.
    pub uid: u32,
    /// INTERNALDATE, unix seconds.
    pub arrival: i64,
    /// The Date header in UTC, unix seconds; INTERNALDATE when missing (RFC 5256 §3 DATE).
    pub date: i64,
    /// RFC822.SIZE.
    pub size: u64,
    /// Base subject (RFC 5256 §2.1), decoded, ASCII letters upper-cased: i;ascii-casemap
    /// (RFC 4790 §9.2.1) maps a-z to A-Z, so `_` and `[` sort after the letters.
    pub subject: String,
    /// Whether the subject marked a reply or forward (THREAD REFERENCES step 5).
    pub reply: bool,
    /// The addr-mailbox of the first address of From, To and Cc as ENVELOPE shows it (a
    /// group's name when the list opens with a group), upper-cased (i;ascii-casemap).
    pub from: String,
    /// See `from`.
    pub to: String,
    /// See `from`.
    pub cc: String,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// References, or else In-Reply-To, without angle brackets (THREAD REFERENCES).
    pub references: Vec<String>,
}

impl Candidate {
    /// The facts of a parsed message (`None`: unparsable, only store facts are used).
    pub fn of(seq: u32, uid: u32, arrival: i64, size: u64, parsed: Option<&Message<'_>>) -> Self {
        let mut c = Candidate {
            seq,
            uid,
            arrival,
            date: arrival,
            size,
            ..Candidate::default()
        };
        let Some(m) = parsed else { return c };
        if let Some(date) = m.date() {
            c.date = date.to_timestamp();
        }
        let (subject, reply) = base_subject(m.subject().unwrap_or(""));
        c.subject = subject.to_ascii_uppercase();
        c.reply = reply;
        c.from = first_mailbox(m.header_raw(HeaderName::From));
        c.to = first_mailbox(m.header_raw(HeaderName::To));
        c.cc = first_mailbox(m.header_raw(HeaderName::Cc));
        c.message_id = m.message_id().map(str::to_string);
        let ids = |v: &mail_parser::HeaderValue<'_>| -> Vec<String> {
            v.as_text_list()
                .map(|l| l.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default()
        };
        c.references = ids(m.references());
        if c.references.is_empty() {
            c.references = ids(m.in_reply_to()).into_iter().take(1).collect();
        }
        c
    }
}

/// RFC 5256 §3 (CC, FROM, TO): the [IMAP] addr-mailbox of the first address of the raw
/// header value. It is the first address of the ENVELOPE list, so when the list opens with
/// a group it is the group's name (RFC 3501 §7.4.2 puts it in the mailbox field of the
/// group start), not the group's first member. Compared under i;ascii-casemap (upper case).
fn first_mailbox(raw: Option<&str>) -> String {
    let first = raw.and_then(|raw| parse_address_list(raw.as_bytes()).into_iter().next());
    let mailbox = match first {
        Some(AddressItem::Mailbox { mailbox, .. }) => mailbox,
        Some(AddressItem::GroupStart(name)) => name,
        Some(AddressItem::GroupEnd) | None => Vec::new(),
    };
    String::from_utf8_lossy(&mailbox).to_ascii_uppercase()
}

/// The selected mailbox's messages matching `criteria` (strings in `charset`), in sequence
/// order. A message's content is read only when `headers` asks for the header facts of
/// [`Candidate`] or the criteria look inside messages; otherwise only the store's metadata
/// (arrival, size) is filled in. `Err` when the command is already answered (BADCHARSET,
/// a store failure).
#[allow(clippy::too_many_arguments)]
pub async fn candidates(
    s: &SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    charset: &Charset<'static>,
    criteria: &Vec1<SearchKey<'static>>,
    command: &str,
    headers: bool,
) -> Result<Vec<Candidate>, Outcome> {
    // RFC 5256 §3: the charset is required; one we cannot read is BADCHARSET.
    let key = criteria_to_utf8(criteria, Some(charset)).map_err(|e| {
        out.no(tag.clone(), Some(bad_charset()), &e.to_string());
        Outcome::Done
    })?;
    let Some(selected) = &s.selected else {
        out.bad(tag.clone(), "No mailbox selected");
        return Err(Outcome::Bad);
    };
    let store = s.account.ctx.store.as_ref();
    let failed = |out: &mut Out, e: certmail_store::StoreError| {
        store_error(out, tag.clone(), command, &e);
        Outcome::Done
    };
    let metas = match selected.messages(store, 1..=u32::MAX).await {
        Ok(metas) => metas,
        Err(e) => return Err(failed(out, e)),
    };
    // ARRIVAL and SIZE are store metadata: a SORT by them over flags, dates and sizes
    // reads no message (as SEARCH does for such keys); other keys read the cached header.
    let header_reads = if headers {
        Reads::Header
    } else {
        Reads::Nothing
    };
    let reads = header_reads.max(super::search::reads(&key));
    let listed: Vec<(u32, &certmail_store::MessageMeta)> = metas
        .iter()
        // One that arrived since the client last heard is not in its view yet.
        .filter_map(|meta| selected.seq_of(meta.uid).map(|seq| (seq, meta)))
        .collect();
    // The fields a Candidate reads (see `Candidate::of`).
    let parser = crate::search_eval::parser_for(
        &key,
        &[
            HeaderName::Date,
            HeaderName::Subject,
            HeaderName::From,
            HeaderName::To,
            HeaderName::Cc,
            HeaderName::MessageId,
            HeaderName::References,
            HeaderName::InReplyTo,
        ],
    );
    let mut found = Vec::new();
    let scanned = scan(s, &key, reads, &parser, &listed, |seq, meta, parsed| {
        let (arrival, size) = (meta.internal_date, meta.size);
        found.push(Candidate::of(seq, meta.uid, arrival, size, parsed));
    })
    .await;
    if let Err(e) = scanned {
        return Err(failed(out, e));
    }
    Ok(found)
}

/// SORT (`uid` false: answers sequence numbers) or UID SORT.
pub async fn sort(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    criteria: &Vec1<SortCriterion>,
    charset: &Charset<'static>,
    search: &Vec1<SearchKey<'static>>,
    uid: bool,
) -> Outcome {
    if criteria
        .as_ref()
        .iter()
        .any(|c| matches!(c.key, SortKey::DisplayFrom | SortKey::DisplayTo))
    {
        // RFC 5957 SORT=DISPLAY is not advertised.
        out.bad(tag, "DISPLAYFROM and DISPLAYTO are not supported");
        return Outcome::Bad;
    }
    let mut found = match candidates(
        s,
        out,
        &tag,
        charset,
        search,
        "SORT",
        sort_reads_headers(criteria.as_ref()),
    )
    .await
    {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    sort_candidates(&mut found, criteria.as_ref());
    let ids = found
        .iter()
        .filter_map(|c| NonZeroU32::new(if uid { c.uid } else { c.seq }))
        .collect();
    out.data(Data::Sort(ids, None));
    out.ok(tag, None, "SORT completed");
    Outcome::Done
}

/// Whether SORT by `criteria` compares anything from the message's headers (all keys but
/// ARRIVAL and SIZE, RFC 5256 §3).
pub fn sort_reads_headers(criteria: &[SortCriterion]) -> bool {
    criteria
        .iter()
        .any(|c| !matches!(c.key, SortKey::Arrival | SortKey::Size))
}

/// Orders `found` by `criteria`, then by sequence number (RFC 5256 §3).
pub fn sort_candidates(found: &mut [Candidate], criteria: &[SortCriterion]) {
    found.sort_by(|a, b| {
        criteria
            .iter()
            .map(|c| {
                let order = compare(a, b, &c.key);
                if c.reverse { order.reverse() } else { order }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.seq.cmp(&b.seq))
    });
}

fn compare(a: &Candidate, b: &Candidate, key: &SortKey) -> Ordering {
    match key {
        SortKey::Arrival => a.arrival.cmp(&b.arrival),
        SortKey::Date => a.date.cmp(&b.date),
        SortKey::Size => a.size.cmp(&b.size),
        SortKey::Subject => a.subject.cmp(&b.subject),
        SortKey::From => a.from.cmp(&b.from),
        SortKey::To => a.to.cmp(&b.to),
        SortKey::Cc => a.cc.cmp(&b.cc),
        SortKey::DisplayFrom | SortKey::DisplayTo => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: SortKey, reverse: bool) -> SortCriterion {
        SortCriterion { reverse, key }
    }

    #[test]
    fn only_header_keys_read_messages() {
        let metadata = [key(SortKey::Arrival, false), key(SortKey::Size, true)];
        assert!(!sort_reads_headers(&metadata));
        for header in [SortKey::Date, SortKey::Subject, SortKey::From, SortKey::Cc] {
            assert!(sort_reads_headers(&[
                key(SortKey::Size, false),
                key(header, true)
            ]));
        }
    }
}
