//! Sign-in: LOGIN, AUTHENTICATE PLAIN and EXTERNAL (with SASL-IR), decided by
//! `certmail_auth::signin` (certificate identity, binding, account state, password) and the
//! session registry (one active session per account). DESIGN.md "Identity" gives the
//! response codes; a refusal always carries a sentence the user can act on.

use std::net::IpAddr;
use std::sync::Arc;

use certmail_auth::Secret;
use certmail_auth::signin::{self, Attempt, Credentials, Protocol as AuthProtocol};
use certmail_pki::Pki;
use certmail_session::{DeviceKey, Protocol, SignInError};
use certmail_store::{INBOX, SpecialUse, Store};
use imap_codec::imap_types::{core::Tag, response::Status};

use super::{ImapContext, SignedIn};
use crate::proto::capability::CapabilityPhase;
use crate::proto::driver::capability_code;
use crate::proto::response::{code, no, ok};

/// The SASL mechanism of an AUTHENTICATE in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mechanism {
    /// RFC 4616 PLAIN: `authzid NUL user NUL password`.
    Plain,
    /// RFC 4422 Appendix A EXTERNAL: the certificate, with an optional authzid.
    External,
}

impl Mechanism {
    /// The mechanism named by the client, if we offer it.
    pub(super) fn from_name(name: &str) -> Option<Mechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mechanism::Plain),
            "EXTERNAL" => Some(Mechanism::External),
            _ => None,
        }
    }

    /// The credentials in the client's SASL response, or why it is malformed.
    pub(super) fn credentials(self, data: &[u8]) -> Result<Credentials, &'static str> {
        match self {
            Mechanism::External => {
                let authzid = std::str::from_utf8(data).map_err(|_| "authzid is not UTF-8")?;
                Ok(Credentials::External {
                    authzid: (!authzid.is_empty()).then(|| authzid.to_owned()),
                })
            }
            Mechanism::Plain => {
                let mut parts = data.split(|&b| b == 0);
                let (Some(authzid), Some(user), Some(password), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err("PLAIN needs authzid, user and password separated by NUL");
                };
                let text = |b: &[u8]| std::str::from_utf8(b).map(str::to_owned);
                let (authzid, user, password) = match (text(authzid), text(user), text(password)) {
                    (Ok(a), Ok(u), Ok(p)) => (a, u, p),
                    _ => return Err("PLAIN credentials are not UTF-8"),
                };
                if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(&user) {
                    return Err("Signing in on behalf of another user is not supported");
                }
                Ok(Credentials::Password {
                    user,
                    password: Secret::new(password),
                })
            }
        }
    }
}

/// Credentials of `LOGIN user password`.
pub(super) fn login_credentials(user: &[u8], password: &[u8]) -> Result<Credentials, &'static str> {
    let user = std::str::from_utf8(user).map_err(|_| "user name is not UTF-8")?;
    let password = std::str::from_utf8(password).map_err(|_| "password is not UTF-8")?;
    Ok(Credentials::Password {
        user: user.to_owned(),
        password: Secret::new(password.to_owned()),
    })
}

