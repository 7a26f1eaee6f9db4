//! The HTTP side of an operator's first day (issue 22): `/healthz` for a load balancer
//! (200 when ready, 503 naming what is not), the process metrics every exporter has with
//! the build's commit, and the set-up files of Outlook (autodiscover, its real 2006 request
//! body) and Apple (`.mobileconfig`), each parsed by Python's own XML and plist readers.
//! The HTTP client is curl.

use std::io::Write as _;
use std::process::{Command, Stdio};

use certmail_pki::testpki::{TestPki, gpki_cdp};
use certmail_tests::DaemonProcess;
use certmail_tests::fixtures::{Installation, LISTENERS};
use certmail_tests::metrics::{curl, sample, start_with_metrics};

/// Outlook 2016's autodiscover request, byte for byte as it POSTs it.
const OUTLOOK_REQUEST: &str = r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>hong@test.go.kr</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"#;

/// POSTs `body` as Outlook does (text/xml) with curl: (body, status).
fn curl_post(url: &str, body: &str) -> anyhow::Result<(String, String)> {
    certmail_tests::metrics::curl_post(url, "text/xml", body)
}

/// Runs `script` with python3, `input` on stdin; its stdout.
fn python(script: &str, input: &str) -> anyhow::Result<String> {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// The Outlook answer's protocols as `TYPE server port ssl login` lines, read with
/// ElementTree by namespace as Outlook does.
const READ_AUTODISCOVER: &str = r#"
import sys, xml.etree.ElementTree as ET
ns = {"r": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
      "a": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
root = ET.fromstring(sys.stdin.read())
for p in root.findall("a:Response/a:Account/a:Protocol", ns):
    f = lambda k: p.find("a:" + k, ns).text
    print(f("Type"), f("Server"), f("Port"), f("SSL"), f("LoginName"))
for e in root.findall("r:Response/r:Error/r:ErrorCode", ns):
    print("error", e.text)
"#;

#[test]
fn healthz_process_metrics_and_build_commit() -> anyhow::Result<()> {
    let fx = Installation::new()?;
    let started = certmail_pki::now_unix();
    let daemon = start_with_metrics(&fx)?;
    let (body, code) = curl(&format!("http://{}/healthz", daemon.addr("metrics")))?;
    assert_eq!(code, "200", "{body}");
    assert!(
        body.starts_with("ok: store open, listeners bound") && body.contains("fresh"),
        "{body}"
    );

    let (text, code) = curl(&format!("http://{}/metrics", daemon.addr("metrics")))?;
    assert_eq!(code, "200");
    let cpu = sample(&text, "process_cpu_seconds_total").expect("cpu seconds");
    assert!((0.0..600.0).contains(&cpu), "{cpu}");
    let start = sample(&text, "process_start_time_seconds").expect("start time");
    let now = certmail_pki::now_unix() as f64;
    assert!(
        start >= started as f64 - 2.0 && start <= now + 1.0,
        "started {start}, test began {started}, now {now}"
    );
    // The commit the binary was built from: a commit of this repository, or "unknown"
    // outside git.
    let commit = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("certmail_build_info{")?
                .split("commit=\"")
                .nth(1)
        })
        .and_then(|rest| rest.split('"').next())
        .expect("certmail_build_info has a commit label")
        .to_string();
    let in_git = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        .is_ok_and(|o| o.status.success());
    if in_git && commit != "unknown" {
        assert!(
            commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{commit}"
        );
        let known = Command::new("git")
            .args(["cat-file", "-e", &format!("{commit}^{{commit}}")])
            .status()?;
        assert!(known.success(), "{commit} is no commit of this repository");
    } else {
        assert_eq!(commit, "unknown");
    }
    Ok(())
}

#[test]
fn healthz_is_503_and_names_an_expired_crl() -> anyhow::Result<()> {
    let pki = TestPki::new()?;
    let now = certmail_pki::now_unix();
    // nextUpdate two days ago: past the default one-day [pki] crl_grace_secs.
    let stale = pki.crl(
        &pki.gpki_ca,
        Some(&gpki_cdp(146)),
        &[],
        now - 3 * 86_400,
        now - 2 * 86_400,
    )?;
    let fx = Installation::with_pki(&pki, &[("dp146.crl".to_string(), stale, None)])?;
    let daemon = start_with_metrics(&fx)?;
    let (body, code) = curl(&format!("http://{}/healthz", daemon.addr("metrics")))?;
    assert_eq!(code, "503", "{body}");
    assert!(body.starts_with("not ready:"), "{body}");
    assert!(
        body.contains("dp146.crl")
            && body.contains("expired")
            && body.contains("certmail crl fetch"),
        "the CRL and the remedy are named: {body}"
    );
    assert!(!body.contains("mail store"), "the store is fine: {body}");
    Ok(())
}

