//! What a run decides: [`Action`]s in the order the script asked for them, the implicit
//! keep (RFC 5228 §2.10.2) already resolved into a final [`Action::Keep`].

/// One thing the delivery layer must do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Store in the user's INBOX (RFC 5228 §4.3).
    Keep {
        /// The flags to store it with (RFC 5232 §5).
        flags: Vec<String>,
        /// Whether this is the implicit keep (no action cancelled it) rather than `keep`.
        implicit: bool,
    },
    /// Store in another mailbox (RFC 5228 §4.1).
    FileInto {
        /// The mailbox name, as the script wrote it (UTF-8; separators are the store's).
        mailbox: String,
        /// The flags to store it with (RFC 5232 §5).
        flags: Vec<String>,
        /// `:copy` (RFC 3894): did not cancel the implicit keep.
        copy: bool,
        /// `:create` (RFC 5490 §3.2): create the mailbox if it is missing.
        create: bool,
    },
    /// Send the message on to another address (RFC 5228 §4.2).
    Redirect {
        /// The address, as written (the delivery layer validates it).
        address: String,
        /// `:copy` (RFC 3894): did not cancel the implicit keep.
        copy: bool,
    },
    /// Refuse the message (RFC 5429).
    Reject {
        /// The text for the sender.
        reason: String,
        /// `ereject`: refuse in the SMTP transaction if at all possible.
        extended: bool,
    },
    /// `discard` (RFC 5228 §4.4): recorded so a log can say why nothing was stored.
    Discard,
    /// Send an out-of-office reply (RFC 5230), with every parameter resolved.
    Vacation(Vacation),
}

impl Action {
    /// The action's name as a script writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Keep { .. } => "keep",
            Action::FileInto { .. } => "fileinto",
            Action::Redirect { .. } => "redirect",
            Action::Reject {
                extended: false, ..
            } => "reject",
            Action::Reject { extended: true, .. } => "ereject",
            Action::Discard => "discard",
            Action::Vacation(_) => "vacation",
        }
    }
}

/// A vacation reply, decided and resolved (RFC 5230 §4, §5). The evaluator has already
/// checked the rules that depend on the message alone (§4.5, §4.6 and RFC 3834 §2:
/// no reply to the null sender, to lists or bulk mail, to auto-replies, or when the user
/// is not a visible recipient). What needs storage is left to the caller: send at most
/// one reply per (`handle`, `to`) every `days` days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vacation {
    /// Who gets the reply: the envelope sender (RFC 5230 §4.5).
    pub to: String,
    /// `:from`, if given; otherwise the caller uses the recipient's address.
    pub from: Option<String>,
    /// The subject: `:subject`, or `Auto: ` and the original subject (RFC 5230 §4.7).
    pub subject: String,
    /// The reply text, or with `mime` a whole MIME entity.
    pub reason: String,
    /// `:mime`: `reason` holds MIME headers and body.
    pub mime: bool,
    /// Days between replies to one sender, clamped to the configured range.
    pub days: u64,
    /// The handle that ties replies together (`:handle`, or one derived from the
    /// arguments, RFC 5230 §4.2).
    pub handle: String,
    /// The user's own addresses (from the context and `:addresses`).
    pub addresses: Vec<String>,
    /// The original Message-ID, for the reply's In-Reply-To/References.
    pub in_reply_to: Option<String>,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The actions, in script order; a final implicit keep comes last.
    pub actions: Vec<Action>,
    /// Steps of the work budget the run used.
    pub steps: u64,
}

impl Outcome {
    /// Whether the message is stored in INBOX (explicitly or implicitly).
    pub fn keeps(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, Action::Keep { .. }))
    }

    /// The mailboxes (other than INBOX by keep) the message is filed into.
    pub fn mailboxes(&self) -> Vec<&str> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::FileInto { mailbox, .. } => Some(mailbox.as_str()),
                _ => None,
            })
            .collect()
    }
}
