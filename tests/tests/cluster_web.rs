//! The self-service web of a two-node cluster (issue 17): behind one public URL (a
//! balancer), a browser session opened on node A is good on node B, a TOTP secret offered
//! by node A is confirmed on node B, and a sign-out on node B ends the session on node A.
//! curl with 홍길동's client certificate, one cookie jar for both nodes (cookies do not
//! depend on the port).

use std::process::Command;

use certmail_tests::cluster::{PASSWORD, on_postgres, other_node, start};
use serde_json::{Value, json};

/// curl `METHOD https://localhost:PORT ROUTE` as the browser behind `public_url`, with
/// the client certificate and the cookie jar; (status, JSON body).
fn call(
    fx: &certmail_tests::fixtures::Installation,
    (port, public_url): (u16, &str),
    method: &str,
    route: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let (ca, cert, key) = fx.client_pem_paths();
    let jar = fx.dir.path().join("cookies.txt");
    let jar = jar.to_str().expect("utf-8 temp path");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"])
        .args(["-X", method, "--cacert", ca, "--cert", cert, "--key", key])
        .args(["-b", jar, "-c", jar])
        .args(["-H", &format!("Origin: {public_url}")]);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json"])
            .args(["--data-binary", &b.to_string()]);
    }
    let out = cmd
        .arg(format!("https://localhost:{port}{route}"))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = status.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "curl {route}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_session_and_a_totp_offer_cross_nodes() -> anyhow::Result<()> {
    let (a_port, b_port) = (
        certmail_testkit::ports::free_port()?,
        certmail_testkit::ports::free_port()?,
    );
    let public_url = format!("https://localhost:{a_port}");
    let (fx, _url) = on_postgres(&format!(
        "[web]\nlisten = [\"127.0.0.1:{a_port}\"]\npublic_url = \"{public_url}\"\n"
    ))
    .await?;
    let b_config = other_node(&fx, "node-b")?;
    let text = std::fs::read_to_string(&b_config)?;
    let listen_a = format!("listen = [\"127.0.0.1:{a_port}\"]");
    anyhow::ensure!(text.contains(&listen_a), "{text}");
    let listen_b = format!("listen = [\"127.0.0.1:{b_port}\"]");
    std::fs::write(&b_config, text.replacen(&listen_a, &listen_b, 1))?;
    let _a = start(&fx.config_path, &["web"])?;
    let _b = start(&b_config, &["web"])?;
    let (on_a, on_b) = ((a_port, public_url.as_str()), (b_port, public_url.as_str()));

    let (status, body) = call(
        &fx,
        on_a,
        "POST",
        "/api/session",
        Some(json!({ "password": PASSWORD })),
    )?;
    assert_eq!(status, 200, "session opened on node A: {body}");
    let (status, body) = call(&fx, on_b, "GET", "/api/devices", None)?;
    assert_eq!(status, 200, "node B honours node A's session: {body}");

    // A TOTP secret offered by node A, confirmed on node B.
    let (status, offer) = call(&fx, on_a, "POST", "/api/totp/enroll", None)?;
    assert_eq!(status, 200, "{offer}");
    let uri = offer["otpauth_uri"].as_str().unwrap_or_default();
    let secret = certmail_auth::totp::secret_of_uri(uri)
        .ok_or_else(|| anyhow::anyhow!("no secret in {offer}"))?;
    let now = certmail_auth::now();
    let code = certmail_auth::totp::code_at(&secret, certmail_auth::totp::step_of(now), 6);
    let (status, body) = call(
        &fx,
        on_b,
        "POST",
        "/api/totp/confirm",
        Some(json!({ "code": format!("{code:06}") })),
    )?;
    assert_eq!(status, 200, "node B confirms node A's offer: {body}");

    // Signed out on node B: node A no longer knows the session.
    let (status, body) = call(&fx, on_b, "DELETE", "/api/session", None)?;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&fx, on_a, "GET", "/api/devices", None)?;
    assert_eq!(
        status, 401,
        "node A still took the signed-out session: {body}"
    );
    assert_eq!(body["code"], "password_required", "{body}");
    Ok(())
}
