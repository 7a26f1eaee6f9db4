//! A throw-away installation: test PKI, a config listening on port 0 (written by
//! serialising [`Config`]), accounts created through the real CLI.

use std::path::{Path, PathBuf};

/// The configuration types an installation writes (for [`Installation::edit_config`]).
pub use certmail_config::Config;
use certmail_config::LocalFiles;
use certmail_pki::testpki::{DevPki, TestPki};

use anyhow::Context as _;

use crate::process::{
    CLI_TIMEOUT, DaemonProcess, certmail_bin, run_certmail_at, wait_with_timeout,
};

/// The listener names of a full configuration.
pub const LISTENERS: [&str; 5] = ["imaps", "imap", "submissions", "submission", "smtp"];

/// The arguments of `certmail account add` for an account of 행정안전부 at `address`,
/// approved or left pending, reading its password from stdin.
pub fn account_add_args<'a>(
    id: &'a str,
    name: &'a str,
    address: &'a str,
    approve: bool,
) -> Vec<&'a str> {
    let mut args = vec![
        "account",
        "add",
        id,
        "--name",
        name,
        "--organisation",
        "행정안전부",
        "--address",
        address,
    ];
    if approve {
        args.push("--approve");
    }
    args.push("--password-stdin");
    args
}

/// A temporary installation (removed when dropped).
#[derive(Debug)]
pub struct Installation {
    /// The temporary directory holding everything.
    pub dir: tempfile::TempDir,
    /// The configuration file.
    pub config_path: PathBuf,
    /// The CA that issued the server certificate (clients trust it).
    pub server_ca: PathBuf,
    /// The demo user's certificate (PEM), 홍길동.
    pub user_cert: PathBuf,
    /// The demo user's key (PEM).
    pub user_key: PathBuf,
    /// The test PKI, for making more certificates.
    pub pki: DevPki,
    /// The certmail binary this installation's commands run ([`certmail_bin`] unless set).
    pub certmail: PathBuf,
    /// The file's `[mailauth]` section as written (port-25 checks off, since a test machine
    /// has no DNS); [`Installation::append_config`] drops it for a test's own.
    mailauth: String,
}

impl Installation {
    /// Generates the PKI and writes a config with every listener on 127.0.0.1:0.
    pub fn new() -> anyhow::Result<Self> {
        Self::in_dir(tempfile::tempdir()?)
    }

    /// [`Installation::new`] in `dir` (removed when dropped, unless its cleanup is off).
    /// Its store is the one `CERTMAIL_TEST_STORE` asks for ([`crate::backend`]).
    pub fn in_dir(dir: tempfile::TempDir) -> anyhow::Result<Self> {
        let pki = DevPki::generate(&dir.path().join("pki"), "홍길동")?;
        let mut config = Self::config(&dir.path().join("data"), &pki);
        crate::backend::configure(&mut config);
        let config_path = dir.path().join("certmail.toml");
        std::fs::write(&config_path, config.to_toml())?;
        Ok(Self {
            server_ca: pki.server_ca.clone(),
            user_cert: pki.user_cert.clone(),
            user_key: pki.user_key.clone(),
            mailauth: config.section_toml("mailauth").unwrap_or_default(),
            config_path,
            dir,
            pki,
            certmail: certmail_bin(),
        })
    }

    /// [`Installation::new`] with the demo user 홍길동 as account `hong`, signing in with
    /// `password` and the demo certificate.
    pub fn with_demo_user(password: &str) -> anyhow::Result<Self> {
        let fx = Self::new()?;
        fx.add_user("hong", "홍길동", password, &fx.user_cert)?;
        Ok(fx)
    }

    /// The configuration [`Installation::new`] writes: [`Config::local`] on port 0 for
    /// `test.go.kr`, with a short shutdown grace.
    pub fn config(data_dir: &Path, pki: &DevPki) -> Config {
        let mut config = Config::local(
            LocalFiles {
                data_dir: data_dir.to_owned(),
                tls_cert: pki.server_chain.clone(),
                tls_key: pki.server_key.clone(),
                certs_dir: pki.certs_dir.clone(),
                crl_dir: pki.crl_dir.clone(),
            },
            [0; 5],
        );
        config.server.hostname = "mail.test.go.kr".into();
        config.server.local_domains = vec!["test.go.kr".into()];
        config.server.shutdown_grace_secs = 5;
        config
    }

