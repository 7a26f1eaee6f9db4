//! A throw-away certmail installation for one run: a test PKI shaped like GPKI, a config
//! whose listeners are on 127.0.0.1 port 0 with the connection limits lifted, and accounts
//! created through the real `certmail` CLI (with the daemon stopped, so it opens the store
//! directly).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use certmail_config::Config;
use certmail_pki::testpki::{TestPki, UserSpec};
use certmail_testkit::Installation;

use crate::message::korean_name;

/// The mail domain of every account.
pub const DOMAIN: &str = "bench.go.kr";

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

/// One run's installation (the test kit's: PKI, config, CLI) and the accounts in it.
#[derive(Debug)]
pub struct Setup {
    /// The installation: its directory, config file, server CA and PKI.
    pub install: Installation,
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

/// Writes the PKI and the config into `dir` (removed when dropped unless its cleanup is
/// off), running `certmail` for the accounts later; `edit` adjusts the configuration after
/// [`bench_config`].
pub fn write_files(
    dir: tempfile::TempDir,
    certmail: &Path,
    (senders, recipients): (usize, usize),
    log_level: &str,
    edit: impl FnOnce(&mut Config),
) -> anyhow::Result<Setup> {
    let mut install = Installation::in_dir(dir).context("writing the installation")?;
    install.certmail = certmail.to_owned();
    let pki = TestPki::new().context("generating the test PKI")?;
    install.trust_gpki(&pki)?;
    install.edit_config(|c| {
        bench_config(c, log_level);
        edit(c);
    })?;

    let users_dir = install.dir.path().join("users");
    let now = certmail_pki::now_unix();
    let account = |id: String, name: String| -> anyhow::Result<Account> {
        let (cert, key) = issue_user(&pki, &users_dir, &id, &name, now)?;
        Ok(Account {
            address: format!("{id}@{DOMAIN}"),
            password: password_of(&id),
            id,
            name,
            cert,
            key,
        })
    };
    let senders = (0..senders)
        .map(|i| account(format!("sender{:03}", i + 1), korean_name(i)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let recipients = (0..recipients)
        .map(|i| account(format!("user{:04}", i + 1), korean_name(1000 + i)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Setup {
        log: install.dir.path().join("daemon.log"),
        install,
        senders,
        recipients,
    })
}

/// Issues a GPKI certificate for `name`, valid from `now`, and writes it and its key in
/// `dir`; returns their paths.
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
    certmail_testkit::pki::write_pem(dir, id, &user)
}

/// The benchmark's configuration: every listener on 127.0.0.1:0 (the kit's), connection
/// limits lifted, no quota, the run's log level.
fn bench_config(config: &mut Config, log_level: &str) {
    config.server.hostname = format!("mail.{DOMAIN}");
    config.server.local_domains = vec![DOMAIN.to_owned()];
    config.server.log_level = log_level.to_owned();
    config.limits.max_connections = 100_000;
    config.limits.max_connections_per_ip = 100_000;
    config.smtp.quota_bytes = 0;
}

impl Setup {
    /// The installation's directory.
    pub fn dir(&self) -> &Path {
        self.install.dir.path()
    }

    /// Creates every account with the `certmail` CLI (the daemon must be stopped) and binds
    /// its certificate.
    pub async fn create_accounts(&self) -> anyhow::Result<()> {
        let install = &self.install;
        tokio::task::block_in_place(|| {
            for a in self.senders.iter().chain(&self.recipients) {
                install.add_account_at(&a.id, &a.name, &a.address, &a.password, true)?;
                install.bind(&a.id, &a.cert)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lifts_limits_and_uses_port_zero() {
        let p = PathBuf::from("/tmp/x");
        let files = certmail_config::LocalFiles {
            data_dir: p.clone(),
            tls_cert: p.clone(),
            tls_key: p.clone(),
            certs_dir: p.clone(),
            crl_dir: p,
        };
        let mut config = Config::local(files, [0; 5]);
        bench_config(&mut config, "warn");
        let text = config.to_toml();
        assert!(text.contains("max_connections_per_ip = 100000"));
        assert!(text.contains("listen_submissions = [\"127.0.0.1:0\"]"));
        assert!(!text.contains(":465"));
        assert!(text.contains("log_level = \"warn\""));
        assert!(text.contains(&format!("local_domains = [\"{DOMAIN}\"]")));
    }

    #[test]
    fn writes_pki_and_distinct_senders() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_owned();
        let certmail = Path::new("certmail");
        let inst = write_files(dir, certmail, (3, 5), "info", |_| {}).expect("installation");
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
            std::fs::read_to_string(&inst.install.server_ca)
                .expect("CA")
                .contains("BEGIN CERTIFICATE")
        );
        assert!(inst.install.pki.crl_dir.join("dp146.crl").exists());
        assert!(inst.install.config_path.starts_with(&root) && inst.install.config_path.exists());
        let config = certmail_config::load(&inst.install.config_path).expect("config reads back");
        assert_eq!(config.server.local_domains, [DOMAIN]);
    }
}
