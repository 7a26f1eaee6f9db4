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

/// The client's name for people, from its ID fields: `name`, then `version` if given
/// (field names are case-insensitive, RFC 2971 §3.3), at most 100 characters, control
/// characters dropped; `None` without a name.
pub fn client_name(fields: &[(String, Option<String>)]) -> Option<String> {
    let field = |want: &str| {
        fields
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(want))
            .and_then(|(_, v)| v.as_deref())
            .map(|v| v.chars().filter(|c| !c.is_control()).collect::<String>())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let name = field("name")?;
    let full = match field("version") {
        Some(version) => format!("{name} {version}"),
        None => name,
    };
    Some(full.chars().take(100).collect())
}

fn lossy(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::client_name;

    fn fields(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(f, v)| (f.to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn name_then_version() {
        let thunderbird = fields(&[("name", Some("Thunderbird")), ("Version", Some("128.5.0"))]);
        assert_eq!(
            client_name(&thunderbird).as_deref(),
            Some("Thunderbird 128.5.0")
        );
        let korean = fields(&[("NAME", Some("메일 앱\r\n"))]);
        assert_eq!(client_name(&korean).as_deref(), Some("메일 앱"));
        assert_eq!(client_name(&fields(&[("version", Some("1"))])), None);
        assert_eq!(client_name(&fields(&[("name", None)])), None);
        let long = "x".repeat(500);
        let long = fields(&[("name", Some(long.as_str()))]);
        assert_eq!(client_name(&long).map(|n| n.chars().count()), Some(100));
    }
}
