//! The idle-connection holder: a second process (`certmail-bench imap-idle-clients`, run
//! by the `imap` mode) that opens thousands of signed-in IMAP connections, each in IDLE on
//! INBOX, so that its file descriptors do not count against the daemon's limit nor the
//! benchmark's.
//!
//! It reads a plan file (the listener, the CA, how to sign in, the accounts with their
//! source addresses) and then, line by line on stdin, `grow N`: it opens connections
//! (round-robin over the accounts) until N are in IDLE and prints `ready N SECONDS`. Any
//! failure prints `error …` and ends the process. EOF on stdin ends it too.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use tokio::sync::{Semaphore, mpsc};

use crate::imap_client::{self, SignIn};

/// Sign-ins in flight at once (each is a TLS handshake, a certificate check and, with
/// passwords, an argon2id hash in the daemon).
const IN_FLIGHT: usize = 64;

/// One account the holder signs in as, from one source address (its device).
#[derive(Clone)]
pub struct HolderAccount {
    /// The loopback source address of this account's connections.
    pub from: IpAddr,
    /// Login id.
    pub id: String,
    /// Certificate, PEM.
    pub cert: PathBuf,
    /// Its key, PEM.
    pub key: PathBuf,
    /// The second factor (unused with EXTERNAL).
    pub password: String,
}

/// Everything the holder needs.
pub struct HolderPlan {
    /// The imaps listener.
    pub addr: SocketAddr,
    /// The CA of the server certificate.
    pub server_ca: PathBuf,
    /// How each connection signs in.
    pub sign_in: SignIn,
    /// The longest wait for one response.
    pub timeout: Duration,
    /// The accounts, used round-robin.
    pub accounts: Vec<HolderAccount>,
}

impl HolderPlan {
    /// The plan as the file the holder reads (tab-separated; the benchmark's test
    /// passwords have no tabs or newlines).
    pub fn to_text(&self) -> String {
        let mech = match self.sign_in {
            SignIn::Plain => "plain",
            SignIn::External => "external",
        };
        let mut t = format!(
            "addr\t{}\nca\t{}\nsign-in\t{mech}\ntimeout\t{}\n",
            self.addr,
            self.server_ca.display(),
            self.timeout.as_secs()
        );
        for a in &self.accounts {
            t.push_str(&format!(
                "account\t{}\t{}\t{}\t{}\t{}\n",
                a.from,
                a.id,
                a.cert.display(),
                a.key.display(),
                a.password
            ));
        }
        t
    }

    /// Parses [`HolderPlan::to_text`].
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let (mut addr, mut ca, mut sign_in, mut timeout) = (None, None, None, 60);
        let mut accounts = Vec::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["addr", a] => addr = Some(a.parse()?),
                ["ca", p] => ca = Some(PathBuf::from(p)),
                ["sign-in", "plain"] => sign_in = Some(SignIn::Plain),
                ["sign-in", "external"] => sign_in = Some(SignIn::External),
                ["timeout", s] => timeout = s.parse()?,
                ["account", ip, id, cert, key, password] => accounts.push(HolderAccount {
                    from: ip.parse()?,
                    id: (*id).to_owned(),
                    cert: PathBuf::from(cert),
                    key: PathBuf::from(key),
                    password: (*password).to_owned(),
                }),
                _ => bail!("plan: unexpected line {:?}", line.split('\t').next()),
            }
        }
        ensure!(!accounts.is_empty(), "plan: no accounts");
        Ok(Self {
            addr: addr.context("plan: no addr")?,
            server_ca: ca.context("plan: no ca")?,
            sign_in: sign_in.context("plan: no sign-in")?,
            timeout: Duration::from_secs(timeout),
            accounts,
        })
    }
}

