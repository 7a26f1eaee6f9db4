//! SEARCH and UID SEARCH (RFC 3501 §6.4.4; MODSEQ from RFC 7162 §3.1.5), evaluated per
//! message by [`crate::search_eval`], answered with SEARCH, or with ESEARCH for `RETURN (...)`
//! (RFC 4731) and for every SEARCH once IMAP4rev2 is enabled (RFC 9051 §6.4.4).

use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroU64};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use imap_codec::imap_types::{
    core::{Charset, Tag, Vec1},
    flag::Flag,
    response::Data,
    search::SearchKey,
};

use super::{Outcome, store_error};
use crate::fetch_items::FetchFacts;
use crate::mailbox::flags_of;
use crate::proto::ext::{
    SearchRequest, SearchReturn,
    encode::{EsearchData, esearch as esearch_line},
};
use crate::search_charset::{bad_charset, criteria_to_utf8};
use crate::search_eval::{SearchMessage, SearchScope, matches};
use crate::{account::SignedIn, out::Out};

/// SEARCH (`uid` false: answers sequence numbers) or UID SEARCH.
pub async fn search(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    charset: Option<&Charset<'static>>,
    criteria: &Vec1<SearchKey<'static>>,
    uid: bool,
) -> Outcome {
    if s.enabled.imap4rev2 {
        // RFC 9051 §6.4.4: without RETURN, IMAP4rev2 answers ESEARCH with ALL.
        let request = SearchRequest {
            uid,
            options: SearchReturn::default().all_if_empty(),
            charset: charset.cloned(),
            criteria: criteria.clone(),
        };
        return esearch(s, out, tag, &request).await;
    }
    let Some(found) = matching(s, out, &tag, charset, criteria, uid).await else {
        return Outcome::Done;
    };
    let ids: Vec<NonZeroU32> = found.ids.into_iter().filter_map(NonZeroU32::new).collect();
    // RFC 7162 §3.1.5: with MODSEQ in the criteria, the highest MODSEQ of the matches.
    let modseq = if found.uses_modseq && !ids.is_empty() {
        NonZeroU64::new(found.highest_modseq)
    } else {
        None
    };
    out.data(Data::Search(ids, modseq));
    out.ok(tag, None, "SEARCH completed");
    Outcome::Done
}

/// `[UID] SEARCH RETURN (...)` (RFC 4731 §3.1): one ESEARCH response with what was asked;
/// SAVE keeps the result (RFC 5182 §2.1; as UIDs, so it survives expunges).
pub async fn esearch(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    request: &SearchRequest,
) -> Outcome {
    let uid = request.uid;
    let found = matching(
        s,
        out,
        &tag,
        request.charset.as_ref(),
        &request.criteria,
        uid,
    )
    .await;
    let Some(found) = found else {
        // RFC 5182 §2.1: a SEARCH that fails leaves an empty saved result.
        if request.options.save {
            s.account.search_result.clear();
        }
        return Outcome::Done;
    };
    let o = request.options;
    if o.save {
        s.account.search_result = if (o.min || o.max) && !(o.all || o.count) {
            // RFC 5182 §2.4: with only MIN and/or MAX, just those messages are kept.
            let (first, last) = (found.uids.first(), found.uids.last());
            let mut kept: Vec<u32> = [first.filter(|_| o.min), last.filter(|_| o.max)]
                .into_iter()
                .flatten()
                .copied()
                .collect();
            kept.dedup();
            kept
        } else {
            found.uids.clone()
        };
    }
    // RFC 5182 §2.1: SAVE alone returns no ESEARCH response; UPDATE alone returns one
    // with no result (RFC 5267 §4.2).
    if o.min || o.max || o.all || o.count || o.partial.is_some() || o.update {
        let ids = &found.ids;
        let data = EsearchData {
            tag: tag.as_ref().to_owned(),
            uid,
            min: ids.iter().copied().min().filter(|_| o.min),
            max: ids.iter().copied().max().filter(|_| o.max),
            all: o.all.then(|| ids.clone()),
            in_order: false,
            count: o
                .count
                .then(|| u32::try_from(ids.len()).unwrap_or(u32::MAX)),
            modseq: (found.uses_modseq && !ids.is_empty()).then(|| esearch_modseq(&found, o)),
            partial: o.partial.map(|range| (range, positions(ids, range))),
        };
        out.raw_line(esearch_line(&data));
    }
    if o.update {
        super::search_context::start(s, out, &tag, request, &found.uids);
    }
    out.ok(tag, None, "SEARCH completed");
    Outcome::Done
}

