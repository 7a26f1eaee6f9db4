//! The decisions the SMTP session asks for: sign-in, the sender, each recipient.

use std::sync::Arc;

use certmail_auth::signin::{self, Credentials, Protocol as AuthProtocol};
use certmail_session::{DeviceKey, Protocol, SignInError};

use super::recipients::{self, Target, Unknown};
use super::state::State;
use crate::proto::{AuthRequest, Reply};

pub(super) fn enhanced(s: &str) -> (u8, u16, u16) {
    let mut it = s.split('.').map(|p| p.parse::<u16>().unwrap_or(0));
    let class = it.next().unwrap_or(5) as u8;
    (class, it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// SMTP AUTH: the sign-in decision, then the single-active-session registry.
pub(super) async fn authenticate(state: &mut State, req: AuthRequest) -> Result<(), Reply> {
    let ctx = Arc::clone(&state.ctx);
    let attempt = signin::Attempt {
        cert_der: state.cert.as_deref(),
        credentials: credentials(req)?,
        ip: state.peer.ip(),
        protocol: AuthProtocol::Smtp,
        now: certmail_auth::now(),
    };
    let result = signin::sign_in(
        ctx.store.as_ref(),
        &state.pki,
        &ctx.settings.sign_in,
        attempt,
    )
    .await;
    let signed = match result {
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed on our side");
            return Err(Reply::new(
                454,
                (4, 7, 0),
                "Temporary problem signing in; try again shortly",
            ));
        }
        Ok(Err(refusal)) => {
            let (code, enh) = refusal.reason.smtp_reply();
            return Err(Reply::new(code, enhanced(enh), refusal.message));
        }
        Ok(Ok(s)) => s,
    };
    let device = DeviceKey::new(signed.identity.spki_sha256, state.peer.ip());
    match ctx
        .registry
        .sign_in(
            &signed.account.id,
            device,
            Protocol::Smtp,
            ctx.settings.session_policy,
        )
        .await
    {
        Ok(guard) => {
            state.guard = Some(guard);
            state.account = Some(signed.account);
            Ok(())
        }
        Err(SignInError::Rejected { ip }) => Err(Reply::new(
            535,
            (5, 7, 8),
            format!("Your account is signed in on another device ({ip}); sign out there first"),
        )),
        Err(e @ SignInError::ConnectionCapReached { .. }) => Err(Reply::new(
            454,
            (4, 7, 0),
            format!("{e}; close some and retry"),
        )),
        Err(e @ SignInError::Unavailable(_)) => Err(Reply::new(454, (4, 7, 0), e.to_string())),
    }
}

/// The credentials of a SASL exchange; PLAIN with an authorization id naming another user
/// is refused.
fn credentials(req: AuthRequest) -> Result<Credentials, Reply> {
    Ok(match req {
        AuthRequest::External { authzid } => Credentials::External { authzid },
        AuthRequest::Plain {
            authzid,
            username,
            password,
        } => {
            if authzid.is_some_and(|z| !z.eq_ignore_ascii_case(&username)) {
                return Err(Reply::new(
                    535,
                    (5, 7, 8),
                    "Signing in on behalf of another user is not supported",
                ));
            }
            Credentials::Password {
                user: username,
                password: certmail_auth::Secret::new(password.expose().to_string()),
            }
        }
        AuthRequest::Login { username, password } => Credentials::Password {
            user: username,
            password: certmail_auth::Secret::new(password.expose().to_string()),
        },
    })
}

pub(super) fn check_sender(state: &State, address: &str) -> Result<(), Reply> {
    let Some(account) = &state.account else {
        // MX: any sender here; SPF/DKIM/DMARC run after DATA (inbound/authenticate.rs).
        return Ok(());
    };
    let a = address.to_lowercase();
    if account.addresses.contains(&a) {
        Ok(())
    } else {
        Err(Reply::new(
            550,
            (5, 7, 1),
            format!(
                "You may send only as your own address ({}), not as <{address}>",
                account.addresses.join(", ")
            ),
        ))
    }
}

pub(super) async fn check_recipient(state: &mut State, address: &str) -> Result<(), Reply> {
    let ctx = Arc::clone(&state.ctx);
    let may_relay = state.account.is_some();
    let resolved = recipients::resolve(
        ctx.store.as_ref(),
        &ctx.settings.local_domains,
        address,
        may_relay,
    )
    .await;
    let target = match resolved {
        Err(e) => {
            tracing::error!(error = %e, "recipient lookup failed");
            return Err(Reply::new(
                451,
                (4, 3, 0),
                "Temporary problem looking up the recipient; try again later",
            ));
        }
        Ok(Err(Unknown::NoSuchUser)) => {
            return Err(Reply::new(
                550,
                (5, 1, 1),
                format!("No mailbox here by the name <{address}>"),
            ));
        }
        Ok(Err(Unknown::BadAddress)) => {
            return Err(Reply::new(
                501,
                (5, 1, 3),
                format!("<{address}> is not a valid mail address"),
            ));
        }
        Ok(Err(Unknown::Relay)) => {
            return Err(Reply::new(
                554,
                (5, 7, 1),
                format!(
                    "Relaying denied: this server accepts mail only for its own domains, not <{address}>"
                ),
            ));
        }
        Ok(Ok(t)) => t,
    };
    if let Target::Local(accounts) = &target {
        check_quota(&ctx, accounts, address).await?;
    }
    state.targets.push(target);
    Ok(())
}

/// A full mailbox refuses new mail at RCPT, so the sender hears it at once.
async fn check_quota(
    ctx: &super::SmtpContext,
    accounts: &[String],
    address: &str,
) -> Result<(), Reply> {
    let quota = ctx.settings.quota_bytes;
    if quota == 0 {
        return Ok(());
    }
    for a in accounts {
        match ctx.store.account_usage(a).await {
            Ok(used) if used >= quota => {
                return Err(Reply::new(
                    552,
                    (5, 2, 2),
                    format!(
                        "The mailbox of <{address}> is full; the recipient must delete some mail"
                    ),
                ));
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "quota lookup failed");
                return Err(Reply::new(
                    451,
                    (4, 3, 0),
                    "Temporary problem looking up the recipient; try again later",
                ));
            }
        }
    }
    Ok(())
}
