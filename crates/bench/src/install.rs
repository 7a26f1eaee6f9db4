//! A throw-away certmail installation for one run: a test PKI shaped like GPKI, a config
//! whose listeners are on 127.0.0.1 port 0 with the connection limits lifted, and accounts
//! created through the real `certmail` CLI (with the daemon stopped, so it opens the store
//! directly).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, ensure};
use certmail_config::{Config, LocalFiles};
use certmail_pki::testpki::{TestPki, UserSpec, pem};
use tokio::io::AsyncWriteExt as _;

use crate::message::korean_name;

/// The mail domain of every account.
pub const DOMAIN: &str = "bench.go.kr";
/// How long one `certmail account …` or `cert …` command may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// An account of the run, with its certificate: a sender (one per client, each with its
/// own certificate, one device each, so no session replaces another) or a recipient (with
/// a certificate too, so the run can count its INBOX over IMAP).
#[derive(Clone)]
pub struct Account {
    /// Login id.
    pub id: String,
    /// The person's name, as on the certificate.
    pub name: String,
    /// The account's address (MAIL FROM and From: for a sender).
    pub address: String,
    /// The second factor.
    pub password: String,
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// The certificate's key, PKCS#8 PEM.
    pub key: PathBuf,
}

/// A sending account.
pub type Sender = Account;
/// A receiving account.
pub type Recipient = Account;

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("address", &self.address)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The files of the installation and the accounts in it.
#[derive(Debug)]
pub struct Installation {
    /// The directory holding everything.
    pub dir: PathBuf,
    /// The configuration file.
    pub config: PathBuf,
    /// The CA that issued the server certificate (clients trust it).
    pub server_ca: PathBuf,
    /// The daemon's log (its stderr).
    pub log: PathBuf,
    /// One sender per client.
    pub senders: Vec<Sender>,
    /// The recipients.
    pub recipients: Vec<Recipient>,
}

/// The password every benchmark account gets (Korean, to exercise UTF-8 in AUTH PLAIN). The id
/// is written backwards: the password policy refuses a password that contains the account id.
fn password_of(id: &str) -> String {
    format!("벤치-{}-암호", id.chars().rev().collect::<String>())
}

/// Writes the PKI and the config into `dir` (which must exist and be empty).
pub fn write_files(
    dir: &Path,
    senders: usize,
    recipients: usize,
    log_level: &str,
) -> anyhow::Result<Installation> {
    write_files_with(dir, senders, recipients, log_level, "")
}

