//! The self-service web in the running daemon (`[web]`), driven by curl with real client
//! certificates: sign-up, approval by an org admin granted with the CLI, password changes
//! that IMAP sees at once, an expired password changed on the web, cross-origin and
//! certificate refusals.

use std::path::PathBuf;
use std::process::Command;

use certmail_store::prelude::*;
use certmail_tests::cert_kinds::{CertKinds, write_pem};
use certmail_tests::lines::LineClient;
use certmail_tests::{DaemonProcess, fixtures};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "Gpki-Pass-2026!";
const FIRST: &str = "Blue-Sky-2026!";
const SECOND: &str = "Green-Leaf-2027!";

/// A daemon with the web on a port chosen beforehand (the public URL names it).
struct Web {
    fx: fixtures::Installation,
    k: CertKinds,
    url: String,
}

impl Web {
    /// An installation trusting `CertKinds`' CAs with the web on and 김철수 (kim) as an
    /// approved account of 행정안전부; `auth` is appended as `[auth]` keys.
    fn new(auth: &str) -> anyhow::Result<Web> {
        let k = CertKinds::generate()?;
        let fx = fixtures::Installation::with_pki(&k.pki, &k.crls)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let url = format!("https://localhost:{port}");
        fx.append_config(&format!(
            "[web]\nlisten = [\"127.0.0.1:{port}\"]\npublic_url = \"{url}\"\n\n[auth]\n{auth}"
        ))?;
        fx.add_account("kim", "김철수", ADMIN_PASSWORD)?;
        let (cert, _) = write_pem(&fx.dir.path().join("certs"), "kim", &k.people.gpki_ecdsa)?;
        let (code, out, err) = fx.certmail(&["cert", "bind", "kim", path(&cert)])?;
        anyhow::ensure!(code == 0, "cert bind: {out}{err}");
        Ok(Web { fx, k, url })
    }

    fn start(&self) -> anyhow::Result<DaemonProcess> {
        let config = path(&self.fx.config_path);
        let mut expect = fixtures::LISTENERS.to_vec();
        expect.push("web");
        DaemonProcess::start(&["serve", "--config", config], &[], &expect)
    }

    /// A curl client presenting `cert` (or none), sending `Origin: <public_url>`.
    fn client(&self, stem: &str, cert: Option<&certmail_pki::testpki::UserCert>) -> Client {
        let dir = self.fx.dir.path().join("clients");
        let cert = cert.map(|c| write_pem(&dir, stem, c).expect("client PEM files"));
        Client {
            url: self.url.clone(),
            ca: self.fx.server_ca.clone(),
            cert,
            origin: self.url.clone(),
        }
    }

