//! Sign-in: the [`Authenticator`] behind `commands::login` and `commands::authenticate`
//! (LOGIN, AUTHENTICATE PLAIN and EXTERNAL with SASL-IR), decided by
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

use crate::account::AccountHandle;
use crate::commands::sign_in::{
    Authenticator, RefusalCode, SignInMechanism, SignInRefusal, SignInRequest,
};
use crate::context::ImapContext;

/// The daemon's identity check for one connection, behind [`Authenticator`]: the
/// certificate the client presented, its address, and the store, registry and hub. A
/// successful sign-in yields the [`AccountHandle`] the session then holds.
pub(crate) struct CertAuthenticator {
    pub(crate) ctx: Arc<ImapContext>,
    pub(crate) pki: Arc<Pki>,
    pub(crate) cert: Option<Vec<u8>>,
    pub(crate) ip: IpAddr,
}

impl Authenticator for CertAuthenticator {
    type Account = AccountHandle;

    async fn sign_in(&mut self, request: SignInRequest) -> Result<AccountHandle, SignInRefusal> {
        let credentials = credentials(request)?;
        decide(
            &self.ctx,
            &self.pki,
            self.cert.as_deref(),
            self.ip,
            credentials,
        )
        .await
    }
}

/// What `certmail_auth` needs from a sign-in request.
fn credentials(request: SignInRequest) -> Result<Credentials, SignInRefusal> {
    match request.mechanism {
        SignInMechanism::External => Ok(Credentials::External {
            authzid: request.authzid,
        }),
        SignInMechanism::Plain | SignInMechanism::Login => {
            let user = request.username.unwrap_or_default();
            if let Some(authzid) = request.authzid
                && !authzid.eq_ignore_ascii_case(&user)
            {
                return Err(refusal(
                    RefusalCode::AuthenticationFailed,
                    "Signing in on behalf of another user is not supported",
                ));
            }
            let password = request.password.map(|p| p.expose().to_owned());
            Ok(Credentials::Password {
                user,
                password: Secret::new(password.unwrap_or_default()),
            })
        }
    }
}

fn refusal(code: RefusalCode, text: &str) -> SignInRefusal {
    SignInRefusal {
        code,
        text: text.to_owned(),
    }
}

/// The IMAP column of DESIGN.md's table as the sign-in boundary's code.
fn refusal_code(imap_code: &str) -> RefusalCode {
    match imap_code {
        "EXPIRED" => RefusalCode::Expired,
        "UNAVAILABLE" => RefusalCode::Unavailable,
        "CONTACTADMIN" => RefusalCode::ContactAdmin,
        _ => RefusalCode::AuthenticationFailed,
    }
}

/// Decides a sign-in: the identity check and second factor (`certmail_auth`), then the
/// session registry (one active session per account).
async fn decide(
    ctx: &Arc<ImapContext>,
    pki: &Pki,
    cert: Option<&[u8]>,
    ip: IpAddr,
    credentials: Credentials,
) -> Result<AccountHandle, SignInRefusal> {
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
                return Err(refusal(RefusalCode::Unavailable, text));
            }
            // DESIGN.md "Identity" table: each reason has its code and a sentence.
            Ok(Err(refused)) => {
                return Err(refusal(
                    refusal_code(refused.reason.imap_code()),
                    refused.text_7bit(),
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
        Err(
            e @ (SignInError::Rejected { .. }
            | SignInError::ConnectionCapReached { .. }
            | SignInError::Unavailable(_)),
        ) => {
            return Err(refusal(
                RefusalCode::Unavailable,
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
    Ok(AccountHandle {
        ctx: Arc::clone(ctx),
        record: signed.account,
        guard,
        changes,
        search_result: Vec::new(),
        contexts: Vec::new(),
        notify: None,
        notify_pending: Vec::new(),
        notify_overflowed: false,
        also: Vec::new(),
    })
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
    use crate::commands::sign_in::{parse_external, parse_plain};

    #[test]
    fn sasl_requests_become_credentials() {
        let plain = parse_plain(b"\0hong\0pw-1").expect("valid PLAIN");
        let creds = credentials(plain).expect("own account");
        assert!(
            matches!(creds, Credentials::Password { user, password } if user == "hong" && password.expose() == "pw-1")
        );
        let other = parse_plain(b"kim\0hong\0pw").expect("valid PLAIN");
        let refused = credentials(other).expect_err("authzid of someone else");
        assert_eq!(refused.code, RefusalCode::AuthenticationFailed);
        let external = parse_external(b"hong").expect("authzid");
        let creds = credentials(external).expect("external");
        assert!(matches!(creds, Credentials::External { authzid: Some(a) } if a == "hong"));
        assert_eq!(refusal_code("CONTACTADMIN"), RefusalCode::ContactAdmin);
    }
}