#[test]
fn outlook_autodiscover_and_the_apple_profile() -> anyhow::Result<()> {
    let fx = Installation::new()?;
    fx.append_config("[http]\nautoconfig_listen = [\"127.0.0.1:0\"]")?;
    let mut expect = LISTENERS.to_vec();
    expect.push("autoconfig");
    let config = fx.config_path.to_str().expect("utf-8");
    let daemon = DaemonProcess::start(&["serve", "--config", config], &[], &expect)?;
    let base = format!("http://{}", daemon.addr("autoconfig"));
    // The test config listens on port 0 (the OS picks): clients are told the standard
    // ports, as they would be by a site behind port forwarding.
    let (imap, smtp) = (993, 465);

    for path in [
        "/autodiscover/autodiscover.xml",
        "/Autodiscover/Autodiscover.xml",
    ] {
        let (xml, code) = curl_post(&format!("{base}{path}"), OUTLOOK_REQUEST)?;
        assert_eq!(code, "200", "{path}: {xml}");
        let protocols = python(READ_AUTODISCOVER, &xml)?;
        assert_eq!(
            protocols,
            format!(
                "IMAP mail.test.go.kr {imap} on hong@test.go.kr\n\
                 SMTP mail.test.go.kr {smtp} on hong@test.go.kr\n"
            ),
            "{xml}"
        );
    }
    // GET, as some clients probe.
    let (xml, code) = curl(&format!(
        "{base}/autodiscover/autodiscover.xml?email=hong%40test.go.kr"
    ))?;
    assert_eq!(code, "200");
    assert!(python(READ_AUTODISCOVER, &xml)?.starts_with("IMAP mail.test.go.kr"));

    // Another domain, another schema, a broken body: each answered with why.
    let other = OUTLOOK_REQUEST.replace("hong@test.go.kr", "hong@other.example");
    let (xml, code) = curl_post(&format!("{base}/autodiscover/autodiscover.xml"), &other)?;
    assert_eq!(code, "404");
    assert_eq!(python(READ_AUTODISCOVER, &xml)?, "error 603\n", "{xml}");
    assert!(
        xml.contains("not an address of a domain of this server"),
        "{xml}"
    );
    let mobile = OUTLOOK_REQUEST.replace(
        "outlook/responseschema/2006a",
        "mobilesync/responseschema/2006",
    );
    let (xml, code) = curl_post(&format!("{base}/autodiscover/autodiscover.xml"), &mobile)?;
    assert_eq!(code, "200");
    assert_eq!(python(READ_AUTODISCOVER, &xml)?, "error 601\n", "{xml}");
    let (xml, code) = curl_post(
        &format!("{base}/autodiscover/autodiscover.xml"),
        "<Autodiscover><Request><EMailAddress>x</Request>",
    )?;
    assert_eq!(code, "400");
    assert!(xml.contains("not well-formed"), "{xml}");
    let big = format!("<Autodiscover>{}</Autodiscover>", " ".repeat(64 * 1024));
    let (why, code) = curl_post(&format!("{base}/autodiscover/autodiscover.xml"), &big)?;
    assert_eq!(code, "413", "the body is bounded: {why}");
    assert!(
        why.contains("[http] max_request_bytes (16384 bytes)"),
        "{why}"
    );

    // Apple: an unsigned profile with one com.apple.mail.managed payload.
    let (plist, code) = curl(&format!(
        "{base}/apple/certmail.mobileconfig?email=hong%40test.go.kr"
    ))?;
    assert_eq!(code, "200", "{plist}");
    let read = python(
        r#"
import sys, plistlib
p = plistlib.loads(sys.stdin.buffer.read())
m = p["PayloadContent"][0]
print(p["PayloadType"], m["PayloadType"], m["EmailAddress"], m["IncomingMailServerHostName"],
      m["IncomingMailServerPortNumber"], m["IncomingMailServerUseSSL"],
      m["OutgoingMailServerPortNumber"], m["OutgoingMailServerUseSSL"], m["IncomingMailServerUsername"])
"#,
        &plist,
    )?;
    assert_eq!(
        read.trim(),
        format!(
            "Configuration com.apple.mail.managed hong@test.go.kr mail.test.go.kr {imap} True {smtp} True hong@test.go.kr"
        )
    );
    let (again, _) = curl(&format!(
        "{base}/apple/certmail.mobileconfig?email=hong%40test.go.kr"
    ))?;
    assert_eq!(
        again, plist,
        "stable UUIDs: installing it again replaces the account"
    );
    let (_, code) = curl(&format!(
        "{base}/apple/certmail.mobileconfig?email=kim%40other.example"
    ))?;
    assert_eq!(code, "404");
    Ok(())
}
