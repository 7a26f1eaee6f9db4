//! The SMTP client: one connection to one remote server, on tokio.
//!
//! [`SmtpClient::connect`] opens the connection (implicit TLS or STARTTLS, per
//! [`TlsRequirement`]), reads the greeting and says EHLO; [`SmtpClient::send`] runs one
//! mail transaction and returns one reply per recipient; the connection can then carry the
//! next message (after RSET) or [`SmtpClient::quit`]. When the server offers PIPELINING
//! (RFC 2920) MAIL, RCPT… and DATA go out in one write and their replies are read in
//! order; otherwise a reply is read before the next command is written. Either way each
//! recipient gets its own reply.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::reply::{Capabilities, RemoteReply, ReplyParser};
use super::tls::ClientTls;
use certmail_store::notify;

/// How a connection must be protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRequirement {
    /// STARTTLS when offered, any certificate; cleartext if not offered (Postfix `may`).
    Opportunistic,
    /// STARTTLS required, any certificate (Postfix `encrypt`).
    Encrypt,
    /// STARTTLS required and the certificate must verify for the host (Postfix `secure`).
    Verify,
    /// No TLS at all (used once after an opportunistic handshake failed).
    None,
    /// STARTTLS required and the certificate must match the host's TLSA records (RFC 7672),
    /// checked by [`ConnectOptions::dane`].
    Dane,
}

/// Time limits of one connection (RFC 5321 §4.5.3.2 suggests minutes; these are bounds).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect and TLS handshake.
    pub connect: Duration,
    /// Each command's reply (greeting, EHLO, MAIL, RCPT, DATA's 354).
    pub command: Duration,
    /// The reply after the final dot (RFC 5321 §4.5.3.2.6: 10 minutes).
    pub data: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            command: Duration::from_secs(300),
            data: Duration::from_secs(600),
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The address to connect to.
    pub addr: SocketAddr,
    /// The server's host name (SNI and certificate check).
    pub host: String,
    /// Our EHLO name.
    pub helo: String,
    /// TLS from the first byte (port 465 style) instead of STARTTLS.
    pub implicit_tls: bool,
    /// What TLS the connection needs.
    pub requirement: TlsRequirement,
    /// With [`TlsRequirement::Dane`]: the config whose verifier checks the TLSA records.
    pub dane: Option<Arc<ClientConfig>>,
    /// Time limits.
    pub timeouts: Timeouts,
}

/// Why a connection or a transaction failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The TLS handshake failed; with [`TlsRequirement::Opportunistic`] the caller may
    /// reconnect in cleartext.
    TlsHandshake(String),
    /// Everything else: a refusing reply, a protocol or network error (as a local reply).
    Failed(RemoteReply),
}

impl ClientError {
    /// The reply to record for the recipients.
    pub fn reply(&self) -> RemoteReply {
        match self {
            ClientError::TlsHandshake(e) => {
                RemoteReply::local(421, "4.7.5", format!("TLS handshake failed: {e}"))
            }
            ClientError::Failed(r) => r.clone(),
        }
    }
}

fn network(e: impl std::fmt::Display) -> ClientError {
    ClientError::Failed(RemoteReply::local(
        421,
        "4.4.2",
        format!("connection problem: {e}"),
    ))
}

fn timed_out(what: &str) -> ClientError {
    ClientError::Failed(RemoteReply::local(
        421,
        "4.4.2",
        format!("timed out waiting for {what}"),
    ))
}

/// The RFC 3461 RET parameter to pass on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// RET=FULL
    Full,
    /// RET=HDRS
    Headers,
}

/// One recipient of an outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecipient {
    /// The address.
    pub address: String,
    /// RFC 3461 NOTIFY bits ([`certmail_store::notify`]), 0 when not given.
    pub notify: u8,
    /// RFC 3461 ORCPT as `addr-type;address` (decoded), if given.
    pub orcpt: Option<String>,
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// MAIL FROM, empty for the null sender.
    pub from: &'a str,
    /// The recipients for this connection.
    pub recipients: &'a [OutRecipient],
    /// The whole message (CRLF lines), not dot-stuffed.
    pub body: &'a [u8],
    /// RFC 3461 RET.
    pub ret: Option<Ret>,
    /// RFC 3461 ENVID (decoded).
    pub envid: Option<&'a str>,
    /// RFC 6531: the envelope or headers need SMTPUTF8.
    pub smtputf8: bool,
    /// RFC 8689 REQUIRETLS.
    pub requiretls: bool,
}

