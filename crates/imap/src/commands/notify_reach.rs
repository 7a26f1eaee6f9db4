//! NOTIFY (RFC 5465) beyond the account the connection's hub subscription watches: the
//! hub has one channel per account, and [`AccountHandle::changes`] listens to one, the
//! selected mailbox's owner's. While NOTIFY watches more than the selected mailbox, the
//! connection also listens to ([`AccountHandle::also`]):
//! - the user's own account, when another person's mailbox is selected;
//! - the owners of the shared mailboxes the NOTIFY filters cover (`subtree`, `mailboxes`
//!   or `subscribed` naming `Other Users/<owner>/...`), found when NOTIFY SET runs.
//!
//! Another person's changes are renamed as the user sees them
//! (`Other Users/<owner>/<name>`), and only message events (MessageNew, MessageExpunge,
//! FlagChange) are kept: the owner's mailbox list and subscriptions are theirs. Whether
//! the user may still look the mailbox up and read it ("l" and "r", RFC 4314 §4, as
//! STATUS needs) is checked when each event is told ([`super::notify`]), so a right taken
//! away stops the events at once. A mailbox shared after NOTIFY SET is covered from the
//! next NOTIFY SET.
//!
//! [`AccountHandle::changes`]: crate::account::AccountHandle::changes
//! [`AccountHandle::also`]: crate::account::AccountHandle::also

use std::future::Future;
use std::task::Poll;

use certmail_session::{Change, Subscription};
use certmail_store::StoreError;

use super::notify::{Watch, about_selected};
use crate::account::SignedIn;
use crate::shared::other_users_name;

/// The owners of the shared mailboxes `watch` covers, from those the user may see.
pub async fn owners(s: &SignedIn, watch: &Watch) -> Result<Vec<String>, StoreError> {
    let store = s.account.ctx.store.as_ref();
    let subscribed = store.subscriptions(s.account_id()).await?;
    let mut owners: Vec<String> = Vec::new();
    for target in crate::shared::visible_shared(store, &s.account.record).await? {
        let covered = watch
            .events_for(&target.client_name(), &subscribed)
            .any_message();
        if covered && !owners.contains(&target.owner) {
            owners.push(target.owner);
        }
    }
    Ok(owners)
}

/// Listens to the accounts the NOTIFY watch needs besides the main subscription's, and
/// to no other. A subscription kept keeps the changes it already holds.
pub fn resubscribe(s: &mut SignedIn) {
    let main = s.account.changes.account().to_owned();
    let mut wanted: Vec<String> = Vec::new();
    if let Some(watch) = s.account.notify.as_ref().filter(|w| w.watches_others()) {
        let me = s.account.record.id.clone();
        for owner in std::iter::once(me).chain(watch.owners().iter().cloned()) {
            if owner != main && !wanted.contains(&owner) {
                wanted.push(owner);
            }
        }
    }
    s.account
        .also
        .retain(|sub| wanted.iter().any(|w| w == sub.account()));
    for owner in wanted {
        if !s.account.also.iter().any(|sub| sub.account() == owner) {
            let me = Some(s.account.guard.connection_id());
            s.account
                .also
                .push(s.account.ctx.hub.subscribe(&owner, me, None));
        }
    }
}

/// The next change from any account listened to, as the user names it. Cancel-safe: a
/// change is consumed only when it is returned (or dropped as saying nothing to the user).
pub async fn next(s: &mut SignedIn) -> Change {
    loop {
        let (account, change) = {
            let main = &mut s.account.changes;
            let main_account = main.account().to_owned();
            if s.account.also.is_empty() {
                (main_account, main.recv().await)
            } else {
                let mut others: Vec<_> = s
                    .account
                    .also
                    .iter_mut()
                    .map(|sub| Box::pin(heard(sub)))
                    .collect();
                // The first of the other accounts' changes; each `recv` is cancel-safe.
                let first = std::future::poll_fn(|cx| {
                    others
                        .iter_mut()
                        .find_map(|f| match f.as_mut().poll(cx) {
                            Poll::Ready(heard) => Some(heard),
                            Poll::Pending => None,
                        })
                        .map_or(Poll::Pending, Poll::Ready)
                });
                tokio::select! {
                    change = main.recv() => (main_account, change),
                    heard = first => heard,
                }
            }
        };
        if let Some(change) = seen(s, &account, change) {
            return change;
        }
    }
}

/// A change already waiting on any account listened to, as the user names it.
pub fn try_next(s: &mut SignedIn) -> Option<Change> {
    loop {
        let main = &mut s.account.changes;
        let mut heard = main.try_recv().map(|c| (main.account().to_owned(), c));
        for sub in &mut s.account.also {
            if heard.is_some() {
                break;
            }
            heard = sub.try_recv().map(|c| (sub.account().to_owned(), c));
        }
        let (account, change) = heard?;
        if let Some(change) = seen(s, &account, change) {
            return Some(change);
        }
    }
}

async fn heard(sub: &mut Subscription) -> (String, Change) {
    let account = sub.account().to_owned();
    (account, sub.recv().await)
}

/// `change`, heard on `account`'s channel, as the user names it; `None` when it says
/// nothing to them.
fn seen(s: &SignedIn, account: &str, change: Change) -> Option<Change> {
    let own = account.eq_ignore_ascii_case(s.account_id());
    // The selected mailbox's own changes (and everything, without NOTIFY) go to the
    // selected view under the names it knows.
    let selected_channel = s.account.changes.account() == account;
    if own || s.account.notify.is_none() || (selected_channel && about_selected(s, &change)) {
        return Some(change);
    }
    as_seen_by(account, change)
}

/// A message event of `owner`'s mailbox under its name in the other users namespace;
/// `None` for the owner's mailbox list and subscriptions.
fn as_seen_by(owner: &str, change: Change) -> Option<Change> {
    let name = |mailbox: &str| other_users_name(owner, mailbox);
    match change {
        Change::Exists { mailbox, uid } => Some(Change::Exists {
            mailbox: name(&mailbox),
            uid,
        }),
        Change::Expunged { mailbox, uids } => Some(Change::Expunged {
            mailbox: name(&mailbox),
            uids,
        }),
        Change::Flags {
            mailbox,
            uid,
            modseq,
        } => Some(Change::Flags {
            mailbox: name(&mailbox),
            uid,
            modseq,
        }),
        Change::Resync => Some(Change::Resync),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_persons_message_events_get_their_other_users_name() {
        let new = Change::Exists {
            mailbox: "공유/기획팀".into(),
            uid: 7,
        };
        assert_eq!(
            as_seen_by("hong", new),
            Some(Change::Exists {
                mailbox: "Other Users/hong/공유/기획팀".into(),
                uid: 7
            })
        );
        let created = Change::MailboxCreated {
            mailbox: "비밀".into(),
        };
        assert_eq!(as_seen_by("hong", created), None);
        let subscribed = Change::SubscriptionChanged {
            mailbox: "공유/기획팀".into(),
            subscribed: true,
        };
        assert_eq!(as_seen_by("hong", subscribed), None);
    }
}