/// The numbers at 1-based positions `lo..=hi` of `ids` (RFC 5267 §4.4 PARTIAL).
pub(crate) fn positions(ids: &[u32], (lo, hi): (u32, u32)) -> Vec<u32> {
    let skip = lo.saturating_sub(1) as usize;
    let take = (hi - lo) as usize + 1;
    ids.iter().skip(skip).take(take).copied().collect()
}

/// The MODSEQ of an ESEARCH answer (RFC 4731 §3.2 as RFC 7162 §3.1.5 extends it): with
/// MIN or MAX alone, the mod-sequence of the message it returns; with MIN and MAX (and
/// neither ALL nor COUNT), the higher of those two; otherwise the highest of all matches.
fn esearch_modseq(found: &Found, o: SearchReturn) -> u64 {
    if (o.min || o.max) && !(o.all || o.count) {
        let first = found.modseqs.first().filter(|_| o.min);
        let last = found.modseqs.last().filter(|_| o.max);
        first.into_iter().chain(last).copied().max().unwrap_or(0)
    } else {
        found.highest_modseq
    }
}

/// What a search found: the numbers to report (UIDs or sequence numbers, ascending), the
/// UIDs, and the MODSEQ bookkeeping of RFC 7162 §3.1.5 (each match's, and the highest).
struct Found {
    ids: Vec<u32>,
    uids: Vec<u32>,
    modseqs: Vec<u64>,
    uses_modseq: bool,
    highest_modseq: u64,
}

impl Found {
    /// Nothing found yet; `uses_modseq` when the criteria mention MODSEQ.
    fn new(uses_modseq: bool) -> Self {
        Self {
            ids: Vec::new(),
            uids: Vec::new(),
            modseqs: Vec::new(),
            uses_modseq,
            highest_modseq: 0,
        }
    }

    /// Records a match, reported as `id` (its UID or sequence number).
    fn push(&mut self, id: u32, meta: &certmail_store::MessageMeta) {
        self.ids.push(id);
        self.uids.push(meta.uid);
        self.modseqs.push(meta.modseq);
        self.highest_modseq = self.highest_modseq.max(meta.modseq);
    }
}

/// The UIDs of the selected mailbox's messages matching `criteria`, ascending; `None` when
/// they cannot be read (the reason is logged): a live SEARCH context's new result.
pub(crate) async fn matching_uids(
    s: &mut SignedIn,
    charset: Option<&Charset<'static>>,
    criteria: &Vec1<SearchKey<'static>>,
) -> Option<Vec<u32>> {
    let mut scratch = Out::default();
    let tag = Tag::try_from("context").expect("a valid tag");
    let found = matching(s, &mut scratch, &tag, charset, criteria, true).await;
    if found.is_none() {
        tracing::warn!("imap search context could not be updated");
    }
    found.map(|f| f.uids)
}

/// Evaluates the criteria over the selected mailbox; `None` when the command was already
/// answered (a charset we cannot read, no mailbox, a store failure).
async fn matching(
    s: &mut SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    charset: Option<&Charset<'static>>,
    criteria: &Vec1<SearchKey<'static>>,
    uid: bool,
) -> Option<Found> {
    let tag = tag.clone();
    // RFC 3501 §6.4.4: strings in the client's charset; one we cannot read is BADCHARSET.
    let key = match criteria_to_utf8(criteria, charset) {
        Ok(key) => key,
        Err(e) => {
            out.no(tag, Some(bad_charset()), &e.to_string());
            return None;
        }
    };
    let uses_modseq = mentions_modseq(&key);
    if uses_modseq {
        // RFC 7162 §3.1.5: SEARCH MODSEQ enables CONDSTORE.
        s.enable_condstore(out).await;
    }
    let Some(selected) = &s.selected else {
        out.bad(tag, "No mailbox selected");
        return None;
    };
    let store = s.account.ctx.store.as_ref();
    let metas = match selected.messages(store, 1..=u32::MAX).await {
        Ok(metas) => metas,
        Err(e) => {
            store_error(out, tag, "SEARCH", &e);
            return None;
        }
    };
    let metas: HashMap<u32, certmail_store::MessageMeta> =
        metas.into_iter().map(|m| (m.uid, m)).collect();
    let listed = still_stored(selected, &metas);
    let mut found = Found::new(uses_modseq);
    let parser = crate::search_eval::parser_for(&key, &[]);
    let scanned = scan(s, &key, reads(&key), &parser, &listed, |seq, meta, _| {
        found.push(if uid { meta.uid } else { seq }, meta);
    })
    .await;
    if let Err(e) = scanned {
        store_error(out, tag, "SEARCH", &e);
        return None;
    }
    Some(found)
}