    /// An installation trusting `pki`'s GPKI root and GPKI/EPKI issuing CAs, with `crls` as
    /// its CRL directory, so certificates issued from `pki` are judged by the daemon. The
    /// server certificate is the generated one ([`Installation::server_ca`] still applies);
    /// [`Installation::user_cert`] is then from another PKI and unknown to this one.
    pub fn with_pki(pki: &TestPki, crls: &[crate::pki::CrlFile]) -> anyhow::Result<Self> {
        let fx = Self::new()?;
        fx.trust(pki, crls)?;
        Ok(fx)
    }

    /// Makes this installation trust `pki` (its GPKI root and GPKI/EPKI issuing CAs) in
    /// place of the generated one, with `crls` as the whole CRL directory.
    pub fn trust(&self, pki: &TestPki, crls: &[crate::pki::CrlFile]) -> anyhow::Result<()> {
        for dir in [&self.pki.certs_dir, &self.pki.crl_dir] {
            std::fs::remove_dir_all(dir)?;
            std::fs::create_dir_all(dir)?;
        }
        pki.write_certs_dir(&self.pki.certs_dir)?;
        for crl in crls {
            crate::pki::write_crl(&self.pki.crl_dir, crl)?;
        }
        Ok(())
    }

    /// [`Installation::with_pki`] with the empty, current CRL of the GPKI partition
    /// `UserSpec::gpki` users are in (as `dp146.crl`), so they sign in unrevoked.
    pub fn with_gpki(pki: &TestPki) -> anyhow::Result<Self> {
        let fx = Self::new()?;
        fx.trust_gpki(pki)?;
        Ok(fx)
    }

    /// [`Installation::trust`] `pki` with the empty, current CRL of the GPKI partition
    /// `UserSpec::gpki` users are in (as `dp146.crl`).
    pub fn trust_gpki(&self, pki: &TestPki) -> anyhow::Result<()> {
        let crl = crate::pki::empty_gpki_partition_crl(pki)?;
        self.trust(pki, &[("dp146.crl".to_string(), crl, None)])
    }

    /// Reads the configuration back, lets `edit` change it and writes it again by
    /// serialising it (text appended with [`Installation::append_config`] is kept as
    /// values). For keys of sections the file already has: appending such a section
    /// again would be a TOML error.
    pub fn edit_config(&mut self, edit: impl FnOnce(&mut Config)) -> anyhow::Result<()> {
        let mut config = certmail_config::load(&self.config_path)?;
        edit(&mut config);
        std::fs::write(&self.config_path, config.to_toml())?;
        self.mailauth = config.section_toml("mailauth").unwrap_or_default();
        Ok(())
    }

    /// Appends `text` (whole sections, e.g. `[auth]` with its keys) to the configuration.
    /// A `[mailauth]` section in `text` replaces the fixture's (which turns the port-25
    /// checks off, as a test machine has no DNS).
    pub fn append_config(&self, text: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        if text.lines().any(|l| l.trim() == "[mailauth]") {
            let config = std::fs::read_to_string(&self.config_path)?;
            std::fs::write(&self.config_path, config.replacen(&self.mailauth, "", 1))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.config_path)?;
        writeln!(f, "\n{text}")?;
        Ok(())
    }

    /// Starts `certmail serve` on this installation and waits for every user listener.
    pub fn start(&self) -> anyhow::Result<DaemonProcess> {
        let config = self.config_path.to_str().expect("utf-8 temp path");
        DaemonProcess::start(&["serve", "--config", config], &[], &LISTENERS)
    }

    /// The PEM paths an outside client (Python's ssl, swaks) is given: the CA that signed
    /// the server certificate, the user's certificate and its key.
    pub fn client_pem_paths(&self) -> (&str, &str, &str) {
        (
            self.server_ca.to_str().expect("temp paths are UTF-8"),
            self.user_cert.to_str().expect("temp paths are UTF-8"),
            self.user_key.to_str().expect("temp paths are UTF-8"),
        )
    }

