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

use crate::proto::ext::{
    SortRequest,
    encode::{EsearchData, esearch},
};
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
    /// RFC 5957 DISPLAYFROM: the first From address's decoded display name, or its
    /// addr-spec when it has none (a group's name when the list opens with a group), under
    /// i;unicode-casemap ([`unicode_casemap`]).
    pub display_from: String,
    /// See `display_from`, of To (DISPLAYTO).
    pub display_to: String,
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
        c.display_from = display_name(m.from());
        c.display_to = display_name(m.to());
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

/// RFC 5957 §2: what a client shows of the first address of a From or To field: its
/// display name (RFC 2047 decoded) when it has a non-empty one, else its addr-spec; a
/// group's display name when the list opens with a group; empty when there is no address.
fn display_name(field: Option<&mail_parser::Address<'_>>) -> String {
    let shown = match field {
        Some(mail_parser::Address::Group(groups)) => groups.first().map(|g| match &g.name {
            // mail-parser puts a list of plain addresses that follows a group in an
            // unnamed group of its own.
            Some(name) => name.to_string(),
            None => g.addresses.first().map(addr_display).unwrap_or_default(),
        }),
        Some(mail_parser::Address::List(list)) => list.first().map(addr_display),
        None => None,
    };
    unicode_casemap(&shown.unwrap_or_default())
}

fn addr_display(addr: &mail_parser::Addr<'_>) -> String {
    match (&addr.name, &addr.address) {
        (Some(name), _) if !name.trim().is_empty() => name.trim().to_string(),
        (_, Some(address)) => address.to_string(),
        _ => String::new(),
    }
}

/// The i;unicode-casemap comparator's key (RFC 5051 §2): each character title-cased
/// (upper case, which is the same for all but a few digraphs), then decomposed (NFKD).
pub fn unicode_casemap(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.to_uppercase().nfkd().collect()
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
    let Ok(ids) = sorted(s, out, &tag, criteria, charset, search, uid).await else {
        return Outcome::Done;
    };
    let ids = ids.into_iter().filter_map(NonZeroU32::new).collect();
    out.data(Data::Sort(ids, None));
    out.ok(tag, None, "SORT completed");
    Outcome::Done
}

/// `[UID] SORT RETURN (...)` (RFC 5267 §3.1 ESORT): one ESEARCH response, MIN and MAX
/// being the first and last message in sort order and ALL the matches in sort order.
pub async fn esort(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    request: &SortRequest,
) -> Outcome {
    let (criteria, charset) = (&request.criteria, &request.charset);
    let sorted = sorted(
        s,
        out,
        &tag,
        criteria,
        charset,
        &request.search,
        request.uid,
    )
    .await;
    let Ok(ids) = sorted else {
        return Outcome::Done;
    };
    let o = request.options;
    let data = EsearchData {
        tag: tag.as_ref().to_owned(),
        uid: request.uid,
        min: ids.first().copied().filter(|_| o.min),
        max: ids.last().copied().filter(|_| o.max),
        all: o.all.then(|| ids.clone()),
        in_order: true,
        count: o
            .count
            .then(|| u32::try_from(ids.len()).unwrap_or(u32::MAX)),
        modseq: None,
        partial: o
            .partial
            .map(|range| (range, super::search::positions(&ids, range))),
    };
    out.raw_line(esearch(&data));
    if o.update {
        let uids = match request.uid {
            true => ids,
            false => uids_of(s, &ids),
        };
        super::search_context::start_sort(s, out, &tag, request, &uids);
    }
    out.ok(tag, None, "SORT completed");
    Outcome::Done
}

/// The UIDs of the selected mailbox's messages with sequence numbers `seqs`, in order.
fn uids_of(s: &SignedIn, seqs: &[u32]) -> Vec<u32> {
    let Some(selected) = &s.selected else {
        return Vec::new();
    };
    let entries = selected.entries();
    seqs.iter()
        .filter_map(|&seq| entries.get(seq.checked_sub(1)? as usize).map(|e| e.uid))
        .collect()
}

