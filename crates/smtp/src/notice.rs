//! Mail the server writes itself: delivery reports and notices to people (a sign-up
//! waits, a sign-up was refused, a certificate expires, a new device signed in). One
//! place builds such a message and one place delivers it: to local accounts through
//! their active Sieve scripts as at SMTP delivery ([`crate::inbound::own_mail`]; INBOX
//! unless a script files it elsewhere), each copy told to the change hub so IDLE wakes,
//! or queued to a remote address from the null sender (RFC 5321 §4.5.5: mail the server
//! generates must not cause a loop).

use certmail_session::ChangeHub;
use certmail_store::{
    BlobId, Delivery, DeliveryReceipt, QueueEntry, QueueRecipient, RecipientStatus, Store,
    StoreError,
};

use crate::inbound::filter::SieveSettings;
use crate::inbound::recipients::{Target, resolve};

/// Where the server delivers its own mail: the store, the hub to wake, the local domains,
/// and the bounds each local recipient's active Sieve script runs under.
#[derive(Clone, Copy)]
pub struct Postbox<'a> {
    /// The mail store.
    pub store: &'a dyn Store,
    /// Told about every local copy (IDLE wakes); `None` tells nobody.
    pub hub: Option<&'a ChangeHub>,
    /// `[server] hostname`: the sender of the notice that a script failed.
    pub hostname: &'a str,
    /// `[server] local_domains`, lowercase.
    pub local_domains: &'a [String],
    /// `[sieve]`: the scripts' limits and redirect cap.
    pub sieve: &'a SieveSettings,
}

/// What a [`Postbox`] takes from the configuration, owned (for a task that delivers
/// later, e.g. the new-device notice of a sign-in).
#[derive(Debug, Clone, Default)]
pub struct PostboxSettings {
    /// `[server] hostname`.
    pub hostname: String,
    /// `[server] local_domains`, lowercase.
    pub local_domains: Vec<String>,
    /// `[sieve]`.
    pub sieve: SieveSettings,
}

impl PostboxSettings {
    /// The postbox of `store` and `hub` with these settings.
    pub fn postbox<'a>(&'a self, store: &'a dyn Store, hub: Option<&'a ChangeHub>) -> Postbox<'a> {
        Postbox {
            store,
            hub,
            hostname: &self.hostname,
            local_domains: &self.local_domains,
            sieve: &self.sieve,
        }
    }
}

/// A notice to one person.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// The server's host name (the sender is `postmaster@<hostname>`).
    pub hostname: &'a str,
    /// The `To:` address.
    pub to: &'a str,
    /// The subject (Korean first, then English, as the pages are).
    pub subject: &'a str,
    /// The text body, CRLF line ends.
    pub body: &'a str,
    /// The date, Unix seconds.
    pub now: i64,
}

impl Notice<'_> {
    /// The message: from `certmail <postmaster@hostname>`, `Auto-Submitted:
    /// auto-generated` (RFC 3834 §5, so autoresponders keep quiet).
    pub fn message(&self) -> std::io::Result<Vec<u8>> {
        mail_builder::MessageBuilder::new()
            .from((
                "certmail".to_string(),
                format!("postmaster@{}", self.hostname),
            ))
            .to(self.to.to_string())
            .subject(self.subject.to_string())
            .header(
                "Auto-Submitted",
                mail_builder::headers::raw::Raw::new("auto-generated"),
            )
            .date(self.now)
            .text_body(self.body.to_string())
            .write_to_vec()
    }
}

/// The address a notice to `account` goes to: its first address, else its id.
pub fn address_of(account: &certmail_store::Account) -> String {
    account
        .addresses
        .first()
        .cloned()
        .unwrap_or_else(|| account.id.clone())
}

/// Stores `delivery` and tells `hub` (if any) about every local copy.
pub async fn deliver(
    store: &dyn Store,
    hub: Option<&ChangeHub>,
    delivery: Delivery,
) -> Result<DeliveryReceipt, StoreError> {
    let receipt = store.deliver(delivery).await?;
    if let Some(hub) = hub {
        crate::wake::new_copies(hub, &receipt);
    }
    Ok(receipt)
}

