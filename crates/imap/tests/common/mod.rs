//! An in-process IMAP server on 127.0.0.1:0 over a temporary sled store and a test PKI,
//! and a raw TLS client that presents 홍길동's certificate (C:/S: transcript style).
#![allow(dead_code)] // each test binary uses a different part of it

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use certmail_imap::server::{Connection, ImapContext, ImapSettings, serve};
use certmail_pki::{Pki, PkiConfig, testpki::DevPki};
use certmail_session::{ChangeHub, LocalRegistry, RegistryConfig};
use certmail_store::{KeyFile, SledStore, Store};
use certmail_testkit::tls::{ALL_VERSIONS, ClientCert};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_util::sync::CancellationToken;

/// The account of the tests.
pub const ACCOUNT: &str = "hong";
/// Its password.
pub const PASSWORD: &str = "hong-pass-2026";
/// Every wait in a test is bounded by this.
pub const STEP: Duration = Duration::from_secs(10);

/// A running server with its store and PKI.
pub struct TestServer {
    /// Port 993-style listener (implicit TLS).
    pub tls_addr: SocketAddr,
    /// Port 143-style listener (STARTTLS).
    pub plain_addr: SocketAddr,
    /// The shared context (store, hub, registry).
    pub ctx: Arc<ImapContext>,
    /// Fires shutdown.
    pub shutdown: CancellationToken,
    /// The test PKI's files.
    pub pki_files: DevPki,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with `require_password` policy and one account, 홍길동 (`hong`),
    /// with its certificate bound.
    pub async fn start(require_password: bool) -> TestServer {
        TestServer::start_with(require_password, |_| {}).await
    }

    /// Like [`TestServer::start`], with settings changed by `adjust`.
    pub async fn start_with(
        require_password: bool,
        adjust: impl FnOnce(&mut ImapSettings),
    ) -> TestServer {
        TestServer::start_with_registry(require_password, adjust, RegistryConfig::default()).await
    }

    /// Like [`TestServer::start_with`], with a registry configured by `registry`.
    pub async fn start_with_registry(
        require_password: bool,
        adjust: impl FnOnce(&mut ImapSettings),
        registry: RegistryConfig,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki_files = DevPki::generate(&dir.path().join("pki"), "홍길동").expect("test PKI");
        let pki = Arc::new(
            Pki::load(&PkiConfig::new(&pki_files.certs_dir, &pki_files.crl_dir)).expect("PKI"),
        );
        let tls = Arc::new(
            certmail_pki::server_config(
                &pki_files.server_chain,
                &pki_files.server_key,
                Some(pki.client_verifier()),
            )
            .expect("server TLS config"),
        );
        let key = KeyFile::generate(&dir.path().join("store.key")).expect("key file");
        let store: Arc<dyn Store> =
            Arc::new(SledStore::open(&dir.path().join("store"), key).expect("store"));
        create_account(store.as_ref(), &pki, &pki_files.user_cert).await;
        let mut settings = ImapSettings {
            hostname: "mail.test.go.kr".into(),
            sign_in: certmail_auth::signin::SignInPolicy {
                require_password,
                ..Default::default()
            },
            ..ImapSettings::default()
        };
        adjust(&mut settings);
        let ctx = ImapContext::new(
            store,
            Arc::new(LocalRegistry::new(registry)),
            ChangeHub::default(),
            settings,
        );
        let shutdown = CancellationToken::new();
        let tls_addr = listen(&ctx, &pki, &tls, &shutdown, true).await;
        let plain_addr = listen(&ctx, &pki, &tls, &shutdown, false).await;
        TestServer {
            tls_addr,
            plain_addr,
            ctx,
            shutdown,
            pki_files,
            _dir: dir,
        }
    }

