//! ENABLE (RFC 5161): CONDSTORE (RFC 7162 §3.1), QRESYNC (RFC 7162 §3.2.3) and IMAP4rev2
//! (RFC 9051 §6.3.1) are
//! enabled; unknown extensions are ignored. Valid only when signed in with no mailbox selected (RFC 5161 §3.1).

use imap_codec::imap_types::{
    core::{Tag, Vec1},
    extensions::enable::CapabilityEnable,
    response::Data,
};
use imap_next::server::Server;

use super::sign_in::Authenticator;
use crate::{
    proto::response::{bad, ok},
    session::{Flow, Session},
};

/// Runs ENABLE.
pub fn run<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    tag: Tag<'static>,
    capabilities: Vec1<CapabilityEnable<'static>>,
) -> Flow {
    let Some(signed_in) = session
        .signed_in_mut()
        .filter(|signed_in| signed_in.selected.is_none())
    else {
        return session.reply_bad(
            server,
            bad(
                Some(tag),
                "ENABLE is valid only after sign-in and before SELECT",
            ),
        );
    };
    let on = &mut signed_in.enabled;
    let mut enabled = Vec::new();
    for capability in capabilities.as_ref() {
        if matches!(capability, CapabilityEnable::CondStore) && !on.condstore {
            on.condstore = true;
            enabled.push(CapabilityEnable::CondStore);
        }
        if super::qresync::is_qresync(capability) && !on.qresync {
            // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
            on.qresync = true;
            on.condstore = true;
            enabled.push(capability.clone());
        }
        // RFC 9051 §6.3.1: a server advertising IMAP4rev1 and IMAP4rev2 answers as
        // IMAP4rev1 until the client enables IMAP4rev2.
        if matches!(capability, CapabilityEnable::Other(_))
            && capability.to_string().eq_ignore_ascii_case("IMAP4rev2")
            && !on.imap4rev2
        {
            on.imap4rev2 = true;
            enabled.push(capability.clone());
        }
    }
    // RFC 5161 §3.2: the ENABLED response lists what this command newly enabled.
    server.enqueue_data(Data::Enabled {
        capabilities: enabled,
    });
    server.enqueue_status(ok(tag, None, "ENABLE completed"));
    Flow::Continue
}
