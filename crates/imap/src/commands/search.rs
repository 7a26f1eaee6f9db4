//! SEARCH and UID SEARCH (RFC 3501 §6.4.4; MODSEQ from RFC 7162 §3.1.5), evaluated per
//! message by [`crate::search`], answered with SEARCH, or with ESEARCH for `RETURN (...)`
//! (RFC 4731) and for every SEARCH once IMAP4rev2 is enabled (RFC 9051 §6.4.4).

use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroU64};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use imap_codec::imap_types::{
    core::{Charset, Tag, Vec1},
    flag::Flag,
    response::{Code, Data},
    search::SearchKey,
};

use super::{Outcome, store_error};
use crate::mailbox::flags_of;
use crate::proto::ext::{
    SearchRequest, SearchReturn,
    encode::{EsearchData, esearch as esearch_line},
};
use crate::search::{SearchMessage, SearchScope, matches};
use crate::search_charset::{LISTED_CHARSETS, to_utf8};
use crate::server::{Out, SignedIn};

/// SEARCH (`uid` false: answers sequence numbers) or UID SEARCH.
pub async fn search(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    charset: Option<&Charset<'static>>,
    criteria: &Vec1<SearchKey<'static>>,
    uid: bool,
) -> Outcome {
    if s.imap4rev2 {
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
            s.search_result.clear();
        }
        return Outcome::Done;
    };
    let o = request.options;
    if o.save {
        s.search_result = if (o.min || o.max) && !(o.all || o.count) {
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
    // RFC 5182 §2.1: SAVE alone returns no ESEARCH response.
    if o.min || o.max || o.all || o.count {
        let ids = &found.ids;
        let data = EsearchData {
            tag: tag.as_ref().to_owned(),
            uid,
            min: ids.iter().copied().min().filter(|_| o.min),
            max: ids.iter().copied().max().filter(|_| o.max),
            all: o.all.then(|| ids.clone()),
            count: o
                .count
                .then(|| u32::try_from(ids.len()).unwrap_or(u32::MAX)),
            // RFC 7162 §3.1.5 (as the MODSEQ search-return-data of ESEARCH).
            modseq: (found.uses_modseq && !ids.is_empty()).then_some(found.highest_modseq),
        };
        out.raw_line(esearch_line(&data));
    }
    out.ok(tag, None, "SEARCH completed");
    Outcome::Done
}

/// What a search found: the numbers to report (UIDs or sequence numbers), the UIDs, and
/// the MODSEQ bookkeeping of RFC 7162 §3.1.5.
struct Found {
    ids: Vec<u32>,
    uids: Vec<u32>,
    uses_modseq: bool,
    highest_modseq: u64,
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
    let key = match criteria.as_ref() {
        [single] => single.clone(),
        _ => SearchKey::And(criteria.clone()),
    };
    // RFC 3501 §6.4.4: strings in the client's charset; one we cannot read is BADCHARSET.
    let key = match to_utf8(&key, charset) {
        Ok(key) => key,
        Err(e) => {
            let allowed = LISTED_CHARSETS
                .iter()
                .filter_map(|c| Charset::try_from(*c).ok())
                .collect();
            out.no(tag, Some(Code::BadCharset { allowed }), &e.to_string());
            return None;
        }
    };
    let uses_modseq = mentions_modseq(&key);
    if uses_modseq {
        // RFC 7162 §3.1.5: SEARCH MODSEQ enables CONDSTORE.
        s.condstore = true;
    }
    let Some(selected) = &s.selected else {
        out.bad(tag, "No mailbox selected");
        return None;
    };
    let store = s.ctx.store.as_ref();
    let account = s.account_id();
    let metas = match store.messages(account, &selected.name, 1..=u32::MAX).await {
        Ok(metas) => metas,
        Err(e) => {
            store_error(out, tag, "SEARCH", &e);
            return None;
        }
    };
    let metas: HashMap<u32, certmail_store::MessageMeta> =
        metas.into_iter().map(|m| (m.uid, m)).collect();
    let scope = SearchScope {
        max_seq: selected.len(),
        max_uid: selected.max_uid(),
    };
    let body_needed = needs_body(&key);
    let mut found = Vec::new();
    let mut uids = Vec::new();
    let mut highest = 0u64;
    for (i, entry) in selected.entries().iter().enumerate() {
        let Some(meta) = metas.get(&entry.uid) else {
            continue; // expunged elsewhere, not yet announced
        };
        let raw = if body_needed {
            match store.message_body(account, &meta.blob).await {
                Ok(raw) => raw,
                Err(e) => {
                    store_error(out, tag, "SEARCH", &e);
                    return None;
                }
            }
        } else {
            Vec::new()
        };
        let parsed = body_needed
            .then(|| mail_parser::MessageParser::default().parse(&raw[..]))
            .flatten();
        let message_flags: Vec<Flag<'static>> = flags_of(&meta.flags);
        let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let message = SearchMessage {
            seq,
            uid: entry.uid,
            flags: &message_flags,
            recent: selected.is_recent(entry.uid),
            internal_date: internal_date(meta.internal_date),
            size: u32::try_from(meta.size).unwrap_or(u32::MAX),
            modseq: meta.modseq,
            raw: &raw,
            parsed: parsed.as_ref(),
        };
        if matches(&key, &message, scope) {
            found.push(if uid { entry.uid } else { seq });
            uids.push(entry.uid);
            highest = highest.max(meta.modseq);
        }
    }
    Some(Found {
        ids: found,
        uids,
        uses_modseq,
        highest_modseq: highest,
    })
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

/// Whether evaluating `key` reads the message itself (headers, text, sent date).
pub(crate) fn needs_body(key: &SearchKey<'_>) -> bool {
    use SearchKey as K;
    match key {
        K::And(keys) => keys.as_ref().iter().any(needs_body),
        K::Or(a, b) => needs_body(a) || needs_body(b),
        K::Not(k) => needs_body(k),
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
        | K::ModSequence { .. } => false,
        _ => true,
    }
}
