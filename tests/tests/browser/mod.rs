//! Headless Chromium from Debian (`chromium`, `chromium-driver`) driven over WebDriver
//! (fantoccini, plain HTTP to chromedriver on loopback), for the web's real-browser test.
//!
//! What works on these machines (issue 16): `--headless --no-sandbox` (as root Chromium
//! refuses to start without it); the client certificate imported with `pk12util` into an
//! NSS database at `$HOME/.pki/nssdb`, with `HOME` set for chromedriver (one HOME, so one
//! chromedriver, per browser profile), the test CA trusted with `certutil -t CT,,`; and the
//! `AutoSelectCertificateForUrls` policy in `/etc/chromium/policies/managed/`
//! ([`CertificatePolicy`], removed when dropped, so also on a panic). Without a matching
//! policy headless Chromium waits forever at the certificate request, so every browser step
//! has a hard timeout ([`Browser::step`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// The hard limit on one browser step (a page load, a click, a screenshot).
pub const STEP: Duration = Duration::from_secs(30);

/// The programs the browser test needs, found on `PATH` (or Debian's place for them).
pub struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

impl Tools {
    /// The tools, or an error saying in one sentence what to install.
    pub fn find() -> anyhow::Result<Tools> {
        let chromium = which("chromium");
        let chromedriver = which("chromedriver");
        let nss = which("pk12util").and(which("certutil"));
        match (chromium, chromedriver, nss) {
            (Some(chromium), Some(chromedriver), Some(_)) => Ok(Tools {
                chromium,
                chromedriver,
            }),
            _ => anyhow::bail!(
                "the real-browser test needs Debian's chromium, chromium-driver and \
                 libnss3-tools: install them with `apt-get install chromium chromium-driver \
                 libnss3-tools` (scripts/test does this on a fresh machine)"
            ),
        }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The `AutoSelectCertificateForUrls` policy for `url_pattern` (e.g. `https://localhost`,
/// which matches any port) in Chromium's global managed-policy directory; the file is
/// removed when this is dropped.
pub struct CertificatePolicy {
    file: PathBuf,
}

impl CertificatePolicy {
    /// Writes the policy file (the directory is global: the file name carries our pid).
    pub fn install(url_pattern: &str) -> anyhow::Result<CertificatePolicy> {
        let dir = Path::new("/etc/chromium/policies/managed");
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create {} ({e}): the browser test writes Chromium's certificate \
                 policy there, so run it as root",
                dir.display()
            )
        })?;
        let rule = json!({ "pattern": url_pattern, "filter": {} }).to_string();
        let policy = json!({ "AutoSelectCertificateForUrls": [rule] });
        let file = dir.join(format!("certmail-test-{}.json", std::process::id()));
        std::fs::write(&file, serde_json::to_vec_pretty(&policy)?)?;
        Ok(CertificatePolicy { file })
    }
}

impl Drop for CertificatePolicy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// One browser profile: its own HOME (NSS database with one client certificate), its own
/// chromedriver on a free loopback port, one WebDriver session.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    home: tempfile::TempDir,
    shots: PathBuf,
    name: String,
}