/// The selected mailbox's entries the store still holds (one expunged elsewhere and not
/// yet announced is left out), with their sequence numbers.
fn still_stored<'m>(
    selected: &crate::mailbox::Selected,
    metas: &'m HashMap<u32, certmail_store::MessageMeta>,
) -> Vec<(u32, &'m certmail_store::MessageMeta)> {
    selected
        .entries()
        .iter()
        .enumerate()
        .filter_map(|(i, entry)| {
            let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            metas.get(&entry.uid).map(|meta| (seq, meta))
        })
        .collect()
}

/// Evaluates `key` over `listed` (sequence number and metadata of messages of the selected
/// mailbox), reading what `reads` says a chunk at a time and parsing it with `parser`, and
/// calls `hit` with each message that matches (and its parsed header or message).
pub(crate) async fn scan(
    s: &SignedIn,
    key: &SearchKey<'_>,
    reads: Reads,
    parser: &mail_parser::MessageParser,
    listed: &[(u32, &certmail_store::MessageMeta)],
    mut hit: impl FnMut(u32, &certmail_store::MessageMeta, Option<&mail_parser::Message<'_>>),
) -> Result<(), certmail_store::StoreError> {
    let Some(selected) = &s.selected else {
        return Ok(());
    };
    let scope = SearchScope {
        max_seq: selected.len(),
        max_uid: selected.max_uid(),
    };
    let (store, account) = (s.account.ctx.store.as_ref(), s.selected_owner());
    let narrowed = narrow(store, account, key, reads, listed).await?;
    let listed = narrowed.as_deref().unwrap_or(listed);
    for chunk in listed.chunks(reads.chunk()) {
        let blobs: Vec<_> = chunk.iter().map(|(_, meta)| meta.blob).collect();
        let contents = match read_contents(store, &s.account.ctx.headers, account, &blobs, reads)
            .await
        {
            Ok(contents) => contents.into_iter().map(Some).collect(),
            // Expunged by another session since the listing: read the rest one by one.
            Err(certmail_store::StoreError::MessageNotFound) => {
                let mut one_by_one = Vec::with_capacity(blobs.len());
                for blob in blobs.chunks(1) {
                    let one = read_contents(store, &s.account.ctx.headers, account, blob, reads);
                    one_by_one.push(match one.await {
                        Ok(mut c) => c.pop(),
                        Err(certmail_store::StoreError::MessageNotFound) => None,
                        Err(e) => return Err(e),
                    });
                }
                one_by_one
            }
            Err(e) => return Err(e),
        };
        for (&(seq, meta), raw) in chunk.iter().zip(contents) {
            // RFC 2180 §4.1: a message expunged meanwhile is left out.
            let Some(raw) = raw else { continue };
            let parsed = (reads != Reads::Nothing)
                .then(|| parser.parse(&raw[..]))
                .flatten();
            let message_flags: Vec<Flag<'static>> = flags_of(&meta.flags);
            let message = SearchMessage {
                seq,
                facts: facts_of(meta, &message_flags, selected.is_recent(meta.uid)),
                raw: &raw,
                parsed: parsed.as_ref(),
            };
            if matches(key, &message, scope) {
                hit(seq, meta, parsed.as_ref());
            }
        }
    }
    Ok(())
}

/// The messages of `listed` that the store's full-text index leaves as candidates for the
/// BODY/TEXT strings `key` requires; `None` when it cannot narrow (nothing to read of the
/// text, no string as long as an n-gram): then every message is read. Each candidate is
/// still evaluated against the message itself.
async fn narrow<'m>(
    store: &dyn certmail_store::Store,
    account: &str,
    key: &SearchKey<'_>,
    reads: Reads,
    listed: &[(u32, &'m certmail_store::MessageMeta)],
) -> Result<Option<Vec<(u32, &'m certmail_store::MessageMeta)>>, certmail_store::StoreError> {
    let needles = crate::search_eval::required_needles(key);
    if reads != Reads::Message || needles.is_empty() {
        return Ok(None);
    }
    let blobs = listed.iter().map(|(_, meta)| meta.blob).collect();
    let Some(candidates) = store.search_candidates(account, blobs, needles).await? else {
        return Ok(None);
    };
    let kept = listed
        .iter()
        .zip(candidates)
        .filter_map(|(entry, candidate)| candidate.then_some(*entry))
        .collect();
    Ok(Some(kept))
}

/// What the store knows about a message (`meta`, its `flags` as IMAP flags, whether it is
/// \Recent for this session), for FETCH and SEARCH.
pub(crate) fn facts_of<'a>(
    meta: &certmail_store::MessageMeta,
    flags: &'a [Flag<'static>],
    recent: bool,
) -> FetchFacts<'a> {
    FetchFacts {
        uid: meta.uid,
        flags,
        recent,
        internal_date: internal_date(meta.internal_date),
        size: u32::try_from(meta.size).unwrap_or(u32::MAX),
        modseq: meta.modseq,
    }
}

