//! A sink SMTP server for the relay tests (the smtp crate's and the daemon's), on
//! 127.0.0.1 port 0.
//!
//! It answers by recipient: an address starting with `temp` gets `451 4.3.0`, one starting
//! with `bad` gets `550 5.1.1`, others `250`. It can offer STARTTLS (optionally asking for a
//! client certificate), DSN, REQUIRETLS, PIPELINING and SMTPUTF8, leave out 8BITMIME, drop the connection mid-DATA, or take the whole
//! message and never answer (the relay then looks like it crashed mid-delivery).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// How the sink behaves.
#[derive(Clone, Default)]
pub struct SinkBehaviour {
    /// Offer STARTTLS with this config.
    pub tls: Option<Arc<ServerConfig>>,
    /// Refuse MAIL before STARTTLS.
    pub require_tls: bool,
    /// Offer STARTTLS, answer 220, then send garbage instead of a TLS handshake.
    pub broken_tls: bool,
    /// Advertise DSN.
    pub dsn: bool,
    /// Advertise REQUIRETLS.
    pub requiretls: bool,
    /// Close the connection after the first DATA line.
    pub drop_mid_data: bool,
    /// Take the whole message, report it on `hung`, never answer.
    pub hang_after_data: bool,
    /// The reply after DATA (default `250 2.0.0 OK queued`).
    pub data_reply: Option<String>,
    /// The reply to a `temp…` recipient (default `451 4.3.0 Try again later`).
    pub temp_reply: Option<String>,
    /// Advertise PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// Leave 8BITMIME out of the EHLO reply (it is offered by default).
    pub no_8bitmime: bool,
    /// Advertise SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// Wait this long after each message before answering it (a slow remote).
    pub data_delay: Option<std::time::Duration>,
    /// Hold every DATA reply until this turns `true` (a remote that stalls, then recovers):
    /// lets a test build a queue up before deliveries complete.
    pub hold_replies: Option<tokio::sync::watch::Receiver<bool>>,
}

/// One message the sink took.
#[derive(Debug, Clone)]
pub struct Received {
    /// The MAIL command line.
    pub mail: String,
    /// The RCPT command lines that were accepted.
    pub rcpts: Vec<String>,
    /// The message, dot-unstuffed, without the final dot line.
    pub body: Vec<u8>,
    /// Whether it came over TLS.
    pub tls: bool,
    /// The client certificate presented, DER.
    pub client_cert: Option<Vec<u8>>,
    /// Which connection (0-based) carried it.
    pub connection: usize,
    /// The name the client gave in EHLO (or HELO) on that connection.
    pub helo: String,
}

/// A running sink.
pub struct Sink {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Messages answered with 2xx after DATA, in order.
    pub messages: Arc<Mutex<Vec<Received>>>,
    /// Connections accepted so far.
    pub connections: Arc<Mutex<usize>>,
    /// Every command line seen, in order.
    pub commands: Arc<Mutex<Vec<String>>>,
    /// The command lines grouped by arrival: a line that was already buffered when the
    /// sink finished the line before it (sent in the same write, as pipelining does)
    /// joins that line's group.
    pub batches: Arc<Mutex<Vec<Vec<String>>>>,
    /// Gets a message each time one was fully received and left unanswered.
    pub hung: mpsc::UnboundedReceiver<()>,
    /// Gets a message each time a message was accepted.
    pub accepted: mpsc::UnboundedReceiver<()>,
    /// Gets a message each time a client said QUIT.
    pub quits: mpsc::UnboundedReceiver<()>,
    /// Messages already handed out by [`Sink::next_message`].
    taken: usize,
}

