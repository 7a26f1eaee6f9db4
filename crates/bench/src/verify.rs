//! After the load: count what reached the recipients' INBOXes over IMAP (STATUS), so a
//! run whose `250`s were not all kept fails instead of reporting flattering figures.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};

use crate::install::Recipient;

/// The longest response line accepted.
const MAX_LINE: u64 = 64 * 1024;
/// Recipients checked at once (each sign-in runs argon2 in the daemon).
const PARALLEL: usize = 4;

/// Sums `MESSAGES` of every recipient's INBOX over implicit-TLS IMAP, recipient `i` asking
/// node `i mod N` of `addrs` (any node sees every node's deliveries).
pub async fn count_delivered(
    addrs: &[SocketAddr],
    server_ca: &Path,
    recipients: &[Recipient],
    timeout: Duration,
) -> anyhow::Result<u64> {
    ensure!(
        !addrs.is_empty(),
        "no IMAPS listener to count the INBOXes on"
    );
    let mut total = 0;
    for (c, chunk) in recipients.chunks(PARALLEL).enumerate() {
        let mut tasks = tokio::task::JoinSet::new();
        for (j, r) in chunk.iter().cloned().enumerate() {
            let addr = addrs[(c * PARALLEL + j) % addrs.len()];
            let ca = server_ca.to_owned();
            tasks.spawn(async move {
                let n = tokio::time::timeout(timeout, inbox_messages(addr, &ca, &r)).await;
                n.with_context(|| format!("IMAP check of {} timed out", r.address))?
                    .with_context(|| format!("IMAP check of {}", r.address))
            });
        }
        while let Some(joined) = tasks.join_next().await {
            total += joined.context("IMAP check panicked")??;
        }
    }
    Ok(total)
}

/// Signs in as `r` and returns `STATUS INBOX (MESSAGES)`.
async fn inbox_messages(addr: SocketAddr, ca: &Path, r: &Recipient) -> anyhow::Result<u64> {
    let config = crate::tls::client_config(ca, &r.cert, &r.key)?;
    let tls = crate::tls::connect(addr, config).await?;
    inbox_messages_over(tls, &r.id, &r.password).await
}

/// The IMAP conversation of [`inbox_messages`], over any stream.
async fn inbox_messages_over<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    user: &str,
    password: &str,
) -> anyhow::Result<u64> {
    use base64::Engine as _;
    let mut io = BufReader::new(stream);
    let greeting = line(&mut io).await?;
    ensure!(greeting.starts_with("* OK"), "greeting: {greeting}");
    // RFC 4959 SASL-IR, RFC 4616 PLAIN.
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    command(&mut io, "a1", &format!("AUTHENTICATE PLAIN {token}")).await?;
    let untagged = command(&mut io, "a2", "STATUS INBOX (MESSAGES)").await?;
    let count = untagged
        .iter()
        .find_map(|l| status_messages(l))
        .with_context(|| format!("no STATUS response in {untagged:?}"))?;
    let _ = command(&mut io, "a3", "LOGOUT").await;
    Ok(count)
}

/// Sends `tag text` and reads until the tagged response, which must be OK; returns the
/// untagged lines.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    tag: &str,
    text: &str,
) -> anyhow::Result<Vec<String>> {
    io.get_mut()
        .write_all(format!("{tag} {text}\r\n").as_bytes())
        .await?;
    io.get_mut().flush().await?;
    let mut untagged = Vec::new();
    loop {
        let l = line(io).await?;
        if let Some(rest) = l.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
            let what = text.split(' ').next().unwrap_or(text);
            ensure!(rest.starts_with("OK"), "{what}: {l}");
            return Ok(untagged);
        }
        untagged.push(l);
    }
}

async fn line<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> anyhow::Result<String> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::new();
    let n = (&mut *io)
        .take(MAX_LINE)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        bail!("the server closed the connection");
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_owned())
}

/// `* STATUS INBOX (MESSAGES 41)` → 41 (RFC 9051 §7.5.1; the mailbox may be quoted).
fn status_messages(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("* STATUS ")?;
    let items = &rest[rest.rfind('(')? + 1..rest.rfind(')')?];
    let mut words = items.split_whitespace();
    while let Some(w) = words.next() {
        let value = words.next()?;
        if w.eq_ignore_ascii_case("MESSAGES") {
            return value.parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    #[test]
    fn parses_status_lines() {
        assert_eq!(status_messages("* STATUS INBOX (MESSAGES 41)"), Some(41));
        assert_eq!(
            status_messages("* STATUS \"INBOX\" (UIDNEXT 5 MESSAGES 4)"),
            Some(4)
        );
        assert_eq!(status_messages("* STATUS INBOX (UIDNEXT 5)"), None);
        assert_eq!(status_messages("* 3 EXISTS"), None);
    }

    #[tokio::test]
    async fn conversation_signs_in_and_reads_the_count() {
        let (client, server) = duplex(16 * 1024);
        let script = tokio::spawn(async move {
            let mut s = BufReader::new(server);
            s.get_mut()
                .write_all(b"* OK [CAPABILITY IMAP4rev2 SASL-IR] ready\r\n")
                .await
                .expect("w");
            let auth = line(&mut s).await.expect("AUTHENTICATE");
            // "\0user0001\0비밀" in base64
            assert_eq!(auth, "a1 AUTHENTICATE PLAIN AHVzZXIwMDAxAOu5hOuwgA==");
            s.get_mut()
                .write_all(b"a1 OK signed in\r\n")
                .await
                .expect("w");
            assert_eq!(
                line(&mut s).await.expect("STATUS"),
                "a2 STATUS INBOX (MESSAGES)"
            );
            s.get_mut()
                .write_all(b"* STATUS INBOX (MESSAGES 17)\r\na2 OK done\r\n")
                .await
                .expect("w");
            assert_eq!(line(&mut s).await.expect("LOGOUT"), "a3 LOGOUT");
            s.get_mut()
                .write_all(b"* BYE\r\na3 OK bye\r\n")
                .await
                .expect("w");
        });
        let n = tokio::time::timeout(
            Duration::from_secs(5),
            inbox_messages_over(client, "user0001", "비밀"),
        )
        .await
        .expect("in time")
        .expect("conversation");
        assert_eq!(n, 17);
        script.await.expect("server script ran to the end");
    }

    #[tokio::test]
    async fn refused_sign_in_is_an_error() {
        let (client, server) = duplex(16 * 1024);
        tokio::spawn(async move {
            let mut s = BufReader::new(server);
            s.get_mut().write_all(b"* OK ready\r\n").await.expect("w");
            let _ = line(&mut s).await;
            s.get_mut()
                .write_all(b"a1 NO [AUTHENTICATIONFAILED] wrong password\r\n")
                .await
                .expect("w");
        });
        let err = inbox_messages_over(client, "u", "p")
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("AUTHENTICATIONFAILED"), "{err}");
    }
}
