//! One sign-in over implicit TLS, as a mail program does it: SMTP `AUTH` on the
//! submissions port (465) or IMAP `AUTHENTICATE` on the imaps port (993), PLAIN or
//! EXTERNAL with an initial response (RFC 4954, RFC 4959). Returns the server's answer so
//! the caller can check the exact codes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use rustls::SupportedProtocolVersion;
use rustls::sign::SigningKey;

use crate::client_keys::client_config;
use crate::lines::LineClient;

/// Which protocol signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// SMTP submission over implicit TLS: `AUTH …`.
    Smtp,
    /// IMAP over implicit TLS: `a1 AUTHENTICATE …`.
    Imap,
}

impl Proto {
    /// The daemon's listener name for this protocol (`listening NAME ADDR:PORT`).
    pub fn listener(self) -> &'static str {
        match self {
            Proto::Smtp => "submissions",
            Proto::Imap => "imaps",
        }
    }

    /// The audit log's `protocol` field.
    pub fn audit_name(self) -> &'static str {
        match self {
            Proto::Smtp => "smtp",
            Proto::Imap => "imap",
        }
    }
}

/// The SASL exchange.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// PLAIN with this user name and password (no authorization id).
    Plain(&'a str, &'a str),
    /// EXTERNAL with this authorization id (`None`: the empty response `=`).
    External(Option<&'a str>),
}

impl Auth<'_> {
    /// `MECHANISM INITIAL-RESPONSE`.
    fn command_tail(self) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        match self {
            Auth::Plain(user, pw) => format!("PLAIN {}", b64(&format!("\0{user}\0{pw}"))),
            Auth::External(None) => "EXTERNAL =".to_string(),
            Auth::External(Some(z)) => format!("EXTERNAL {}", b64(z)),
        }
    }
}

/// Connects to `addr` with `version` only, presenting `client` (certificate DER and key)
/// when given, and signs in. Returns the SMTP AUTH reply (`235 …`, `535 5.7.8 …`) or the
/// IMAP tagged response (`a1 OK …`, `a1 NO [CODE] …`). The session is ended politely.
pub async fn sign_in(
    server_ca: &Path,
    addr: SocketAddr,
    proto: Proto,
    version: &'static SupportedProtocolVersion,
    client: Option<(&[u8], Arc<dyn SigningKey>)>,
    auth: Auth<'_>,
) -> anyhow::Result<String> {
    let config = client_config(server_ca, client, version)?;
    let stream = crate::tls::connect(addr, config).await?;
    let negotiated = stream.get_ref().1.protocol_version();
    anyhow::ensure!(
        negotiated == Some(version.version),
        "negotiated {negotiated:?}"
    );
    let mut c = LineClient::new(stream);
    match proto {
        Proto::Smtp => {
            let greeting = c.smtp_reply().await?;
            anyhow::ensure!(greeting.starts_with("220 "), "greeting {greeting:?}");
            let ehlo = c.smtp("EHLO client.test.go.kr").await?;
            let offers_plain = ehlo.lines().any(|l| {
                l.get(4..)
                    .is_some_and(|t| t.starts_with("AUTH ") && t.contains(" PLAIN"))
            });
            anyhow::ensure!(offers_plain, "EHLO offers no AUTH PLAIN: {ehlo:?}");
            let reply = c.smtp(&format!("AUTH {}", auth.command_tail())).await?;
            let _ = c.smtp("QUIT").await;
            Ok(reply)
        }
        Proto::Imap => {
            let greeting = c.line().await?;
            anyhow::ensure!(greeting.starts_with("* OK"), "greeting {greeting:?}");
            let reply = imap_command(
                &mut c,
                "a1",
                &format!("AUTHENTICATE {}", auth.command_tail()),
            )
            .await?;
            let _ = imap_command(&mut c, "a2", "LOGOUT").await;
            Ok(reply)
        }
    }
}

/// Sends `tag command` and returns the tagged response line (untagged ones are skipped).
async fn imap_command<S>(c: &mut LineClient<S>, tag: &str, command: &str) -> anyhow::Result<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    c.send_raw(format!("{tag} {command}\r\n").as_bytes())
        .await?;
    let prefix = format!("{tag} ");
    loop {
        let line = c.line().await?;
        anyhow::ensure!(
            !line.is_empty(),
            "connection closed before the {tag} response"
        );
        if line.starts_with(&prefix) {
            return Ok(line);
        }
    }
}
