//! The outbound relay end to end: smtplib submits to remote addresses; the daemon's queue
//! runner delivers through a smarthost (a sink SMTP server in this test, on loopback); a
//! 5xx comes back as a failure report in the sender's INBOX; `certmail queue` shows and
//! holds what is still queued.

use std::process::Command;
use std::time::Duration;

use certmail_testkit::sink::{Sink, SinkBehaviour};
use certmail_tests::fixtures;

const PASSWORD: &str = "Gpki-Pass-2026!";
const STEP: Duration = Duration::from_secs(30);

/// The kit's sink: `bad…` recipients get 550, `temp…` get 451, others 250.
async fn sink() -> Sink {
    Sink::start(SinkBehaviour {
        temp_reply: Some("451 4.3.0 Try later".into()),
        ..SinkBehaviour::default()
    })
    .await
}

/// The next message the sink accepted: its RCPT lines and its body.
async fn next_message(sink: &mut Sink) -> anyhow::Result<(Vec<String>, String)> {
    let m = tokio::time::timeout(STEP, sink.next_message())
        .await?
        .expect("the sink got the message");
    Ok((m.rcpts, String::from_utf8(m.body)?))
}

fn submit(
    fx: &fixtures::Installation,
    port: u16,
    to: &[&str],
    subject: &str,
) -> anyhow::Result<()> {
    let to = to.join(", ");
    let body = "외부 기관으로 보내는 공문입니다.";
    certmail_tests::outside::smtplib_submit(fx, port, PASSWORD, (&to, subject, body))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn submitted_mail_reaches_the_smarthost_and_a_5xx_comes_back_as_a_report()
-> anyhow::Result<()> {
    let mut events = sink().await;
    let port = events.addr.port();
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.append_config(&format!(
        "[relay]\nsmarthost = \"127.0.0.1:{port}\"\nsmarthost_tls = \"opportunistic\"\n\
         retry_schedule_secs = [3600]\npoll_interval_secs = 1\n"
    ))?;
    let mut daemon = fx.start()?;
    submit(
        &fx,
        daemon.addr("submissions").port(),
        &["kim@remote.go.kr", "bad@remote.go.kr", "temp@remote.go.kr"],
        "협조 요청",
    )?;

    let (rcpts, body) = next_message(&mut events).await?;
    assert_eq!(rcpts, vec!["RCPT TO:<kim@remote.go.kr>"]);
    let parsed = mail_parser::MessageParser::default()
        .parse(body.as_bytes())
        .expect("parses");
    assert_eq!(parsed.subject(), Some("협조 요청"));
    assert!(
        body.contains("Received: "),
        "the submission server's trace header"
    );

    tokio::time::timeout(STEP, events.quits.recv())
        .await?
        .expect("the relay closed the connection");

    // The 451 recipient stays queued: the CLI shows it, and holds it.
    let (code, out, err) = fx.certmail(&["queue", "list", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out)?;
    let queue = list["data"]["queue"].as_array().expect("queue").clone();
    assert_eq!(queue.len(), 1, "{out}");
    let id = queue[0]["id"].as_u64().expect("id").to_string();
    let rcpts = queue[0]["recipients"].as_array().expect("recipients");
    assert_eq!(rcpts.len(), 1);
    assert_eq!(rcpts[0]["address"], "temp@remote.go.kr");
    assert_eq!(rcpts[0]["last_error"], "451 4.3.0 Try later");
    let (code, _, err) = fx.certmail(&["queue", "hold", &id])?;
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = fx.certmail(&["queue", "show", &id, "--json"])?;
    let shown: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(shown["data"]["queue"][0]["held"], true, "{out}");

    // A retry of a held message releases it and tries at once (451 again).
    let before = events.received().len();
    let (code, _, err) = fx.certmail(&["queue", "retry", &id])?;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = fx.certmail(&["queue", "delete", &id])?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(events.received().len(), before, "451 is no transaction");

    // Stop (the runner drains), then read the sender's INBOX: one failure report.
    daemon.signal("TERM")?;
    assert_eq!(daemon.wait_exit(STEP)?, Some(0));
    let inbox = fx.mailbox_bodies("hong", "INBOX").await?;
    let subjects: Vec<String> = inbox
        .iter()
        .map(|m| {
            mail_parser::MessageParser::default()
                .parse(m)
                .and_then(|p| p.subject().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(inbox.len(), 1, "one report: {subjects:?}");
    let report = mail_parser::MessageParser::default()
        .parse(&inbox[0])
        .expect("parses");
    assert_eq!(
        report.subject(),
        Some("Undelivered Mail Returned to Sender: bad@remote.go.kr")
    );
    let text = String::from_utf8_lossy(&inbox[0]);
    assert!(
        text.contains("Final-Recipient: rfc822; bad@remote.go.kr"),
        "{text}"
    );
    assert!(text.contains("Action: failed") && text.contains("Status: 5.1.1"));
    assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1 No such user"));
    assert!(
        !text.contains("kim@remote.go.kr\r\nAction"),
        "only the failed recipient"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_mid_queue_delivers_exactly_once() -> anyhow::Result<()> {
    let mut events = sink().await;
    let port = events.addr.port();
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    // Relay off: the message waits in the queue across the restart.
    fx.append_config(&format!(
        "[relay]\nenabled = false\nsmarthost = \"127.0.0.1:{port}\"\nsmarthost_tls = \"opportunistic\"\npoll_interval_secs = 1\n"
    ))?;
    let mut daemon = fx.start()?;
    submit(
        &fx,
        daemon.addr("submissions").port(),
        &["kim@remote.go.kr"],
        "재시작",
    )?;
    daemon.kill9()?;
    drop(daemon);
    let (code, out, err) = fx.certmail(&["queue", "list", "--json"])?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out)?["data"]["queue"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let text = std::fs::read_to_string(&fx.config_path)?.replace("enabled = false\n", "");
    std::fs::write(&fx.config_path, text)?;
    let mut daemon = fx.start()?;
    tokio::time::timeout(STEP, events.accepted.recv())
        .await?
        .expect("delivered after the restart");
    daemon.signal("TERM")?;
    assert_eq!(daemon.wait_exit(STEP)?, Some(0));
    drop(daemon);
    // Started again: nothing is sent a second time.
    let mut daemon = fx.start()?;
    let (code, out, _) = fx.certmail(&["queue", "list", "--json"])?;
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(v["data"]["queue"].as_array().map(Vec::len), Some(0));
    daemon.signal("TERM")?;
    assert_eq!(daemon.wait_exit(STEP)?, Some(0));
    assert_eq!(events.received().len(), 1);
    Ok(())
}

/// `/metrics` as text, from the daemon's metrics listener (curl).
fn metrics_text(daemon: &certmail_tests::DaemonProcess) -> anyhow::Result<String> {
    let out = Command::new("curl")
        .args(["--silent", "--fail", "--max-time", "10"])
        .arg(format!("http://{}/metrics", daemon.addr("metrics")))
        .output()?;
    anyhow::ensure!(out.status.success(), "curl failed: {:?}", out.status);
    Ok(String::from_utf8(out.stdout)?)
}

/// The value of the sample named exactly `series`, checking that every sample line parses.
fn sample(text: &str, series: &str) -> Option<f64> {
    let mut found = None;
    for l in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, value) = l.rsplit_once(' ').expect("a sample is `name value`");
        let value: f64 = value.parse().expect("a sample's value is a number");
        if certmail_tests::metrics::without_node_label(name) == series {
            found = Some(value);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_moves_the_relay_to_a_new_smarthost_and_metrics_count_deliveries()
-> anyhow::Result<()> {
    let mut old_sink = sink().await;
    let old_port = old_sink.addr.port();
    let mut new_sink = sink().await;
    let new_port = new_sink.addr.port();
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.append_config(&format!(
        "[relay]\nsmarthost = \"127.0.0.1:{old_port}\"\nsmarthost_tls = \"opportunistic\"\n\
         poll_interval_secs = 1\n\n[http]\nmetrics_listen = [\"127.0.0.1:0\"]\n"
    ))?;
    let mut expect = fixtures::LISTENERS.to_vec();
    expect.push("metrics");
    let config = fx.config_path.to_str().expect("utf-8 temp path");
    let mut daemon =
        certmail_tests::DaemonProcess::start(&["serve", "--config", config], &[], &expect)?;
    let submissions = daemon.addr("submissions").port();

    submit(&fx, submissions, &["kim@remote.go.kr"], "첫 번째")?;
    tokio::time::timeout(STEP, old_sink.accepted.recv())
        .await?
        .expect("the first smarthost got the message");
    tokio::time::timeout(STEP, old_sink.quits.recv())
        .await?
        .expect("the relay recorded the delivery");
    let text = metrics_text(&daemon)?;
    assert_eq!(sample(&text, "certmail_relay_delivered_total"), Some(1.0));
    assert_eq!(sample(&text, "certmail_relay_deferred_total"), Some(0.0));
    assert_eq!(sample(&text, "certmail_relay_bounced_total"), Some(0.0));
    assert_eq!(sample(&text, "certmail_queue_depth"), Some(0.0));

    // A broken smarthost fails the reload; the daemon keeps the old one.
    let good = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        good.replace(&format!("127.0.0.1:{old_port}"), "no-port-here"),
    )?;
    let (code, _, err) = fx.certmail(&["reload"])?;
    assert_ne!(code, 0, "a broken [relay] fails the reload");
    assert!(err.contains("[relay] smarthost"), "{err}");
    // So does one that passes the config check but cannot be built: a client key that is
    // not a key.
    let not_a_key = fx.dir.path().join("not-a-key.pem");
    std::fs::write(&not_a_key, "홍길동의 키가 아닙니다\n")?;
    let not_a_key = format!("{:?}", not_a_key.display().to_string());
    std::fs::write(
        &fx.config_path,
        good.replace(
            "smarthost_tls = \"opportunistic\"\n",
            &format!(
                "smarthost_tls = \"opportunistic\"\nsmarthost_client_cert = {not_a_key}\n\
                 smarthost_client_key = {not_a_key}\n"
            ),
        ),
    )?;
    let (code, _, err) = fx.certmail(&["reload"])?;
    assert_ne!(code, 0, "an unusable client key fails the reload");
    assert!(err.contains("[relay]"), "{err}");

    // The new smarthost, reloaded without a restart: the next message goes there.
    std::fs::write(
        &fx.config_path,
        good.replace(&format!(":{old_port}\""), &format!(":{new_port}\"")),
    )?;
    let (code, _, err) = fx.certmail(&["reload"])?;
    assert_eq!(code, 0, "{err}");
    submit(&fx, submissions, &["lee@remote.go.kr"], "두 번째")?;
    let message = tokio::time::timeout(STEP, new_sink.next_message())
        .await?
        .expect("the new smarthost got the message");
    let (rcpts, body) = (message.rcpts, String::from_utf8(message.body)?);
    assert_eq!(rcpts, vec!["RCPT TO:<lee@remote.go.kr>"]);
    assert!(body.contains("Subject: =?utf-8?"), "{body}");
    assert!(
        old_sink.accepted.try_recv().is_err(),
        "nothing more went to the old smarthost"
    );
    tokio::time::timeout(STEP, new_sink.quits.recv())
        .await?
        .expect("the relay recorded the delivery");
    let text = metrics_text(&daemon)?;
    assert_eq!(sample(&text, "certmail_relay_delivered_total"), Some(2.0));

    daemon.signal("TERM")?;
    assert_eq!(daemon.wait_exit(STEP)?, Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn relayed_mail_carries_a_dkim_signature_that_verifies_against_the_published_key()
-> anyhow::Result<()> {
    use certmail_smtp::mailauth::testdns::TestDns;
    use certmail_smtp::mailauth::{
        Disposition, DnsVerifier, InboundMessage, InboundVerifier as _, VerifierSettings,
    };

    let mut events = sink().await;
    let port = events.addr.port();
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;

    // The operator's steps: `certmail dkim keygen`, publish the TXT record it prints, add
    // the config lines.
    let key = fx.dir.path().join("test.go.kr.s2026.pem");
    let (code, out, err) = certmail_tests::run_certmail(
        &[
            "dkim",
            "keygen",
            "--domain",
            "test.go.kr",
            "--selector",
            "s2026",
            "--out",
            key.to_str().expect("utf-8 temp path"),
        ],
        &[],
    )?;
    assert_eq!(code, 0, "{err}");
    let record = out
        .lines()
        .find_map(|l| l.strip_prefix("s2026._domainkey.test.go.kr. IN TXT "))
        .map(|r| r.trim_matches('"').to_string())
        .ok_or_else(|| anyhow::anyhow!("no TXT record printed: {out}"))?;
    assert!(record.starts_with("v=DKIM1;"), "{record}");
    let dns = TestDns::start().await?;
    dns.txt("s2026._domainkey.test.go.kr", &record);
    dns.txt("_dmarc.test.go.kr", "v=DMARC1; p=reject");
    fx.append_config(&format!(
        "[relay]\nsmarthost = \"127.0.0.1:{port}\"\nsmarthost_tls = \"opportunistic\"\n\
         poll_interval_secs = 1\n\n[mailauth]\ncheck_inbound = false\n\n\
         [mailauth.dkim.\"test.go.kr\"]\nselector = \"s2026\"\nkey_file = {:?}\n",
        key.display().to_string()
    ))?;
    let mut daemon = fx.start()?;
    submit(
        &fx,
        daemon.addr("submissions").port(),
        &["kim@partner.kr"],
        "서명된 공문",
    )?;
    let (_, body) = next_message(&mut events).await?;
    daemon.signal("TERM")?;
    assert_eq!(daemon.wait_exit(STEP)?, Some(0));

    let signature = body
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .replace("\r\n\t", " ")
        .replace("\r\n ", " ");
    let signature = signature
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("dkim-signature:"))
        .ok_or_else(|| anyhow::anyhow!("no DKIM-Signature: {body}"))?
        .to_string();
    let tags: Vec<String> = signature
        .split(';')
        .map(|t| t.split_whitespace().collect::<String>())
        .collect();
    assert!(tags.iter().any(|t| t == "d=test.go.kr"), "{signature}");
    assert!(tags.iter().any(|t| t == "s=s2026"), "{signature}");

    // The receiving side: mail-auth verifies it against the published key.
    let verifier = DnsVerifier::new(VerifierSettings {
        hostname: "mx.partner.kr".into(),
        dns_servers: vec![dns.addr()],
        dns_timeout_secs: 2,
        ..VerifierSettings::default()
    })?;
    let verdict = tokio::time::timeout(
        STEP,
        verifier.verify(InboundMessage {
            client_ip: "192.0.2.7".parse()?,
            helo: "mail.test.go.kr",
            mail_from: "hong@test.go.kr",
            message: body.as_bytes(),
        }),
    )
    .await?;
    assert!(
        verdict
            .header
            .contains("dkim=pass header.d=test.go.kr header.s=s2026"),
        "{}",
        verdict.header
    );
    assert!(verdict.header.contains("dmarc=pass"), "{}", verdict.header);
    assert_eq!(verdict.disposition, Disposition::Deliver);

    // A changed body no longer verifies: the check above is a real one.
    let tampered = body.replacen("\r\n\r\n", "\r\n\r\n변조된 내용\r\n", 1);
    let verdict = verifier
        .verify(InboundMessage {
            client_ip: "192.0.2.7".parse()?,
            helo: "mail.test.go.kr",
            mail_from: "hong@test.go.kr",
            message: tampered.as_bytes(),
        })
        .await;
    assert!(!verdict.header.contains("dkim=pass"), "{}", verdict.header);
    Ok(())
}
