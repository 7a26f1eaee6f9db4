//! A minimal line client for protocol tests: send a line, read a (multi-line) reply, with
//! a timeout on every step.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// A line-oriented client over any stream.
pub struct LineClient<S> {
    io: BufReader<S>,
}

const STEP: Duration = Duration::from_secs(15);

impl<S: AsyncRead + AsyncWrite + Unpin> LineClient<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> Self {
        Self {
            io: BufReader::new(stream),
        }
    }

    /// One line (with its CRLF removed); empty at end of stream.
    pub async fn line(&mut self) -> anyhow::Result<String> {
        let mut l = String::new();
        tokio::time::timeout(STEP, self.io.read_line(&mut l)).await??;
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    }

    /// A whole SMTP reply: lines up to the one whose 4th character is a space, joined by
    /// newlines. Empty at end of stream.
    pub async fn smtp_reply(&mut self) -> anyhow::Result<String> {
        let mut all = Vec::new();
        loop {
            let l = self.line().await?;
            if l.is_empty() {
                return Ok(all.join("\n"));
            }
            let last = l.as_bytes().get(3) != Some(&b'-');
            all.push(l);
            if last {
                return Ok(all.join("\n"));
            }
        }
    }

    /// Writes raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        tokio::time::timeout(STEP, async {
            self.io.get_mut().write_all(bytes).await?;
            self.io.get_mut().flush().await
        })
        .await??;
        Ok(())
    }

    /// Sends `line` + CRLF and reads the SMTP reply.
    pub async fn smtp(&mut self, line: &str) -> anyhow::Result<String> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await?;
        self.smtp_reply().await
    }

    /// MAIL FROM, RCPT TO and DATA, each of which must be accepted (250, 250, 354); the
    /// message text goes next.
    pub async fn smtp_begin_data(&mut self, from: &str, to: &str) -> anyhow::Result<()> {
        for (line, want) in [
            (format!("MAIL FROM:<{from}>"), "250"),
            (format!("RCPT TO:<{to}>"), "250"),
            ("DATA".to_string(), "354"),
        ] {
            let reply = self.smtp(&line).await?;
            anyhow::ensure!(reply.starts_with(want), "{line}: {reply}");
        }
        Ok(())
    }

    /// One whole transaction: [`LineClient::smtp_begin_data`], then `message` (CRLF line
    /// ends, dot-stuffed) and the end of data; the final reply.
    pub async fn smtp_send(
        &mut self,
        from: &str,
        to: &str,
        message: &str,
    ) -> anyhow::Result<String> {
        self.smtp_begin_data(from, to).await?;
        self.smtp(&format!("{message}\r\n.")).await
    }

    /// IMAP lines up to and including the tagged reply for `tag` (at most 200,000 lines).
    pub async fn until_tagged(&mut self, tag: &str) -> anyhow::Result<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let l = self.line().await?;
            anyhow::ensure!(!l.is_empty() || !lines.is_empty(), "connection closed");
            let done = l.starts_with(&format!("{tag} "));
            lines.push(l);
            if done {
                return Ok(lines);
            }
            anyhow::ensure!(lines.len() < 200_000, "no tagged reply for {tag}");
        }
    }

    /// The stream, e.g. to upgrade it to TLS.
    pub fn into_inner(self) -> S {
        self.io.into_inner()
    }
}

/// Delivers `message` (headers and body, CRLF line ends, no line starting with a dot) from
/// another server, `kim@other.example`, to `rcpt` over plain SMTP at `addr` (port 25), and
/// checks that it was accepted with 250.
pub async fn mx_deliver(
    addr: std::net::SocketAddr,
    rcpt: &str,
    message: &str,
) -> anyhow::Result<()> {
    let mut c = LineClient::new(tokio::net::TcpStream::connect(addr).await?);
    c.smtp_reply().await?;
    c.smtp("EHLO mx.other.example").await?;
    c.smtp("MAIL FROM:<kim@other.example>").await?;
    c.smtp(&format!("RCPT TO:<{rcpt}>")).await?;
    c.smtp("DATA").await?;
    let r = c.smtp(&format!("{message}.")).await?;
    anyhow::ensure!(r.starts_with("250"), "DATA: {r}");
    Ok(())
}

/// Connects to an IMAPS listener with `config`, reads the greeting and signs in with
/// LOGIN (the password quoted, so ASCII), checking both answers; the client is then in
/// the Authenticated state and the next tag to use is `a2`.
pub async fn imaps_login(
    addr: std::net::SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
    user: &str,
    password: &str,
) -> anyhow::Result<LineClient<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>> {
    let mut c = LineClient::new(crate::tls::connect(addr, config).await?);
    let greeting = c.line().await?;
    anyhow::ensure!(greeting.starts_with("* OK"), "greeting: {greeting}");
    c.send_raw(format!("a1 LOGIN {user} \"{password}\"\r\n").as_bytes())
        .await?;
    let answer = c.line().await?;
    anyhow::ensure!(answer.starts_with("a1 OK"), "LOGIN: {answer}");
    Ok(c)
}
