//! The IMAP probes of the hostile-input issue ("What held"), each against the real daemon
//! with small configured limits and each asserting its bound: the reply, a time bound and
//! the daemon's resident memory (/proc). 500 silent TCP and 200 idle TLS connections time
//! out while a normal client is served; 4 GB and 100 MB literal announcements are refused
//! without a `+`; a 10 MB line without CRLF, 10,000 nested parentheses and NUL bytes are
//! refused and the connection (or the next one) goes on; 100,000 pipelined NOOPs are all
//! answered; STARTTLS injection on 143 is discarded; MIME bombs (100,000 nesting levels,
//! 200,000 parts) arriving on port 25 are FETCHed as BODYSTRUCTURE. The probes' own sizes.

use std::time::{Duration, Instant};

use certmail_tests::lines::{LineClient, imaps_login};
use certmail_tests::procfs::{ensure_rss_within, rss_kib};
use certmail_tests::{DaemonProcess, fixtures, tls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "Gpki-Pass-2026!";

/// A daemon with 홍길동 (`hong`) and small limits: 2 s before sign-in and for the TLS
/// handshake, 1 MB APPENDs, 4 KB command lines; 1,000 connections per address.
fn start_small() -> anyhow::Result<(fixtures::Installation, DaemonProcess)> {
    let mut fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.edit_config(|c| {
        c.limits.tls_handshake_timeout_secs = 2;
        c.imap.preauth_timeout_secs = 2;
        c.imap.append_limit = Some(1024 * 1024);
        c.imap.max_command_line = 4096;
        // The silent/idle probe's 700 loopback connections all reach the timeouts (the
        // per-IP cap has its own test, in limits_and_keygen.rs).
        c.limits.max_connections_per_ip = 1000;
    })?;
    let daemon = fx.start()?;
    Ok((fx, daemon))
}

type Imap = LineClient<tokio_rustls::client::TlsStream<TcpStream>>;

async fn signed_in(fx: &fixtures::Installation, daemon: &DaemonProcess) -> anyhow::Result<Imap> {
    imaps_login(daemon.addr("imaps"), fx.user_tls()?, "hong", PASSWORD).await
}

/// `tag NOOP` answered OK within a second: the daemon serves this client.
async fn served(c: &mut Imap, tag: &str) -> anyhow::Result<()> {
    let t = Instant::now();
    c.send_raw(format!("{tag} NOOP\r\n").as_bytes()).await?;
    let reply = c.until_tagged(tag).await?;
    anyhow::ensure!(
        reply
            .last()
            .is_some_and(|l| l.starts_with(&format!("{tag} OK"))),
        "{reply:?}"
    );
    anyhow::ensure!(
        t.elapsed() < Duration::from_secs(1),
        "NOOP took {:?}",
        t.elapsed()
    );
    Ok(())
}

/// Reads until the peer closes; true when it did within `limit`.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(s: &mut S, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_and_idle_connections_time_out_while_a_client_is_served() -> anyhow::Result<()> {
    let (fx, daemon) = start_small()?;
    let mut normal = signed_in(&fx, &daemon).await?;
    let mut silent = Vec::new();
    for _ in 0..500 {
        silent.push(TcpStream::connect(daemon.addr("imaps")).await?);
    }
    let mut idle = Vec::new();
    for _ in 0..200 {
        let mut c = LineClient::new(tls::connect(daemon.addr("imaps"), fx.user_tls()?).await?);
        anyhow::ensure!(c.line().await?.starts_with("* OK"), "greeting");
        idle.push(c);
    }
    served(&mut normal, "n1").await?;
    // Both limits are 2 s; every one of them is closed by the server within 6 s.
    let deadline = Duration::from_secs(6);
    for s in &mut silent {
        assert!(
            closed_within(s, deadline).await,
            "a silent TCP connection was kept"
        );
    }
    for c in idle {
        let mut tls = c.into_inner();
        assert!(
            closed_within(&mut tls, deadline).await,
            "an idle TLS connection was kept"
        );
    }
    served(&mut normal, "n2").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_literals_long_lines_deep_nesting_and_nul_are_refused() -> anyhow::Result<()> {
    let (fx, daemon) = start_small()?;
    let before = rss_kib(daemon.pid())?;
    let mut c = signed_in(&fx, &daemon).await?;
    c.send_raw(b"a2 SELECT INBOX\r\n").await?;
    c.until_tagged("a2").await?;
    // 4 GB and 100 MB announcements: refused, no `+`, nothing read.
    for (tag, size) in [("a3", 4_294_967_296_u64), ("a4", 104_857_600)] {
        c.send_raw(format!("{tag} APPEND INBOX {{{size}}}\r\n").as_bytes())
            .await?;
        let reply = c.line().await?;
        assert!(
            reply.starts_with(&format!("{tag} NO")) || reply.starts_with(&format!("{tag} BAD")),
            "{size}: {reply}"
        );
        assert!(!reply.starts_with('+'), "{size}: {reply}");
        served(&mut c, &format!("{tag}n")).await?;
    }
    // 10,000 nested parentheses: BAD, and the session goes on.
    let nested = format!(
        "a5 SEARCH {}ALL{}\r\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    c.send_raw(nested.as_bytes()).await?;
    let reply = c.until_tagged("a5").await?;
    assert!(
        reply.last().is_some_and(|l| l.starts_with("a5 BAD")),
        "{reply:?}"
    );
    served(&mut c, "a5n").await?;
    // NUL in a command.
    c.send_raw(b"a6 SEARCH SUBJECT \"\0\"\r\n").await?;
    let reply = c.until_tagged("a6").await?;
    assert!(
        reply.last().is_some_and(|l| l.starts_with("a6 BAD")),
        "{reply:?}"
    );
    served(&mut c, "a6n").await?;
    // A 10 MB line without CRLF: refused (BAD or BYE), then the connection may close.
    let t = Instant::now();
    let mut line = b"a7 SEARCH TEXT ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    let _ = c.send_raw(&line).await;
    let answer = c.line().await.unwrap_or_default();
    assert!(
        answer.contains("BAD") || answer.contains("BYE") || answer.is_empty(),
        "{answer}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t.elapsed()
    );
    let mut next = signed_in(&fx, &daemon).await?;
    served(&mut next, "b1").await?;
    ensure_rss_within(daemon.pid(), before, 64 * 1024)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_pipelined_noops_are_all_answered() -> anyhow::Result<()> {
    let (fx, daemon) = start_small()?;
    let before = rss_kib(daemon.pid())?;
    let c = signed_in(&fx, &daemon).await?;
    let t = Instant::now();
    let mut all = Vec::with_capacity(100_000 * 12);
    for n in 0..100_000 {
        all.extend_from_slice(format!("p{n} NOOP\r\n").as_bytes());
    }
    let (mut read, mut write) = tokio::io::split(c.into_inner());
    let writer = tokio::spawn(async move { write.write_all(&all).await.map(|_| write) });
    let mut reader = tokio::io::BufReader::new(&mut read);
    let mut oks = 0;
    let mut line = String::new();
    while oks < 100_000 {
        line.clear();
        let n = tokio::time::timeout(
            Duration::from_secs(15),
            tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut line),
        )
        .await??;
        anyhow::ensure!(n > 0, "closed after {oks} answers");
        if line.starts_with('p') && line.contains(" OK") {
            oks += 1;
        }
    }
    let _write = writer.await??;
    assert!(
        t.elapsed() < Duration::from_secs(90),
        "took {:?}",
        t.elapsed()
    );
    ensure_rss_within(daemon.pid(), before, 64 * 1024)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn starttls_injection_on_143_is_discarded() -> anyhow::Result<()> {
    let (fx, daemon) = start_small()?;
    let mut c = LineClient::new(TcpStream::connect(daemon.addr("imap")).await?);
    assert!(c.line().await?.starts_with("* OK"));
    // The injected command rides in the same packet as STARTTLS (RFC 3501 §6.2.1: discard).
    c.send_raw(b"s1 STARTTLS\r\ns2 LOGOUT\r\n").await?;
    assert!(c.line().await?.starts_with("s1 OK"));
    let mut tls = LineClient::new(tls::handshake(c.into_inner(), fx.user_tls()?).await?);
    tls.send_raw(b"s3 NOOP\r\n").await?;
    let first = tls.line().await?;
    assert!(
        first.starts_with("s3 OK"),
        "the injected s2 was run: {first}"
    );
    Ok(())
}

/// A message whose body nests `depth` multiparts, then `parts` leaf parts.
fn mime_bomb(depth: usize, parts: usize) -> String {
    let mut m = String::from("From: x@attacker.example\r\nSubject: 폭탄\r\nMIME-Version: 1.0\r\n");
    for i in 0..depth {
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"d{i}\"\r\n\r\n--d{i}\r\n"
        ));
    }
    m.push_str("Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n");
    for _ in 0..parts {
        m.push_str("--p\r\n\r\nx\r\n");
    }
    m.push_str("--p--");
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn mime_bombs_from_port_25_are_fetched_as_bodystructure() -> anyhow::Result<()> {
    let (fx, daemon) = start_small()?;
    let mut mx = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
    assert!(mx.smtp_reply().await?.starts_with("220"));
    assert!(mx.smtp("EHLO attacker.example").await?.starts_with("250"));
    for (depth, parts) in [(100_000, 1), (1, 200_000)] {
        let bomb = mime_bomb(depth, parts);
        let reply = mx
            .smtp_send("x@attacker.example", "hong@test.go.kr", &bomb)
            .await?;
        assert!(reply.starts_with("250"), "{depth}/{parts}: {reply}");
    }
    let before = rss_kib(daemon.pid())?;
    let mut c = signed_in(&fx, &daemon).await?;
    c.send_raw(b"a2 SELECT INBOX\r\n").await?;
    c.until_tagged("a2").await?;
    let t = Instant::now();
    c.send_raw(b"a3 FETCH 1:* (BODYSTRUCTURE ENVELOPE)\r\n")
        .await?;
    let reply = c.until_tagged("a3").await?;
    assert!(
        reply.last().is_some_and(|l| l.starts_with("a3 OK")),
        "{:?}",
        reply.last()
    );
    assert_eq!(reply.iter().filter(|l| l.contains(" FETCH (")).count(), 2);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    served(&mut c, "a4").await?;
    ensure_rss_within(daemon.pid(), before, 128 * 1024)?;
    Ok(())
}
