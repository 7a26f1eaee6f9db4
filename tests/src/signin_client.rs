//! One sign-in as a mail program does it: SMTP `AUTH` on 465 or after STARTTLS on 587, IMAP
//! `AUTHENTICATE` on 993 or after STARTTLS on 143, PLAIN or EXTERNAL with an initial
//! response (RFC 4954, RFC 4959). Returns the server's answer so
//! the caller can check the exact codes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use rustls::SupportedProtocolVersion;

use tokio::net::TcpStream;

use crate::lines::LineClient;
use crate::tls::{ClientCert, client_config};

/// Which protocol signs in, and how TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// SMTP submission over implicit TLS (465): `AUTH …`.
    Smtp,
    /// IMAP over implicit TLS (993): `a1 AUTHENTICATE …`.
    Imap,
    /// SMTP submission on 587: EHLO, STARTTLS, then as [`Proto::Smtp`].
    SmtpStartTls,
    /// IMAP on 143: STARTTLS, then as [`Proto::Imap`].
    ImapStartTls,
}

impl Proto {
    /// Every way in.
    pub const ALL: [Proto; 4] = [
        Proto::Smtp,
        Proto::Imap,
        Proto::SmtpStartTls,
        Proto::ImapStartTls,
    ];

    /// The daemon's listener name for this protocol (`listening NAME ADDR:PORT`).
    pub fn listener(self) -> &'static str {
        match self {
            Proto::Smtp => "submissions",
            Proto::Imap => "imaps",
            Proto::SmtpStartTls => "submission",
            Proto::ImapStartTls => "imap",
        }
    }

    /// Whether this is IMAP (else SMTP).
    pub fn is_imap(self) -> bool {
        matches!(self, Proto::Imap | Proto::ImapStartTls)
    }

    /// The audit log's `protocol` field.
    pub fn audit_name(self) -> &'static str {
        if self.is_imap() { "imap" } else { "smtp" }
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

/// Connects to `addr` with `version` only (after STARTTLS for the STARTTLS listeners),
/// presenting `client` (certificate DER and key) when given, and signs in. Returns the SMTP
/// AUTH reply (`235 …`, `535 5.7.8 …`) or the IMAP tagged response (`a1 OK …`,
/// `a1 NO [CODE] …`). The session is ended politely.
pub async fn sign_in(
    server_ca: &Path,
    addr: SocketAddr,
    proto: Proto,
    version: &'static SupportedProtocolVersion,
    client: Option<ClientCert>,
    auth: Auth<'_>,
) -> anyhow::Result<String> {
    let config = client_config(server_ca, client, &[version])?;
    let stream = match proto {
        Proto::Smtp | Proto::Imap => crate::tls::connect(addr, config).await?,
        Proto::SmtpStartTls | Proto::ImapStartTls => starttls(addr, proto, config).await?,
    };
    let negotiated = stream.get_ref().1.protocol_version();
    anyhow::ensure!(
        negotiated == Some(version.version),
        "negotiated {negotiated:?}"
    );
    let mut c = LineClient::new(stream);
    if proto.is_imap() {
        if proto == Proto::Imap {
            let greeting = c.line().await?;
            anyhow::ensure!(greeting.starts_with("* OK"), "greeting {greeting:?}");
        }
        let command = format!("AUTHENTICATE {}", auth.command_tail());
        let reply = imap_command(&mut c, "a1", &command).await?;
        let _ = imap_command(&mut c, "a2", "LOGOUT").await;
        return Ok(reply);
    }
    if proto == Proto::Smtp {
        let greeting = c.smtp_reply().await?;
        anyhow::ensure!(greeting.starts_with("220 "), "greeting {greeting:?}");
    }
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

/// The plaintext phase up to STARTTLS (RFC 3207 §4, RFC 3501 §6.2.1), then the handshake
/// on the same socket.
pub async fn starttls(
    addr: SocketAddr,
    proto: Proto,
    config: Arc<rustls::ClientConfig>,
) -> anyhow::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut c = LineClient::new(TcpStream::connect(addr).await?);
    if proto.is_imap() {
        let greeting = c.line().await?;
        anyhow::ensure!(greeting.contains("STARTTLS"), "greeting {greeting:?}");
        let ok = imap_command(&mut c, "s1", "STARTTLS").await?;
        anyhow::ensure!(ok.starts_with("s1 OK"), "STARTTLS: {ok:?}");
    } else {
        let greeting = c.smtp_reply().await?;
        anyhow::ensure!(greeting.starts_with("220 "), "greeting {greeting:?}");
        let ehlo = c.smtp("EHLO client.test.go.kr").await?;
        anyhow::ensure!(ehlo.contains("STARTTLS"), "EHLO {ehlo:?}");
        let ready = c.smtp("STARTTLS").await?;
        anyhow::ensure!(ready.starts_with("220 "), "STARTTLS: {ready:?}");
    }
    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    let tcp = c.into_inner();
    Ok(tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?)
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