impl Sink {
    /// Starts a sink.
    pub async fn start(behaviour: SinkBehaviour) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let commands = Arc::new(Mutex::new(Vec::new()));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let (hung_tx, hung) = mpsc::unbounded_channel();
        let (acc_tx, accepted) = mpsc::unbounded_channel();
        let (quit_tx, quits) = mpsc::unbounded_channel();
        let shared = Shared {
            behaviour,
            messages: Arc::clone(&messages),
            commands: Arc::clone(&commands),
            batches: Arc::clone(&batches),
            hung: hung_tx,
            accepted: acc_tx,
            quits: quit_tx,
        };
        let counter = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let n = {
                    let mut c = counter.lock().expect("lock");
                    *c += 1;
                    *c - 1
                };
                let shared = shared.clone();
                tokio::spawn(async move { shared.serve(stream, n).await });
            }
        });
        Sink {
            addr,
            messages,
            connections,
            commands,
            batches,
            hung,
            accepted,
            quits,
            taken: 0,
        }
    }

    /// Waits for the next accepted message (`None` if the sink stopped).
    pub async fn next_message(&mut self) -> Option<Received> {
        self.accepted.recv().await?;
        let message = self.messages.lock().expect("lock").get(self.taken).cloned();
        self.taken += 1;
        message
    }

    /// The messages taken so far.
    pub fn received(&self) -> Vec<Received> {
        self.messages.lock().expect("lock").clone()
    }

    /// Connections accepted so far.
    pub fn connection_count(&self) -> usize {
        *self.connections.lock().expect("lock")
    }

    /// Every command line seen.
    pub fn command_lines(&self) -> Vec<String> {
        self.commands.lock().expect("lock").clone()
    }

    /// The command lines grouped by arrival (see [`Sink::batches`]).
    pub fn command_batches(&self) -> Vec<Vec<String>> {
        self.batches.lock().expect("lock").clone()
    }
}

#[derive(Clone)]
struct Shared {
    behaviour: SinkBehaviour,
    messages: Arc<Mutex<Vec<Received>>>,
    commands: Arc<Mutex<Vec<String>>>,
    batches: Arc<Mutex<Vec<Vec<String>>>>,
    hung: mpsc::UnboundedSender<()>,
    accepted: mpsc::UnboundedSender<()>,
    quits: mpsc::UnboundedSender<()>,
}

enum Step {
    StartTls,
    Done,
}

struct Conn {
    tls: bool,
    client_cert: Option<Vec<u8>>,
    number: usize,
    helo: String,
}

