//! The state of a signed-in connection, and the responses a command collects.

use std::sync::Arc;

use certmail_session::{Change, ConnectionGuard, Subscription};
use certmail_store::{Account, StoreError};
use imap_codec::imap_types::{
    core::Tag,
    response::{Code, Data, Response, Status},
};

use crate::mailbox::Selected;
use crate::proto::response::{bad, code, no, ok, status};
use crate::server::ImapContext;

/// A signed-in connection (RFC 3501 authenticated and selected states).
pub struct SignedIn {
    /// What all connections share.
    pub ctx: Arc<ImapContext>,
    /// The account, as read at sign-in.
    pub account: Account,
    /// The registry's guard: dropping it ends this connection's part of the session.
    pub guard: ConnectionGuard,
    /// Changes of the account from other connections, narrowed to the selected mailbox.
    pub changes: Subscription,
    /// The selected mailbox, if any.
    pub selected: Option<Selected>,
    /// RFC 7162 CONDSTORE is on (ENABLE, SELECT (CONDSTORE), or a MODSEQ-using command).
    pub condstore: bool,
    /// RFC 7162 QRESYNC is on (ENABLE QRESYNC): VANISHED instead of EXPUNGE.
    pub qresync: bool,
    /// `ENABLE IMAP4rev2` was sent (RFC 9051): ESEARCH answers, no \Recent.
    pub imap4rev2: bool,
    /// The UIDs kept by `SEARCH RETURN (SAVE)` (RFC 5182), for the selected mailbox.
    pub search_result: Vec<u32>,
}

impl SignedIn {
    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account.id
    }

    /// Tells other connections of the account about a change this one made (after the
    /// store returned).
    pub fn publish(&self, change: Change) {
        self.ctx
            .hub
            .publish(&self.account.id, Some(self.guard.connection_id()), change);
    }

    /// Takes every change waiting on the hub into the selected view.
    pub fn drain_changes(&mut self) {
        while let Some(change) = self.changes.try_recv() {
            self.note(&change);
        }
    }

    /// Records one change in the selected view; a rename of the selected mailbox moves
    /// the subscription along with it.
    pub fn note(&mut self, change: &Change) {
        if let Some(selected) = &mut self.selected {
            selected.note(change);
            if self.changes.mailbox() != Some(selected.name.as_str()) {
                self.changes.set_mailbox(Some(&selected.name));
            }
        }
    }

    /// Announces pending changes of the selected mailbox into `out` (see
    /// [`Selected::sync`]).
    pub async fn sync(&mut self, out: &mut Out, allow_expunge: bool) -> Result<(), StoreError> {
        self.drain_changes();
        let Some(selected) = &mut self.selected else {
            return Ok(());
        };
        let data = selected
            .sync(
                self.ctx.store.as_ref(),
                &self.account.id,
                &self.ctx.recent,
                allow_expunge,
                self.condstore,
            )
            .await?;
        for d in data {
            out.data(d);
        }
        Ok(())
    }

    /// Selects `selected` (or none), narrowing the hub subscription to it.
    ///
    /// Leaving a mailbox drops the changes heard so far. Entering one keeps those queued
    /// since: the subscription filters them by mailbox as they are read, and a change made
    /// between reading the mailbox from the store and this call must still be told (one
    /// the view already holds is told at most as a no-op).
    pub fn set_selected(&mut self, selected: Option<Selected>) {
        self.changes
            .set_mailbox(selected.as_ref().map(|s| s.name.as_str()));
        if selected.is_none() {
            while self.changes.try_recv().is_some() {}
        }
        self.selected = selected;
    }
}

/// The responses of one command, in order; the connection hands them to imap-next.
#[derive(Debug, Default)]
pub struct Out {
    /// Untagged data and status responses, then the tagged completion.
    pub responses: Vec<Response<'static>>,
    /// Whole response lines imap-codec cannot express (ESEARCH, extended LIST), each to be
    /// written just before `responses[index]`.
    pub raw: Vec<(usize, Vec<u8>)>,
}

