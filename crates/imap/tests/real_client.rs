//! A real IMAP client (async-imap, on tokio) against the in-process server, over a
//! tokio-rustls stream that presents 홍길동's certificate: sign in, list folders, append,
//! fetch, flag, move to Trash, expunge, and IDLE woken by new mail.

mod common;

use async_imap::extensions::idle::IdleResponse;
use common::*;
use futures::TryStreamExt as _;
use tokio::net::TcpStream;

type Session = async_imap::Session<tokio_rustls::client::TlsStream<TcpStream>>;

async fn sign_in(server: &TestServer) -> Session {
    let tcp = TcpStream::connect(server.tls_addr).await.expect("connect");
    let tls = tls_connect(tcp, server.client_config()).await;
    let mut client = async_imap::Client::new(tls);
    let greeting = client.read_response().await.expect("greeting");
    assert!(greeting.is_some(), "the server greets");
    client
        .login(ACCOUNT, PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .expect("signed in")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_imap_client_day() {
    let server = TestServer::start(true).await;
    let step = |what: &'static str| move |_| -> String { format!("{what} timed out") };
    let mut session = tokio::time::timeout(STEP, sign_in(&server))
        .await
        .map_err(step("sign-in"))
        .expect("in time");

    // Folders with their special use.
    let names: Vec<_> = session
        .list(Some(""), Some("*"))
        .await
        .expect("LIST")
        .try_collect()
        .await
        .expect("LIST responses");
    let listed: Vec<&str> = names.iter().map(|n| n.name()).collect();
    for folder in ["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"] {
        assert!(listed.contains(&folder), "{folder} missing from {listed:?}");
    }

    // A message arrives (APPEND), the client reads and flags it.
    let mail = message("결재 요청", "검토 부탁드립니다.");
    session
        .append("INBOX", None, None, mail.as_bytes())
        .await
        .expect("APPEND");
    let inbox = session.select("INBOX").await.expect("SELECT");
    assert_eq!(inbox.exists, 1);
    let fetched: Vec<_> = session
        .uid_fetch("1", "(UID FLAGS BODY.PEEK[])")
        .await
        .expect("FETCH")
        .try_collect()
        .await
        .expect("FETCH responses");
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].uid, Some(1));
    let body = fetched[0].body().expect("body");
    assert!(
        String::from_utf8_lossy(body).contains("검토 부탁드립니다."),
        "body as stored"
    );
    let stored: Vec<_> = session
        .uid_store("1", "+FLAGS (\\Flagged \\Seen)")
        .await
        .expect("STORE")
        .try_collect()
        .await
        .expect("STORE responses");
    let flags: Vec<String> = stored[0].flags().map(|f| format!("{f:?}")).collect();
    assert!(flags.iter().any(|f| f.contains("Flagged")), "{flags:?}");

    // Move to Trash, then empty it.
    session.uid_mv("1", "Trash").await.expect("MOVE");
    let trash = session.select("Trash").await.expect("SELECT Trash");
    assert_eq!(trash.exists, 1);
    session
        .store("1", "+FLAGS.SILENT (\\Deleted)")
        .await
        .expect("STORE")
        .try_collect::<Vec<_>>()
        .await
        .expect("STORE responses");
    let expunged: Vec<_> = session
        .expunge()
        .await
        .expect("EXPUNGE")
        .try_collect()
        .await
        .expect("EXPUNGE responses");
    assert_eq!(expunged, [1]);

    // IDLE on INBOX wakes when another device-connection appends.
    session.select("INBOX").await.expect("SELECT INBOX");
    let mut idle = session.idle();
    idle.init().await.expect("IDLE");
    let mut other = tokio::time::timeout(STEP, sign_in(&server))
        .await
        .map_err(step("second sign-in"))
        .expect("in time");
    let (wait, _stop) = idle.wait();
    let appended = async {
        other
            .append("INBOX", None, None, message("새 메일", "도착").as_bytes())
            .await
            .expect("APPEND from the other connection");
    };
    let (woke, ()) = tokio::join!(tokio::time::timeout(STEP, wait), appended);
    match woke
        .map_err(step("IDLE wake-up"))
        .expect("in time")
        .expect("IDLE")
    {
        IdleResponse::NewData(data) => {
            let text = format!("{:?}", data.parsed());
            assert!(text.contains("Exists"), "{text}");
        }
        other => panic!("IDLE ended without new data: {other:?}"),
    }
    let mut session = idle.done().await.expect("DONE");
    session.logout().await.expect("LOGOUT");
    other.logout().await.expect("LOGOUT");
}
