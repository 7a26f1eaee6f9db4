//! Sign-in over a real TLS connection: LOGIN, AUTHENTICATE PLAIN (SASL-IR and with a
//! continuation), EXTERNAL with an authzid, refusals with their codes, STARTTLS on the
//! plaintext port, default mailboxes at first sign-in, kicks and shutdown.

mod common;

use base64::Engine as _;
use common::*;
use tokio::net::TcpStream;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_certificate_and_password_creates_the_default_mailboxes() {
    let (_server, mut c) = TestServer::connected(true).await;
    let reply = c.command(&format!("LOGIN hong \"{PASSWORD}\"")).await;
    assert_tagged(&reply, "a1 OK [CAPABILITY IMAP4REV1");
    assert!(
        !tagged(&reply).contains(" AUTH="),
        "no mechanisms after sign-in"
    );
    let list = ok(c.command("LIST \"\" \"*\"").await);
    for (name, attr) in [
        ("INBOX", None),
        ("Sent", Some("\\Sent")),
        ("Drafts", Some("\\Drafts")),
        ("Trash", Some("\\Trash")),
        ("Junk", Some("\\Junk")),
        ("Archive", Some("\\Archive")),
    ] {
        let line = list
            .iter()
            .find(|l| l.ends_with(&format!("\"/\" {name}")))
            .unwrap_or_else(|| panic!("{name} missing from {list:#?}"));
        assert!(line.contains("\\HasNoChildren"), "{line}");
        if let Some(attr) = attr {
            assert!(line.contains(attr), "{line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_plain_with_and_without_initial_response() {
    let (server, mut c) = TestServer::connected(true).await;
    let creds = b64(format!("\0hong\0{PASSWORD}").as_bytes());
    c.command_tagged(&format!("AUTHENTICATE PLAIN {creds}"), "a1 OK")
        .await;

    let mut c = server.connect().await;
    c.send("p1 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ ");
    c.send(&format!("{creds}\r\n")).await;
    let reply = c.until_tagged("p1").await;
    assert_tagged(&reply, "p1 OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_with_authenticationfailed() {
    let (_server, mut c) = TestServer::connected(true).await;
    c.command_tagged("LOGIN hong \"wrong\"", "a1 NO [AUTHENTICATIONFAILED]")
        .await;
    c.command_tagged("SELECT INBOX", "a2 BAD").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_with_authzid_signs_in_when_policy_allows() {
    let (_server, mut c) = TestServer::connected(false).await;
    // RFC 3501 §6.2.2: the mechanism that can succeed is advertised.
    let caps = c.command("CAPABILITY").await;
    assert!(caps[0].contains(" AUTH=PLAIN AUTH=EXTERNAL"), "{caps:?}");
    let external = format!("AUTHENTICATE EXTERNAL {}", b64(b"hong"));
    c.command_tagged(&external, "a2 OK").await;

    // With the password required, EXTERNAL alone is neither offered nor accepted: it is
    // refused with a sentence.
    let (_strict, mut c) = TestServer::connected(true).await;
    let caps = c.command("CAPABILITY").await;
    assert!(!caps[0].contains("AUTH=EXTERNAL"), "{caps:?}");
    let reply = c.command("AUTHENTICATE EXTERNAL =").await;
    let line = tagged(&reply);
    assert!(line.starts_with("a2 NO [AUTHENTICATIONFAILED]"), "{line}");
    assert!(line.contains("password"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_certificate_is_refused_at_sign_in_not_at_the_greeting() {
    let server = TestServer::start(true).await;
    let config = client_config(&server.pki_files.server_ca, None);
    let tcp = TcpStream::connect(server.tls_addr).await.expect("connect");
    let mut c = Client::new(tls_connect(tcp, config).await);
    assert!(c.line().await.starts_with("* OK"));
    c.command_tagged(
        &format!("LOGIN hong \"{PASSWORD}\""),
        "a1 NO [AUTHENTICATIONFAILED]",
    )
    .await;
}

/// Sends `command` (if any) on a plaintext connection and reads one line back, keeping no
/// read-ahead (a TLS handshake may follow on the same socket).
async fn plain_line(tcp: &mut TcpStream, command: &[u8]) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    tcp.write_all(command).await.expect("write");
    let mut line = String::new();
    let mut reader = BufReader::new(tcp);
    reader.read_line(&mut line).await.expect("a line");
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_on_the_plaintext_port_then_sign_in_without_a_second_greeting() {
    let server = TestServer::start(true).await;
    let mut tcp = TcpStream::connect(server.plain_addr)
        .await
        .expect("connect");
    let line = plain_line(&mut tcp, b"").await;
    assert!(
        line.contains("STARTTLS") && line.contains("LOGINDISABLED"),
        "{line}"
    );
    let line = plain_line(&mut tcp, b"s1 LOGIN hong pw\r\n").await;
    assert!(line.starts_with("s1 NO [PRIVACYREQUIRED]"), "{line}");
    let line = plain_line(&mut tcp, b"s2 STARTTLS\r\n").await;
    assert!(line.starts_with("s2 OK"), "{line}");
    let mut c = Client::new(tls_connect(tcp, server.client_config()).await);
    // No greeting after the handshake: the first line is the answer to our command.
    let reply = c.command(&format!("LOGIN hong \"{PASSWORD}\"")).await;
    assert_eq!(reply.len(), 1, "{reply:?}");
    assert_tagged(&reply, "a1 OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_session_hears_bye_even_while_idling() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    ok(c.command("SELECT INBOX").await);
    c.send("i1 IDLE\r\n").await;
    assert!(c.line().await.starts_with('+'));
    assert_eq!(server.admin_kick().await, 1, "one connection ended");
    let bye = c.line().await;
    assert_eq!(bye, "* BYE [UNAVAILABLE] Session ended by an administrator");
    assert!(c.closed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_says_bye_at_the_command_boundary() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    server.shutdown.cancel();
    let bye = c.line().await;
    assert_eq!(bye, "* BYE [UNAVAILABLE] server shutting down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_says_bye_then_ok_and_closes() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let reply = c.command("LOGOUT").await;
    assert_eq!(reply.len(), 2, "{reply:?}");
    assert!(reply[0].starts_with("* BYE"), "{reply:?}");
    assert!(reply[1].starts_with("a2 OK"), "{reply:?}");
    assert!(c.closed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_bad_commands_end_the_connection() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    let limit = server.ctx.settings.max_bad_commands;
    let mut last = Vec::new();
    for _ in 0..limit {
        c.send("x1 FROBNICATE\r\n").await;
        last.push(c.line().await);
    }
    assert!(last.iter().all(|l| l.starts_with("x1 BAD")), "{last:?}");
    assert!(c.line().await.starts_with("* BYE"), "BYE after the limit");
    assert!(c.closed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_connection_cap_is_answered_unavailable() {
    let registry = certmail_session::RegistryConfig {
        max_connections_per_session: 1,
    };
    let server = TestServer::start_with_registry(true, |_| {}, registry).await;
    let _first = server.signed_in().await;
    let mut second = server.connect().await;
    let reply = second.command(&format!("LOGIN hong \"{PASSWORD}\"")).await;
    let line = tagged(&reply);
    assert!(
        line.starts_with("a1 NO [UNAVAILABLE] Too many connections"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_ends_a_connection_whose_client_stopped_reading() {
    let server = TestServer::start(true).await;
    let mut c = server.signed_in().await;
    // 8 MB of body, fetched three times: far more than the socket buffers hold.
    let big = message(
        "대용량",
        &"가나다라마바사아자차카타파하\r\n".repeat(190_000),
    );
    let reply = append(&mut c, "INBOX", "", &big).await;
    assert!(reply.contains("OK"), "{reply}");
    ok(c.command("SELECT INBOX").await);
    for _ in 0..2 {
        ok(c.command("COPY 1 INBOX").await);
    }
    c.send("f1 FETCH 1:3 (BODY.PEEK[])\r\n").await;
    // Read only the start of the answer (the server is writing now), then stop reading
    // and end the session while the server is blocked on the full socket.
    use tokio::io::AsyncBufReadExt as _;
    let mut first = Vec::new();
    tokio::time::timeout(STEP, c.reader().read_until(b'\n', &mut first))
        .await
        .expect("the FETCH starts in time")
        .expect("read");
    assert!(
        first.starts_with(b"* "),
        "{}",
        String::from_utf8_lossy(&first)
    );
    assert_eq!(server.admin_kick().await, 1, "one connection ended");
    // The server drops the connection at once instead of finishing the 24 MB answer.
    use tokio::io::AsyncReadExt as _;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(STEP, c.reader().read_to_end(&mut rest))
        .await
        .expect("the connection ends in time");
    assert!(
        !rest.windows(5).any(|w| w == b"f1 OK"),
        "the FETCH was abandoned, not completed ({} bytes read)",
        rest.len()
    );
}
