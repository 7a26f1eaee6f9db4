//! MTA-STS (RFC 8461) through the real daemon: a Knot DNS server (Debian's `knot`) serves
//! `sts.test` (MX `mx.sts.test`, `_mta-sts` TXT), a local HTTPS server the policy
//! (`mode: enforce`) with a certificate from a test CA the relay trusts (`[relay]
//! ca_file`), and the MX is a loopback sink whose certificate comes from another CA. The
//! message submitted with smtplib is never sent in the clear nor over unverified TLS: it
//! waits, and `certmail queue show` says why.

use std::time::Duration;

use certmail_pki::testpki::{TestPki, UserCert, pem};
use certmail_testkit::knot::{Knot, Zone};
use certmail_testkit::policy_server::PolicyServer;
use certmail_testkit::sink::{Sink, SinkBehaviour};
use certmail_tests::fixtures;
use serde_json::Value;

const PASSWORD: &str = "Gpki-Pass-2026!";
const STEP: Duration = Duration::from_secs(30);
const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n";

fn server_tls(cert: &UserCert) -> anyhow::Result<std::sync::Arc<rustls::ServerConfig>> {
    let chain = pem("CERTIFICATE", &cert.cert_der);
    let key = pem("PRIVATE KEY", &cert.key_pkcs8_der);
    Ok(std::sync::Arc::new(certmail_pki::server_config_from_pem(
        chain.as_bytes(),
        key.as_bytes(),
        None,
    )?))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enforce_policy_holds_mail_for_an_mx_it_cannot_verify() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let trusted = TestPki::new()?;
    let policy_cert = trusted.server_cert_for(&["mta-sts.sts.test"], false)?;
    let policy = PolicyServer::start(server_tls(&policy_cert)?, "mta-sts.sts.test", ENFORCE).await;
    // The MX names itself rightly, but its CA is not one the relay trusts.
    let other = TestPki::new()?;
    let mx_cert = other.server_cert_for(&["mx.sts.test"], false)?;
    let sink = Sink::start(SinkBehaviour {
        tls: Some(server_tls(&mx_cert)?),
        ..SinkBehaviour::default()
    })
    .await;
    let knot = Knot::start(&[Zone {
        name: "test".into(),
        records: "sts MX 10 mx.sts\nmx.sts A 127.0.0.1\nmta-sts.sts A 127.0.0.1\n\
                  _mta-sts.sts TXT \"v=STSv1; id=20261207;\"\n"
            .into(),
        signed: false,
    }])?;
    let ca_file = fx.dir.path().join("relay-ca.pem");
    std::fs::write(&ca_file, trusted.server_ca.cert_pem())?;
    fx.append_config(&format!(
        "[relay]\ndns_servers = [\"{}\"]\nmx_port = {}\nmta_sts_port = {}\nca_file = {:?}\n\
         retry_schedule_secs = [3600]\npoll_interval_secs = 1\n",
        knot.addr,
        sink.addr.port(),
        policy.addr.port(),
        ca_file.display().to_string(),
    ))?;
    let daemon = fx.start()?;
    let submissions = daemon.addr("submissions").port();
    let mail = (
        "박지훈 <park@sts.test>",
        "회신 요청",
        "외부 기관으로 보내는 공문입니다.",
    );
    certmail_tests::outside::smtplib_submit(&fx, submissions, PASSWORD, mail)?;

    let deadline = std::time::Instant::now() + STEP;
    let id = loop {
        let (code, out, err) = fx.certmail(&["queue", "list", "--json"])?;
        anyhow::ensure!(code == 0, "{err}");
        let listed: Value = serde_json::from_str(&out)?;
        let queued = listed["data"]["queue"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(e) = queued
            .iter()
            .find(|e| !e["recipients"][0]["last_error"].is_null())
        {
            break e["id"].as_u64().expect("id").to_string();
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no attempt: {queued:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (code, out, err) = fx.certmail(&["queue", "show", &id])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("park@sts.test"), "{out}");
    assert!(
        out.contains("MTA-STS policy of sts.test (enforce)"),
        "queue show names the policy: {out}"
    );
    assert!(
        sink.received().is_empty(),
        "nothing reached the unverified MX"
    );
    assert!(
        policy.requests.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the policy was fetched"
    );
    drop(daemon);
    Ok(())
}
