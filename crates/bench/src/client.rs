//! A minimal SMTP submission client: just what the benchmark needs, over any stream.
//!
//! Every reply is awaited with a timeout, so a stuck server fails the run instead of
//! hanging it. With PIPELINING (RFC 2920) MAIL, RCPT and DATA go out in one write, as
//! Postfix and Thunderbird send them.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader,
};

/// The longest reply line accepted (RFC 5321 §4.5.3.1.5 says 512; be generous).
const MAX_REPLY_LINE: usize = 4096;
/// The most lines in one multi-line reply.
const MAX_REPLY_LINES: usize = 100;

/// One SMTP reply: its code and its text lines (without the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// Each line's text after `NNN-` or `NNN `.
    pub lines: Vec<String>,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

/// An SMTP connection after the greeting.
pub struct SmtpClient<S> {
    stream: BufReader<S>,
    timeout: Duration,
    pipelining: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> SmtpClient<S> {
    /// Reads the greeting (must be 220), then says EHLO as `helo_name`.
    pub async fn start(stream: S, helo_name: &str, timeout: Duration) -> anyhow::Result<Self> {
        let mut client = Self {
            stream: BufReader::new(stream),
            timeout,
            pipelining: false,
        };
        client.expect(220, "greeting").await?;
        client
            .send(format!("EHLO {helo_name}\r\n").as_bytes())
            .await?;
        let ehlo = client.expect(250, "EHLO").await?;
        client.pipelining = ehlo
            .lines
            .iter()
            .any(|l| l.eq_ignore_ascii_case("PIPELINING"));
        Ok(client)
    }

    /// Whether the server offered PIPELINING.
    pub fn pipelining(&self) -> bool {
        self.pipelining
    }

    /// Signs in with AUTH PLAIN and an initial response (RFC 4954, RFC 4616).
    pub async fn auth_plain(&mut self, user: &str, password: &str) -> anyhow::Result<()> {
        use base64::Engine as _;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.send(format!("AUTH PLAIN {token}\r\n").as_bytes())
            .await?;
        self.expect(235, "AUTH PLAIN").await.map(|_| ())
    }

    /// Submits one message (already dot-stuffed and terminated, see
    /// [`crate::message::data_payload`]) from `from` to `to`. `Ok(Err(reply))` is a
    /// refusal by the server; `Err` is a broken connection or a protocol error.
    pub async fn submit(
        &mut self,
        from: &str,
        to: &str,
        size: usize,
        payload: &[u8],
    ) -> anyhow::Result<Result<(), Reply>> {
        let mail = format!("MAIL FROM:<{from}> BODY=8BITMIME SIZE={size}\r\n");
        let rcpt = format!("RCPT TO:<{to}>\r\n");
        let replies = if self.pipelining {
            self.send(format!("{mail}{rcpt}DATA\r\n").as_bytes())
                .await?;
            [
                self.reply().await?,
                self.reply().await?,
                self.reply().await?,
            ]
        } else {
            self.send(mail.as_bytes()).await?;
            let m = self.reply().await?;
            if m.code != 250 {
                return self.abandon(m).await;
            }
            self.send(rcpt.as_bytes()).await?;
            let r = self.reply().await?;
            if r.code != 250 {
                return self.abandon(r).await;
            }
            self.send(b"DATA\r\n").await?;
            [m, r, self.reply().await?]
        };
        let [m, r, d] = replies;
        for (reply, want) in [(m, 250), (r, 250)] {
            if reply.code != want {
                if d.code == 354 {
                    // RFC 2920 §3.1: DATA was accepted without recipients; end it empty.
                    self.send(b".\r\n").await?;
                    self.reply().await?;
                }
                return self.abandon(reply).await;
            }
        }
        if d.code != 354 {
            return self.abandon(d).await;
        }
        self.send(payload).await?;
        let done = self.reply().await?;
        Ok(if done.code == 250 { Ok(()) } else { Err(done) })
    }

    /// Says QUIT and waits for the 221 (errors ignored: the run is over).
    pub async fn quit(mut self) {
        if self.send(b"QUIT\r\n").await.is_ok() {
            let _ = self.reply().await;
        }
        let _ = self.stream.get_mut().shutdown().await;
    }

    async fn abandon(&mut self, refusal: Reply) -> anyhow::Result<Result<(), Reply>> {
        self.send(b"RSET\r\n").await?;
        self.expect(250, "RSET").await?;
        Ok(Err(refusal))
    }

    async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        write_within(self.stream.get_mut(), bytes, self.timeout).await
    }

    async fn expect(&mut self, code: u16, what: &str) -> anyhow::Result<Reply> {
        let reply = self.reply().await?;
        ensure!(reply.code == code, "{what}: expected {code}, got {reply}");
        Ok(reply)
    }

    /// Reads one (possibly multi-line) reply within the timeout.
    pub async fn reply(&mut self) -> anyhow::Result<Reply> {
        tokio::time::timeout(self.timeout, read_reply(&mut self.stream))
            .await
            .with_context(|| format!("no reply from the server within {:?}", self.timeout))?
    }
}