/// The holder process's main: reads the plan at `plan_path`, then obeys stdin.
pub async fn holder_main(plan_path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(plan_path)
        .with_context(|| format!("reading {}", plan_path.display()))?;
    let plan = Arc::new(HolderPlan::parse(&text)?);
    let configs = plan
        .accounts
        .iter()
        .map(|a| crate::tls::client_config(&plan.server_ca, &a.cert, &a.key))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let closed = Arc::new(AtomicUsize::new(0));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<anyhow::Result<()>>();
    let mut lines = stdin_lines();
    let mut opened = 0usize;
    while let Some(line) = lines.recv().await {
        let target: usize = line
            .strip_prefix("grow ")
            .and_then(|n| n.trim().parse().ok())
            .with_context(|| format!("holder: unknown command {line:?}"))?;
        let started = Instant::now();
        let mut ready = 0;
        let wanted = target.saturating_sub(opened);
        for i in opened..target {
            let k = i % plan.accounts.len();
            let (plan, cfg, permits) = (plan.clone(), configs[k].clone(), permits.clone());
            let (ready_tx, closed) = (ready_tx.clone(), closed.clone());
            tokio::spawn(hold_one(plan, k, i, cfg, permits, ready_tx, closed));
        }
        opened = opened.max(target);
        while ready < wanted {
            match ready_rx.recv().await {
                Some(Ok(())) => ready += 1,
                Some(Err(e)) => {
                    println!("error {e:#}");
                    return Err(e);
                }
                None => bail!("holder: connection tasks vanished"),
            }
        }
        let lost = closed.load(Ordering::Relaxed);
        if lost > 0 {
            println!("error {lost} connections were closed by the server");
            bail!("{lost} connections were closed by the server");
        }
        println!("ready {opened} {:.1}", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Stdin's lines, read on a plain thread (tokio's stdin needs a feature the workspace does
/// not enable).
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (line_tx, lines) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Opens connection `i` (as account `k`) under a permit, signs in, selects INBOX and
/// idles; reports on `ready_tx`, then holds the connection, counting it in `closed` when
/// the server ends it.
async fn hold_one(
    plan: Arc<HolderPlan>,
    k: usize,
    i: usize,
    cfg: Arc<rustls::ClientConfig>,
    permits: Arc<Semaphore>,
    ready_tx: mpsc::UnboundedSender<anyhow::Result<()>>,
    closed: Arc<AtomicUsize>,
) {
    let account = &plan.accounts[k];
    let permit = permits.acquire_owned().await;
    let opening = async {
        let mut c = imap_client::connect(account.from, plan.addr, cfg, plan.timeout).await?;
        c.sign_in(plan.sign_in, &account.id, &account.password)
            .await?;
        c.command_ok("SELECT INBOX").await?;
        let tag = c.idle().await?;
        anyhow::Ok((c, tag))
    };
    let opened = opening
        .await
        .with_context(|| format!("connection {} as {}", i + 1, account.id));
    drop(permit);
    match opened {
        Ok((mut c, _tag)) => {
            let _ = ready_tx.send(Ok(()));
            // Hold the connection; read whatever the server sends.
            while let Ok(Some(_)) = c.next_unbounded().await {}
            closed.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            let _ = ready_tx.send(Err(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_round_trips() {
        let plan = HolderPlan {
            addr: "127.0.0.1:9933".parse().expect("addr"),
            server_ca: PathBuf::from("/tmp/d/ca.pem"),
            sign_in: SignIn::External,
            timeout: Duration::from_secs(30),
            accounts: vec![HolderAccount {
                from: IpAddr::from([127, 0, 1, 2]),
                id: "user0001".into(),
                cert: PathBuf::from("/tmp/d/u1.pem"),
                key: PathBuf::from("/tmp/d/u1-key.pem"),
                password: "벤치-user0001-암호".into(),
            }],
        };
        let back = HolderPlan::parse(&plan.to_text()).expect("parses");
        assert_eq!(back.addr, plan.addr);
        assert_eq!(back.sign_in, SignIn::External);
        assert_eq!(back.timeout, Duration::from_secs(30));
        assert_eq!(back.accounts[0].from, IpAddr::from([127, 0, 1, 2]));
        assert_eq!(back.accounts[0].password, "벤치-user0001-암호");
        assert!(
            HolderPlan::parse("addr\t127.0.0.1:1\n").is_err(),
            "no accounts"
        );
        assert!(HolderPlan::parse("bogus\n").is_err());
    }
}