/// The outcome of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// One reply per recipient, in order: the RCPT refusal, or the reply after DATA.
    pub replies: Vec<RemoteReply>,
    /// The server took our NOTIFY/ORCPT (it advertised DSN), so it reports success itself.
    pub dsn_passed_on: bool,
}

/// The replies to one transaction's envelope.
struct Envelope {
    /// The reply to MAIL.
    mail: RemoteReply,
    /// One reply per recipient (none when MAIL was refused without pipelining).
    rcpts: Vec<RemoteReply>,
    /// The reply to DATA, if it was sent.
    data: Option<RemoteReply>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Closed,
}

/// One open connection to a remote SMTP server.
pub struct SmtpClient {
    stream: Stream,
    parser: ReplyParser,
    caps: Capabilities,
    host: String,
    helo: String,
    tls_verified: bool,
    timeouts: Timeouts,
    tainted: bool,
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("host", &self.host)
            .field("tls", &self.is_tls())
            .finish_non_exhaustive()
    }
}

impl SmtpClient {
    /// Connects, reads the greeting, says EHLO and sets up TLS as `options` asks.
    pub async fn connect(options: &ConnectOptions, tls: &ClientTls) -> Result<Self, ClientError> {
        let tcp = timeout(options.timeouts.connect, TcpStream::connect(options.addr))
            .await
            .map_err(|_| timed_out("the TCP connection"))?
            .map_err(network)?;
        let mut client = SmtpClient {
            stream: Stream::Plain(tcp),
            parser: ReplyParser::default(),
            caps: Capabilities::default(),
            host: options.host.clone(),
            helo: options.helo.clone(),
            tls_verified: false,
            timeouts: options.timeouts,
            tainted: false,
        };
        let config = match (options.requirement, &options.dane) {
            (TlsRequirement::Dane, Some(dane)) => Arc::clone(dane),
            (TlsRequirement::Dane, None) => {
                return Err(ClientError::TlsHandshake("no TLSA records to check".into()));
            }
            (TlsRequirement::Verify, _) => tls.verified(),
            _ => tls.opportunistic(),
        };
        // A DANE match authenticates the server (RFC 7672 §3; RFC 8689 §4.2.1 accepts it).
        let authenticated = matches!(
            options.requirement,
            TlsRequirement::Verify | TlsRequirement::Dane
        );
        if options.implicit_tls {
            client.handshake(tls, config.clone(), authenticated).await?;
        }
        let greeting = client.read_reply(options.timeouts.command).await?;
        if greeting.code != 220 {
            // RFC 5321 §3.1: a 554 greeting means no service; QUIT politely.
            let _ = client.command("QUIT").await;
            return Err(ClientError::Failed(greeting));
        }
        client.ehlo().await?;
        if client.is_tls() {
            return Ok(client);
        }
        let want = options.requirement;
        if want == TlsRequirement::None {
            return Ok(client);
        }
        if !client.caps.starttls {
            if want == TlsRequirement::Opportunistic {
                return Ok(client);
            }
            let _ = client.command("QUIT").await;
            return Err(ClientError::Failed(RemoteReply::local(
                421,
                "4.7.10",
                format!(
                    "{} does not offer STARTTLS, which {} requires",
                    options.host,
                    if want == TlsRequirement::Dane {
                        "DANE (its DNSSEC-signed TLSA records)"
                    } else {
                        "our policy"
                    }
                ),
            )));
        }
        let reply = client.command("STARTTLS").await?; // RFC 3207 §4
        if reply.code != 220 {
            if want == TlsRequirement::Opportunistic {
                return Ok(client);
            }
            return Err(ClientError::Failed(reply));
        }
        client.handshake(tls, config, authenticated).await?;
        // RFC 3207 §4.2: forget everything learnt before TLS and say EHLO again.
        client.ehlo().await?;
        Ok(client)
    }

