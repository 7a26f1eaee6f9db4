//! COMPRESS=DEFLATE (RFC 4978) against the in-process server, with a client that inflates
//! and deflates on its own (flate2 directly, raw DEFLATE, sync flush after each command).

mod common;

use common::*;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The client's side of a compressed connection.
struct Deflated<'a> {
    io: &'a mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    compress: Compress,
    decompress: Decompress,
    /// Inflated octets not yet returned as lines.
    text: Vec<u8>,
}

impl Deflated<'_> {
    async fn send(&mut self, command: &[u8]) {
        let start = self.compress.total_in();
        let mut out = Vec::new();
        loop {
            let done = (self.compress.total_in() - start) as usize;
            out.reserve(64 * 1024);
            self.compress
                .compress_vec(&command[done..], &mut out, FlushCompress::Sync)
                .expect("deflate");
            let done = (self.compress.total_in() - start) as usize;
            if done == command.len() && out.len() < out.capacity() {
                break;
            }
        }
        self.io.write_all(&out).await.expect("write");
        self.io.flush().await.expect("flush");
    }

    /// Reads and inflates until the response tagged `tag`; returns all lines.
    async fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        tokio::time::timeout(STEP, async {
            loop {
                let text = String::from_utf8_lossy(&self.text).into_owned();
                if let Some(end) = text
                    .split("\r\n")
                    .position(|l| l.starts_with(&format!("{tag} ")))
                {
                    return text
                        .split("\r\n")
                        .take(end + 1)
                        .map(str::to_owned)
                        .collect();
                }
                let mut chunk = vec![0u8; 16 * 1024];
                let n = self.io.read(&mut chunk).await.expect("read");
                assert!(n > 0, "closed; so far: {text}");
                let mut input = &chunk[..n];
                while !input.is_empty() {
                    let mut out = vec![0u8; 64 * 1024];
                    let (i, o) = (self.decompress.total_in(), self.decompress.total_out());
                    self.decompress
                        .decompress(input, &mut out, FlushDecompress::None)
                        .expect("inflate");
                    let consumed = (self.decompress.total_in() - i) as usize;
                    let produced = (self.decompress.total_out() - o) as usize;
                    self.text.extend_from_slice(&out[..produced]);
                    input = &input[consumed..];
                }
            }
        })
        .await
        .expect("a response in time")
    }

    async fn command(&mut self, tag: &str, command: &str) -> Vec<String> {
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        let lines = self.until_tagged(tag).await;
        self.text.clear();
        lines
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deflate_carries_commands_and_large_responses() {
    let server = TestServer::start(true).await;
    let mut pre = server.connect().await;
    let refused = pre.command("COMPRESS DEFLATE").await;
    assert!(
        tagged(&refused).contains(" BAD "),
        "before sign-in: {refused:?}"
    );

    let mut c = server.signed_in().await;
    let caps = ok(c.command("CAPABILITY").await);
    assert!(caps[0].contains(" COMPRESS=DEFLATE"), "{caps:?}");
    let body = "홍길동 과장님, 회의 자료를 보내드립니다.\r\n".repeat(3000);
    assert!(
        append(&mut c, "INBOX", "", &message("회의 자료", &body))
            .await
            .contains("OK")
    );
    let reply = c.command("COMPRESS DEFLATE").await;
    assert_eq!(reply.len(), 1, "{reply:?}");
    assert!(reply[0].contains(" OK "), "{reply:?}");

    let mut z = Deflated {
        io: c.reader().get_mut(),
        compress: Compress::new(Compression::default(), false),
        decompress: Decompress::new(false),
        text: Vec::new(),
    };
    let noop = z.command("z1", "NOOP").await;
    assert_eq!(noop.len(), 1, "{noop:?}");
    assert!(noop[0].starts_with("z1 OK"), "{noop:?}");
    let select = z.command("z2", "SELECT INBOX").await;
    assert!(select.iter().any(|l| l == "* 1 EXISTS"), "{select:?}");
    // A response far larger than one DEFLATE window and one read.
    let fetch = z.command("z3", "FETCH 1 (BODY.PEEK[TEXT])").await;
    let joined = fetch.join("\r\n");
    assert_eq!(joined.matches("회의 자료를 보내드립니다.").count(), 3000);
    assert!(
        fetch.last().is_some_and(|l| l.starts_with("z3 OK")),
        "{fetch:?}"
    );
    // RFC 4978 §3: a second COMPRESS is refused.
    let again = z.command("z4", "COMPRESS DEFLATE").await;
    assert!(
        again[0].starts_with("z4 NO [COMPRESSIONACTIVE]"),
        "{again:?}"
    );
    let logout = z.command("z5", "LOGOUT").await;
    assert!(logout.iter().any(|l| l.starts_with("* BYE")), "{logout:?}");
}