impl Browser {
    /// Starts a profile named `name` presenting `cert`/`key` (PEM) and trusting the server
    /// CA `ca` (PEM); screenshots go to `shots`.
    pub async fn start(
        tools: &Tools,
        name: &str,
        (cert, key): (&Path, &Path),
        ca: &Path,
        shots: &Path,
    ) -> anyhow::Result<Browser> {
        let home = tempfile::tempdir()?;
        nss_database(home.path(), name, (cert, key), ca)?;
        let port = certmail_testkit::ports::free_port()?;
        let driver = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .env("HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut browser = Browser {
            client: None,
            driver,
            home,
            shots: shots.to_path_buf(),
            name: name.to_string(),
        };
        wait_for_port(port).await?;
        let profile = browser.home.path().join("chromium-profile");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": tools.chromium,
                // Korean first, as the pages are (Accept-Language).
                "prefs": { "intl.accept_languages": "ko-KR,ko" },
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=720,900",
                    format!("--user-data-dir={}", profile.display())],
            },
            "timeouts": { "pageLoad": 20_000, "script": 10_000, "implicit": 0 },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("the capabilities are a JSON object")
        };
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        let url = format!("http://127.0.0.1:{port}");
        let client = tokio::time::timeout(STEP, builder.connect(&url))
            .await
            .map_err(|_| anyhow::anyhow!("chromedriver did not open a session in {STEP:?}"))??;
        browser.client = Some(client);
        Ok(browser)
    }

    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("a Browser holds its session from start until quit")
    }

    /// Runs one browser step `what` under the hard timeout.
    pub async fn step<T, E: std::fmt::Display>(
        &self,
        what: &str,
        step: impl std::future::Future<Output = Result<T, E>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(STEP, step).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => anyhow::bail!("{}: {what}: {e}", self.name),
            Err(_) => anyhow::bail!("{}: {what}: no answer within {STEP:?}", self.name),
        }
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.step(&format!("open {url}"), self.client().goto(url))
            .await
    }

    /// The path of the page shown.
    pub async fn path(&self) -> anyhow::Result<String> {
        let url = self
            .step("read the URL", self.client().current_url())
            .await?;
        Ok(url.path().to_string())
    }

    /// Types `text` into the input with id `id`.
    pub async fn fill(&self, id: &str, text: &str) -> anyhow::Result<()> {
        let what = format!("type into #{id}");
        let field = self
            .step(&what, self.client().find(Locator::Id(id)))
            .await?;
        self.step(&what, field.send_keys(text)).await
    }

    /// Sets the value of the input with id `id` as a picker would (a date input takes
    /// `YYYY-MM-DD` this way whatever the browser's locale shows).
    pub async fn set_value(&self, id: &str, value: &str) -> anyhow::Result<()> {
        let what = format!("set #{id}");
        let script = "document.getElementById(arguments[0]).value = arguments[1];";
        let args = vec![id.into(), value.into()];
        self.step(&what, self.client().execute(script, args))
            .await
            .map(|_| ())
    }

    /// Clicks the submit button of the form matched by the CSS selector `form`, and waits
    /// for the page it leads to.
    pub async fn submit(&self, form: &str) -> anyhow::Result<()> {
        let what = format!("submit {form}");
        let css = format!("{form} button[type=submit]");
        let button = self
            .step(&what, self.client().find(Locator::Css(&css)))
            .await?;
        let page = self
            .step(&what, self.client().find(Locator::Css("html")))
            .await?;
        self.step(&what, button.click()).await?;
        // The page posted from goes stale when the next one (after any redirect) is there.
        let next_page = async {
            while page.tag_name().await.is_ok() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let loaded = || async {
                let state = self.client().execute("return document.readyState", vec![]);
                state.await.is_ok_and(|s| s == "complete")
            };
            while !loaded().await {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok::<(), std::convert::Infallible>(())
        };
        self.step(&format!("{what}: the next page"), next_page)
            .await
    }

    /// The text of the first element matching the CSS selector `css`; when there is none,
    /// the error shows the page's path and text.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let what = format!("read {css}");
        match self
            .step(&what, self.client().find(Locator::Css(css)))
            .await
        {
            Ok(element) => self.step(&what, element.text()).await,
            Err(e) => {
                let path = self.path().await.unwrap_or_default();
                let body = self.client().find(Locator::Css("body"));
                let shown = match self.step("read the page", body).await {
                    Ok(b) => b.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                anyhow::bail!("{e}\non {path}:\n{shown}")
            }
        }
    }

    /// Saves a PNG of the page as `<shots>/<file>.png`; returns its path.
    pub async fn screenshot(&self, file: &str) -> anyhow::Result<PathBuf> {
        let png = self.step("screenshot", self.client().screenshot()).await?;
        std::fs::create_dir_all(&self.shots)?;
        let path = self.shots.join(format!("{file}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Ends the WebDriver session (Chromium exits); chromedriver stops when dropped.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        if let Some(client) = self.client.take() {
            self.step("close the session", client.close()).await?;
        }
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium of this profile, if the session was not closed (a failed step): the
        // processes whose command line names this profile's own temp directory.
        kill_processes_naming(self.home.path());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Kills (by pid) every process whose command line contains `dir`.
fn kill_processes_naming(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    }
}

/// `$home/.pki/nssdb` with the client certificate (through a PKCS#12 file) and the server
/// CA trusted for TLS.
fn nss_database(
    home: &Path,
    name: &str,
    (cert, key): (&Path, &Path),
    ca: &Path,
) -> anyhow::Result<()> {
    let db_dir = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db_dir)?;
    let db = format!("sql:{}", db_dir.display());
    let p12 = home.join(format!("{name}.p12"));
    run(Command::new("certutil").args(["-N", "-d", &db, "--empty-password"]))?;
    run(Command::new("certutil")
        .args([
            "-A",
            "-d",
            &db,
            "-n",
            "certmail test CA",
            "-t",
            "CT,,",
            "-i",
        ])
        .arg(ca))?;
    run(Command::new("openssl")
        .args([
            "pkcs12", "-export", "-passout", "pass:", "-name", name, "-in",
        ])
        .arg(cert)
        .arg("-inkey")
        .arg(key)
        .arg("-out")
        .arg(&p12))?;
    run(Command::new("pk12util")
        .args(["-d", &db, "-W", "", "-i"])
        .arg(&p12))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output()?;
    anyhow::ensure!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STEP;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not listen on 127.0.0.1:{port} within {STEP:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
