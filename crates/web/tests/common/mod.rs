//! The web under test: a test PKI shaped like GPKI/EPKI/NPKI (made once per test binary),
//! and per test a fresh store, PKI directory, server on 127.0.0.1:0 and a real HTTP client
//! (curl, presenting client certificates).
#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use certmail_auth::accounts::{self, NewAccount};
use certmail_pki::testpki::{TestPki, UserCert, UserSpec, epki_cdp, gpki_cdp};
use certmail_pki::{Pki, PkiConfig};
use certmail_session::{LocalRegistry, RegistryConfig, SessionRegistry};
use certmail_store::{KeyFile, SledStore, Store};
use certmail_web::{WebConfig, WebContext, WebServer};
use serde_json::Value;

pub const DAY: i64 = 86_400;
pub const PASSWORD: &str = "Correct-Horse-42";

/// Every certificate the tests present, issued once.
pub struct Material {
    pub pki: TestPki,
    /// 김철수, GPKI, account `kim` of 통계청.
    pub kim: UserCert,
    /// A second certificate of 김철수 (same DN, new key), bound by the tests that need it.
    pub kim_second: UserCert,
    /// 박영희, GPKI, account `park`, org admin of 통계청.
    pub park: UserCert,
    /// 홍길동, EPKI, account `hong`, org admin of 서울특별시교육청.
    pub hong: UserCert,
    /// 이민호, GPKI, no account (signs up).
    pub lee: UserCert,
    /// 이민호's renewed certificate: same subject DN, new key.
    pub lee_renewed: UserCert,
    pub npki: UserCert,
    pub foreign: UserCert,
    pub expired: UserCert,
    /// 최영, revoked in partition 147.
    pub revoked: UserCert,
    pub server: UserCert,
    pub crls: Vec<(String, Vec<u8>)>,
}

pub fn material() -> &'static Material {
    static M: OnceLock<Material> = OnceLock::new();
    M.get_or_init(|| make().expect("test PKI"))
}

fn make() -> certmail_pki::Result<Material> {
    let work = tempfile::tempdir().expect("temp dir");
    let w = work.path();
    let pki = TestPki::new()?;
    let now = certmail_pki::now_unix();
    let gpki = |p: &str| UserSpec::gpki(p, now);
    let lee = pki.issue(&pki.gpki_ca, &gpki("이민호"), w)?;
    let revoked = pki.issue(
        &pki.gpki_ca,
        &UserSpec {
            cdp_uris: vec![gpki_cdp(147)],
            ..gpki("최영")
        },
        w,
    )?;
    let fresh = (now - 3600, now + 7 * DAY);
    let crls = vec![
        (
            "dp146.crl".to_string(),
            pki.crl(&pki.gpki_ca, Some(&gpki_cdp(146)), &[], fresh.0, fresh.1)?,
        ),
        (
            "dp147.crl".to_string(),
            pki.crl(
                &pki.gpki_ca,
                Some(&gpki_cdp(147)),
                &[&revoked],
                fresh.0,
                fresh.1,
            )?,
        ),
        (
            "epki.crl".to_string(),
            pki.crl(&pki.epki_ca, Some(&epki_cdp(16306)), &[], fresh.0, fresh.1)?,
        ),
    ];
    let npki_spec = UserSpec {
        cn: "홍길동()0004048H013284377".into(),
        agency: "personal4IB".into(),
        organization: "yessign".into(),
        real_name: Some("홍길동".into()),
        policies: vec![certmail_pki::testpki::OID_NPKI_YESSIGN.into()],
        critical_policies: true,
        ..gpki("홍길동")
    };
    Ok(Material {
        kim: pki.issue(&pki.gpki_ca, &gpki("김철수"), w)?,
        kim_second: pki.issue(&pki.gpki_ca, &gpki("김철수"), w)?,
        park: pki.issue(&pki.gpki_ca, &gpki("박영희"), w)?,
        hong: pki.issue(&pki.epki_ca, &UserSpec::epki("홍길동", now), w)?,
        lee_renewed: pki.issue(&pki.gpki_ca, &gpki("이민호"), w)?,
        lee,
        npki: pki.issue(&pki.npki_ca, &npki_spec, w)?,
        foreign: pki.issue(&pki.foreign_ca()?, &gpki("김철수"), w)?,
        expired: pki.issue(
            &pki.gpki_ca,
            &UserSpec {
                not_before: now - 900 * DAY,
                not_after: now - 10 * DAY,
                ..gpki("김유신")
            },
            w,
        )?,
        revoked,
        server: pki.server_cert()?,
        crls,
        pki,
    })
}

