//! Live SEARCH results (RFC 5267 §4, CONTEXT=SEARCH): `SEARCH RETURN (UPDATE ...)` keeps a
//! context, searched again after every command and every change heard while idling, and
//! the difference told as `ESEARCH ... ADDTO` / `REMOVEFROM` until `CANCELUPDATE` or
//! until another mailbox is selected. At most `[imap] max_search_contexts` per
//! connection (each costs a search per command); one more is answered `NO [NOUPDATE]`.
//!
//! REMOVEFROM goes before any EXPUNGE of the same response batch and names messages by
//! the sequence numbers they had when the client last heard of them; ADDTO goes after
//! EXISTS and names them as they are now (RFC 5267 §4.3).

use std::collections::{BTreeSet, HashMap};

use certmail_store::StoreError;
use imap_codec::imap_types::{
    core::{Charset, Tag, Vec1},
    response::{Code, CodeOther, Data, Response},
    search::SearchKey,
};

use crate::proto::ext::{
    SearchRequest, SearchReturn,
    encode::{EsearchData, context_update, esearch},
};
use crate::{account::SignedIn, out::Out};

/// One live context.
#[derive(Debug, Clone)]
pub struct SearchContext {
    /// The SEARCH command's tag (the ESEARCH correlator).
    tag: String,
    /// UID SEARCH: updates name UIDs.
    uid: bool,
    /// What was asked besides UPDATE (MIN, MAX, COUNT are sent again when they change).
    options: SearchReturn,
    charset: Option<Charset<'static>>,
    criteria: Vec1<SearchKey<'static>>,
    /// The result as last told: each UID with the sequence number it had then.
    told: Vec<(u32, u32)>,
}

/// Starts a context for `request` whose first result is `uids`; past the limit, `* NO
/// [NOUPDATE "tag"]` (the search itself has been answered).
pub fn start(
    s: &mut SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    request: &SearchRequest,
    uids: &[u32],
) {
    let max = s.account.ctx.settings.max_search_contexts;
    let tag = tag.as_ref().to_owned();
    if s.account.contexts.len() >= max {
        let code = format!("NOUPDATE \"{tag}\"");
        let text = format!(
            "This connection already keeps {max} searches up to date ([imap] max_search_contexts); \
             cancel one with CANCELUPDATE first"
        );
        out.status(crate::proto::response::status(
            imap_codec::imap_types::response::StatusKind::No,
            None,
            Some(Code::Other(CodeOther::unvalidated(code.into_bytes()))),
            &text,
        ));
        return;
    }
    let told = with_seqs(s, uids);
    s.account.contexts.retain(|c| c.tag != tag);
    s.account.contexts.push(SearchContext {
        tag,
        uid: request.uid,
        options: request.options,
        charset: request.charset.clone(),
        criteria: request.criteria.clone(),
        told,
    });
}

/// `CANCELUPDATE "tag"...` (RFC 5267 §4.2): those contexts are dropped; a tag naming none
/// is ignored (the client may race an update it no longer wants).
pub fn cancel(s: &mut SignedIn, tags: &[String]) {
    s.account.contexts.retain(|c| !tags.contains(&c.tag));
}

/// The selected mailbox's updates ([`SignedIn::sync`]), then each context's changes.
pub async fn sync(s: &mut SignedIn, out: &mut Out, allow_expunge: bool) -> Result<(), StoreError> {
    let at = out.responses.len();
    s.sync(out, allow_expunge).await?;
    if s.account.contexts.is_empty() || s.selected.is_none() {
        return Ok(());
    }
    // Before the first EXPUNGE this command or this batch told, where sequence numbers
    // still mean what they meant when the context was last told.
    let removals_at = out
        .responses
        .iter()
        .position(|r| matches!(r, Response::Data(Data::Expunge(_) | Data::Vanished { .. })))
        .unwrap_or(at)
        .min(at);
    let contexts = std::mem::take(&mut s.account.contexts);
    let mut kept = Vec::with_capacity(contexts.len());
    let mut removals = Vec::new();
    let mut additions = Vec::new();
    for mut context in contexts {
        let charset = context.charset.clone();
        if let Some(uids) =
            super::search::matching_uids(s, charset.as_ref(), &context.criteria).await
        {
            let told = diff(s, &context, &uids);
            removals.extend(told.removals);
            additions.extend(told.additions);
            context.told = with_seqs(s, &uids);
        }
        kept.push(context);
    }
    s.account.contexts = kept;
    for line in removals {
        out.raw.insert(
            out.raw.partition_point(|(i, _)| *i <= removals_at),
            (removals_at, line),
        );
    }
    for line in additions {
        out.raw_line(line);
    }
    Ok(())
}

/// The lines that tell a context's change: REMOVEFROM (before any EXPUNGE), then ADDTO
/// and the new MIN/MAX/COUNT where asked (at the end).
#[derive(Debug, Default)]
struct Told {
    removals: Vec<Vec<u8>>,
    additions: Vec<Vec<u8>>,
}

/// The lines from `context.told` to `uids`.
fn diff(s: &SignedIn, context: &SearchContext, uids: &[u32]) -> Told {
    let new: BTreeSet<u32> = uids.iter().copied().collect();
    let old: HashMap<u32, u32> = context.told.iter().copied().collect();
    let number = |uid: u32, seq: Option<u32>| if context.uid { Some(uid) } else { seq };
    let removed: Vec<u32> = context
        .told
        .iter()
        .filter(|(uid, _)| !new.contains(uid))
        .filter_map(|&(uid, seq)| number(uid, Some(seq)))
        .collect();
    let now = with_seqs(s, uids);
    let added: Vec<u32> = now
        .iter()
        .filter(|(uid, _)| !old.contains_key(uid))
        .filter_map(|&(uid, seq)| number(uid, Some(seq)))
        .collect();
    let line = |kind, numbers: &[u32]| match numbers.is_empty() {
        true => Vec::new(),
        false => vec![context_update(&context.tag, context.uid, kind, numbers)],
    };
    let o = context.options;
    let mut additions = line("ADDTO", &added);
    if (o.min || o.max || o.count) && (!removed.is_empty() || !added.is_empty()) {
        let ids: Vec<u32> = now
            .iter()
            .filter_map(|&(uid, seq)| number(uid, Some(seq)))
            .collect();
        additions.push(esearch(&EsearchData {
            tag: context.tag.clone(),
            uid: context.uid,
            min: ids.first().copied().filter(|_| o.min),
            max: ids.last().copied().filter(|_| o.max),
            count: o
                .count
                .then(|| u32::try_from(ids.len()).unwrap_or(u32::MAX)),
            ..EsearchData::default()
        }));
    }
    Told {
        removals: line("REMOVEFROM", &removed),
        additions,
    }
}

/// Each UID with its sequence number in the client's view now (those it does not know
/// yet are left out).
fn with_seqs(s: &SignedIn, uids: &[u32]) -> Vec<(u32, u32)> {
    let Some(selected) = &s.selected else {
        return Vec::new();
    };
    uids.iter()
        .filter_map(|&uid| selected.seq_of(uid).map(|seq| (uid, seq)))
        .collect()
}