impl Shared {
    async fn serve(self, mut stream: TcpStream, number: usize) {
        if stream
            .write_all(b"220 sink.remote.kr ESMTP\r\n")
            .await
            .is_err()
        {
            return;
        }
        let mut conn = Conn {
            tls: false,
            client_cert: None,
            number,
            helo: String::new(),
        };
        let mut reader = BufReader::new(stream);
        let step = self.session(&mut reader, &mut conn).await;
        if !matches!(step, Step::StartTls) {
            return;
        }
        stream = reader.into_inner();
        let Some(config) = self.behaviour.tls.clone() else {
            return;
        };
        let Ok(tls) = TlsAcceptor::from(config).accept(stream).await else {
            return;
        };
        conn.tls = true;
        conn.client_cert = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec());
        let mut reader = BufReader::new(tls);
        self.session(&mut reader, &mut conn).await;
    }

    async fn session<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: &mut BufReader<S>,
        conn: &mut Conn,
    ) -> Step {
        let b = &self.behaviour;
        let mut mail = None;
        let mut rcpts = Vec::new();
        loop {
            let already_buffered = !io.buffer().is_empty();
            let mut line = String::new();
            match io.read_line(&mut line).await {
                Ok(0) | Err(_) => return Step::Done,
                Ok(_) => {}
            }
            let line = line.trim_end().to_string();
            self.commands.lock().expect("lock").push(line.clone());
            self.record_batch(&line, already_buffered);
            let upper = line.to_ascii_uppercase();
            let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                conn.helo = line.get(5..).unwrap_or_default().trim().to_owned();
                self.ehlo_reply(conn)
            } else if upper == "STARTTLS" {
                let _ = io.get_mut().write_all(b"220 2.0.0 go ahead\r\n").await;
                if b.broken_tls {
                    // Take the ClientHello, answer nonsense.
                    let mut hello = [0u8; 512];
                    let _ = tokio::io::AsyncReadExt::read(io, &mut hello).await;
                    let _ = io.get_mut().write_all(b"this is not TLS\r\n").await;
                    return Step::Done;
                }
                return Step::StartTls;
            } else if upper.starts_with("MAIL FROM:") {
                if b.require_tls && !conn.tls {
                    "530 5.7.0 Must issue a STARTTLS command first".into()
                } else {
                    mail = Some(line.clone());
                    rcpts.clear();
                    "250 2.1.0 OK".into()
                }
            } else if upper.starts_with("RCPT TO:<TEMP") {
                b.temp_reply
                    .clone()
                    .unwrap_or("451 4.3.0 Try again later".into())
            } else if upper.starts_with("RCPT TO:<BAD") {
                "550 5.1.1 No such user here".into()
            } else if upper.starts_with("RCPT TO:") {
                rcpts.push(line.clone());
                "250 2.1.5 OK".into()
            } else if upper == "DATA" && rcpts.is_empty() {
                // RFC 2920 §3.1: DATA after no accepted recipient is refused.
                "554 5.5.1 No valid recipients".into()
            } else if upper == "DATA" {
                let Some(reply) = self.data(io, conn, &mut mail, &mut rcpts).await else {
                    return Step::Done;
                };
                reply
            } else if upper == "RSET" {
                mail = None;
                rcpts.clear();
                "250 2.0.0 OK".into()
            } else if upper == "QUIT" {
                let _ = io.get_mut().write_all(b"221 2.0.0 Bye\r\n").await;
                let _ = self.quits.send(());
                return Step::Done;
            } else {
                "500 5.5.2 What?".into()
            };
            if io
                .get_mut()
                .write_all(format!("{reply}\r\n").as_bytes())
                .await
                .is_err()
            {
                return Step::Done;
            }
        }
    }

    /// Adds `line` to the last group when it arrived with it, else starts a group.
    fn record_batch(&self, line: &str, already_buffered: bool) {
        let mut batches = self.batches.lock().expect("lock");
        match batches.last_mut() {
            Some(last) if already_buffered => last.push(line.to_string()),
            _ => batches.push(vec![line.to_string()]),
        }
    }

    /// The EHLO reply: the extensions the behaviour asks for.
    fn ehlo_reply(&self, conn: &Conn) -> String {
        let b = &self.behaviour;
        let mut r = vec!["250-sink.remote.kr".to_string(), "250-SIZE 10000000".into()];
        if (b.tls.is_some() || b.broken_tls) && !conn.tls {
            r.push("250-STARTTLS".into());
        }
        if b.dsn {
            r.push("250-DSN".into());
        }
        if b.requiretls && conn.tls {
            r.push("250-REQUIRETLS".into());
        }
        if b.pipelining {
            r.push("250-PIPELINING".into());
        }
        if b.smtputf8 {
            r.push("250-SMTPUTF8".into());
        }
        if !b.no_8bitmime {
            r.push("250-8BITMIME".into());
        }
        if let Some(last) = r.last_mut() {
            last.replace_range(..4, "250 ");
        }
        r.join("\r\n")
    }

    /// DATA: takes the message and records it when the reply is 2xx; the reply, or `None`
    /// when the connection is to end.
    async fn data<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: &mut BufReader<S>,
        conn: &Conn,
        mail: &mut Option<String>,
        rcpts: &mut Vec<String>,
    ) -> Option<String> {
        let _ = io.get_mut().write_all(b"354 go on\r\n").await;
        let body = self.read_data(io).await?;
        if self.behaviour.hang_after_data {
            let _ = self.hung.send(());
            std::future::pending::<()>().await;
        }
        if let Some(mut held) = self.behaviour.hold_replies.clone() {
            let _ = held.wait_for(|open| *open).await;
        }
        if let Some(delay) = self.behaviour.data_delay {
            tokio::time::sleep(delay).await;
        }
        let reply = (self.behaviour.data_reply.clone()).unwrap_or("250 2.0.0 OK queued".into());
        if reply.starts_with('2') {
            self.messages.lock().expect("lock").push(Received {
                mail: mail.clone().unwrap_or_default(),
                rcpts: std::mem::take(rcpts),
                body,
                tls: conn.tls,
                client_cert: conn.client_cert.clone(),
                connection: conn.number,
                helo: conn.helo.clone(),
            });
            let _ = self.accepted.send(());
        }
        Some(reply)
    }

    async fn read_data<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: &mut BufReader<S>,
    ) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let mut line = Vec::new();
            if io.read_until(b'\n', &mut line).await.ok()? == 0 {
                return None;
            }
            if self.behaviour.drop_mid_data {
                return None; // vanish mid-DATA
            }
            if line == b".\r\n" {
                return Some(body);
            }
            let line = if line.starts_with(b"..") {
                &line[1..]
            } else {
                &line[..]
            };
            body.extend_from_slice(line);
        }
    }
}