    /// A client config presenting 홍길동's certificate.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        client_config(
            &self.pki_files.server_ca,
            Some((&self.pki_files.user_cert, &self.pki_files.user_key)),
        )
    }

    /// An administrator ends 홍길동's session; how many connections it ended.
    pub async fn admin_kick(&self) -> usize {
        let reason = certmail_session::KickReason::AdminKick;
        self.ctx.registry.kick(ACCOUNT, reason).await
    }

    /// [`TestServer::start`], and a client connected to it (greeted, not signed in).
    pub async fn connected(require_password: bool) -> (TestServer, Client) {
        let server = TestServer::start(require_password).await;
        let client = server.connect().await;
        (server, client)
    }

    /// Connects over implicit TLS with 홍길동's certificate and reads the greeting.
    pub async fn connect(&self) -> Client {
        let tls = tls_connect(
            TcpStream::connect(self.tls_addr).await.expect("connect"),
            self.client_config(),
        )
        .await;
        let mut client = Client::new(tls);
        let greeting = client.line().await;
        assert!(
            greeting.starts_with("* OK [CAPABILITY IMAP4REV1"),
            "{greeting}"
        );
        client
    }

    /// Connects and signs in with LOGIN.
    pub async fn signed_in(&self) -> Client {
        let mut client = self.connect().await;
        let reply = client
            .command(&format!("LOGIN {ACCOUNT} \"{PASSWORD}\""))
            .await;
        assert!(reply.last().expect("tagged").contains("OK"), "{reply:?}");
        client
    }
}

async fn create_account(store: &dyn Store, pki: &Pki, cert_pem: &Path) {
    let now = certmail_auth::now();
    let new = certmail_auth::accounts::NewAccount {
        id: ACCOUNT.into(),
        name: "홍길동".into(),
        organisation: "행정안전부".into(),
        addresses: vec!["hong@test.go.kr".into()],
        approve: true,
        kind: Default::default(),
    };
    let passwords = certmail_auth::password::PasswordPool::default();
    certmail_auth::accounts::create(store, &passwords, new, Some(PASSWORD.into()), now)
        .await
        .expect("store")
        .expect("account created");
    let der = certmail_auth::cert_der_from_file_bytes(&std::fs::read(cert_pem).expect("cert"))
        .expect("PEM");
    certmail_auth::bind_certificate(store, pki, ACCOUNT, &der, now)
        .await
        .expect("store")
        .expect("certificate bound");
}

async fn listen(
    ctx: &Arc<ImapContext>,
    pki: &Arc<Pki>,
    tls: &Arc<rustls::ServerConfig>,
    shutdown: &CancellationToken,
    implicit_tls: bool,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (ctx, pki, tls, shutdown) = (ctx.clone(), pki.clone(), tls.clone(), shutdown.clone());
    tokio::spawn(async move {
        while let Ok((tcp, peer)) = listener.accept().await {
            let conn = Connection {
                tcp,
                peer,
                implicit_tls,
                tls: tls.clone(),
                pki: pki.clone(),
                shutdown: shutdown.clone(),
            };
            tokio::spawn(serve(ctx.clone(), conn));
        }
    });
    addr
}

/// A rustls client config trusting `ca`, presenting `client` (cert, key) if given.
pub fn client_config(ca: &Path, client: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
    let client = client.map(|(cert, key)| {
        ClientCert::from_pem_files(cert, key).expect("client certificate and key")
    });
    certmail_testkit::tls::client_config(ca, client, ALL_VERSIONS).expect("client config")
}

