//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2; MODSEQ and CHANGEDSINCE from RFC 7162
//! §3.1.4). The data items come from [`crate::fetch_items`]; a body fetch without PEEK sets \Seen
//! (in the store first, so the FLAGS the client hears are the stored ones).

use std::collections::HashMap;
use std::num::NonZeroU32;

use certmail_session::Change;
use certmail_store::{FlagChange, FlagOp, MessageMeta};
use imap_codec::imap_types::{
    command::{Command, CommandBody, FetchModifier},
    core::{Tag, Vec1},
    fetch::{MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName},
    response::{Data, Response},
    sequence::SequenceSet,
};

use super::search::{Reads, facts_of};
use super::{Outcome, store_error};
use crate::fetch_items::{fetch_items, header_suffices, item_names, needs_content, sets_seen};
use crate::mailbox::flags_of;
use crate::message::{
    MessageView,
    cache::{header_blocks, header_of},
};
use crate::proto::flags::fetch_flags;
use crate::{account::SignedIn, out::Out};

/// A FETCH or UID FETCH command.
#[derive(Debug)]
pub struct FetchRequest {
    /// The command's tag.
    pub tag: Tag<'static>,
    /// The messages.
    pub set: SequenceSet,
    /// The data items (or a macro).
    pub names: MacroOrMessageDataItemNames<'static>,
    /// UID FETCH.
    pub uid: bool,
    /// CHANGEDSINCE and VANISHED (RFC 7162).
    pub modifiers: Vec<FetchModifier>,
}

/// A command told apart as a FETCH or any other.
#[derive(Debug)]
pub enum FetchOrOther {
    /// FETCH or UID FETCH.
    Fetch(FetchRequest),
    /// Any other command, as it came.
    Other(Command<'static>),
}

impl FetchRequest {
    /// The FETCH that `command` is, or the command itself.
    pub fn of(command: Command<'static>) -> FetchOrOther {
        match command.body {
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                modifiers,
            } => FetchOrOther::Fetch(Self {
                tag: command.tag,
                set: sequence_set,
                names: macro_or_item_names,
                uid,
                modifiers,
            }),
            body => FetchOrOther::Other(Command {
                tag: command.tag,
                body,
            }),
        }
    }
}

/// FETCH (`uid` false) or UID FETCH, answered in full into `out`.
pub async fn fetch(s: &mut SignedIn, out: &mut Out, request: FetchRequest) -> Outcome {
    let mut job = match FetchJob::start(s, out, request).await {
        Ok(job) => job,
        Err(outcome) => return outcome,
    };
    while job.next_batch(s, out, usize::MAX).await == Batch::More {}
    Outcome::Done
}

/// Where a [`FetchJob`] stands after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Messages are left: write what the batch produced, then call again.
    More,
    /// Finished; the tagged response is in the output.
    Done,
}

/// A FETCH under way, answered a batch at a time so that a large FETCH (mbsync's first
/// sync asks for every body) never holds more than a batch of responses in memory.
#[derive(Debug)]
pub struct FetchJob {
    tag: Tag<'static>,
    items: Vec<MessageDataItemName<'static>>,
    /// (sequence number, UID) still to answer, in order.
    targets: std::collections::VecDeque<(u32, u32)>,
    metas: HashMap<u32, MessageMeta>,
    changed_since: Option<u64>,
    /// UIDs whose \Seen this FETCH set: their FLAGS go with the response.
    flags_changed: Vec<u32>,
    /// What each answer reads of the message.
    reads: Reads,
    /// Header blocks read ahead (by UID), a batch per store call.
    headers_ahead: HashMap<u32, Vec<u8>>,
    /// A message went (expunged by another session) between the listing and its read.
    expunged_meanwhile: bool,
}

