//! Sieve at local delivery (RFC 5228): each local recipient's active script runs **before**
//! the store transaction and turns its copy into a plan (mailboxes with flags, nothing for
//! `discard`, redirects); the caller then stores the whole plan in the one delivery
//! transaction, redirects entering the outbound queue in it, so each happens exactly once.
//!
//! - `fileinto` a mailbox that does not exist delivers to INBOX (the store's rule for a
//!   missing mailbox); `fileinto :create` creates it first (RFC 5490 §3.2).
//! - A script that fails to compile or run (a bound of [`SieveSettings::limits`] hit, e.g.
//!   the step budget) leaves the copy where it would have gone without a script; the
//!   caller then switches the script off and tells its owner once ([`Failure`]).
//! - `redirect` is refused (the copy kept instead) when the message already passed through
//!   a redirect of the same account (`X-Certmail-Redirected:`, a loop) or when it carries
//!   more than [`MAX_REDIRECT_HOPS`] such headers. Past the account's daily cap
//!   (`[sieve] max_redirects_per_day`) it is refused too, but that only the store can tell
//!   exactly: each redirect goes to it as a [`certmail_store::Redirect`] with the copy to
//!   file instead, and the delivery transaction counts it ([`certmail_store::redirects`]).
//!   The first refusal of a day tells the account's owner (`own_mail.rs`).
//! - `reject`/`ereject` (RFC 5429) refuse the copy, which is not stored. When the message
//!   has one recipient (alone in its SMTP transaction), the end of DATA is answered
//!   `550 5.7.1` with the script's reason (one line, control characters removed, at most
//!   [`super::autoreply::MAX_REASON_BYTES`] bytes; a non-ASCII reason only where the client
//!   asked for SMTPUTF8). Otherwise (several recipients, or a reason the reply cannot carry)
//!   the message is accepted for the others and the envelope sender gets a rejection
//!   report (RFC 3464, `5.7.1`, headers returned) in the same delivery transaction; never
//!   to the null sender.
//! - `vacation` (RFC 5230, RFC 3834): the interpreter has already kept quiet for the null
//!   sender, `MAILER-DAEMON`/`owner-`/`-request` senders, list or bulk mail
//!   (List-*, Precedence bulk/list/junk), Auto-Submitted other than `no` (which covers the
//!   server's own notices and reports) and messages whose To/Cc/Bcc name none of the
//!   recipient's addresses (with `:addresses`). The reply (`Auto-Submitted: auto-replied`,
//!   In-Reply-To/References, the `:subject` or `Auto: ` and the original subject, from
//!   `:from` or the address the message came to) goes to the envelope sender from the null
//!   sender, in the delivery transaction, with a reply mark ([`certmail_store::ReplyMark`])
//!   that the store checks in that transaction: once per sender and handle per `:days`
//!   (bounded by `[sieve] vacation_min_days`/`vacation_max_days`). See `autoreply.rs`.

use std::collections::{HashMap, HashSet};

use certmail_sieve::{Action, Context, Envelope, Environment, Limits, Message, Timestamp};
use certmail_store::{QueueEntry, Redirect, Store, StoreError};

use super::recipients::{Target, resolve};

/// The header a redirect adds, naming the account whose script redirected.
pub const REDIRECT_HEADER: &str = "X-Certmail-Redirected";
/// Most redirect headers a message may carry before another redirect is refused.
pub const MAX_REDIRECT_HOPS: usize = 8;
/// The audit event kind of one redirect carried out.
pub const REDIRECT_EVENT: &str = "sieve.redirect";
/// Why a redirect past the daily cap was refused, for the log.
pub const CAP_REACHED: &str = "the daily redirect cap ([sieve] max_redirects_per_day) is reached";

/// What the daemon's `[sieve]` section gives delivery.
#[derive(Debug, Clone, Default)]
pub struct SieveSettings {
    /// Bounds on compiling and running one script (`max_steps` from the configuration).
    pub limits: Limits,
    /// Most redirects per account per day (0: none allowed).
    pub max_redirects_per_day: u32,
}

/// One local copy: (account, mailbox, flags), as `Delivery::recipients` holds them.
pub(super) type LocalCopy = (String, String, Vec<String>);

/// A script that could not run; its owner is told once and it is switched off.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    /// The account.
    pub account: String,
    /// The script's name.
    pub script: String,
    /// What went wrong, for the person.
    pub error: String,
}

/// What the scripts decided for one delivery.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// The local copies to store.
    pub copies: Vec<LocalCopy>,
    /// The redirects the scripts asked for, for the store to count against the daily cap.
    pub redirects: Vec<Planned>,
    /// Accounts whose scripts redirected (each adds a [`REDIRECT_HEADER`]).
    pub redirected_by: Vec<String>,
    /// Scripts that failed.
    pub failures: Vec<Failure>,
    /// Copies refused by their owner's script (`reject`/`ereject`): not stored.
    pub rejections: Vec<Rejection>,
    /// Vacation replies the scripts asked for (RFC 5230).
    pub vacations: Vec<(String, certmail_sieve::Vacation)>,
    /// The rejection report and vacation replies, to store with the delivery.
    pub outgoing: Vec<certmail_store::Outgoing>,
}