/// A TLS handshake as `localhost` over `tcp`.
pub async fn tls_connect(tcp: TcpStream, config: Arc<ClientConfig>) -> TlsStream<TcpStream> {
    let name = ServerName::try_from("localhost").expect("name");
    tokio::time::timeout(
        STEP,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .expect("handshake in time")
    .expect("handshake")
}

/// A raw IMAP client: sends lines, reads responses (literals inlined).
pub struct Client {
    io: BufReader<TlsStream<TcpStream>>,
    next_tag: u32,
}

impl Client {
    /// Wraps a TLS stream.
    pub fn new(tls: TlsStream<TcpStream>) -> Client {
        Client {
            io: BufReader::new(tls),
            next_tag: 1,
        }
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &str) {
        self.send_bytes(bytes.as_bytes()).await;
    }

    /// Sends raw bytes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        let io = self.io.get_mut();
        io.write_all(bytes).await.expect("write");
        io.flush().await.expect("flush");
    }

    /// One response line (with any literal it announces inlined), without CRLF.
    pub async fn line(&mut self) -> String {
        tokio::time::timeout(STEP, self.read_response())
            .await
            .expect("a response in time")
    }

    async fn read_response(&mut self) -> String {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self.io.read_until(b'\n', &mut line).await.expect("read");
            assert!(
                n > 0,
                "connection closed; got so far: {:?}",
                String::from_utf8_lossy(&out)
            );
            out.extend_from_slice(&line);
            match literal_length(&line) {
                Some(len) => {
                    let mut literal = vec![0u8; len];
                    self.io.read_exact(&mut literal).await.expect("literal");
                    out.extend_from_slice(&literal);
                }
                None => break,
            }
        }
        let text = String::from_utf8_lossy(&out).into_owned();
        text.trim_end_matches("\r\n").to_owned()
    }

    /// Sends `TAG command` and returns every response up to and including the tagged one.
    pub async fn command(&mut self, command: &str) -> Vec<String> {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        self.send(&format!("{tag} {command}\r\n")).await;
        self.until_tagged(&tag).await
    }

    /// [`Client::command`], asserting that its tagged line starts with `expected`.
    pub async fn command_tagged(&mut self, command: &str, expected: &str) -> Vec<String> {
        let reply = self.command(command).await;
        assert_tagged(&reply, expected);
        reply
    }

    /// Reads responses until the one tagged `tag`.
    pub async fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Whether the connection is closed by the server (reads until EOF, bounded).
    pub async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(
            tokio::time::timeout(STEP, self.io.read_to_end(&mut rest)).await,
            Ok(Ok(_)) | Ok(Err(_))
        )
    }

    /// The underlying stream's reader (for tests that read by hand).
    pub fn reader(&mut self) -> &mut BufReader<TlsStream<TcpStream>> {
        &mut self.io
    }
}

fn literal_length(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&inner[open + 1..]).ok()?.parse().ok()
}

/// The tagged line of a command's responses.
pub fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or("")
}

/// Asserts that the tagged line of `lines` starts with `expected` (tag, status, code).
pub fn assert_tagged(lines: &[String], expected: &str) {
    assert!(
        tagged(lines).starts_with(expected),
        "expected {expected:?}, got {lines:#?}"
    );
}

/// Asserts the command completed OK and returns its untagged lines.
pub fn ok(lines: Vec<String>) -> Vec<String> {
    let last = tagged(&lines).to_owned();
    assert!(
        last.split(' ').nth(1) == Some("OK"),
        "expected OK, got {lines:#?}"
    );
    lines[..lines.len() - 1].to_vec()
}

/// A short RFC 5322 message from 김철수 to 홍길동.
pub fn message(subject: &str, body: &str) -> String {
    format!(
        "From: =?UTF-8?B?6rmA7LKg7IiY?= <kim@test.go.kr>\r\nTo: hong@test.go.kr\r\nSubject: {subject}\r\nDate: Sun, 22 Nov 2026 09:00:00 +0900\r\nMessage-ID: <{}@test.go.kr>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        subject.len() * 7 + body.len()
    )
}

/// APPENDs `message` to `mailbox` with a synchronizing literal; returns the tagged line.
pub async fn append(client: &mut Client, mailbox: &str, flags: &str, message: &str) -> String {
    let tag = format!("ap{}", message.len());
    client
        .send(&format!(
            "{tag} APPEND {mailbox} ({flags}) {{{}}}\r\n",
            message.len()
        ))
        .await;
    let cont = client.line().await;
    assert!(cont.starts_with('+'), "{cont}");
    client.send(&format!("{message}\r\n")).await;
    let lines = client.until_tagged(&tag).await;
    tagged(&lines).to_owned()
}
