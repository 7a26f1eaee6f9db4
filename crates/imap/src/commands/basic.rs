//! Commands that need no store: CAPABILITY, NOOP, LOGOUT, ID, STARTTLS (any state), and
//! ENABLE and NAMESPACE (signed in).

use imap_codec::imap_types::{
    command::CommandBody,
    core::{IString, NString, QuotedChar, Tag, Vec1},
    extensions::{enable::CapabilityEnable, namespace::Namespace},
    response::Data,
};

use super::Outcome;
use crate::proto::capability::{CapabilityPhase, capabilities};
use crate::proto::response::bye;
use crate::server::{Out, SignedIn};

/// Answers the commands valid in every state; `None` for any other command.
/// `append_limit` is the APPENDLIMIT to advertise.
pub fn any_state(
    signed_in: bool,
    append_limit: u32,
    out: &mut Out,
    tag: Tag<'static>,
    body: &CommandBody<'static>,
) -> Option<Outcome> {
    match body {
        // RFC 3501 §6.1.1
        CommandBody::Capability => {
            let phase = if signed_in {
                CapabilityPhase::Authenticated
            } else {
                CapabilityPhase::TlsNotAuthenticated
            };
            out.data(Data::Capability(capabilities(phase, append_limit)));
            out.ok(tag, None, "CAPABILITY completed");
        }
        // RFC 3501 §6.1.2: updates are told by the caller after any command.
        CommandBody::Noop => out.ok(tag, None, "NOOP completed"),
        // RFC 3501 §6.1.3
        CommandBody::Logout => {
            out.status(bye(None, "Logging out"));
            out.ok(tag, None, "LOGOUT completed");
            return Some(Outcome::Logout);
        }
        // RFC 2971: we say who we are, and ignore what the client says.
        CommandBody::Id { .. } => {
            let params = vec![(
                IString::try_from("name").expect("an atom-like string"),
                NString::try_from("certmail").expect("a valid string"),
            )];
            out.data(Data::Id {
                parameters: Some(params),
            });
            out.ok(tag, None, "ID completed");
        }
        CommandBody::StartTLS => {
            out.bad(tag, "TLS is already active");
            return Some(Outcome::Bad);
        }
        CommandBody::Enable { .. } | CommandBody::Namespace if !signed_in => {
            out.bad(tag, "Sign in first");
            return Some(Outcome::Bad);
        }
        _ => return None,
    }
    Some(Outcome::Done)
}

/// ENABLE (RFC 5161): only CONDSTORE is known; others are ignored as the RFC requires.
pub fn enable(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    requested: &Vec1<CapabilityEnable<'static>>,
) -> Outcome {
    let mut enabled = Vec::new();
    for capability in requested.as_ref() {
        if matches!(capability, CapabilityEnable::CondStore) {
            // RFC 7162 §3.1: ENABLE CONDSTORE turns it on for the session.
            s.condstore = true;
            enabled.push(CapabilityEnable::CondStore);
        }
    }
    out.data(Data::Enabled {
        capabilities: enabled,
    });
    out.ok(tag, None, "ENABLE completed");
    Outcome::Done
}

/// NAMESPACE (RFC 2342): one personal namespace, "" with "/" as delimiter.
pub fn namespace(out: &mut Out, tag: Tag<'static>) -> Outcome {
    let personal = vec![Namespace {
        prefix: IString::try_from("").expect("empty quoted string"),
        delimiter: Some(QuotedChar::unvalidated(certmail_store::MAILBOX_DELIMITER)),
        extensions: Vec::new(),
    }];
    out.data(Data::Namespace {
        personal,
        other: Vec::new(),
        shared: Vec::new(),
    });
    out.ok(tag, None, "NAMESPACE completed");
    Outcome::Done
}