/// `message` to `account`: its INBOX, or where its active Sieve script files it.
pub async fn to_inbox(
    postbox: &Postbox<'_>,
    account: &str,
    message: Vec<u8>,
    now: i64,
) -> Result<DeliveryReceipt, StoreError> {
    let address = match postbox.store.account(account).await? {
        Some(a) => address_of(&a),
        None => account.to_owned(),
    };
    let rcpt_of = [(account.to_owned(), address)].into();
    let delivery = inbox_delivery(account, message, now);
    crate::inbound::own_mail::deliver(postbox, delivery, &rcpt_of).await
}

/// The delivery of `message` to the INBOX of `account` alone, past any filter.
pub(crate) fn inbox_delivery(account: &str, message: Vec<u8>, now: i64) -> Delivery {
    Delivery {
        body: message,
        internal_date: now,
        recipients: vec![(account.to_string(), "INBOX".to_string(), Vec::new())],
        queue: Vec::new(),
        outgoing: Vec::new(),
        // The server's own notices reach a full mailbox too: they say what happened.
        quota: certmail_store::MailQuota::Unlimited,
        redirects: Vec::new(),
    }
}

/// Where [`to_address`] put a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Into the INBOX of the local account(s) of the address.
    Local,
    /// Into the outbound queue (wake the queue runner).
    Queued,
    /// Nowhere: the address is in a local domain without a mailbox, or is not an address.
    NoMailbox,
}

/// `message` to `address`: to its local account(s) when one of the local domains holds
/// it (each through its active Sieve script, [`to_inbox`]), else queued to it from the
/// null sender.
pub async fn to_address(
    postbox: &Postbox<'_>,
    address: &str,
    message: Vec<u8>,
    now: i64,
) -> Result<Sent, StoreError> {
    let (store, domains) = (postbox.store, postbox.local_domains);
    let (delivery, sent) = routed(store, domains, address, message, now).await?;
    if let Some(delivery) = delivery {
        let rcpt_of = delivery
            .recipients
            .iter()
            .map(|(account, _, _)| (account.clone(), address.to_lowercase()))
            .collect();
        crate::inbound::own_mail::deliver(postbox, delivery, &rcpt_of).await?;
    }
    Ok(sent)
}

/// The delivery of `message` to `address` ([`to_address`]'s rule), not yet stored: the
/// INBOX of its local account(s), or a queue entry from the null sender; `None` with
/// [`Sent::NoMailbox`] where it cannot go.
pub(crate) async fn routed(
    store: &dyn Store,
    local_domains: &[String],
    address: &str,
    message: Vec<u8>,
    now: i64,
) -> Result<(Option<Delivery>, Sent), StoreError> {
    let address = address.to_lowercase();
    let (recipients, queue, sent) = match resolve(store, local_domains, &address, true).await? {
        Ok(Target::Local(accounts)) => {
            let inboxes = accounts
                .into_iter()
                .map(|a| (a, "INBOX".to_string(), Vec::new()))
                .collect();
            (inboxes, Vec::new(), Sent::Local)
        }
        Ok(Target::Remote(address)) => (Vec::new(), vec![queued_to(address, now)], Sent::Queued),
        Err(_) => return Ok((None, Sent::NoMailbox)),
    };
    let delivery = Delivery {
        body: message,
        internal_date: now,
        recipients,
        queue,
        outgoing: Vec::new(),
        // The server's own notices reach a full mailbox too: they say what happened.
        quota: certmail_store::MailQuota::Unlimited,
        redirects: Vec::new(),
    };
    Ok((Some(delivery), sent))
}

/// A queue entry from the null sender to `address`, due now (RFC 3461 §6.2: a report
/// or notice never causes a report itself).
pub(crate) fn queued_to(address: String, now: i64) -> QueueEntry {
    QueueEntry {
        id: 0,
        from: String::new(),
        recipients: vec![QueueRecipient {
            address,
            status: RecipientStatus::Pending,
            attempts: 0,
            last_error: None,
            notify: 0,
        }],
        blob: BlobId([0; 32]),
        created_at: now,
        next_attempt: now,
        envelope_meta: Default::default(),
    }
}
