//! SEARCH and UID SEARCH (RFC 3501 §6.4.4; MODSEQ from RFC 7162 §3.1.5), evaluated per
//! message by [`crate::search`].

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
use crate::mailbox::flags;
use crate::search::{SearchMessage, SearchScope, matches};
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
    if let Some(charset) = charset {
        let name = charset.as_ref().to_ascii_uppercase();
        if name != "UTF-8" && name != "US-ASCII" {
            // RFC 3501 §6.4.4: an unsupported charset is NO [BADCHARSET].
            let allowed = vec![
                Charset::try_from("UTF-8").expect("valid charset"),
                Charset::try_from("US-ASCII").expect("valid charset"),
            ];
            out.no(
                tag,
                Some(Code::BadCharset { allowed }),
                "Unsupported charset",
            );
            return Outcome::Done;
        }
    }
    let key = match criteria.as_ref() {
        [single] => single.clone(),
        _ => SearchKey::And(criteria.clone()),
    };
    let uses_modseq = mentions_modseq(&key);
    if uses_modseq {
        // RFC 7162 §3.1.5: SEARCH MODSEQ enables CONDSTORE.
        s.condstore = true;
    }
    let Some(selected) = &s.selected else {
        out.bad(tag, "No mailbox selected");
        return Outcome::Bad;
    };
    let store = s.ctx.store.as_ref();
    let account = s.account_id();
    let metas = match store.messages(account, &selected.name, 1..=u32::MAX).await {
        Ok(metas) => metas,
        Err(e) => {
            store_error(out, tag, "SEARCH", &e);
            return Outcome::Done;
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
                    return Outcome::Done;
                }
            }
        } else {
            Vec::new()
        };
        let parsed = body_needed
            .then(|| mail_parser::MessageParser::default().parse(&raw[..]))
            .flatten();
        let message_flags: Vec<Flag<'static>> = meta
            .flags
            .iter()
            .filter_map(|f| flags::from_store(f))
            .collect();
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
            highest = highest.max(meta.modseq);
        }
    }
    let ids: Vec<NonZeroU32> = found.into_iter().filter_map(NonZeroU32::new).collect();
    // RFC 7162 §3.1.5: with MODSEQ in the criteria, the highest MODSEQ of the matches.
    let modseq = if uses_modseq && !ids.is_empty() {
        NonZeroU64::new(highest)
    } else {
        None
    };
    out.data(Data::Search(ids, modseq));
    out.ok(tag, None, "SEARCH completed");
    Outcome::Done
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
fn needs_body(key: &SearchKey<'_>) -> bool {
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
