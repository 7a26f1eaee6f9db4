//! The self-service web (`[web]`) of a running daemon, for the black-box web tests: an
//! installation with the web on a port chosen beforehand (its public URL names it), curl
//! clients with real client certificates, and an IMAP LOGIN to see what the web changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use certmail_pki::testpki::UserCert;
use serde_json::Value;

use crate::cert_kinds::{CertKinds, write_pem};
use crate::lines::LineClient;
use crate::{DaemonProcess, fixtures};

/// The password of 김철수 (kim), the org admin of 행정안전부.
pub const ADMIN_PASSWORD: &str = "Gpki-Pass-2026!";
/// kim's organisation.
pub const ORGANISATION: &str = "행정안전부";

/// A daemon's installation with the web on.
pub struct Web {
    /// The installation.
    pub fx: fixtures::Installation,
    /// The certificates (the installation trusts their CAs).
    pub k: CertKinds,
    /// `https://localhost:PORT`, also `[web] public_url`.
    pub url: String,
}

impl Web {
    /// An installation trusting `CertKinds`' CAs with the web on and 김철수 (kim) as an
    /// approved account of 행정안전부 bound to `k.people.gpki_ecdsa`; `extra` is appended to the
    /// configuration after the `[web]` keys (more `[web]` keys, then other sections).
    pub fn new(extra: &str) -> anyhow::Result<Web> {
        let k = CertKinds::generate()?;
        let fx = fixtures::Installation::with_pki(&k.pki, &k.crls)?;
        let port = certmail_testkit::ports::free_port()?;
        let url = format!("https://localhost:{port}");
        fx.append_config(&format!(
            "[web]\nlisten = [\"127.0.0.1:{port}\"]\npublic_url = \"{url}\"\n{extra}"
        ))?;
        fx.add_account("kim", "김철수", ADMIN_PASSWORD)?;
        let (cert, _) = write_pem(&fx.dir.path().join("certs"), "kim", &k.people.gpki_ecdsa)?;
        let (code, out, err) = fx.certmail(&["cert", "bind", "kim", path(&cert)])?;
        anyhow::ensure!(code == 0, "cert bind: {out}{err}");
        Ok(Web { fx, k, url })
    }

    /// Starts the daemon and waits for every listener, the web's included.
    pub fn start(&self) -> anyhow::Result<DaemonProcess> {
        let config = path(&self.fx.config_path);
        let mut expect = fixtures::LISTENERS.to_vec();
        expect.push("web");
        DaemonProcess::start(&["serve", "--config", config], &[], &expect)
    }

    /// Makes kim an org admin of 행정안전부 (through the running daemon's admin socket).
    pub fn grant_org_admin(&self) -> anyhow::Result<()> {
        let args = [
            "account",
            "role",
            "kim",
            "org-admin",
            "--organisation",
            ORGANISATION,
        ];
        let (c, out, err) = self.fx.certmail(&args)?;
        anyhow::ensure!(c == 0, "account role: {out}{err}");
        Ok(())
    }

    /// `cert`'s PEM files (certificate, key) under the installation, named `stem`.
    pub fn pem(&self, stem: &str, cert: &UserCert) -> anyhow::Result<(PathBuf, PathBuf)> {
        write_pem(&self.fx.dir.path().join("clients"), stem, cert)
    }

    /// A curl client presenting `cert` (or none), sending `Origin: <public_url>`.
    pub fn client(&self, stem: &str, cert: Option<&UserCert>) -> Client {
        let cert = cert.map(|c| self.pem(stem, c).expect("client PEM files"));
        Client {
            url: self.url.clone(),
            ca: self.fx.server_ca.clone(),
            cert,
            origin: self.url.clone(),
            jar: None,
        }
    }

    /// The client certificate config of `cert` for IMAP.
    pub fn tls(&self, stem: &str, cert: &UserCert) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        let (c, k) = self.pem(stem, cert)?;
        self.fx.tls_for(&c, &k)
    }
}

/// A temp path as `&str`.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// curl against the web with a client certificate.
pub struct Client {
    url: String,
    ca: PathBuf,
    cert: Option<(PathBuf, PathBuf)>,
    /// The `Origin` header sent with every call.
    pub origin: String,
    /// curl's cookie jar, where the client keeps its browser session (see [`Client::with_cookies`]).
    jar: Option<PathBuf>,
}

