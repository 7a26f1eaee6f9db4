//! URLAUTH (RFC 4467): GENURLAUTH signs URLs of messages the user can read with the
//! user's access key for the mailbox (made on first use, kept in the store); URLFETCH
//! ([`super::urlfetch`]) gives what a signed URL names to whoever its access identifier
//! admits, read with the rights of the URL's user ([`authorized`]); RESETKEY forgets
//! keys, so every URL made with them stops working. The URLs and the INTERNAL token:
//! [`crate::proto::urlauth`].
//!
//! RFC 4467 §6.3: a URL URLFETCH will not serve is answered `NIL` (expired, reset key,
//! wrong token, an access identifier that does not admit the fetcher, a message gone);
//! the tagged OK then says why in words.

use certmail_session::Change;
use certmail_store::{Account, Store, StoreError};
use imap_codec::imap_types::core::Tag;
use imap_codec::imap_types::response::{Code, CodeOther};
use ring::rand::{SecureRandom, SystemRandom};

use super::acl::capitalised;
use super::catenate::{Lookup, Refusal as CatenateRefusal, message_of, part_of};
use super::dispatch::{Outcome, store_error};
use crate::account::SignedIn;
use crate::out::Out;
use crate::proto::ext::encode::string;
use crate::proto::ext::urlauth::ResetKey;
use crate::proto::imap_url::MessageRef;
use crate::proto::urlauth::{Access, AuthUrl, INTERNAL, authorize, parse_full, parse_rump, verify};

/// Why GENURLAUTH will not sign a URL.
enum Refusal {
    /// `NO [code]` and a sentence.
    No(&'static str, String),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        match e {
            StoreError::MailboxNotFound(_) => Refusal::No(
                "BADURL",
                "The URL's mailbox does not exist or you cannot read it".into(),
            ),
            other => Refusal::Store(other),
        }
    }
}

/// `GENURLAUTH url mechanism ...` (RFC 4467 §6.1): one `* GENURLAUTH` with every URL
/// signed, or `NO` for the first that cannot be (and none signed).
pub async fn genurlauth(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    pairs: Vec<(String, String)>,
) -> Outcome {
    let mut line = b"* GENURLAUTH".to_vec();
    for (rump, mechanism) in pairs {
        match sign(s, &rump, &mechanism).await {
            Ok(url) => line.extend(format!(" {}", string(&url)).into_bytes()),
            Err(Refusal::No("BADURL", why)) => {
                out.no(tag, Some(CatenateRefusal::code(&rump)), &why);
                return Outcome::Done;
            }
            Err(Refusal::No(code, why)) => {
                out.no_code(tag, code, &why);
                return Outcome::Done;
            }
            Err(Refusal::Store(e)) => {
                store_error(out, tag, "GENURLAUTH", &e);
                return Outcome::Done;
            }
        }
    }
    line.extend_from_slice(b"\r\n");
    out.raw_line(line);
    out.ok(tag, None, "GENURLAUTH completed");
    Outcome::Done
}

/// The full URL of `rump`, signed with the user's key for its mailbox.
async fn sign(s: &SignedIn, rump: &str, mechanism: &str) -> Result<String, Refusal> {
    if !mechanism.eq_ignore_ascii_case(INTERNAL) {
        return Err(Refusal::No(
            "CANNOT",
            format!("{mechanism} is not offered; the only URLAUTH mechanism is INTERNAL"),
        ));
    }
    let url = parse_rump(rump).map_err(|why| Refusal::No("BADURL", capitalised(why)))?;
    let me = &s.account.record;
    if !names_account(&url.user, me) {
        return Err(Refusal::No(
            "NOPERM",
            format!(
                "The URL is in the name of {}; you can sign URLs in your own name ({}) only",
                url.user, me.id
            ),
        ));
    }
    let store = s.account.ctx.store.as_ref();
    let target = readable_target(store, me, &url.message.mailbox).await?;
    let fresh = fresh_key().map_err(|e| Refusal::Store(StoreError::Task(e.into())))?;
    let key = store
        .urlauth_key(&me.id, &target.owner, &target.name, Some(fresh))
        .await?
        .ok_or_else(|| Refusal::Store(StoreError::Task("no URLAUTH key was stored".into())))?;
    Ok(authorize(rump, &key))
}

/// The mailbox a URL names, as `account` sees it, if they hold "r" on it.
async fn readable_target(
    store: &dyn Store,
    account: &Account,
    mailbox: &str,
) -> Result<crate::shared::Target, StoreError> {
    let missing = || StoreError::MailboxNotFound(mailbox.to_owned());
    let name = crate::proto::ext::mailbox_name(mailbox.as_bytes()).map_err(|_| missing())?;
    let target = crate::shared::resolve(store, account, &name).await?;
    if !target.rights.has('r') || store.mailbox(&target.owner, &target.name).await?.is_none() {
        return Err(missing());
    }
    Ok(target)
}

fn fresh_key() -> Result<[u8; 32], &'static str> {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| "the system's random source failed")?;
    Ok(key)
}

/// Whether `name` (a URL's user) is `account`: its id or one of its addresses.
fn names_account(name: &str, account: &Account) -> bool {
    name.eq_ignore_ascii_case(&account.id)
        || account
            .addresses
            .iter()
            .any(|a| a.eq_ignore_ascii_case(name))
}