/// One running web with its own store.
pub struct Web {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub pki: Arc<Pki>,
    pub registry: Arc<dyn SessionRegistry>,
    pub url: String,
    /// The context the web was started with.
    pub ctx: WebContext,
    /// The server, when started with [`Web::start_reloadable`].
    pub server: Option<Arc<WebServer>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Web {
    /// A web with accounts `kim` (active), `park` (org admin of 통계청) and `hong` (org admin
    /// of 서울특별시교육청), each bound to its certificate, all with [`PASSWORD`].
    pub async fn start() -> Web {
        Web::start_with(|_| {}).await
    }

    /// As [`Web::start`], with the sign-in policy adjusted by `tune`.
    pub async fn start_with(tune: impl FnOnce(&mut certmail_auth::signin::SignInPolicy)) -> Web {
        Web::launch(tune, false).await
    }

    /// As [`Web::start`], served connection by connection through a [`WebServer`] (the
    /// daemon's way), which the test may reload.
    pub async fn start_reloadable() -> Web {
        Web::launch(|_| {}, true).await
    }

    async fn launch(
        tune: impl FnOnce(&mut certmail_auth::signin::SignInPolicy),
        reloadable: bool,
    ) -> Web {
        let m = material();
        let dir = tempfile::tempdir().expect("temp dir");
        let (certs, crl) = (dir.path().join("certs"), dir.path().join("crl"));
        m.pki.write_certs_dir(&certs).expect("certs");
        std::fs::create_dir_all(&crl).expect("crl dir");
        for (name, der) in &m.crls {
            std::fs::write(crl.join(name), der).expect("crl");
        }
        let pki = Arc::new(Pki::load(&PkiConfig::new(certs, crl)).expect("PKI loads"));
        let key = KeyFile::generate(&dir.path().join("store.key")).expect("key");
        let store: Arc<dyn Store> = Arc::new(
            SledStore::open_async(&dir.path().join("db"), key)
                .await
                .expect("store"),
        );
        seed(store.as_ref(), &pki).await;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let tls = certmail_pki::server_config_from_pem(
            m.server.cert_pem().as_bytes(),
            m.server.key_pem().as_bytes(),
            Some(pki.client_verifier()),
        )
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let registry: Arc<dyn SessionRegistry> =
            Arc::new(LocalRegistry::new(RegistryConfig::default()));
        let mut policy = certmail_auth::signin::SignInPolicy::default();
        tune(&mut policy);
        let ctx = WebContext {
            config: WebConfig {
                public_url: url.clone(),
                organisations: vec!["통계청".into(), "서울특별시교육청".into()],
                ..WebConfig::default()
            },
            store: Arc::clone(&store),
            pki: Arc::clone(&pki),
            policy,
            password_rules: Default::default(),
            registry: Arc::clone(&registry),
            session_policy: Default::default(),
            script_quota: certmail_store::ScriptQuota {
                max_bytes: 64 * 1024,
                max_scripts: 16,
            },
            totp_issuer: "certmail test".into(),
            notify: None,
            shared: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = reloadable.then(|| Arc::new(WebServer::new(ctx.clone()).expect("web")));
        let task = match &server {
            Some(server) => {
                tokio::spawn(accept_loop(listener, acceptor, Arc::clone(server), stopped))
            }
            None => {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    certmail_web::serve(listener, acceptor, ctx, async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
                })
            }
        };
        Web {
            dir,
            store,
            pki,
            registry,
            url,
            ctx,
            server,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A client presenting `cert` (or none).
    /// The stored account `id` (which must exist).
    pub async fn account(&self, id: &str) -> certmail_store::Account {
        self.store.account(id).await.expect("store").expect(id)
    }

    pub fn client(&self, cert: Option<&UserCert>) -> Client {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = self.dir.path().join(format!("client{n}"));
        std::fs::create_dir_all(&base).expect("client dir");
        let ca = base.join("ca.pem");
        std::fs::write(&ca, material().pki.server_ca.cert_pem()).expect("ca");
        let cert = cert.map(|c| {
            let (cp, kp) = (base.join("cert.pem"), base.join("key.pem"));
            std::fs::write(&cp, c.cert_pem()).expect("cert");
            std::fs::write(&kp, c.key_pem()).expect("key");
            (cp, kp)
        });
        Client {
            url: self.url.clone(),
            ca,
            cert,
            jar: base.join("cookies"),
            origin: Some(self.url.clone()),
            lang: None,
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), t)
                .await
                .expect("server stops")
                .expect("server task");
        }
    }
}

/// Accounts `kim`, `park` (org admin of 통계청) and `hong` (org admin of
/// 서울특별시교육청), active, bound to their certificates, with [`PASSWORD`].
async fn seed(store: &dyn Store, pki: &Pki) {
    let m = material();
    let now = certmail_auth::now();
    for (id, name, org, cert) in [
        ("kim", "김철수", "통계청", &m.kim),
        ("park", "박영희", "통계청", &m.park),
        ("hong", "홍길동", "서울특별시교육청", &m.hong),
    ] {
        let new = NewAccount {
            id: id.into(),
            name: name.into(),
            organisation: org.into(),
            addresses: vec![format!("{id}@example.go.kr")],
            approve: true,
            kind: Default::default(),
        };
        accounts::create(store, &Default::default(), new, Some(PASSWORD.into()), now)
            .await
            .expect("store")
            .expect("created");
        certmail_auth::bind_certificate(store, pki, id, &cert.cert_der, now)
            .await
            .expect("store")
            .expect("bound");
    }
    certmail_web::role::set_org_admin(store, "park", Some("통계청"), "test")
        .await
        .expect("role");
    certmail_web::role::set_org_admin(store, "hong", Some("서울특별시교육청"), "test")
        .await
        .expect("role");
}

/// The daemon's way: accept, then one `serve_connection` task per connection.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    server: Arc<WebServer>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((tcp, addr)) = accepted else { continue };
                let (server, acceptor) = (Arc::clone(&server), acceptor.clone());
                tokio::spawn(async move {
                    server.serve_connection(tcp, addr, acceptor, std::future::pending()).await;
                });
            }
        }
    }
}

