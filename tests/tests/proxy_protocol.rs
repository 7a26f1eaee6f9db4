//! `[server] proxy_protocol_from` (issue 17's load-balancer notes): behind a TCP
//! pass-through balancer the client's certificate still reaches the node, and the PROXY
//! header gives the client's address, which the audit records. A listed balancer's
//! connection without a header is closed; anyone else's header is not believed.

use certmail_tests::fixtures;
use certmail_tests::lines::LineClient;
use certmail_tests::tls;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

const PASSWORD: &str = "Gpki-Pass-2026!";

/// IMAP sign-in of 홍길동 over `tcp` (after whatever was written on it): the tagged reply.
async fn login_over(fx: &fixtures::Installation, tcp: TcpStream) -> anyhow::Result<String> {
    let mut c = LineClient::new(tls::handshake(tcp, fx.user_tls()?).await?);
    anyhow::ensure!(c.line().await?.starts_with("* OK"), "greeting");
    c.send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    let reply = c.until_tagged("a1").await?;
    Ok(reply.last().cloned().unwrap_or_default())
}

/// The addresses of 홍길동's successful sign-ins, oldest first, from `certmail audit`.
fn sign_in_addresses(fx: &fixtures::Installation) -> anyhow::Result<Vec<String>> {
    let (code, out, err) = fx.certmail(&["audit", "tail", "-n", "50", "--json"])?;
    anyhow::ensure!(code == 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let events = v["data"]["events"].as_array().cloned().unwrap_or_default();
    Ok(events
        .iter()
        .filter(|e| e["kind"] == "sign_in_ok")
        .filter_map(|e| e["ip"].as_str().map(str::to_string))
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_balancer_gives_the_client_address_and_nobody_else_can() -> anyhow::Result<()> {
    let mut fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.edit_config(|c| {
        c.server.proxy_protocol_from = vec!["127.0.0.1/32".into()];
        c.limits.tls_handshake_timeout_secs = 2;
    })?;
    let daemon = fx.start()?;
    let imaps = daemon.addr("imaps");

    // Version 1 and version 2 headers from the balancer (127.0.0.1).
    let mut tcp = TcpStream::connect(imaps).await?;
    tcp.write_all(b"PROXY TCP4 198.51.100.9 127.0.0.1 50123 993\r\n")
        .await?;
    let reply = login_over(&fx, tcp).await?;
    assert!(reply.starts_with("a1 OK"), "{reply}");
    let v2 = ppp::v2::Builder::with_addresses(
        ppp::v2::Version::Two | ppp::v2::Command::Proxy,
        ppp::v2::Protocol::Stream,
        (
            "[2001:db8::7]:4000".parse::<std::net::SocketAddr>()?,
            "[2001:db8::1]:993".parse::<std::net::SocketAddr>()?,
        ),
    )
    .build()?;
    let mut tcp = TcpStream::connect(imaps).await?;
    tcp.write_all(&v2).await?;
    let reply = login_over(&fx, tcp).await?;
    assert!(reply.starts_with("a1 OK"), "{reply}");

    // The balancer without a header: closed, no TLS session.
    let bare = tls::connect(imaps, fx.user_tls()?).await;
    assert!(
        bare.is_err(),
        "a listed balancer's connection without a header was served"
    );

    // A header from an address that is not a listed balancer (127.0.0.2) is not read as
    // one: the connection fails as any garbage before TLS would.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind("127.0.0.2:0".parse()?)?;
    let mut tcp = socket.connect(imaps).await?;
    tcp.write_all(b"PROXY TCP4 203.0.113.1 127.0.0.1 1 993\r\n")
        .await?;
    assert!(
        login_over(&fx, tcp).await.is_err(),
        "a forged header was believed"
    );
    // Without a header, that address signs in as itself.
    let c = tls::connect_from("127.0.0.2".parse()?, imaps, fx.user_tls()?).await?;
    let mut c = LineClient::new(c);
    assert!(c.line().await?.starts_with("* OK"));
    c.send_raw(format!("a1 LOGIN hong \"{PASSWORD}\"\r\n").as_bytes())
        .await?;
    let reply = c.until_tagged("a1").await?;
    assert!(
        reply.last().is_some_and(|l| l.starts_with("a1 OK")),
        "{reply:?}"
    );
    drop(c);

    let seen = sign_in_addresses(&fx)?;
    assert_eq!(
        seen,
        ["198.51.100.9", "2001:db8::7", "127.0.0.2"],
        "{seen:?}"
    );
    Ok(())
}