impl SignedIn {
    /// RFC 3501 §7.2.6 (RFC 9051 §7.3.5): FLAGS lists the keywords in use in the mailbox.
    /// When a FETCH in `out` shows a keyword the client was not told of (set by another
    /// session, or new by this one), an updated FLAGS goes before it.
    pub fn announce_new_keywords(&mut self, out: &mut Out) {
        use imap_codec::imap_types::{
            fetch::MessageDataItem,
            flag::{Flag, FlagFetch},
        };
        let Some(selected) = &mut self.selected else {
            return;
        };
        let mut added = false;
        for response in &out.responses {
            let Response::Data(Data::Fetch { items, .. }) = response else {
                continue;
            };
            for item in items.as_ref() {
                let MessageDataItem::Flags(flags) = item else {
                    continue;
                };
                for flag in flags {
                    if let FlagFetch::Flag(Flag::Keyword(k)) = flag {
                        added |= selected.announce_keyword(k.as_ref());
                    }
                }
            }
        }
        if added {
            let keywords = crate::mailbox::flags_of(selected.announced_keywords());
            let flags = crate::proto::flags::mailbox_flags(&keywords);
            out.responses.insert(0, Response::Data(Data::Flags(flags)));
            for (index, _) in &mut out.raw {
                *index += 1;
            }
        }
    }
}

impl Out {
    /// Rewrites the responses for a client that enabled IMAP4rev2 (no RECENT, no
    /// \Recent; see `proto::ext::rev2`), keeping raw lines where they were.
    pub fn apply_imap4rev2(&mut self) {
        let mut kept = Vec::with_capacity(self.responses.len());
        let mut new_index = Vec::with_capacity(self.responses.len() + 1);
        for response in self.responses.drain(..) {
            new_index.push(kept.len());
            if let Some(r) = crate::proto::ext::rev2::for_imap4rev2(response) {
                kept.push(r);
            }
        }
        new_index.push(kept.len());
        for (at, _) in &mut self.raw {
            *at = new_index.get(*at).copied().unwrap_or(kept.len());
        }
        self.responses = kept;
    }

    /// Adds a response line written by hand (with its CRLF).
    pub fn raw_line(&mut self, line: Vec<u8>) {
        self.raw.push((self.responses.len(), line));
    }

    /// The wire bytes of everything up to and including the last raw line, in order; the
    /// responses after it stay in `responses`. Empty when there is no raw line.
    pub fn take_raw_prefix(&mut self) -> Vec<u8> {
        let Some(&(last, _)) = self.raw.last() else {
            return Vec::new();
        };
        let last = last.min(self.responses.len());
        let mut bytes = Vec::new();
        let mut raw = std::mem::take(&mut self.raw).into_iter().peekable();
        for (i, response) in self.responses.drain(..last).enumerate() {
            while let Some((_, line)) = raw.next_if(|(at, _)| *at <= i) {
                bytes.extend(line);
            }
            bytes.extend(crate::proto::response::encode(&response));
        }
        for (_, line) in raw {
            bytes.extend(line);
        }
        bytes
    }

    /// Adds an untagged data response.
    pub fn data(&mut self, data: Data<'static>) {
        self.responses.push(Response::Data(data));
    }

    /// Adds a status response.
    pub fn status(&mut self, status: Status<'static>) {
        self.responses.push(Response::Status(status));
    }

    /// `tag OK [code] text`.
    pub fn ok(&mut self, tag: Tag<'static>, code: Option<Code<'static>>, text: &str) {
        self.status(ok(tag, code, text));
    }

    /// `tag NO [code] text` (the user's request cannot be done).
    pub fn no(&mut self, tag: Tag<'static>, code: Option<Code<'static>>, text: &str) {
        self.status(no(tag, code, text));
    }

    /// `tag NO [CODE] text` with an RFC 5530 code imap-codec has no variant for.
    pub fn no_code(&mut self, tag: Tag<'static>, name: &'static str, text: &str) {
        self.status(no(tag, Some(code(name)), text));
    }

    /// `tag BAD text` (the client sent something invalid).
    pub fn bad(&mut self, tag: Tag<'static>, text: &str) {
        self.status(bad(Some(tag), text));
    }

    /// `* OK [code] text`.
    pub fn untagged_ok(&mut self, code: Option<Code<'static>>, text: &str) {
        self.status(status(
            imap_codec::imap_types::response::StatusKind::Ok,
            None,
            code,
            text,
        ));
    }

    /// `tag NO [SERVERBUG]`-style answer for a failure on our side: the details go to the
    /// log, never to the client.
    pub fn internal(&mut self, tag: Tag<'static>, what: &str, error: &dyn std::fmt::Display) {
        tracing::error!(error = %error, "imap {what} failed");
        self.no_code(
            tag,
            "SERVERBUG",
            "Internal server error; the administrator can find details in the log",
        );
    }
}
