//! Live SEARCH and SORT results (RFC 5267 §4, CONTEXT=SEARCH and CONTEXT=SORT): `SEARCH
//! RETURN (UPDATE ...)` or `SORT RETURN (UPDATE ...)` keeps a context, searched again after every command and every change heard while idling, and
//! the difference told as `ESEARCH ... ADDTO` / `REMOVEFROM` until `CANCELUPDATE` or
//! until another mailbox is selected. At most `[imap] max_search_contexts` per
//! connection (each costs a search per command); one more is answered `NO [NOUPDATE]`.
//!
//! REMOVEFROM goes before any EXPUNGE of the same response batch and names messages by
//! the sequence numbers they had when the client last heard of them; ADDTO goes after
//! EXISTS and names them as they are now (RFC 5267 §4.3). A SEARCH result has no order of
//! its own, so its updates carry position 0; a SORT context's carry each message's
//! position: removals from the highest position to the lowest (each position still valid
//! when it is applied), then additions from the lowest to the highest, each at its place in
//! the new order.

use std::collections::{BTreeSet, HashMap};

use certmail_store::StoreError;
use imap_codec::imap_types::{
    core::{Charset, Tag, Vec1},
    extensions::sort::SortCriterion,
    response::{Code, CodeOther, Data, Response},
    search::SearchKey,
};

use crate::proto::ext::{
    SearchRequest, SearchReturn, SortRequest,
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
    /// A SORT context's order.
    sort: Option<Vec1<SortCriterion>>,
    /// The result as last told: each UID with the sequence number it had then (in sort
    /// order for a SORT context, ascending otherwise).
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
    let context = SearchContext {
        tag: tag.as_ref().to_owned(),
        uid: request.uid,
        options: request.options,
        charset: request.charset.clone(),
        criteria: request.criteria.clone(),
        sort: None,
        told: Vec::new(),
    };
    keep(s, out, context, uids);
}

/// [`start`] for `SORT RETURN (UPDATE ...)`, `uids` in sort order.
pub fn start_sort(
    s: &mut SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    request: &SortRequest,
    uids: &[u32],
) {
    let context = SearchContext {
        tag: tag.as_ref().to_owned(),
        uid: request.uid,
        options: request.options,
        charset: Some(request.charset.clone()),
        criteria: request.search.clone(),
        sort: Some(request.criteria.clone()),
        told: Vec::new(),
    };
    keep(s, out, context, uids);
}

fn keep(s: &mut SignedIn, out: &mut Out, mut context: SearchContext, uids: &[u32]) {
    let max = s.account.ctx.settings.max_search_contexts;
    let tag = context.tag.clone();
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
    context.told = with_seqs(s, uids);
    s.account.contexts.retain(|c| c.tag != tag);
    s.account.contexts.push(context);
}

/// The context's result now, as UIDs (in its order); `None` when it cannot be read.
async fn evaluate(s: &mut SignedIn, context: &SearchContext) -> Option<Vec<u32>> {
    let charset = context.charset.clone();
    match &context.sort {
        None => super::search::matching_uids(s, charset.as_ref(), &context.criteria).await,
        Some(order) => {
            let charset = charset.unwrap_or_else(|| Charset::try_from("UTF-8").expect("a charset"));
            super::sort::sorted_uids(s, order, &charset, &context.criteria).await
        }
    }
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
    super::notify::tell_pending(s, out).await?;
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
        if let Some(uids) = evaluate(s, &context).await {
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
    let line = |kind, numbers: &[u32]| match (numbers.is_empty(), context.sort.is_some()) {
        (false, false) => vec![context_update(&context.tag, context.uid, kind, numbers)],
        _ => Vec::new(),
    };
    let o = context.options;
    let mut additions = line("ADDTO", &added);
    let mut removals = line("REMOVEFROM", &removed);
    if context.sort.is_some() {
        let placed = |list: &[(u32, u32)], wanted: &dyn Fn(u32) -> bool| -> Vec<(u32, u32)> {
            (1..)
                .zip(list)
                .filter(|(_, (uid, _))| wanted(*uid))
                .filter_map(|(position, &(uid, seq))| Some((position, number(uid, Some(seq))?)))
                .collect()
        };
        let mut gone = placed(&context.told, &|uid| !new.contains(&uid));
        gone.reverse();
        let came = placed(&now, &|uid| !old.contains_key(&uid));
        removals.extend(positioned(context, "REMOVEFROM", &gone));
        additions.extend(positioned(context, "ADDTO", &came));
    }
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
        removals,
        additions,
    }
}

/// `* ESEARCH (TAG "t") [UID] ADDTO (pos n pos n ...)` for a SORT context; nothing when
/// `pairs` is empty.
fn positioned(context: &SearchContext, kind: &str, pairs: &[(u32, u32)]) -> Option<Vec<u8>> {
    if pairs.is_empty() {
        return None;
    }
    let uid = if context.uid { " UID" } else { "" };
    let items: Vec<String> = pairs.iter().map(|(p, n)| format!("{p} {n}")).collect();
    let tag = &context.tag;
    Some(
        format!(
            "* ESEARCH (TAG \"{tag}\"){uid} {kind} ({})\r\n",
            items.join(" ")
        )
        .into_bytes(),
    )
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