/// Decides a sign-in. `Ok` carries the new signed-in state and the tagged OK to send;
/// `Err` the tagged NO.
pub(super) async fn decide(
    ctx: &Arc<ImapContext>,
    pki: &Pki,
    cert: Option<&[u8]>,
    ip: IpAddr,
    tag: Tag<'static>,
    credentials: Credentials,
) -> Result<(SignedIn, Status<'static>), Status<'static>> {
    let attempt = Attempt {
        cert_der: cert,
        credentials,
        ip,
        protocol: AuthProtocol::Imap,
        now: certmail_auth::now(),
    };
    let signed =
        match signin::sign_in(ctx.store.as_ref(), pki, &ctx.settings.sign_in, attempt).await {
            Err(e) => {
                tracing::error!(error = %e, "imap sign-in failed on our side");
                let text = "Temporary problem signing in; try again shortly";
                return Err(no(tag, Some(code("UNAVAILABLE")), text));
            }
            // DESIGN.md "Identity" table: each reason has its code and a sentence.
            Ok(Err(refusal)) => {
                return Err(no(
                    tag,
                    Some(code(refusal.reason.imap_code())),
                    refusal.text_7bit(),
                ));
            }
            Ok(Ok(signed)) => signed,
        };
    let device = DeviceKey::new(signed.identity.spki_sha256, ip);
    let guard = match ctx
        .registry
        .sign_in(
            &signed.account.id,
            device,
            Protocol::Imap,
            ctx.settings.session_policy,
        )
        .await
    {
        Ok(guard) => guard,
        Err(e @ (SignInError::Rejected { .. } | SignInError::ConnectionCapReached { .. })) => {
            return Err(no(
                tag,
                Some(code("UNAVAILABLE")),
                &capitalised(&e.to_string()),
            ));
        }
    };
    if let Err(e) = create_default_mailboxes(ctx.store.as_ref(), &signed.account.id).await {
        tracing::error!(error = %e, account = %signed.account.id, "creating default mailboxes failed");
    }
    let changes = ctx
        .hub
        .subscribe(&signed.account.id, Some(guard.connection_id()), None);
    tracing::info!(account = %signed.account.id, %ip, "imap sign-in");
    let state = SignedIn {
        ctx: Arc::clone(ctx),
        account: signed.account,
        guard,
        changes,
        selected: None,
        condstore: false,
    };
    // RFC 3501 §6.2.3: the OK may carry the capabilities, which change after sign-in.
    let caps = capability_code(CapabilityPhase::Authenticated, ctx.settings.append_limit);
    Ok((state, ok(tag, Some(caps), "Signed in")))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The folders a desktop client expects, with their RFC 6154 special use.
const DEFAULT_MAILBOXES: [(&str, SpecialUse); 5] = [
    ("Sent", SpecialUse::Sent),
    ("Drafts", SpecialUse::Drafts),
    ("Trash", SpecialUse::Trash),
    ("Junk", SpecialUse::Junk),
    ("Archive", SpecialUse::Archive),
];

/// At first sign-in (the account has nothing but INBOX), creates Sent, Drafts, Trash, Junk
/// and Archive with their special use. A user who later deletes some keeps them deleted.
pub(crate) async fn create_default_mailboxes(
    store: &dyn Store,
    account: &str,
) -> Result<(), certmail_store::StoreError> {
    let existing = store.list_mailboxes(account).await?;
    if existing.iter().any(|m| m.name != INBOX) {
        return Ok(());
    }
    if !existing.iter().any(|m| m.name == INBOX) {
        store.create_mailbox(account, INBOX, None).await?;
    }
    for (name, special_use) in DEFAULT_MAILBOXES {
        store
            .create_mailbox(account, name, Some(special_use))
            .await?;
        store.set_subscribed(account, name, true).await?;
    }
    store.set_subscribed(account, INBOX, true).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_external_responses_are_decoded() {
        let plain = Mechanism::Plain
            .credentials(b"\0hong\0\xeb\xb9\x84\xeb\xb0\x80")
            .expect("valid PLAIN");
        assert!(
            matches!(plain, Credentials::Password { user, password } if user == "hong" && password.expose() == "비밀")
        );
        assert!(Mechanism::Plain.credentials(b"kim\0hong\0pw").is_err());
        assert!(Mechanism::Plain.credentials(b"hong\0pw").is_err());
        let external = Mechanism::External.credentials(b"hong").expect("authzid");
        assert!(matches!(external, Credentials::External { authzid: Some(a) } if a == "hong"));
        let bare = Mechanism::External.credentials(b"").expect("empty authzid");
        assert!(matches!(bare, Credentials::External { authzid: None }));
    }
}