    /// A TLS 1.3 client config presenting the demo user's certificate.
    pub fn user_tls(&self) -> anyhow::Result<std::sync::Arc<rustls::ClientConfig>> {
        self.tls_for(&self.user_cert, &self.user_key)
    }

    /// A TLS 1.3 client config trusting the server and presenting `cert` with `key` (PEM).
    pub fn tls_for(
        &self,
        cert: &Path,
        key: &Path,
    ) -> anyhow::Result<std::sync::Arc<rustls::ClientConfig>> {
        crate::tls::client_config(
            &self.server_ca,
            Some(crate::tls::ClientCert::from_pem_files(cert, key)?),
            &[&rustls::version::TLS13],
        )
    }

    /// Runs `certmail ARGS --config <this config>`; returns (exit code, stdout, stderr).
    pub fn certmail(&self, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
        let mut all: Vec<&str> = args.to_vec();
        let config = self.config_path.to_str().expect("utf-8 temp path");
        all.extend(["--config", config]);
        run_certmail_at(&self.certmail, &all, &[])
    }

    /// Creates an approved account with `password` and binds `cert` to it, via the CLI.
    pub fn add_user(
        &self,
        id: &str,
        name: &str,
        password: &str,
        cert: &Path,
    ) -> anyhow::Result<()> {
        self.add_account(id, name, password)?;
        self.bind(id, cert)
    }

    /// Binds `cert` (PEM) to account `id`, via the CLI.
    pub fn bind(&self, id: &str, cert: &Path) -> anyhow::Result<()> {
        let cert = cert.to_str().context("certificate path is not UTF-8")?;
        let (code, _, err) = self.certmail(&["cert", "bind", id, cert])?;
        anyhow::ensure!(code == 0, "cert bind failed: {err}");
        Ok(())
    }

    /// Creates an approved account `id@test.go.kr` with `password`, via the CLI.
    pub fn add_account(&self, id: &str, name: &str, password: &str) -> anyhow::Result<()> {
        self.add_account_with(id, name, password, true)
    }

    /// Creates an account `id@test.go.kr` with `password`, approved or left pending, via
    /// the CLI.
    pub fn add_account_with(
        &self,
        id: &str,
        name: &str,
        password: &str,
        approve: bool,
    ) -> anyhow::Result<()> {
        self.add_account_at(id, name, &format!("{id}@test.go.kr"), password, approve)
    }

    /// Creates an account `id` with `address` and `password`, approved or left pending,
    /// via the CLI (bounded by 120 s).
    pub fn add_account_at(
        &self,
        id: &str,
        name: &str,
        address: &str,
        password: &str,
        approve: bool,
    ) -> anyhow::Result<()> {
        self.account_add(&account_add_args(id, name, address, approve), password)
    }

    /// Runs `certmail ARGS` (an `account add … --password-stdin`) with `password` on its
    /// standard input (bounded by 120 s).
    pub fn account_add(&self, args: &[&str], password: &str) -> anyhow::Result<()> {
        let id = args.get(2).copied().unwrap_or("?");
        let mut cmd = std::process::Command::new(&self.certmail);
        cmd.args(args)
            .arg("--config")
            .arg(&self.config_path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.certmail.display()))?;
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("piped");
            writeln!(stdin, "{password}")?;
        }
        let out = wait_with_timeout(child, CLI_TIMEOUT)?;
        anyhow::ensure!(
            out.status.success(),
            "account add {id} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Opens this installation's store ([`crate::backend::open_store`]): sled only once
    /// the daemon stopped (it locks the store while it runs), PostgreSQL at any time.
    pub async fn open_store(&self) -> anyhow::Result<std::sync::Arc<dyn certmail_store::Store>> {
        crate::backend::open_store(&self.config_path).await
    }

    /// The messages in `account`'s `mailbox`, with their bodies, from a stopped daemon's store.
    pub async fn mailbox_bodies(
        &self,
        account: &str,
        mailbox: &str,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        let store = self.open_store().await?;
        let mut out = Vec::new();
        for m in store.messages(account, mailbox, 1..=u32::MAX).await? {
            out.push(store.message_body(account, &m.blob).await?);
        }
        Ok(out)
    }
}