/// `RESETKEY [mailbox [mechanism ...]]` (RFC 4467 §6.2): the user's key for that mailbox,
/// or all of the user's keys, are forgotten.
pub async fn resetkey(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    reset: ResetKey,
) -> Outcome {
    if let Some(other) = reset
        .mechanisms
        .iter()
        .find(|m| !m.eq_ignore_ascii_case(INTERNAL))
    {
        let why = format!("{other} is not offered; the only URLAUTH mechanism is INTERNAL");
        out.no_code(tag, "CANNOT", &why);
        return Outcome::Done;
    }
    let store = s.account.ctx.store.as_ref();
    let me = &s.account.record;
    let named = reset.mailbox.is_some();
    // Ok(Some(mailbox)): whom to tell (`None`: every mailbox); Ok(None): nobody.
    let reset = match &reset.mailbox {
        None => store
            .reset_urlauth_keys(&me.id, None)
            .await
            .map(|_| Some(None)),
        Some(wire) => {
            let name = String::from_utf8_lossy(wire);
            match readable_target(store, me, &name).await {
                Ok(t) => store
                    .reset_urlauth_keys(&me.id, Some((&t.owner, &t.name)))
                    .await
                    .map(|_| (t.owner == me.id).then(|| Some(t.name.clone()))),
                Err(e) => Err(e),
            }
        }
    };
    let text = "RESETKEY completed: URLs made before it no longer work";
    // RFC 4467 §6.2: with a mailbox, the OK names the mechanisms it now has, and the
    // user's other sessions with it selected are told (those of the user's own mailboxes:
    // a shared one's sessions listen on its owner's channel).
    match reset {
        Ok(own) => {
            if let Some(mailbox) = own {
                s.publish(Change::UrlAuthKeysReset { mailbox });
            }
            out.ok(tag, named.then(urlmech), text);
        }
        Err(e) => store_error(out, tag, "RESETKEY", &e),
    }
    Outcome::Done
}

/// `URLMECH INTERNAL` (RFC 4467 §7): the one mechanism every mailbox has.
pub fn urlmech() -> Code<'static> {
    Code::Other(CodeOther::unvalidated(b"URLMECH INTERNAL".as_slice()))
}

/// Why a URL is not served.
#[derive(Debug)]
pub enum Denied {
    /// The URL is not good for this fetcher now: a sentence (lower case, for after "because").
    Why(&'static str),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for Denied {
    fn from(e: StoreError) -> Denied {
        match e {
            StoreError::MailboxNotFound(_) => Denied::Why("its mailbox does not exist"),
            other => Denied::Store(other),
        }
    }
}

impl From<Lookup> for Denied {
    fn from(e: Lookup) -> Denied {
        match e {
            Lookup::Gone(_) => Denied::Why("the message or part it names is gone"),
            Lookup::Store(e) => Denied::Store(e),
        }
    }
}

/// The octets a full URLAUTH URL names, if it is good at `now` and its access identifier
/// admits `fetcher` (`submission`: the fetch is the submission server's, for BURL),
/// read with the rights of the URL's user.
pub async fn authorized(
    store: &dyn Store,
    fetcher: &Account,
    submission: bool,
    url: &str,
    now: i64,
) -> Result<Vec<u8>, Denied> {
    let (raw, url) = authorized_message(store, fetcher, submission, url, now).await?;
    part_of(&raw, &url)?.ok_or(Denied::Why("the part it names does not exist"))
}

/// The whole message a full URLAUTH URL names and the URL's message reference, on the
/// same terms as [`authorized`]: the caller takes the part it wants from it.
pub(super) async fn authorized_message(
    store: &dyn Store,
    fetcher: &Account,
    submission: bool,
    url: &str,
    now: i64,
) -> Result<(Vec<u8>, MessageRef), Denied> {
    let url = parse_full(url).map_err(|_| Denied::Why("it is not a URLAUTH URL of this server"))?;
    check_use(&url, fetcher, submission, now)?;
    let owner = account_named(store, &url.user)
        .await?
        .ok_or(Denied::Why("its user does not exist"))?;
    let target = readable_target(store, &owner, &url.message.mailbox).await?;
    let key = store
        .urlauth_key(&owner.id, &target.owner, &target.name, None)
        .await?
        .ok_or(Denied::Why("its access key was reset (RESETKEY)"))?;
    if !verify(&url, &key) {
        return Err(Denied::Why(
            "its token does not match: the URL was changed, or its key was reset",
        ));
    }
    let raw = message_of(store, &owner, &url.message)
        .await?
        .ok_or(Denied::Why("the message it names is gone"))?;
    Ok((raw, url.message))
}

/// RFC 4467 §3: the mechanism, the expiry and the access identifier.
fn check_use(url: &AuthUrl, fetcher: &Account, submission: bool, now: i64) -> Result<(), Denied> {
    let internal = url
        .verifier
        .as_ref()
        .is_some_and(|(m, _)| m.eq_ignore_ascii_case(INTERNAL));
    if !internal {
        return Err(Denied::Why("its mechanism is not INTERNAL"));
    }
    if url.expired(now) {
        return Err(Denied::Why("it has expired"));
    }
    let admitted = match &url.access {
        Access::Anonymous | Access::AuthUser => true,
        Access::User(user) => !submission && names_account(user, fetcher),
        Access::Submit(user) => submission && names_account(user, fetcher),
    };
    if !admitted {
        return Err(Denied::Why(match url.access {
            Access::Submit(_) => {
                "it is for the submission server (submit+), sending for the user it names"
            }
            _ => "its access identifier names another user",
        }));
    }
    Ok(())
}

/// The account a URL's user names: an account id or an address.
async fn account_named(store: &dyn Store, name: &str) -> Result<Option<Account>, StoreError> {
    if let Some(account) = store.account(&name.to_lowercase()).await? {
        return Ok(Some(account));
    }
    store.account_by_address(name).await
}
