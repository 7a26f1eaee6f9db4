//! A minimal IMAP client for the benchmark: implicit TLS with a client certificate, from
//! a chosen loopback source address, one command at a time, literals in responses read
//! and counted (not kept).
//!
//! Every read is bounded by the connection's timeout, so a stuck server fails the run
//! instead of hanging it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use rustls::ClientConfig;
use tokio::io::BufReader;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio_rustls::client::TlsStream;

/// The longest response line accepted (literals are read separately).
const MAX_LINE: u64 = 256 * 1024;
/// The largest literal accepted in a response.
const MAX_LITERAL: usize = 64 * 1024 * 1024;

/// How a connection signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// `AUTHENTICATE PLAIN` with SASL-IR (RFC 4959, RFC 4616): certificate + password.
    Plain,
    /// `AUTHENTICATE EXTERNAL =` (RFC 4422 Appendix A): the certificate alone, where the
    /// daemon's `[auth] require_password = false` allows it.
    External,
}

/// One response to a command: its untagged lines (literals replaced by `{n}`) and the
/// tagged status line.
#[derive(Debug, Default)]
pub struct Answer {
    /// Untagged and continuation lines, in order.
    pub untagged: Vec<String>,
    /// The tagged line (`aN OK …`).
    pub tagged: String,
    /// Bytes of literal data in the response.
    pub literal_bytes: usize,
    /// With [`ImapConn::keep_literals`]: each untagged line's literal data (empty when it
    /// has none), in the order of `untagged`.
    pub literals: Vec<Vec<u8>>,
}

/// A TLS IMAP connection after the greeting.
pub struct ImapConn<S = TlsStream<tokio::net::TcpStream>> {
    io: BufReader<S>,
    next_tag: u64,
    timeout: Duration,
    keep_literals: bool,
}

/// Opens a TCP connection from `from` (port chosen by the kernel) to `addr` and completes
/// the TLS handshake, presenting the certificate of `cfg`.
pub async fn connect(
    from: IpAddr,
    addr: SocketAddr,
    cfg: Arc<ClientConfig>,
    timeout: Duration,
) -> anyhow::Result<ImapConn> {
    let tls = tokio::time::timeout(timeout, crate::tls::connect_from(from, addr, cfg))
        .await
        .with_context(|| format!("connecting from {from} to {addr} timed out"))?
        .with_context(|| format!("connecting from {from} to {addr}"))?;
    ImapConn::start(tls, timeout).await
}

impl<S: AsyncRead + AsyncWrite + Unpin> ImapConn<S> {
    /// Reads the greeting, which must be `* OK`.
    pub async fn start(stream: S, timeout: Duration) -> anyhow::Result<Self> {
        let mut conn = Self {
            io: BufReader::with_capacity(16 * 1024, stream),
            next_tag: 1,
            timeout,
            keep_literals: false,
        };
        let greeting = conn.line().await?;
        ensure!(greeting.starts_with("* OK"), "greeting: {greeting}");
        Ok(conn)
    }

    /// Signs in as `user` (with `password` for PLAIN).
    pub async fn sign_in(&mut self, how: SignIn, user: &str, password: &str) -> anyhow::Result<()> {
        use base64::Engine as _;
        let text = match how {
            SignIn::Plain => format!(
                "AUTHENTICATE PLAIN {}",
                base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
            ),
            // RFC 4959 §3: `=` is an empty initial response (no authorization identity).
            SignIn::External => "AUTHENTICATE EXTERNAL =".to_owned(),
        };
        self.command_ok(&text).await.context("signing in")?;
        Ok(())
    }

    /// Sends `text` with a fresh tag and reads through the tagged response, which must be
    /// OK.
    pub async fn command_ok(&mut self, text: &str) -> anyhow::Result<Answer> {
        let answer = self.command(text).await?;
        let status = answer.tagged.split(' ').nth(1).unwrap_or("");
        ensure!(
            status.eq_ignore_ascii_case("OK"),
            "{}: {}",
            text.split(' ').next().unwrap_or(text),
            answer.tagged
        );
        Ok(answer)
    }

    /// Keeps the literal data of responses in [`Answer::literals`] from now on (the
    /// bench's load only counts it).
    pub fn keep_literals(&mut self) {
        self.keep_literals = true;
    }