/// One redirect a script asked for, before the store decides it against the daily cap.
#[derive(Debug)]
pub(super) struct Planned {
    /// The redirect, without its queue entry.
    pub redirect: Redirect,
    /// The remote address to queue the message to; `None` for a local one (whose copies
    /// the redirect already holds).
    pub remote: Option<String>,
}

impl Plan {
    /// The plan's redirects for the store, a remote one queued by `entry`.
    pub fn store_redirects(&self, entry: impl Fn(&str) -> QueueEntry) -> Vec<Redirect> {
        (self.redirects.iter())
            .map(|p| {
                let mut r = p.redirect.clone();
                r.queue.extend(p.remote.as_deref().map(&entry));
                r
            })
            .collect()
    }
}

/// One account's script refused its copy (RFC 5429).
#[derive(Debug, Clone)]
pub(super) struct Rejection {
    /// The account.
    pub account: String,
    /// The script's reason, as written.
    pub reason: String,
}

/// The store's answers a run may ask for, read before it starts.
struct Prepared {
    mailboxes: HashSet<String>,
    scripts: HashMap<String, String>,
}

impl Environment for Prepared {
    fn mailbox_exists(&self, name: &str) -> bool {
        self.mailboxes.contains(name)
    }

    fn script(&self, name: &str, _: certmail_sieve::ast::Location) -> Option<String> {
        self.scripts.get(name).cloned()
    }
}

/// Who the message is for and from, for every copy of one delivery.
pub(super) struct Inputs<'a> {
    /// The envelope sender (empty for `<>`).
    pub mail_from: &'a str,
    /// The RCPT address each local account was reached by.
    pub rcpt_of: &'a HashMap<String, String>,
    /// The message as it will be stored.
    pub body: &'a [u8],
    /// Now, Unix seconds.
    pub now: i64,
    /// `[server] local_domains`.
    pub local_domains: &'a [String],
}

/// Runs each copy's account's active script and returns the plan.
pub(super) async fn plan(
    store: &dyn Store,
    settings: &SieveSettings,
    local: Vec<LocalCopy>,
    inputs: &Inputs<'_>,
) -> Result<Plan, StoreError> {
    let mut plan = Plan::default();
    let mut message = None;
    for copy in local {
        let Some(script) = store.active_script(&copy.0).await? else {
            plan.copies.push(copy);
            continue;
        };
        let message = message.get_or_insert_with(|| Message::parse(inputs.body));
        let prepared = prepare(store, &copy.0).await?;
        let context = Context {
            envelope: Envelope {
                from: inputs.mail_from.to_owned(),
                to: inputs.rcpt_of.get(&copy.0).cloned().unwrap_or_default(),
            },
            now: Timestamp {
                unix: inputs.now,
                offset_minutes: 0,
            },
            user_addresses: addresses_of(store, &copy.0).await?,
            script_name: Some(script.name.clone()),
        };
        let limits = &settings.limits;
        let outcome = certmail_sieve::compile(&script.content, limits)
            .and_then(|s| certmail_sieve::run(&s, message, &context, &prepared, limits));
        match outcome {
            Ok(outcome) => {
                follow(
                    store,
                    settings,
                    &mut plan,
                    &copy,
                    outcome.actions,
                    message,
                    inputs,
                )
                .await?
            }
            Err(e) => {
                tracing::warn!(account = %copy.0, script = %script.name, error = %e, "Sieve script failed; message kept");
                plan.failures.push(Failure {
                    account: copy.0.clone(),
                    script: script.name,
                    error: e.to_string(),
                });
                plan.copies.push(copy);
            }
        }
    }
    Ok(plan)
}

async fn prepare(store: &dyn Store, account: &str) -> Result<Prepared, StoreError> {
    let mailboxes = store.list_mailboxes(account).await?;
    let scripts = store.list_scripts(account).await?;
    Ok(Prepared {
        mailboxes: mailboxes.into_iter().map(|m| m.name).collect(),
        scripts: scripts.into_iter().map(|s| (s.name, s.content)).collect(),
    })
}

async fn addresses_of(store: &dyn Store, account: &str) -> Result<Vec<String>, StoreError> {
    Ok(store
        .account(account)
        .await?
        .map(|a| a.addresses)
        .unwrap_or_default())
}