    /// The client certificate config of `cert` for IMAP.
    fn tls(
        &self,
        stem: &str,
        cert: &certmail_pki::testpki::UserCert,
    ) -> anyhow::Result<std::sync::Arc<rustls::ClientConfig>> {
        let (c, k) = write_pem(&self.fx.dir.path().join("clients"), stem, cert)?;
        self.fx.tls_for(&c, &k)
    }
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// curl against the web with a client certificate.
struct Client {
    url: String,
    ca: PathBuf,
    cert: Option<(PathBuf, PathBuf)>,
    origin: String,
}

impl Client {
    /// `METHOD path` with an optional JSON body; (status, JSON body or `null`).
    fn call(&self, method: &str, route: &str, body: Option<Value>) -> (u16, Value) {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"])
            .args(["-X", method, "--cacert", path(&self.ca)])
            .args(["-H", &format!("Origin: {}", self.origin)]);
        if let Some((c, k)) = &self.cert {
            cmd.args(["--cert", path(c), "--key", path(k)]);
        }
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json"])
                .args(["--data-binary", &b.to_string()]);
        }
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
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

/// The tagged answer to `a1 LOGIN user password` over IMAPS with `tls`.
async fn imap_login(
    daemon: &DaemonProcess,
    tls: std::sync::Arc<rustls::ClientConfig>,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let stream = certmail_tests::tls::connect(daemon.addr("imaps"), tls).await?;
    let mut c = LineClient::new(stream);
    let greeting = c.line().await?;
    anyhow::ensure!(greeting.starts_with("* OK"), "greeting: {greeting}");
    c.send_raw(format!("a1 LOGIN {user} \"{password}\"\r\n").as_bytes())
        .await?;
    loop {
        let line = c.line().await?;
        if line.starts_with("a1 ") {
            return Ok(line);
        }
    }
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_approve_change_password_and_imap_follows() -> anyhow::Result<()> {
    let web = Web::new("")?;
    let daemon = web.start()?;
    assert!(
        daemon
            .stdout
            .iter()
            .any(|l| l.starts_with("listening web ")),
        "{:?}",
        daemon.stdout
    );
    // The org-admin role, granted through the running daemon's admin socket.
    let (c, out, err) = web.fx.certmail(&[
        "account",
        "role",
        "kim",
        "org-admin",
        "--organisation",
        "행정안전부",
    ])?;
    assert_eq!(c, 0, "{out}{err}");

    // 강감찬 has a good GPKI certificate and no account: sign up, then wait.
    let kang = web.client("kang", Some(&web.k.not_bound));
    let (s, me) = kang.call("GET", "/api/me", None);
    assert_eq!((s, code(&me)), (403, "certificate_not_bound"), "{me}");
    let signup = json!({"id": "kang", "address": "kang@test.go.kr", "organisation": "행정안전부", "password": FIRST});
    let (s, r) = kang.call("POST", "/api/signup", Some(signup));
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["name"], "강감찬", "the name comes from the certificate");
    let (s, me) = kang.call("GET", "/api/me", None);
    assert_eq!((s, code(&me)), (403, "account_pending"), "{me}");
    let kang_tls = web.tls("kang", &web.k.not_bound)?;
    let r = imap_login(&daemon, kang_tls.clone(), "kang", FIRST).await?;
    assert!(r.starts_with("a1 NO [CONTACTADMIN]"), "pending: {r}");

    // A cross-origin POST is refused and changes nothing.
    let mut evil = web.client("kang", Some(&web.k.not_bound));
    evil.origin = "https://evil.example".into();
    let (s, r) = evil.call(
        "POST",
        "/api/admin/approve/kang",
        Some(json!({"password": ADMIN_PASSWORD})),
    );
    assert_eq!(s, 403, "{r}");

    // The org admin approves; kang signs in over IMAP with the sign-up password.
    let kim = web.client("kim", Some(&web.k.people.gpki_ecdsa));
    let (s, r) = kim.call(
        "POST",
        "/api/admin/approve/kang",
        Some(json!({"password": ADMIN_PASSWORD})),
    );
    assert_eq!(s, 200, "{r}");
    let r = imap_login(&daemon, kang_tls.clone(), "kang", FIRST).await?;
    assert!(r.starts_with("a1 OK"), "approved: {r}");

    // A password change on the web: IMAP takes the new one and refuses the old.
    let (s, r) = kang.call(
        "POST",
        "/api/password",
        Some(json!({"current": FIRST, "new": SECOND})),
    );
    assert_eq!(s, 200, "{r}");
    let r = imap_login(&daemon, kang_tls.clone(), "kang", FIRST).await?;
    assert!(r.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "old: {r}");
    let r = imap_login(&daemon, kang_tls, "kang", SECOND).await?;
    assert!(r.starts_with("a1 OK"), "new: {r}");

    // Certificates the web refuses get the IMAP refusal's code as JSON.
    let (s, r) = web
        .client("npki", Some(&web.k.npki))
        .call("GET", "/api/me", None);
    assert_eq!((s, code(&r)), (403, "npki_certificate"), "{r}");
    assert!(r["message"].as_str().unwrap_or("").contains("NPKI"), "{r}");
    let (s, r) = web.client("none", None).call("GET", "/api/me", None);
    assert_eq!((s, code(&r)), (401, "no_certificate"), "{r}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_password_is_changed_on_the_web() -> anyhow::Result<()> {
    let web = Web::new("password_max_age_days = 90")?;
    {
        let store = web.fx.open_store().await?;
        let mut a = store
            .account("kim")
            .await?
            .ok_or_else(|| anyhow::anyhow!("no account kim"))?;
        a.password_set_at = a.password_set_at.map(|t| t - 91 * 86_400);
        store.update_account(a).await?;
        tokio::task::spawn_blocking(move || drop(store)).await?;
    }
    let daemon = web.start()?;
    let tls = web.tls("kim", &web.k.people.gpki_ecdsa)?;
    let r = imap_login(&daemon, tls.clone(), "kim", ADMIN_PASSWORD).await?;
    assert!(r.starts_with("a1 NO [EXPIRED]"), "{r}");
    let where_to = format!("Change it at {}/password.", web.url);
    assert!(r.contains(&where_to), "the refusal says where: {r}");

    let kim = web.client("kim", Some(&web.k.people.gpki_ecdsa));
    let (s, r) = kim.call(
        "POST",
        "/api/password",
        Some(json!({"current": ADMIN_PASSWORD, "new": SECOND})),
    );
    assert_eq!(s, 200, "{r}");
    let r = imap_login(&daemon, tls.clone(), "kim", SECOND).await?;
    assert!(r.starts_with("a1 OK"), "{r}");
    let r = imap_login(&daemon, tls, "kim", ADMIN_PASSWORD).await?;
    assert!(r.starts_with("a1 NO"), "{r}");
    Ok(())
}