    /// Sends `text` with a fresh tag and reads through the tagged response.
    pub async fn command(&mut self, text: &str) -> anyhow::Result<Answer> {
        self.command_bytes(text.as_bytes()).await
    }

    /// [`ImapConn::command`] for a command that is not text (an APPEND with its message as
    /// a non-synchronizing literal, RFC 7888).
    pub async fn command_bytes(&mut self, command: &[u8]) -> anyhow::Result<Answer> {
        let tag = format!("b{}", self.next_tag);
        self.next_tag += 1;
        let mut line = format!("{tag} ").into_bytes();
        line.extend_from_slice(command);
        line.extend_from_slice(b"\r\n");
        self.send(&line).await?;
        let mut answer = Answer::default();
        loop {
            let (line, literal) = self.response_line().await?;
            answer.literal_bytes += literal.len();
            if self.keep_literals {
                answer.literals.push(literal);
            }
            if line
                .strip_prefix(tag.as_str())
                .is_some_and(|r| r.starts_with(' '))
            {
                answer.tagged = line;
                return Ok(answer);
            }
            answer.untagged.push(line);
        }
    }

    /// Sends `IDLE` and waits for the continuation request (RFC 2177 §3).
    pub async fn idle(&mut self) -> anyhow::Result<String> {
        let tag = format!("b{}", self.next_tag);
        self.next_tag += 1;
        self.send(format!("{tag} IDLE\r\n").as_bytes()).await?;
        loop {
            let (line, _) = self.response_line().await?;
            if line.starts_with('+') {
                return Ok(tag);
            }
            ensure!(line.starts_with('*'), "IDLE refused: {line}");
        }
    }

    /// Ends IDLE (`DONE`) and reads through the tagged response of the IDLE `tag`.
    pub async fn done(&mut self, tag: &str) -> anyhow::Result<()> {
        self.send(b"DONE\r\n").await?;
        loop {
            let (line, _) = self.response_line().await?;
            if let Some(rest) = line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
                ensure!(rest.starts_with("OK"), "IDLE ended with {line}");
                return Ok(());
            }
        }
    }

    /// The next response line without a timeout (an idle connection may wait forever);
    /// `None` when the server closed the connection.
    pub async fn next_unbounded(&mut self) -> anyhow::Result<Option<String>> {
        let mut buf = Vec::new();
        let n = (&mut self.io)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await?;
        Ok((n > 0).then(|| String::from_utf8_lossy(&buf).trim_end().to_owned()))
    }

    /// The next response line, within the timeout.
    pub async fn line(&mut self) -> anyhow::Result<String> {
        tokio::time::timeout(self.timeout, self.next_unbounded())
            .await
            .with_context(|| format!("no response within {:?}", self.timeout))??
            .context("the server closed the connection")
    }

    /// One logical response line: literals (`{n}` at the end of a line, RFC 9051 §4.3)
    /// are read and replaced by `{n}`, and the line continues after them; the literal
    /// data comes back beside the line.
    async fn response_line(&mut self) -> anyhow::Result<(String, Vec<u8>)> {
        let mut whole = self.line().await?;
        let mut literals = Vec::new();
        while let Some(n) = trailing_literal(&whole) {
            ensure!(n <= MAX_LITERAL, "literal of {n} bytes");
            let start = literals.len();
            literals.resize(start + n, 0);
            tokio::time::timeout(self.timeout, self.io.read_exact(&mut literals[start..]))
                .await
                .context("literal not sent in time")??;
            whole.push_str(&self.line().await?);
        }
        Ok((whole, literals))
    }

    async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        crate::client::write_within(self.io.get_mut(), bytes, self.timeout).await
    }
}

/// `… {123}` → 123 (also the non-synchronizing `{123+}` form).
fn trailing_literal(line: &str) -> Option<usize> {
    let body = line.strip_suffix('}')?;
    let open = body.rfind('{')?;
    body[open + 1..].trim_end_matches('+').parse().ok()
}

/// `* 12 EXISTS` → 12.
pub fn exists_count(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("* ")?;
    let (n, word) = rest.split_once(' ')?;
    word.eq_ignore_ascii_case("EXISTS")
        .then(|| n.parse().ok())
        .flatten()
}

