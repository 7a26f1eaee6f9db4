//! ID (RFC 2971): remember what the client says about itself (for logs only: it never
//! changes the session's device key, DESIGN.md) and answer with our own fields.

use imap_codec::imap_types::{
    core::{IString, NString, Tag},
    response::Data,
};
use imap_next::server::Server;

use super::sign_in::Authenticator;
use crate::{
    message::envelope::istring,
    proto::response::ok,
    session::{Flow, Session},
};

/// RFC 2971 §3.3: at most 30 pairs, field names up to 30 octets, values up to 1024.
const MAX_PAIRS: usize = 30;
const MAX_FIELD: usize = 30;
const MAX_VALUE: usize = 1024;

/// Runs ID.
pub fn run<A: Authenticator>(
    session: &mut Session<A>,
    server: &mut Server,
    tag: Tag<'static>,
    parameters: Option<Vec<(IString<'static>, NString<'static>)>>,
) -> Flow {
    session.client_id = parameters
        .unwrap_or_default()
        .into_iter()
        .take(MAX_PAIRS)
        .map(|(field, value)| {
            let field = lossy(field.as_ref(), MAX_FIELD);
            let value = value.0.map(|v| lossy(v.as_ref(), MAX_VALUE));
            (field, value)
        })
        .collect();
    let ours = session
        .config()
        .server_id
        .iter()
        .map(|(field, value)| {
            (
                istring(field.as_bytes()),
                NString(Some(istring(value.as_bytes()))),
            )
        })
        .collect::<Vec<_>>();
    server.enqueue_data(Data::Id {
        parameters: (!ours.is_empty()).then_some(ours),
    });
    server.enqueue_status(ok(tag, None, "ID completed"));
    Flow::Continue
}

fn lossy(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}