    async fn handshake(
        &mut self,
        tls: &ClientTls,
        config: Arc<ClientConfig>,
        authenticated: bool,
    ) -> Result<(), ClientError> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            return Err(network("TLS started twice"));
        };
        // RFC 3207 §4.2 / CVE-2011-0411: nothing read before the handshake may be kept.
        if self.parser.has_pending() {
            return Err(ClientError::TlsHandshake(
                "the server sent data before the TLS handshake".into(),
            ));
        }
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| ClientError::TlsHandshake(format!("server name: {e}")))?;
        let stream = timeout(
            self.timeouts.connect,
            TlsConnector::from(config).connect(name, tcp),
        )
        .await
        .map_err(|_| ClientError::TlsHandshake("timed out".into()))?
        .map_err(|e| ClientError::TlsHandshake(e.to_string()))?;
        let chain = stream.get_ref().1.peer_certificates().unwrap_or(&[]);
        self.tls_verified = authenticated || tls.is_verified(chain, &self.host);
        self.stream = Stream::Tls(Box::new(stream));
        Ok(())
    }

    async fn ehlo(&mut self) -> Result<(), ClientError> {
        let reply = self.command(&format!("EHLO {}", self.helo)).await?;
        if !reply.is_positive() {
            // RFC 5321 §3.2: fall back to HELO when EHLO is refused.
            let helo = self.command(&format!("HELO {}", self.helo)).await?;
            if !helo.is_positive() {
                return Err(ClientError::Failed(helo));
            }
            self.caps = Capabilities::default();
            return Ok(());
        }
        self.caps = Capabilities::from_ehlo(&reply);
        Ok(())
    }

    /// Whether the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Whether TLS is on and the server certificate verified for the host.
    pub fn is_verified(&self) -> bool {
        self.is_tls() && self.tls_verified
    }

    /// What the server offered after the last EHLO.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The host this connection goes to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the connection can carry another transaction (no half-finished exchange).
    pub fn is_reusable(&self) -> bool {
        !self.tainted && !matches!(self.stream, Stream::Closed)
    }

    /// Runs one mail transaction. Per-recipient refusals are in [`Sent::replies`]; an
    /// `Err` means the whole transaction failed (MAIL refused, DATA refused, connection
    /// lost) and applies to every recipient.
    pub async fn send(&mut self, msg: &Outgoing<'_>) -> Result<Sent, ClientError> {
        if let Some(refusal) = self.refuse_locally(msg) {
            return Err(ClientError::Failed(refusal));
        }
        // Until the transaction ends cleanly a broken exchange leaves the connection unusable.
        self.tainted = true;
        let envelope = if self.caps.pipelining {
            self.envelope_pipelined(msg).await?
        } else {
            self.envelope_in_turn(msg).await?
        };
        let Envelope { mail, rcpts, data } = envelope;
        let any_rcpt = rcpts.iter().any(RemoteReply::is_positive);
        if !mail.is_positive() || !any_rcpt {
            if data.as_ref().is_some_and(|d| d.code == 354) {
                // RFC 2920 §3.1: a server that took DATA after refusing every recipient
                // gets an empty message, whose reply is ignored.
                self.write_all(b".\r\n").await?;
                self.read_reply(self.timeouts.data).await?;
            }
            self.reset().await;
            if !mail.is_positive() {
                return Err(ClientError::Failed(mail));
            }
            return Ok(Sent {
                replies: rcpts,
                dsn_passed_on: self.caps.dsn,
            });
        }
        let data = data.unwrap_or_else(|| RemoteReply::local(451, "4.5.0", "no reply to DATA"));
        if data.code != 354 {
            self.reset().await;
            return Err(ClientError::Failed(data));
        }
        let stuffed = dot_stuff(msg.body);
        self.write_all(&stuffed).await?;
        let done = self.read_reply(self.timeouts.data).await?;
        self.tainted = false;
        let replies = rcpts
            .into_iter()
            .map(|r| if r.is_positive() { done.clone() } else { r })
            .collect();
        Ok(Sent {
            replies,
            dsn_passed_on: self.caps.dsn,
        })
    }

    /// MAIL, RCPT… and DATA one at a time, each after the previous reply; DATA only when
    /// MAIL and at least one RCPT were taken.
    async fn envelope_in_turn(&mut self, msg: &Outgoing<'_>) -> Result<Envelope, ClientError> {
        let mail = self.command(&self.mail_command(msg)).await?;
        let mut rcpts = Vec::with_capacity(msg.recipients.len());
        if !mail.is_positive() {
            return Ok(Envelope {
                mail,
                rcpts,
                data: None,
            });
        }
        for r in msg.recipients {
            rcpts.push(self.command(&self.rcpt_command(r)).await?);
        }
        let data = if rcpts.iter().any(RemoteReply::is_positive) {
            Some(self.command("DATA").await?)
        } else {
            None
        };
        Ok(Envelope { mail, rcpts, data })
    }

    /// RFC 2920 §3.1: MAIL, every RCPT and DATA in one write (DATA ends the group), then
    /// their replies in order. A refused MAIL refuses the RCPTs and DATA after it too.
    async fn envelope_pipelined(&mut self, msg: &Outgoing<'_>) -> Result<Envelope, ClientError> {
        let mut group = self.mail_command(msg);
        group.push_str("\r\n");
        for r in msg.recipients {
            group.push_str(&self.rcpt_command(r));
            group.push_str("\r\n");
        }
        group.push_str("DATA\r\n");
        self.write_all(group.as_bytes()).await?;
        let mail = self.read_reply(self.timeouts.command).await?;
        let mut rcpts = Vec::with_capacity(msg.recipients.len());
        for _ in msg.recipients {
            rcpts.push(self.read_reply(self.timeouts.command).await?);
        }
        let data = Some(self.read_reply(self.timeouts.command).await?);
        Ok(Envelope { mail, rcpts, data })
    }

    /// Failures decided before any command: what the peer cannot take.
    fn refuse_locally(&self, msg: &Outgoing<'_>) -> Option<RemoteReply> {
        // RFC 8689 §4.2.1: REQUIRETLS mail only over verified TLS to a REQUIRETLS server.
        if msg.requiretls && !(self.is_verified() && self.caps.requiretls) {
            return Some(RemoteReply::local(
                550,
                "5.7.30",
                format!(
                    "REQUIRETLS was requested, but {} {}",
                    self.host,
                    if self.is_verified() {
                        "does not support REQUIRETLS"
                    } else {
                        "has no verified TLS connection"
                    }
                ),
            ));
        }
        // RFC 6531 §3.4: no downgrade of an internationalised message.
        if msg.smtputf8 && !self.caps.smtputf8 {
            return Some(RemoteReply::local(
                550,
                "5.6.7",
                format!(
                    "{} does not support SMTPUTF8, which the message needs for its non-ASCII \
                     addresses or headers; ask the recipient for an ASCII address",
                    self.host
                ),
            ));
        }
        if let Some(limit) = self.caps.size.filter(|&l| l > 0)
            && msg.body.len() as u64 > limit
        {
            // RFC 1870 §6.
            return Some(RemoteReply::local(
                552,
                "5.3.4",
                format!("message too big for {} (limit {limit} bytes)", self.host),
            ));
        }
        None
    }

    fn mail_command(&self, msg: &Outgoing<'_>) -> String {
        let mut cmd = format!("MAIL FROM:<{}>", msg.from);
        if self.caps.size.is_some() {
            cmd.push_str(&format!(" SIZE={}", msg.body.len())); // RFC 1870
        }
        if self.caps.eight_bit_mime && msg.body.iter().any(|b| *b >= 0x80) {
            cmd.push_str(" BODY=8BITMIME"); // RFC 6152
        }
        if msg.smtputf8 {
            cmd.push_str(" SMTPUTF8"); // RFC 6531 §3.4
        }
        if self.caps.dsn {
            match msg.ret {
                Some(Ret::Full) => cmd.push_str(" RET=FULL"),
                Some(Ret::Headers) => cmd.push_str(" RET=HDRS"),
                None => {}
            }
            if let Some(envid) = msg.envid {
                cmd.push_str(&format!(" ENVID={}", xtext(envid))); // RFC 3461 §4.4
            }
        }
        if msg.requiretls {
            cmd.push_str(" REQUIRETLS"); // RFC 8689 §4.2.1
        }
        cmd
    }

    fn rcpt_command(&self, r: &OutRecipient) -> String {
        let mut cmd = format!("RCPT TO:<{}>", r.address);
        if self.caps.dsn {
            // RFC 3461 §4.1: NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY.
            if r.notify & notify::NEVER != 0 {
                cmd.push_str(" NOTIFY=NEVER");
            } else if r.notify != 0 {
                let mut parts = Vec::new();
                for (bit, name) in [
                    (notify::SUCCESS, "SUCCESS"),
                    (notify::FAILURE, "FAILURE"),
                    (notify::DELAY, "DELAY"),
                ] {
                    if r.notify & bit != 0 {
                        parts.push(name);
                    }
                }
                cmd.push_str(&format!(" NOTIFY={}", parts.join(",")));
            }
            // RFC 3461 §4.2: ORCPT=addr-type;xtext.
            let orcpt = r
                .orcpt
                .clone()
                .unwrap_or_else(|| format!("rfc822;{}", r.address));
            let (kind, value) = orcpt.split_once(';').unwrap_or(("rfc822", &orcpt));
            cmd.push_str(&format!(" ORCPT={kind};{}", xtext(value)));
        }
        cmd
    }

    /// Aborts a transaction (RSET); a failure leaves the connection unusable.
    pub async fn reset(&mut self) {
        self.tainted = !matches!(self.command("RSET").await, Ok(r) if r.is_positive());
    }

    /// Says QUIT and closes (errors ignored: the work is done).
    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
        if let Stream::Tls(s) = &mut self.stream {
            let _ = s.shutdown().await;
        }
    }

    /// Writes one command line and reads its reply.
    async fn command(&mut self, line: &str) -> Result<RemoteReply, ClientError> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write_all(&bytes).await?;
        self.read_reply(self.timeouts.command).await
    }

    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let write = async {
            match &mut self.stream {
                Stream::Plain(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Stream::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Stream::Closed => Err(std::io::ErrorKind::NotConnected.into()),
            }
        };
        timeout(self.timeouts.data, write)
            .await
            .map_err(|_| timed_out("the server to take our data"))?
            .map_err(network)
    }

    async fn read_reply(&mut self, limit: Duration) -> Result<RemoteReply, ClientError> {
        let mut buf = [0u8; 4096];
        loop {
            match self.parser.next_reply() {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => {
                    self.stream = Stream::Closed;
                    return Err(network(e));
                }
            }
            let read = async {
                match &mut self.stream {
                    Stream::Plain(s) => s.read(&mut buf).await,
                    Stream::Tls(s) => s.read(&mut buf).await,
                    Stream::Closed => Err(std::io::ErrorKind::NotConnected.into()),
                }
            };
            let n = timeout(limit, read)
                .await
                .map_err(|_| timed_out("a reply"))?
                .map_err(network)?;
            if n == 0 {
                self.stream = Stream::Closed;
                return Err(network("the server closed the connection"));
            }
            self.parser.feed(&buf[..n]);
        }
    }
}

/// The message with dot-stuffing (RFC 5321 §4.5.2), bare LF turned into CRLF, a final
/// CRLF if missing, and the terminating `.` line.
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 50 + 5);
    let mut line_start = true;
    let mut prev = 0u8;
    for &b in body {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        line_start = b == b'\n';
        prev = b;
    }
    if !body.is_empty() && !body.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// RFC 3461 §4: xtext, `+HH` for `+`, `=`, and anything outside `!`..`~`.
pub fn xtext(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_escapes_leading_dots_and_ends_with_a_dot_line() {
        assert_eq!(dot_stuff(b".a\r\nb\r\n..c"), b"..a\r\nb\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(b"x\ny\n"), b"x\r\ny\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
    }

    #[test]
    fn xtext_encodes_plus_equals_and_non_ascii() {
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext("홍"), "+ED+99+8D");
    }
}
