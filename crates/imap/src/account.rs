//! A served connection's signed-in account: [`AccountHandle`] (what sign-in yields: the
//! shared context, the account record, the registry guard, the hub subscription) and the
//! store-backed methods of [`SignedIn`], the connection state the commands run against.
//!
//! The state itself (what the client enabled, the selected mailbox) is
//! [`crate::session::SignedIn`], held once by the connection's [`crate::session::Session`].

use std::sync::Arc;

use certmail_session::{Change, ConnectionGuard, Subscription};
use certmail_store::{Account, StoreError};
use imap_codec::imap_types::response::{Data, Response};

use crate::context::ImapContext;
use crate::mailbox::Selected;
use crate::out::Out;

/// What a served connection holds of its signed-in account (the server's
/// [`crate::commands::sign_in::Authenticator::Account`]).
pub struct AccountHandle {
    /// What all connections share.
    pub ctx: Arc<ImapContext>,
    /// The account, as read at sign-in.
    pub record: Account,
    /// The registry's guard: dropping it ends this connection's part of the session.
    pub guard: ConnectionGuard,
    /// Changes of the account from other connections, narrowed to the selected mailbox
    /// (the selected mailbox's owner's, when it is another person's).
    pub changes: Subscription,
    /// The other accounts NOTIFY listens to (see [`crate::commands::notify_reach`]).
    pub also: Vec<Subscription>,
    /// The UIDs kept by `SEARCH RETURN (SAVE)` (RFC 5182), for the selected mailbox.
    pub search_result: Vec<u32>,
    /// The live `SEARCH RETURN (UPDATE)` contexts (RFC 5267), for the selected mailbox.
    pub contexts: Vec<crate::commands::search_context::SearchContext>,
    /// What NOTIFY SET asked for (RFC 5465), if anything.
    pub notify: Option<crate::commands::notify::Watch>,
    /// Changes of other mailboxes heard while a command ran, told when it ends.
    pub notify_pending: Vec<Change>,
    /// Too many changes waited: NOTIFY was turned off, the client is yet to be told.
    pub notify_overflowed: bool,
}

impl std::fmt::Debug for AccountHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountHandle")
            .field("account", &self.record.id)
            .finish_non_exhaustive()
    }
}

/// A served connection once signed in (RFC 3501 authenticated and selected states): the
/// account, what the client enabled and the selected mailbox. Every store-backed command
/// is a function of it.
pub type SignedIn = crate::session::SignedIn<AccountHandle>;

impl SignedIn {
    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account.record.id
    }

    /// Turns CONDSTORE on for a CONDSTORE-enabling command (RFC 7162 §3.1: FETCH MODSEQ
    /// or CHANGEDSINCE, STORE UNCHANGEDSINCE, SEARCH MODSEQ). When it was off and a mailbox
    /// is selected, RFC 7162 §3.1 has the server send the mailbox's HIGHESTMODSEQ with the
    /// first such command: `* OK [HIGHESTMODSEQ n]` goes into `out` before its answer. A
    /// store failure reading the mailbox only leaves the announcement out (it is logged).
    pub async fn enable_condstore(&mut self, out: &mut Out) {
        if std::mem::replace(&mut self.enabled.condstore, true) {
            return;
        }
        let Some(selected) = &self.selected else {
            return;
        };
        let store = self.account.ctx.store.as_ref();
        match store.mailbox(&selected.owner, &selected.name).await {
            Ok(Some(record)) => {
                let modseq = std::num::NonZeroU64::new(record.highest_modseq.max(1))
                    .expect("max(1) is not zero");
                out.untagged_ok(
                    Some(imap_codec::imap_types::response::Code::HighestModSeq(
                        modseq,
                    )),
                    "Highest",
                );
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "reading HIGHESTMODSEQ to announce"),
        }
    }

    /// Tells other connections of the account about a change this one made (after the
    /// store returned).
    pub fn publish(&self, change: Change) {
        self.publish_on(&self.account.record.id, change);
    }

    /// Tells the connections watching `owner`'s mailboxes (the owner's and those of
    /// everyone reading a mailbox `owner` shared) about a change this one made.
    pub fn publish_on(&self, owner: &str, change: Change) {
        self.account
            .ctx
            .hub
            .publish(owner, Some(self.account.guard.connection_id()), change);
    }

    /// Tells the connections watching the selected mailbox's owner about a change to it.
    pub fn publish_selected(&self, change: Change) {
        self.publish_on(self.selected_owner(), change);
    }

    /// The account owning the selected mailbox (the user's own when none is selected).
    pub fn selected_owner(&self) -> &str {
        self.selected
            .as_ref()
            .map_or(self.account_id(), |s| s.owner.as_str())
    }

    /// Takes every change waiting on the hub into the selected view.
    pub fn drain_changes(&mut self) {
        while let Some(change) = crate::commands::notify_reach::try_next(self) {
            if self.account.notify.is_some()
                && !crate::commands::notify::about_selected(self, &change)
            {
                crate::commands::notify::keep(self, change);
            } else {
                self.note(&change);
            }
        }
    }

    /// Records one change in the selected view; a rename of the selected mailbox moves
    /// the subscription along with it.
    pub fn note(&mut self, change: &Change) {
        if let Some(selected) = &mut self.selected {
            selected.note(change);
            let everything = self
                .account
                .notify
                .as_ref()
                .is_some_and(|w| w.watches_others());
            if !everything && self.account.changes.mailbox() != Some(selected.name.as_str()) {
                self.account.changes.set_mailbox(Some(&selected.name));
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
        let owner = selected.owner.clone();
        let data = selected
            .sync(
                self.account.ctx.store.as_ref(),
                &owner,
                &self.account.ctx.recent,
                allow_expunge,
                self.enabled,
            )
            .await?;
        for d in data {
            out.data(d);
        }
        if selected.take_urlmech() {
            out.untagged_ok(
                Some(crate::commands::urlauth::urlmech()),
                "URLAUTH key reset; mechanisms",
            );
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
        // A shared mailbox's changes travel on its owner's channel.
        let owner = selected
            .as_ref()
            .map_or(self.account.record.id.as_str(), |s| s.owner.as_str());
        if self.account.changes.account() != owner {
            let me = Some(self.account.guard.connection_id());
            self.account.changes = self.account.ctx.hub.subscribe(owner, me, None);
        }
        self.account
            .changes
            .set_mailbox(selected.as_ref().map(|s| s.name.as_str()));
        if selected.is_none() {
            while let Some(change) = self.account.changes.try_recv() {
                crate::commands::notify::keep(self, change);
            }
        }
        // RFC 5267 §4.2: contexts belong to the mailbox they searched.
        self.account.contexts.clear();
        self.selected = selected;
        crate::commands::notify::narrow(self);
    }

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