/// [`write_files`], with `extra_config` (whole TOML sections, e.g. `[auth]`) appended to
/// the config.
pub fn write_files_with(
    dir: &Path,
    senders: usize,
    recipients: usize,
    log_level: &str,
    extra_config: &str,
) -> anyhow::Result<Installation> {
    let pki = TestPki::new().context("generating the test PKI")?;
    let certs_dir = dir.join("pki/certs");
    let crl_dir = dir.join("pki/crl");
    let users_dir = dir.join("pki/users");
    for d in [&crl_dir, &users_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    pki.write_certs_dir(&certs_dir)?;
    // Users of UserSpec::gpki are in CRL partition 146: publish an empty CRL for it.
    let crl = certmail_testkit::pki::empty_gpki_partition_crl(&pki)?;
    std::fs::write(crl_dir.join("crl1p1dp146.crl"), pem("X509 CRL", &crl))?;
    let (server_chain, server_key, server_ca) = write_server_cert(&pki, &dir.join("pki"))?;

    let now = certmail_pki::now_unix();
    let issue = |id: &str, name: &str| issue_user(&pki, &users_dir, id, name, now);
    let account = |id: String, name: String| -> anyhow::Result<Account> {
        let (cert, key) = issue(&id, &name)?;
        Ok(Account {
            address: format!("{id}@{DOMAIN}"),
            password: password_of(&id),
            id,
            name,
            cert,
            key,
        })
    };
    let sender_list = (0..senders)
        .map(|i| account(format!("sender{:03}", i + 1), korean_name(i)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let recipient_list = (0..recipients)
        .map(|i| account(format!("user{:04}", i + 1), korean_name(1000 + i)))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let config = dir.join("certmail.toml");
    let files = LocalFiles {
        data_dir: dir.join("data"),
        tls_cert: server_chain,
        tls_key: server_key,
        certs_dir,
        crl_dir,
    };
    std::fs::write(
        &config,
        format!("{}{extra_config}", config_text(files, log_level)),
    )?;
    Ok(Installation {
        dir: dir.to_owned(),
        config,
        server_ca,
        log: dir.join("daemon.log"),
        senders: sender_list,
        recipients: recipient_list,
    })
}

/// Writes the server certificate chain, its key and its CA into `dir`; returns their paths.
fn write_server_cert(pki: &TestPki, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf, PathBuf)> {
    let server = pki.server_cert()?;
    let chain = dir.join("server-chain.pem");
    let key = dir.join("server-key.pem");
    let ca = dir.join("server-ca.pem");
    std::fs::write(
        &chain,
        format!("{}{}", server.cert_pem(), pki.server_ca.cert_pem()),
    )?;
    std::fs::write(&key, server.key_pem())?;
    std::fs::write(&ca, pki.server_ca.cert_pem())?;
    Ok((chain, key, ca))
}

/// Issues a GPKI certificate for `name`, valid from `now`, and writes it and its key as `<id>.pem` and
/// `<id>-key.pem` in `dir`; returns their paths.
fn issue_user(
    pki: &TestPki,
    dir: &Path,
    id: &str,
    name: &str,
    now: i64,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let mut spec = UserSpec::gpki(name, now);
    spec.real_name = Some(name.to_owned());
    let user = pki.issue(&pki.gpki_ca, &spec, dir)?;
    let cert = dir.join(format!("{id}.pem"));
    let key = dir.join(format!("{id}-key.pem"));
    std::fs::write(&cert, user.cert_pem())?;
    std::fs::write(&key, user.key_pem())?;
    Ok((cert, key))
}

/// The configuration: every listener on 127.0.0.1:0, connection limits lifted, no quota.
fn config_text(files: LocalFiles, log_level: &str) -> String {
    let mut config = Config::local(files, [0; 5]);
    config.server.hostname = format!("mail.{DOMAIN}");
    config.server.local_domains = vec![DOMAIN.to_owned()];
    config.server.log_level = log_level.to_owned();
    config.server.shutdown_grace_secs = 5;
    config.limits.max_connections = 100_000;
    config.limits.max_connections_per_ip = 100_000;
    config.smtp.quota_bytes = 0;
    format!(
        "# Written by certmail-bench for one run.\n{}",
        config.to_toml()
    )
}

impl Installation {
    /// Creates every account with the `certmail` CLI (the daemon must be stopped) and binds
    /// its certificate.
    pub async fn create_accounts(&self, certmail: &Path) -> anyhow::Result<()> {
        let senders = self
            .senders
            .iter()
            .map(|s| (&s.id, &s.name, &s.address, &s.cert));
        let recipients = self
            .recipients
            .iter()
            .map(|r| (&r.id, &r.name, &r.address, &r.cert));
        for (id, name, address, cert) in senders.chain(recipients) {
            self.account_add(certmail, id, name, address).await?;
            let cert = cert.to_str().context("certificate path is not UTF-8")?;
            self.cli(certmail, &["cert", "bind", id, cert], None)
                .await?;
        }
        Ok(())
    }

    async fn account_add(
        &self,
        certmail: &Path,
        id: &str,
        name: &str,
        address: &str,
    ) -> anyhow::Result<()> {
        let args = certmail_testkit::install::account_add_args(id, name, address, true);
        self.cli(certmail, &args, Some(&password_of(id))).await
    }

    /// Runs `certmail ARGS --config <config>`, feeding `stdin_line` if given.
    async fn cli(
        &self,
        certmail: &Path,
        args: &[&str],
        stdin_line: Option<&str>,
    ) -> anyhow::Result<()> {
        let what = format!("certmail {}", args[..args.len().min(3)].join(" "));
        let mut child = tokio::process::Command::new(certmail)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", certmail.display()))?;
        let mut stdin = child.stdin.take().context("stdin was piped")?;
        if let Some(line) = stdin_line {
            stdin.write_all(format!("{line}\n").as_bytes()).await?;
        }
        drop(stdin);
        let out = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
            .await
            .with_context(|| format!("{what} took longer than {CLI_TIMEOUT:?}"))??;
        ensure!(
            out.status.success(),
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lifts_limits_and_uses_port_zero() {
        let p = PathBuf::from("/tmp/x");
        let files = LocalFiles {
            data_dir: p.clone(),
            tls_cert: p.clone(),
            tls_key: p.clone(),
            certs_dir: p.clone(),
            crl_dir: p,
        };
        let text = config_text(files, "warn");
        assert!(text.contains("max_connections_per_ip = 100000"));
        assert!(text.contains("listen_submissions = [\"127.0.0.1:0\"]"));
        assert!(!text.contains(":465"));
        assert!(text.contains("log_level = \"warn\""));
        assert!(text.contains(&format!("local_domains = [\"{DOMAIN}\"]")));
    }

    #[test]
    fn writes_pki_and_distinct_senders() {
        let dir = tempfile::tempdir().expect("temp dir");
        let inst = write_files(dir.path(), 3, 5, "info").expect("installation files");
        assert_eq!(inst.senders.len(), 3);
        assert_eq!(inst.recipients.len(), 5);
        let certs: std::collections::HashSet<Vec<u8>> = inst
            .senders
            .iter()
            .map(|s| std::fs::read(&s.cert).expect("cert written"))
            .collect();
        assert_eq!(certs.len(), 3, "each sender has its own certificate");
        assert_eq!(inst.recipients[4].address, "user0005@bench.go.kr");
        assert!(inst.recipients[4].cert.exists() && inst.recipients[4].key.exists());
        let shown = format!("{inst:?}");
        assert!(
            !shown.contains(&inst.senders[0].password),
            "passwords are redacted"
        );
        assert!(
            !shown.contains(&inst.recipients[0].password),
            "passwords are redacted"
        );
        assert!(inst.senders[0].address.ends_with("@bench.go.kr"));
        assert!(
            std::fs::read_to_string(&inst.server_ca)
                .expect("CA")
                .contains("BEGIN CERTIFICATE")
        );
        assert!(dir.path().join("pki/crl/crl1p1dp146.crl").exists());
        assert!(inst.config.exists());
    }
}