/// Turns one run's actions into copies and redirects.
async fn follow(
    store: &dyn Store,
    settings: &SieveSettings,
    plan: &mut Plan,
    copy: &LocalCopy,
    actions: Vec<Action>,
    message: &Message,
    inputs: &Inputs<'_>,
) -> Result<(), StoreError> {
    let account = &copy.0;
    for action in actions {
        match action {
            Action::Keep { flags, .. } => plan.copies.push(with_flags(copy, &copy.1, flags)),
            Action::FileInto {
                mailbox,
                flags,
                create,
                ..
            } => {
                if create {
                    create_mailbox(store, account, &mailbox).await?;
                }
                plan.copies.push(with_flags(copy, &mailbox, flags));
            }
            Action::Discard => {
                tracing::info!(account = %account, "Sieve script discarded a message");
            }
            Action::Redirect { address, .. } => match redirect_refusal(account, message) {
                None => route_redirect(store, settings, plan, copy, &address, inputs).await?,
                Some(why) => {
                    tracing::warn!(account = %account, to = %address, why, "Sieve redirect refused; message kept");
                    plan.copies.push(copy.clone());
                }
            },
            Action::Reject { reason, extended } => {
                tracing::info!(account = %account, extended, "Sieve script refused a message");
                plan.rejections.push(Rejection {
                    account: account.clone(),
                    reason,
                });
            }
            Action::Vacation(vacation) => plan.vacations.push((account.clone(), vacation)),
        }
    }
    // RFC 5429 §2.1: a refused message is not stored for its recipient.
    if plan.rejections.iter().any(|r| r.account == *account) {
        plan.copies.retain(|c| c.0 != *account);
    }
    plan.copies.dedup();
    Ok(())
}

fn with_flags(copy: &LocalCopy, mailbox: &str, flags: Vec<String>) -> LocalCopy {
    let mut all = copy.2.clone();
    all.extend(flags);
    (copy.0.clone(), mailbox.to_owned(), all)
}

/// `fileinto :create`: creates the mailbox if it is missing. A name the store refuses
/// leaves the copy to fall back to INBOX.
async fn create_mailbox(store: &dyn Store, account: &str, name: &str) -> Result<(), StoreError> {
    match store.create_mailbox(account, name, None).await {
        Ok(_) | Err(StoreError::MailboxExists(_)) => Ok(()),
        Err(e) if e.is_user_error() => {
            tracing::warn!(account, mailbox = name, error = %e, "fileinto :create refused");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Why a redirect of `account` may not happen, if the message says so: a loop, or too
/// many hops. (The daily cap is the store's to tell, in the delivery transaction.)
fn redirect_refusal(account: &str, message: &Message) -> Option<&'static str> {
    let hops: Vec<&str> = message
        .header(REDIRECT_HEADER)
        .map(|h| h.raw.trim())
        .collect();
    if hops.iter().any(|h| h.eq_ignore_ascii_case(account)) {
        return Some("loop: this account redirected the message before");
    }
    if hops.len() >= MAX_REDIRECT_HOPS {
        return Some("loop: the message was redirected too many times");
    }
    None
}

/// A redirect to a local address becomes a copy in that account's INBOX (its own script
/// does not run: no loop through two accounts' filters); to a remote one, a queue entry.
/// Either only within the daily cap; past it, `copy` is filed as it was.
async fn route_redirect(
    store: &dyn Store,
    settings: &SieveSettings,
    plan: &mut Plan,
    copy: &LocalCopy,
    address: &str,
    inputs: &Inputs<'_>,
) -> Result<(), StoreError> {
    let account = &copy.0;
    let address = address.to_lowercase();
    let mut redirect = Redirect {
        account: account.clone(),
        address: address.clone(),
        per_day: settings.max_redirects_per_day,
        copies: Vec::new(),
        queue: Vec::new(),
        instead: copy.clone(),
    };
    let remote = match resolve(store, inputs.local_domains, &address, true).await? {
        Ok(Target::Local(accounts)) => {
            let inbox = |a| (a, "INBOX".to_owned(), Vec::new());
            redirect.copies.extend(accounts.into_iter().map(inbox));
            None
        }
        Ok(Target::Remote(address)) => Some(address),
        Err(_) => {
            tracing::warn!(account = %account, to = %address, "Sieve redirect to an address without a mailbox dropped");
            return Ok(());
        }
    };
    plan.redirects.push(Planned { redirect, remote });
    if !plan.redirected_by.iter().any(|a| a == account) {
        plan.redirected_by.push(account.clone());
    }
    Ok(())
}

/// The message with one [`REDIRECT_HEADER`] per redirecting account on top.
pub(super) fn mark_redirected(body: Vec<u8>, accounts: &[String]) -> Vec<u8> {
    if accounts.is_empty() {
        return body;
    }
    let mut out = Vec::with_capacity(body.len() + 64 * accounts.len());
    for a in accounts {
        out.extend_from_slice(format!("{REDIRECT_HEADER}: {a}\r\n").as_bytes());
    }
    out.extend_from_slice(&body);
    out
}