impl Client {
    /// The client keeping cookies (the browser session of `POST /api/session`) in `jar`.
    pub fn with_cookies(mut self, jar: PathBuf) -> Client {
        self.jar = Some(jar);
        self
    }

    /// `METHOD path` with an optional JSON body; (status, JSON body or `null`).
    pub fn call(&self, method: &str, route: &str, body: Option<Value>) -> (u16, Value) {
        let mut cmd = self.curl(method);
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json"])
                .args(["--data-binary", &b.to_string()]);
        }
        let (status, body) = self.run(cmd, route);
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// `GET path` as a browser asks for a page (Korean first); (status, HTML).
    pub fn page(&self, route: &str) -> (u16, String) {
        let mut cmd = self.curl("GET");
        cmd.args(["-H", "Accept-Language: ko-KR,ko;q=0.9"]);
        self.run(cmd, route)
    }

    /// `POST path` as a page's form posts it (urlencoded `fields`, Korean first); (status,
    /// HTML). A 303 is not followed: its status comes back.
    pub fn post_form(&self, route: &str, fields: &[(&str, &str)]) -> (u16, String) {
        // Each value from a file, which curl encodes: a long message does not fit in argv.
        let dir = tempfile::tempdir().expect("a temp dir for the form");
        let mut cmd = self.curl("POST");
        cmd.args(["-H", "Accept-Language: ko-KR,ko;q=0.9"]);
        for (i, (name, value)) in fields.iter().enumerate() {
            let file = dir.path().join(i.to_string());
            std::fs::write(&file, value).expect("the field written");
            cmd.args(["--data-urlencode", &format!("{name}@{}", path(&file))]);
        }
        self.run(cmd, route)
    }

    /// curl with the CA, the certificate, the `Origin` and the cookie jar.
    fn curl(&self, method: &str) -> Command {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"])
            .args(["-X", method, "--cacert", path(&self.ca)])
            .args(["-H", &format!("Origin: {}", self.origin)]);
        if let Some((c, k)) = &self.cert {
            cmd.args(["--cert", path(c), "--key", path(k)]);
        }
        if let Some(jar) = &self.jar {
            cmd.args(["-b", path(jar), "-c", path(jar)]);
        }
        cmd
    }

    /// Runs `cmd` against `route`; (status, body).
    fn run(&self, mut cmd: Command, route: &str) -> (u16, String) {
        cmd.arg(format!("{}{route}", self.url));
        let out = cmd.output().expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        let status = status.trim().parse().unwrap_or_else(|_| {
            panic!(
                "curl {route}: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (status, body.to_string())
    }
}

/// The form token (`csrf`) of the first form on an HTML page.
pub fn form_token(html: &str) -> Option<&str> {
    let start = html.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

/// The `code` of a JSON refusal (empty when there is none).
pub fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

/// The tagged answer to `a1 LOGIN user password` over IMAPS with `tls`.
pub async fn imap_login(
    daemon: &DaemonProcess,
    tls: Arc<rustls::ClientConfig>,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let (_, answer) = imap_session(daemon, None, tls, user, password).await?;
    Ok(answer)
}

/// An IMAPS connection (from the loopback address `from`, e.g. 127.0.0.2 as another
/// device, or the default) after `a1 LOGIN user password`, with the tagged answer.
pub async fn imap_session(
    daemon: &DaemonProcess,
    from: Option<std::net::IpAddr>,
    tls: Arc<rustls::ClientConfig>,
    user: &str,
    password: &str,
) -> anyhow::Result<(ImapClient, String)> {
    let stream = match from {
        Some(ip) => crate::tls::connect_from(ip, daemon.addr("imaps"), tls).await?,
        None => crate::tls::connect(daemon.addr("imaps"), tls).await?,
    };
    let mut c = LineClient::new(stream);
    let greeting = c.line().await?;
    anyhow::ensure!(greeting.starts_with("* OK"), "greeting: {greeting}");
    c.send_raw(format!("a1 LOGIN {user} \"{password}\"\r\n").as_bytes())
        .await?;
    loop {
        let line = c.line().await?;
        if line.starts_with("a1 ") {
            return Ok((c, line));
        }
    }
}

/// A line client over IMAPS.
pub type ImapClient = LineClient<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