/// The UIDs of the messages matching `search` in the order of `criteria`; `None` when they
/// cannot be read (the reason is logged): a live SORT context's new result.
pub(crate) async fn sorted_uids(
    s: &mut SignedIn,
    criteria: &Vec1<SortCriterion>,
    charset: &Charset<'static>,
    search: &Vec1<SearchKey<'static>>,
) -> Option<Vec<u32>> {
    let mut scratch = Out::default();
    let tag = Tag::try_from("context").expect("a valid tag");
    let found = sorted(s, &mut scratch, &tag, criteria, charset, search, true).await;
    if found.is_err() {
        tracing::warn!("imap sort context could not be updated");
    }
    found.ok()
}

/// The sequence numbers (UIDs where `uid`) of the messages matching `search`, in the
/// order of `criteria`. `Err` when the command is already answered.
async fn sorted(
    s: &mut SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    criteria: &Vec1<SortCriterion>,
    charset: &Charset<'static>,
    search: &Vec1<SearchKey<'static>>,
    uid: bool,
) -> Result<Vec<u32>, Outcome> {
    let headers = sort_reads_headers(criteria.as_ref());
    let mut found = candidates(s, out, tag, charset, search, "SORT", headers).await?;
    sort_candidates(&mut found, criteria.as_ref());
    Ok(found
        .iter()
        .map(|c| if uid { c.uid } else { c.seq })
        .collect())
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
        SortKey::DisplayFrom => a.display_from.cmp(&b.display_from),
        SortKey::DisplayTo => a.display_to.cmp(&b.display_to),
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

    fn sorted_by(key_: SortKey, reverse: bool, headers: &[&str]) -> Vec<u32> {
        let parser = mail_parser::MessageParser::default();
        let mut found: Vec<Candidate> = headers
            .iter()
            .zip(1..)
            .map(|(header, seq)| {
                let raw = format!("{header}\r\nSubject: x\r\n\r\nbody\r\n");
                let parsed = parser.parse(raw.as_bytes());
                Candidate::of(seq, seq, 0, 0, parsed.as_ref())
            })
            .collect();
        sort_candidates(&mut found, &[key(key_, reverse)]);
        found.iter().map(|c| c.seq).collect()
    }

    #[test]
    fn displayfrom_sorts_by_what_a_client_shows() {
        // RFC 5957 §2: the decoded display name, else the addr-spec; i;unicode-casemap.
        let from = [
            "From: 홍길동 <hong@example.kr>",
            "From: kim@example.kr",
            "From: =?UTF-8?B?6rmA7LKg7IiY?= <chulsoo@example.kr>",
            "From: \"Lee Younghee\" <zz@example.kr>",
            "From: alpha@example.kr",
            "To: nobody@example.kr",
        ];
        // "", ALPHA@…, KIM@…, LEE YOUNGHEE, 김철수 (U+AE40), 홍길동 (U+D64D).
        assert_eq!(
            sorted_by(SortKey::DisplayFrom, false, &from),
            [6, 5, 2, 4, 3, 1]
        );
        assert_eq!(
            sorted_by(SortKey::DisplayFrom, true, &from),
            [1, 3, 4, 2, 5, 6]
        );
    }

    #[test]
    fn displayto_takes_a_group_by_its_name() {
        let to = [
            "To: \"Park Minsu\" <a@example.kr>",
            "To: zeta: x@example.kr, y@example.kr;",
            "To: Bora <b@example.kr>",
            "To: empty:;",
        ];
        assert_eq!(sorted_by(SortKey::DisplayTo, false, &to), [3, 4, 1, 2]);
        // FROM compares the addr-mailbox, which orders these differently.
        assert_ne!(sorted_by(SortKey::To, false, &to), [3, 4, 1, 2]);
    }

    #[test]
    fn unicode_casemap_ignores_case_and_compatibility_forms() {
        assert_eq!(unicode_casemap("Lee"), unicode_casemap("LEE"));
        assert_eq!(unicode_casemap("ｆｕｌｌ"), unicode_casemap("FULL"));
    }
}