/// Reads `NNN-text` lines until `NNN text` (RFC 5321 §4.2.1).
async fn read_reply<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> anyhow::Result<Reply> {
    let mut lines = Vec::new();
    let mut code = None;
    loop {
        let mut line = Vec::new();
        let n = (&mut *reader)
            .take(MAX_REPLY_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .context("reading a reply")?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        ensure!(
            line.ends_with(b"\n"),
            "reply line longer than {MAX_REPLY_LINE} bytes"
        );
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let this: u16 = text
            .get(..3)
            .and_then(|c| c.parse().ok())
            .with_context(|| format!("not an SMTP reply: {text:?}"))?;
        ensure!(
            code.is_none_or(|c| c == this),
            "reply code changed mid-reply: {text:?}"
        );
        code = Some(this);
        let sep = text.as_bytes().get(3).copied();
        lines.push(text.get(4..).unwrap_or("").to_owned());
        ensure!(
            lines.len() <= MAX_REPLY_LINES,
            "reply of more than {MAX_REPLY_LINES} lines"
        );
        match sep {
            Some(b'-') => continue,
            Some(b' ') | None => return Ok(Reply { code: this, lines }),
            Some(_) => bail!("not an SMTP reply: {text:?}"),
        }
    }
}

/// Writes and flushes `bytes` to the server within `timeout`.
pub async fn write_within<W: AsyncWrite + Unpin>(
    io: &mut W,
    bytes: &[u8],
    timeout: Duration,
) -> anyhow::Result<()> {
    let write = async {
        io.write_all(bytes).await?;
        io.flush().await
    };
    tokio::time::timeout(timeout, write)
        .await
        .context("timed out writing to the server")?
        .context("writing to the server")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{DuplexStream, duplex};

    const STEP: Duration = Duration::from_secs(5);

    /// Reads from the client until `want` has arrived; returns everything read.
    async fn read_until(server: &mut DuplexStream, want: &str) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains(want) {
            let n = tokio::time::timeout(STEP, server.read(&mut buf))
                .await
                .expect("client wrote in time")
                .expect("read");
            assert!(n > 0, "client closed before sending {want:?}");
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(got).expect("UTF-8")
    }

    #[tokio::test]
    async fn pipelined_submission_round_trip() {
        let (client_end, mut server) = duplex(64 * 1024);
        let server_task = tokio::spawn(async move {
            server
                .write_all(b"220 mail.test.go.kr ESMTP\r\n")
                .await
                .expect("w");
            read_until(&mut server, "EHLO bench\r\n").await;
            server
                .write_all(b"250-mail.test.go.kr\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                .await
                .expect("w");
            let auth = read_until(&mut server, "\r\n").await;
            // "\0sender01\0비밀" in base64
            assert_eq!(auth, "AUTH PLAIN AHNlbmRlcjAxAOu5hOuwgA==\r\n");
            server.write_all(b"235 2.7.0 ok\r\n").await.expect("w");
            let batch = read_until(&mut server, "DATA\r\n").await;
            assert_eq!(
                batch,
                "MAIL FROM:<a@test.go.kr> BODY=8BITMIME SIZE=3\r\nRCPT TO:<b@test.go.kr>\r\nDATA\r\n"
            );
            server
                .write_all(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go on\r\n")
                .await
                .expect("w");
            read_until(&mut server, "\r\n.\r\n").await;
            server.write_all(b"250 2.0.0 queued\r\n").await.expect("w");
            read_until(&mut server, "QUIT\r\n").await;
            server.write_all(b"221 bye\r\n").await.expect("w");
        });
        let mut c = SmtpClient::start(client_end, "bench", STEP)
            .await
            .expect("start");
        assert!(c.pipelining());
        c.auth_plain("sender01", "비밀").await.expect("auth");
        let payload = crate::message::data_payload(b"hi!");
        let r = c
            .submit("a@test.go.kr", "b@test.go.kr", 3, &payload)
            .await
            .expect("io");
        assert_eq!(r, Ok(()));
        c.quit().await;
        server_task.await.expect("server script ran to the end");
    }

    #[tokio::test]
    async fn refused_recipient_is_reported_and_transaction_reset() {
        let (client_end, mut server) = duplex(64 * 1024);
        let server_task = tokio::spawn(async move {
            server.write_all(b"220 hi\r\n").await.expect("w");
            read_until(&mut server, "EHLO").await;
            server
                .write_all(b"250-x\r\n250 PIPELINING\r\n")
                .await
                .expect("w");
            read_until(&mut server, "DATA\r\n").await;
            server
                .write_all(b"250 ok\r\n550 5.1.1 No such user\r\n554 5.5.1 No valid recipients\r\n")
                .await
                .expect("w");
            read_until(&mut server, "RSET\r\n").await;
            server.write_all(b"250 ok\r\n").await.expect("w");
        });
        let mut c = SmtpClient::start(client_end, "bench", STEP)
            .await
            .expect("start");
        let payload = crate::message::data_payload(b"x");
        let r = c.submit("a@t", "nobody@t", 1, &payload).await.expect("io");
        let refusal = r.expect_err("refused");
        assert_eq!(refusal.code, 550);
        assert_eq!(refusal.lines, vec!["5.1.1 No such user".to_owned()]);
        server_task.await.expect("server script ran to the end");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let (client_end, _server) = duplex(1024);
        let err = SmtpClient::start(client_end, "bench", Duration::from_millis(50))
            .await
            .err()
            .expect("no greeting");
        assert!(err.to_string().contains("no reply"), "{err}");
    }

    #[tokio::test]
    async fn closed_connection_and_garbage_are_errors() {
        let (client_end, server) = duplex(1024);
        drop(server);
        let err = SmtpClient::start(client_end, "b", STEP)
            .await
            .err()
            .expect("closed");
        assert!(format!("{err:#}").contains("closed"), "{err:#}");

        let (client_end, mut server) = duplex(1024);
        server
            .write_all(b"HTTP/1.1 400 Bad Request\r\n")
            .await
            .expect("w");
        let err = SmtpClient::start(client_end, "b", STEP)
            .await
            .err()
            .expect("garbage");
        assert!(format!("{err:#}").contains("not an SMTP reply"), "{err:#}");
    }
}