/// INTERNALDATE as a UTC date-time.
pub fn internal_date(unix: i64) -> DateTime<FixedOffset> {
    Utc.timestamp_opt(unix, 0)
        .single()
        .unwrap_or_default()
        .fixed_offset()
}

fn mentions_modseq(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::ModSequence { .. } => true,
        SearchKey::And(keys) => keys.as_ref().iter().any(mentions_modseq),
        SearchKey::Or(a, b) => mentions_modseq(a) || mentions_modseq(b),
        SearchKey::Not(k) => mentions_modseq(k),
        _ => false,
    }
}

/// How much of each message evaluating a search key reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reads {
    /// Flags, dates, sizes, UIDs: the store's metadata only.
    Nothing,
    /// Header fields (FROM, SUBJECT, HEADER, SENT*): the cached header block.
    Header,
    /// The text (BODY, TEXT): the whole message.
    Message,
}

impl Reads {
    /// Messages read per batch: header blocks are small and batched, whole messages are
    /// read one at a time so a search never holds more than one in memory.
    pub fn chunk(self) -> usize {
        match self {
            Reads::Nothing => usize::MAX,
            Reads::Header => 256,
            Reads::Message => 1,
        }
    }
}

/// What evaluating `key` reads of each message.
pub fn reads(key: &SearchKey<'_>) -> Reads {
    use SearchKey as K;
    match key {
        K::And(keys) => keys
            .as_ref()
            .iter()
            .map(reads)
            .max()
            .unwrap_or(Reads::Nothing),
        K::Or(a, b) => reads(a).max(reads(b)),
        K::Not(k) => reads(k),
        K::All
        | K::Answered
        | K::Deleted
        | K::Draft
        | K::Flagged
        | K::New
        | K::Old
        | K::Recent
        | K::Seen
        | K::Unanswered
        | K::Undeleted
        | K::Undraft
        | K::Unflagged
        | K::Unseen
        | K::Keyword(_)
        | K::Unkeyword(_)
        | K::Before(_)
        | K::On(_)
        | K::Since(_)
        | K::Larger(_)
        | K::Smaller(_)
        | K::Uid(_)
        | K::SequenceSet(_)
        | K::ModSequence { .. } => Reads::Nothing,
        K::From(_)
        | K::To(_)
        | K::Cc(_)
        | K::Bcc(_)
        | K::Subject(_)
        | K::Header(..)
        | K::SentBefore(_)
        | K::SentOn(_)
        | K::SentSince(_) => Reads::Header,
        K::Body(_) | K::Text(_) => Reads::Message,
    }
}

/// What `reads` needs of each of `blobs`, in order: nothing (empty), the header block, or
/// the whole message.
pub(crate) async fn read_contents(
    store: &dyn certmail_store::Store,
    memory: &crate::message::cache::HeaderCache,
    account: &str,
    blobs: &[certmail_store::BlobId],
    reads: Reads,
) -> Result<Vec<Vec<u8>>, certmail_store::StoreError> {
    match reads {
        Reads::Nothing => Ok(vec![Vec::new(); blobs.len()]),
        Reads::Header => crate::message::cache::header_blocks(store, memory, account, blobs).await,
        Reads::Message => {
            let mut bodies = Vec::with_capacity(blobs.len());
            for blob in blobs {
                bodies.push(store.message_body(account, blob).await?);
            }
            Ok(bodies)
        }
    }
}
