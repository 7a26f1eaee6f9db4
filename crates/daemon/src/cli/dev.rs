//! `certmail dev`: a self-contained development server.
//!
//! The first run creates, in the data directory: a test PKI (a GPKI-like root and issuing
//! CA, a server certificate for localhost from a CA of its own), the demo account 홍길동
//! with its client certificate (PEM and PKCS#12), a store key and `certmail.toml`. Every
//! run then is exactly `certmail serve --config DIR/certmail.toml`, after printing how to
//! connect.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::config::{self, Config};

/// The demo person: the name on the demo certificate and account.
const DEMO_NAME: &str = "홍길동";
/// The demo account id.
const DEMO_ACCOUNT: &str = "hong";
/// The dev mail domain (RFC 6761 reserves .localhost).
const DEV_DOMAIN: &str = "certmail.localhost";

/// Unprivileged default ports: IMAP TLS, IMAP STARTTLS, submission TLS, submission, MX.
const DEV_PORTS: [u16; 5] = [1993, 1143, 1465, 1587, 1025];

/// Runs the dev server in `data`, creating it on first use. With `ephemeral_ports` a newly
/// created configuration listens on port 0 (the OS picks; see the `listening` lines).
pub fn run(data: &Path, ephemeral_ports: bool) -> anyhow::Result<()> {
    let config_path = data.join("certmail.toml");
    if !config_path.exists() {
        create(data, ephemeral_ports)
            .with_context(|| format!("creating the dev data directory {}", data.display()))?;
    }
    let config = config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    print_howto(data, &config);
    crate::services::serve::run_blocking(&config_path, config)
}

fn create(data: &Path, ephemeral_ports: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(data)?;
    let data = data.canonicalize()?;
    let pki = certmail_pki::testpki::DevPki::generate(&data.join("pki"), DEMO_NAME)?;
    let ports = if ephemeral_ports { [0; 5] } else { DEV_PORTS };
    let mut config = Config::local(
        config::LocalFiles {
            data_dir: data.join("data"),
            tls_cert: pki.server_chain.clone(),
            tls_key: pki.server_key.clone(),
            certs_dir: pki.certs_dir.clone(),
            crl_dir: pki.crl_dir.clone(),
        },
        ports,
    );
    config.server.local_domains = vec![DEV_DOMAIN.to_owned()];
    let toml = format!(
        "# certmail dev configuration, written by `certmail dev` on first run.\n\
         # Every key is documented in conf/certmail.toml of the source tree.\n\
         # A development machine may have no DNS: port 25 mail is not checked for SPF/DKIM/DMARC.\n\n{}",
        config.to_toml()
    );
    let config: Config =
        config::check(&toml).map_err(|p| anyhow::anyhow!("generated config is invalid: {p:?}"))?;
    let password = crate::cli::demo::create_demo_account(
        &config,
        &pki.user_cert,
        DEMO_ACCOUNT,
        DEMO_NAME,
        DEV_DOMAIN,
    )?;
    write_private(&data.join("demo-password.txt"), &format!("{password}\n"))?;
    write_private(
        &data.join("pki/user/p12-password.txt"),
        &format!("{}\n", pki.p12_password),
    )?;
    std::fs::write(data.join("certmail.toml"), toml)?;
    Ok(())
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

fn print_howto(data: &Path, config: &Config) {
    let pki = data.join("pki");
    let password = std::fs::read_to_string(data.join("demo-password.txt")).unwrap_or_default();
    let port = |addrs: &[std::net::SocketAddr]| addrs.first().map(|a| a.port()).unwrap_or(0);
    let imaps = port(&config.imap.listen_tls);
    let subs = port(&config.smtp.listen_submissions);
    let user_p12 = pki.join("user/user.p12");
    let p12_pass = std::fs::read_to_string(pki.join("user/p12-password.txt")).unwrap_or_default();
    let mut s = String::new();
    let _ = writeln!(s, "certmail dev: data in {}", data.display());
    let _ = writeln!(
        s,
        "  account   {DEMO_ACCOUNT} ({DEMO_NAME}) <{DEMO_ACCOUNT}@{DEV_DOMAIN}>, password {}",
        password.trim()
    );
    let _ = writeln!(
        s,
        "  client certificate  {} (PKCS#12, password {})",
        user_p12.display(),
        p12_pass.trim()
    );
    let _ = writeln!(
        s,
        "                      {} + {}",
        pki.join("user/cert.pem").display(),
        pki.join("user/key.pem").display()
    );
    let _ = writeln!(
        s,
        "  server CA (trust it in your client)  {}",
        pki.join("server/ca.pem").display()
    );
    let _ = writeln!(
        s,
        "admin commands (certmail account list, reload, ...) need this configuration:\n  \
         export CERTMAIL_CONFIG={}   (or pass --config {0})",
        data.join("certmail.toml").display()
    );
    // With ports the OS chooses, the examples say PORT: the `listening` lines below name it.
    let (imaps, subs) = if imaps == 0 {
        let _ = writeln!(
            s,
            "  ports: chosen by the OS; PORT below is the one the `listening imaps` line names"
        );
        ("PORT".to_string(), "PORT".to_string())
    } else {
        (imaps.to_string(), subs.to_string())
    };
    let _ = writeln!(
        s,
        "Thunderbird: import the PKCS#12 under Settings > Privacy & Security > Certificates,"
    );
    let _ = writeln!(
        s,
        "  trust the server CA, then add the account: IMAP localhost:{imaps} SSL/TLS and"
    );
    let _ = writeln!(
        s,
        "  SMTP localhost:{subs} SSL/TLS, authentication \"Normal password\", user {DEMO_ACCOUNT}."
    );
    let (ca, crt, key) = (
        pki.join("server/ca.pem"),
        pki.join("user/cert.pem"),
        pki.join("user/key.pem"),
    );
    let (ca, crt, key) = (ca.display(), crt.display(), key.display());
    let _ = writeln!(
        s,
        "curl:  curl --cacert {ca} --cert {crt} --key {key} -u {DEMO_ACCOUNT}:{pw} imaps://localhost:{imaps} -X 'EXAMINE INBOX'",
        pw = password.trim(),
    );
    let _ = writeln!(
        s,
        "openssl: openssl s_client -crlf -connect localhost:{imaps} -CAfile {ca} -cert {crt} -key {key}",
    );
    print!("{s}");
}