/// A response as curl saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }
    /// Asserts the status and the JSON error code; `why` (if not empty) leads the message.
    #[track_caller]
    pub fn assert_refused(&self, status: u16, code: &str, why: &str) {
        let why = if why.is_empty() {
            String::new()
        } else {
            format!("{why}: ")
        };
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{why}{self:?}"
        );
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// curl with a client certificate, a cookie jar and a same-origin `Origin` by default.
pub struct Client {
    pub url: String,
    ca: PathBuf,
    cert: Option<(PathBuf, PathBuf)>,
    /// The cookie jar file.
    pub jar: PathBuf,
    /// The `Origin` header sent on every request (`None`: no header).
    pub origin: Option<String>,
    /// `Accept-Language`, if any.
    pub lang: Option<String>,
}

impl Client {
    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None, None).await
    }
    pub async fn post(&self, path: &str, json: Value) -> Reply {
        self.request(
            "POST",
            path,
            Some(json.to_string()),
            Some("application/json"),
        )
        .await
    }
    pub async fn delete(&self, path: &str, json: Option<Value>) -> Reply {
        self.request(
            "DELETE",
            path,
            json.map(|j| j.to_string()),
            Some("application/json"),
        )
        .await
    }
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        self.request(
            "POST",
            path,
            Some(body.join("&")),
            Some("application/x-www-form-urlencoded"),
        )
        .await
    }

    /// `POST /api/password {"current","new"}`.
    pub async fn change_password(&self, current: &str, new: &str) -> Reply {
        let body = serde_json::json!({"current": current, "new": new});
        self.post("/api/password", body).await
    }

    /// `POST /api/session {"password"}`: opens a browser session (kept in the jar).
    pub async fn open_session(&self, password: &str) -> Reply {
        let body = serde_json::json!({"password": password});
        self.post("/api/session", body).await
    }

    /// `POST /api/admin/{action}/{id}` with [`PASSWORD`].
    pub async fn admin(&self, action: &str, id: &str) -> Reply {
        let body = serde_json::json!({"password": PASSWORD});
        self.post(&format!("/api/admin/{action}/{id}"), body).await
    }

    /// The sign-in form (`POST /signin`) with `password`, coming back to `back`.
    pub async fn sign_in_form(&self, csrf: &str, back: &str, password: &str) -> Reply {
        let fields = [
            ("csrf", csrf),
            ("back", back),
            ("password", password),
            ("totp", ""),
        ];
        self.form("/signin", &fields).await
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        kind: Option<&str>,
    ) -> Reply {
        let mut cmd = tokio::process::Command::new("curl");
        cmd.args([
            "-sS",
            "--max-time",
            "20",
            "-D",
            "-",
            "-X",
            method,
            "--cacert",
        ])
        .arg(&self.ca);
        cmd.arg("-b").arg(&self.jar).arg("-c").arg(&self.jar);
        if let Some((c, k)) = &self.cert {
            cmd.arg("--cert").arg(c).arg("--key").arg(k);
        }
        if let Some(o) = &self.origin {
            cmd.args(["-H", &format!("Origin: {o}")]);
        }
        if let Some(l) = &self.lang {
            cmd.args(["-H", &format!("Accept-Language: {l}")]);
        }
        if let Some(b) = body {
            cmd.args([
                "-H",
                &format!("Content-Type: {}", kind.unwrap_or("application/json")),
                "--data-binary",
                &b,
            ]);
        }
        cmd.arg(format!("{}{path}", self.url));
        let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
            .await
            .expect("curl in time")
            .expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return Reply {
                status: 0,
                headers: String::from_utf8_lossy(&out.stderr).to_string(),
                body: text,
            };
        };
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Reply {
            status,
            headers: head.to_string(),
            body: body.to_string(),
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The current TOTP code of `secret` (base32 from an otpauth URI).
pub fn totp_code(uri: &str) -> String {
    totp_code_at(uri, 0)
}

/// The TOTP code `offset` steps from now (the server accepts ±1 step).
pub fn totp_code_at(uri: &str, offset: i64) -> String {
    let secret = certmail_auth::totp::secret_of_uri(uri).expect("a secret in the otpauth URI");
    let step = certmail_auth::totp::step_of(certmail_auth::now()) + offset;
    format!("{:06}", certmail_auth::totp::code_at(&secret, step, 6))
}
