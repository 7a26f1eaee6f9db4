//! A tiny authoritative DNS server on 127.0.0.1 for tests (feature `testdns`): it answers
//! TXT and A queries over UDP from a table the test fills, and NXDOMAIN for any other
//! name, so SPF, DKIM and DMARC run against a real resolver without the internet.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let dns = certmail_smtp::mailauth::testdns::TestDns::start().await?;
//! dns.txt("partner.kr", "v=spf1 ip4:127.0.0.1 -all");
//! let server = dns.addr(); // put this in [mailauth] dns_servers
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

const TYPE_A: u16 = 1;
const TYPE_TXT: u16 = 16;

type Table = HashMap<String, Vec<(u16, Vec<u8>)>>;

/// A running test DNS server; it stops when dropped.
pub struct TestDns {
    addr: SocketAddr,
    records: Arc<Mutex<Table>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestDns {
    /// Starts the server on 127.0.0.1 on a free port.
    pub async fn start() -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = socket.local_addr()?;
        let records = Arc::new(Mutex::new(Table::new()));
        let table = Arc::clone(&records);
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let answer = {
                    let table = table.lock().unwrap_or_else(|p| p.into_inner());
                    respond(&buf[..n], &table)
                };
                if let Some(answer) = answer {
                    let _ = socket.send_to(&answer, from).await;
                }
            }
        });
        Ok(Self {
            addr,
            records,
            task,
        })
    }

    /// The server's address (127.0.0.1 and its port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a TXT record (long values are split into 255-byte strings).
    pub fn txt(&self, name: &str, value: &str) {
        self.add(name, TYPE_TXT, txt_rdata(value.as_bytes()));
    }

    /// Adds an A record.
    pub fn a(&self, name: &str, ip: Ipv4Addr) {
        self.add(name, TYPE_A, ip.octets().to_vec());
    }

    fn add(&self, name: &str, rtype: u16, rdata: Vec<u8>) {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        let mut table = self.records.lock().unwrap_or_else(|p| p.into_inner());
        table.entry(key).or_default().push((rtype, rdata));
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn txt_rdata(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in value.chunks(255) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    if value.is_empty() {
        out.push(0);
    }
    out
}

/// The answer to one query packet (RFC 1035 §4.1), or `None` for garbage.
fn respond(query: &[u8], table: &Table) -> Option<Vec<u8>> {
    let header = query.get(..12)?;
    if u16::from_be_bytes([header[4], header[5]]) != 1 {
        return None;
    }
    // The question: labels up to the root, then QTYPE and QCLASS.
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    let question = &query[12..pos + 4];
    let name = labels.join(".");
    let (rcode, answers): (u16, Vec<&(u16, Vec<u8>)>) = match table.get(&name) {
        None => (3, Vec::new()), // NXDOMAIN
        Some(rrs) => (0, rrs.iter().filter(|(t, _)| *t == qtype).collect()),
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&header[..2]);
    let rd = header[2] & 0x01;
    out.push(0x84 | rd); // QR, AA, RD copied
    out.push(0x80 | rcode as u8); // RA, RCODE
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    for (rtype, rdata) in answers {
        out.extend_from_slice(&[0xc0, 0x0c]); // the name in the question
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // IN
        out.extend_from_slice(&60u32.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    Some(out)
}