/// `UID FETCH ... (VANISHED)`: the VANISHED (EARLIER) response before the FETCHes. RFC
/// 7162 §3.2.6: only in UID FETCH, with CHANGEDSINCE, and only once QRESYNC is enabled.
async fn vanished(
    s: &SignedIn,
    out: &mut Out,
    tag: &Tag<'static>,
    set: &SequenceSet,
    uid: bool,
    changed_since: Option<u64>,
) -> Result<(), Outcome> {
    let Some(since) = changed_since.filter(|_| uid && s.enabled.qresync) else {
        out.bad(
            tag.clone(),
            "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC",
        );
        return Err(Outcome::Bad);
    };
    match super::qresync::fetch_vanished(s, set, since).await {
        Ok(data) => {
            out.responses.extend(data.map(Response::Data));
            Ok(())
        }
        Err(e) => {
            store_error(out, tag.clone(), "FETCH", &e);
            Err(Outcome::Done)
        }
    }
}

/// What of each message the items need read from the store.
fn reads_for(items: &[MessageDataItemName<'_>]) -> Reads {
    if !needs_content(items) {
        Reads::Nothing
    } else if header_suffices(items) {
        Reads::Header
    } else {
        Reads::Message
    }
}

impl FetchJob {
    /// Checks the command, reads the messages' metadata and sets \Seen where the items ask
    /// for it. `Err` when the command is already answered (BAD, NO, or nothing to fetch).
    pub async fn start(
        s: &mut SignedIn,
        out: &mut Out,
        request: FetchRequest,
    ) -> Result<FetchJob, Outcome> {
        let FetchRequest {
            tag,
            set,
            names,
            uid,
            modifiers,
        } = request;
        let set = &set;
        let changed_since = modifiers.iter().find_map(|m| match m {
            FetchModifier::ChangedSince(n) => Some(n.get()),
            FetchModifier::Vanished => None,
        });
        let asks_modseq = matches!(&names, MacroOrMessageDataItemNames::MessageDataItemNames(list)
            if list.contains(&MessageDataItemName::ModSeq));
        // RFC 7162 §3.1.4: MODSEQ and CHANGEDSINCE enable CONDSTORE; once enabled, every
        // FETCH response carries MODSEQ (§3.2).
        if changed_since.is_some() || asks_modseq {
            s.enable_condstore(out).await;
        }
        let items = item_names(&names, uid, s.enabled.condstore);
        if s.selected.is_none() {
            out.bad(tag, "No mailbox selected");
            return Err(Outcome::Bad);
        }
        if modifiers.contains(&FetchModifier::Vanished) {
            vanished(s, out, &tag, set, uid, changed_since).await?;
        }
        let Some(selected) = &s.selected else {
            out.bad(tag, "No mailbox selected");
            return Err(Outcome::Bad);
        };
        if !uid && selected.seq_set_out_of_range(set) {
            out.bad(tag, "No such message sequence number");
            return Err(Outcome::Bad);
        }
        let targets: std::collections::VecDeque<(u32, u32)> = selected
            .resolve(set, uid)
            .iter()
            .map(|(seq, e)| (*seq, e.uid))
            .collect();
        let (Some(&(_, first)), Some(&(_, last))) = (targets.front(), targets.back()) else {
            out.ok(tag, None, "FETCH completed");
            return Err(Outcome::Done);
        };
        let name = selected.name.clone();
        let read_only = selected.read_only;
        let store = s.account.ctx.store.as_ref();
        let metas: HashMap<u32, MessageMeta> = match selected.messages(store, first..=last).await {
            Ok(metas) => metas.into_iter().map(|m| (m.uid, m)).collect(),
            Err(e) => {
                store_error(out, tag, "FETCH", &e);
                return Err(Outcome::Done);
            }
        };
        let mut job = FetchJob {
            tag,
            reads: reads_for(&items),
            items,
            targets,
            metas,
            changed_since,
            flags_changed: Vec::new(),
            headers_ahead: HashMap::new(),
            expunged_meanwhile: false,
        };
        if !read_only
            && job.items.iter().any(sets_seen)
            && let Err(e) = job.mark_seen(s, &name).await
        {
            store_error(out, job.tag, "FETCH", &e);
            return Err(Outcome::Done);
        }
        Ok(job)
    }

    /// RFC 3501 §6.4.5: a body fetch without PEEK sets \Seen, in the store first.
    async fn mark_seen(
        &mut self,
        s: &mut SignedIn,
        name: &str,
    ) -> Result<(), certmail_store::StoreError> {
        // RFC 4314 §4: without "s" a body fetch leaves \Seen alone.
        if !s.selected.as_ref().is_some_and(|sel| sel.rights.has('s')) {
            return Ok(());
        }
        let unseen: Vec<u32> = self
            .targets
            .iter()
            .filter(|(_, u)| self.metas.get(u).is_some_and(|m| !m.has_flag("\\Seen")))
            .map(|&(_, u)| u)
            .collect();
        if unseen.is_empty() {
            return Ok(());
        }
        let change = FlagChange {
            uids: unseen,
            op: FlagOp::Add,
            flags: vec!["\\Seen".to_owned()],
            unchanged_since: None,
        };
        // In someone else's mailbox the reader's own \Seen (crate::mailbox::seen).
        let reader = s.selected.as_ref().and_then(|sel| sel.reader());
        let store = s.account.ctx.store.as_ref();
        let mailbox = (s.selected_owner(), name);
        let result = crate::mailbox::seen::set_flags_as(store, mailbox, reader, change).await?;
        for update in result.updated {
            if let Some(meta) = self.metas.get_mut(&update.uid) {
                meta.flags = update.flags;
                meta.modseq = update.modseq;
                self.flags_changed.push(update.uid);
                if let Some(sel) = &mut s.selected {
                    sel.set_entry_flags(update.uid, meta.flags.clone(), meta.modseq);
                }
                s.publish_selected(Change::Flags {
                    mailbox: name.to_owned(),
                    uid: update.uid,
                    modseq: meta.modseq,
                });
            }
        }
        Ok(())
    }

    /// Answers messages until about `budget` octets of message content were read (at least
    /// one message), or all of them.
    pub async fn next_batch(&mut self, s: &SignedIn, out: &mut Out, budget: usize) -> Batch {
        let mut spent = 0usize;
        while let Some((seq, uid)) = self.targets.pop_front() {
            if self.reads == Reads::Header && self.headers_ahead.is_empty() {
                self.read_headers_ahead(s, uid).await;
            }
            match self.answer(s, out, seq, uid).await {
                Ok(size) => spent = spent.saturating_add(size),
                Err(()) => return Batch::Done,
            }
            if spent >= budget && !self.targets.is_empty() {
                return Batch::More;
            }
        }
        if self.expunged_meanwhile {
            // RFC 2180 §4.1.1 leaves such a message out; RFC 5530 names why.
            let code = crate::proto::response::code("EXPUNGEISSUED");
            let text = "FETCH completed; some messages were just expunged by another session";
            out.ok(self.tag.clone(), Some(code), text);
        } else {
            out.ok(self.tag.clone(), None, "FETCH completed");
        }
        Batch::Done
    }

    /// Reads the header blocks of `first` and the next targets in one store call. A failure
    /// leaves nothing read ahead: `answer` then reads each and reports the error.
    async fn read_headers_ahead(&mut self, s: &SignedIn, first: u32) {
        const AHEAD: usize = 64;
        let wanted: Vec<(u32, certmail_store::BlobId)> = std::iter::once(first)
            .chain(self.targets.iter().map(|&(_, uid)| uid))
            .filter_map(|uid| {
                let meta = self.metas.get(&uid)?;
                let changed = self.changed_since.is_none_or(|since| meta.modseq > since);
                changed.then_some((uid, meta.blob))
            })
            .take(AHEAD)
            .collect();
        let blobs: Vec<_> = wanted.iter().map(|&(_, blob)| blob).collect();
        if let Ok(headers) = header_blocks(
            s.account.ctx.store.as_ref(),
            &s.account.ctx.headers,
            s.selected_owner(),
            &blobs,
        )
        .await
        {
            self.headers_ahead = wanted
                .into_iter()
                .map(|(uid, _)| uid)
                .zip(headers)
                .collect();
        }
    }

    /// One message's FETCH response; returns the octets of content read. `Err` when the
    /// command failed (its tagged NO is in `out`).
    async fn answer(
        &mut self,
        s: &SignedIn,
        out: &mut Out,
        seq: u32,
        uid: u32,
    ) -> Result<usize, ()> {
        let Some(meta) = self.metas.get(&uid) else {
            return Ok(0); // expunged by another connection; RFC 3501 §7.4.1 lets us skip it
        };
        if self.changed_since.is_some_and(|since| meta.modseq <= since) {
            return Ok(0);
        }
        let store = s.account.ctx.store.as_ref();
        let read = match self.reads {
            Reads::Nothing => Ok(Vec::new()),
            Reads::Header => match self.headers_ahead.remove(&uid) {
                Some(header) => Ok(header),
                None => {
                    header_of(
                        store,
                        &s.account.ctx.headers,
                        s.selected_owner(),
                        &meta.blob,
                    )
                    .await
                }
            },
            Reads::Message => store.message_body(s.selected_owner(), &meta.blob).await,
        };
        let raw = match read {
            Ok(raw) => raw,
            Err(certmail_store::StoreError::MessageNotFound) => {
                self.expunged_meanwhile = true;
                return Ok(0);
            }
            Err(e) => {
                store_error(out, self.tag.clone(), "FETCH", &e);
                return Err(());
            }
        };
        let view = (self.reads != Reads::Nothing).then(|| MessageView::parse(&raw));
        let message_flags = flags_of(&meta.flags);
        let recent = s.selected.as_ref().is_some_and(|sel| sel.is_recent(uid));
        let facts = facts_of(meta, &message_flags, recent);
        let mut data = match fetch_items(&self.items, &facts, view.as_ref()) {
            Ok(result) => result.items,
            Err(crate::fetch_items::FetchError::UnknownCte) => {
                // RFC 3516 §4.3.
                out.no(
                    self.tag.clone(),
                    Some(imap_codec::imap_types::response::Code::UnknownCte),
                    "A part has a transfer encoding the server cannot decode",
                );
                return Err(());
            }
            Err(e) => {
                out.internal(self.tag.clone(), "FETCH", &e);
                return Err(());
            }
        };
        // RFC 3501 §6.4.5: when \Seen was set implicitly, FLAGS go with the response.
        let seen_now = self.flags_changed.contains(&uid);
        if seen_now && !self.items.contains(&MessageDataItemName::Flags) {
            data.push(MessageDataItem::Flags(fetch_flags(
                &message_flags,
                facts.recent,
            )));
        }
        // RFC 7162 §3.2.4 (CONDSTORE): a FETCH that implicitly set \Seen answers with UID
        // and MODSEQ, a plain FETCH too (MODSEQ is already among the items once enabled).
        if seen_now
            && s.enabled.condstore
            && !self.items.contains(&MessageDataItemName::Uid)
            && let Some(uid) = NonZeroU32::new(uid)
        {
            data.insert(0, MessageDataItem::Uid(uid));
        }
        // RFC 3516 §4.2: a partial BINARY answers with its origin, which imap-codec cannot
        // write; such a line is written by hand.
        let origins: Vec<Option<u32>> = self.items.iter().map(binary_origin).collect();
        if let Some(seq) = NonZeroU32::new(seq) {
            if origins.iter().any(Option::is_some) {
                out.raw_line(crate::proto::ext::encode::fetch_with_origins(
                    seq, &data, &origins,
                ));
            } else if let Ok(items) = Vec1::try_from(data) {
                out.data(Data::Fetch { seq, items });
            }
        }
        Ok(raw.len().max(1))
    }
}

/// The origin of a partial `BINARY[section]<origin.count>` item.
fn binary_origin(name: &MessageDataItemName<'static>) -> Option<u32> {
    match name {
        MessageDataItemName::Binary {
            partial: Some((origin, _)),
            ..
        } => Some(*origin),
        _ => None,
    }
}