/// The UIDs of `* SEARCH 1 2 3` lines.
pub fn search_uids(untagged: &[String]) -> Vec<u32> {
    untagged
        .iter()
        .filter_map(|l| l.strip_prefix("* SEARCH"))
        .flat_map(|rest| rest.split_whitespace().filter_map(|w| w.parse().ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt as _, duplex};

    const STEP: Duration = Duration::from_secs(5);

    #[test]
    fn parses_literals_exists_and_search() {
        assert_eq!(trailing_literal("* 1 FETCH (BODY[] {10240}"), Some(10240));
        assert_eq!(trailing_literal("b1 LOGIN x {5+}"), Some(5));
        assert_eq!(trailing_literal("* 1 FETCH (FLAGS ())"), None);
        assert_eq!(exists_count("* 17 EXISTS"), Some(17));
        assert_eq!(exists_count("* 17 RECENT"), None);
        assert_eq!(exists_count("* OK [UIDNEXT 5] next"), None);
        let lines = vec!["* SEARCH 3 9 12".to_owned(), "* 2 EXISTS".to_owned()];
        assert_eq!(search_uids(&lines), vec![3, 9, 12]);
        assert_eq!(search_uids(&["* SEARCH".to_owned()]), Vec::<u32>::new());
    }

    #[tokio::test]
    async fn fetch_with_a_literal_and_idle_round_trip() {
        let (client, server) = duplex(64 * 1024);
        let script = tokio::spawn(async move {
            let mut s = BufReader::new(server);
            s.get_mut().write_all(b"* OK ready\r\n").await.expect("w");
            let mut l = String::new();
            s.read_line(&mut l).await.expect("r");
            // "\0user0001\0비밀" in base64
            assert_eq!(l, "b1 AUTHENTICATE PLAIN AHVzZXIwMDAxAOu5hOuwgA==\r\n");
            s.get_mut()
                .write_all(b"b1 OK signed in\r\n")
                .await
                .expect("w");
            l.clear();
            s.read_line(&mut l).await.expect("r");
            assert_eq!(l, "b2 UID FETCH 7 (BODY.PEEK[])\r\n");
            s.get_mut()
                .write_all(b"* 1 FETCH (UID 7 BODY[] {5}\r\n\xed\x99\x8d\r\n)\r\nb2 OK done\r\n")
                .await
                .expect("w");
            l.clear();
            s.read_line(&mut l).await.expect("r");
            assert_eq!(l, "b3 IDLE\r\n");
            s.get_mut()
                .write_all(b"+ idling\r\n* 2 EXISTS\r\n")
                .await
                .expect("w");
            l.clear();
            s.read_line(&mut l).await.expect("r");
            assert_eq!(l, "DONE\r\n");
            s.get_mut()
                .write_all(b"b3 OK IDLE done\r\n")
                .await
                .expect("w");
        });
        let mut c = ImapConn::start(client, STEP).await.expect("greeting");
        c.sign_in(SignIn::Plain, "user0001", "비밀")
            .await
            .expect("signed in");
        let a = c
            .command_ok("UID FETCH 7 (BODY.PEEK[])")
            .await
            .expect("fetch");
        assert_eq!(a.literal_bytes, 5);
        assert_eq!(a.untagged, vec!["* 1 FETCH (UID 7 BODY[] {5})".to_owned()]);
        let tag = c.idle().await.expect("idle");
        assert_eq!(exists_count(&c.line().await.expect("EXISTS")), Some(2));
        c.done(&tag).await.expect("done");
        script.await.expect("server script ran to the end");
    }

    #[tokio::test]
    async fn a_refusal_is_an_error_naming_the_command() {
        let (client, server) = duplex(4096);
        tokio::spawn(async move {
            let mut s = BufReader::new(server);
            s.get_mut().write_all(b"* OK ready\r\n").await.expect("w");
            let mut l = String::new();
            s.read_line(&mut l).await.expect("r");
            s.get_mut()
                .write_all(b"b1 NO [AUTHENTICATIONFAILED] no\r\n")
                .await
                .expect("w");
        });
        let mut c = ImapConn::start(client, STEP).await.expect("greeting");
        let err = c
            .sign_in(SignIn::External, "x", "")
            .await
            .expect_err("refused");
        assert!(
            format!("{err:#}").contains("AUTHENTICATIONFAILED"),
            "{err:#}"
        );
    }
}
