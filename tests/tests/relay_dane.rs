//! DANE and TLS reporting through the real daemon: a Knot DNS server (Debian's `knot`)
//! serves the DNSSEC-signed zone `test.` (its KSK is `[relay] dnssec_trust_anchor`); mail
//! submitted with smtplib goes by MX to a sink on loopback with the installation's server
//! certificate. `dane.test` pins it with a matching DANE-EE record, `bad.test` with one
//! that matches nothing; both publish `_smtp._tls` asking for reports at
//! tlsrpt@dane.test. `certmail queue show` says why bad.test waits, and
//! `certmail queue tls-report --send` mails the reports, whose gunzipped JSON counts the
//! sessions.

use std::io::Read as _;
use std::time::Duration;

use certmail_testkit::knot::{Knot, Zone};
use certmail_testkit::sink::{Sink, SinkBehaviour};
use certmail_tests::fixtures;
use mail_parser::MimeHeaders as _;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

const PASSWORD: &str = "Gpki-Pass-2026!";
const STEP: Duration = Duration::from_secs(30);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The zone `test.`: dane.test and bad.test, each with its MX at 127.0.0.1 and a TLSA
/// record at the sink's port, and a TLSRPT record.
fn zones(port: u16, good: &str) -> Vec<Zone> {
    let rpt = "\"v=TLSRPTv1; rua=mailto:tlsrpt@dane.test\"";
    let wrong = "ab".repeat(32);
    vec![Zone {
        name: "test".into(),
        records: format!(
            "dane MX 10 mx.dane\nmx.dane A 127.0.0.1\n_{port}._tcp.mx.dane TLSA 3 1 1 {good}\n\
             _smtp._tls.dane TXT {rpt}\n\
             bad MX 10 mx.bad\nmx.bad A 127.0.0.1\n_{port}._tcp.mx.bad TLSA 3 1 1 {wrong}\n\
             _smtp._tls.bad TXT {rpt}\n"
        ),
        signed: true,
    }]
}

/// The queue as `certmail queue list --json` prints it.
fn queue(fx: &fixtures::Installation) -> anyhow::Result<Vec<Value>> {
    let (code, out, err) = fx.certmail(&["queue", "list", "--json"])?;
    anyhow::ensure!(code == 0, "{err}");
    let v: Value = serde_json::from_str(&out)?;
    Ok(v["data"]["queue"].as_array().cloned().unwrap_or_default())
}

/// The gunzipped JSON of a TLS report message, with its policy domain header.
fn report_json(body: &[u8]) -> anyhow::Result<(String, Value)> {
    let parsed = mail_parser::MessageParser::default()
        .parse(body)
        .expect("the report parses");
    let domain = parsed
        .header_raw("TLS-Report-Domain")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let ctype = parsed.content_type().expect("a content type");
    assert_eq!(ctype.ctype(), "multipart");
    assert_eq!(ctype.attribute("report-type"), Some("tlsrpt"));
    let part = parsed
        .attachments()
        .find(|a| {
            a.content_type()
                .is_some_and(|c| c.subtype() == Some("tlsrpt+gzip"))
        })
        .expect("an application/tlsrpt+gzip part");
    let mut json = String::new();
    flate2::read::GzDecoder::new(part.contents()).read_to_string(&mut json)?;
    Ok((domain, serde_json::from_str(&json)?))
}

#[tokio::test(flavor = "multi_thread")]
async fn dane_pins_the_mx_certificate_and_tls_reports_count_the_sessions() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let tls = certmail_pki::server_config(&fx.pki.server_chain, &fx.pki.server_key, None)?;
    let mut sink = Sink::start(SinkBehaviour {
        tls: Some(std::sync::Arc::new(tls)),
        ..SinkBehaviour::default()
    })
    .await;
    let port = sink.addr.port();
    let chain = std::fs::read(&fx.pki.server_chain)?;
    let leaf = CertificateDer::pem_slice_iter(&chain)
        .next()
        .expect("leaf")?;
    let good = hex(&certmail_pki::spki_sha256_of(&leaf).expect("SPKI"));
    let knot = Knot::start(&zones(port, &good))?;
    let anchor = knot.trust_anchor_file("test")?;
    fx.append_config(&format!(
        "[relay]\ndns_servers = [\"{}\"]\nmx_port = {port}\ndane = true\n\
         dnssec_trust_anchor = \"{}\"\nmta_sts = false\nretry_schedule_secs = [3600]\n\
         poll_interval_secs = 1\n",
        knot.addr,
        anchor.display()
    ))?;
    let mut daemon = fx.start()?;
    let submissions = daemon.addr("submissions").port();
    let body = "외부 기관으로 보내는 공문입니다.";
    let to = "김민준 <kim@dane.test>, 이서연 <lee@dane.test>";
    certmail_tests::outside::smtplib_submit(&fx, submissions, PASSWORD, (to, "협조 요청", body))?;
    certmail_tests::outside::smtplib_submit(
        &fx,
        submissions,
        PASSWORD,
        ("박지훈 <park@bad.test>", "회신 요청", body),
    )?;

    // dane.test: delivered over TLS in one session.
    let m = tokio::time::timeout(STEP, sink.next_message())
        .await?
        .expect("delivered");
    assert!(m.tls, "a DANE delivery is over TLS");
    assert_eq!(
        m.rcpts,
        vec!["RCPT TO:<kim@dane.test>", "RCPT TO:<lee@dane.test>"]
    );

    // bad.test: kept in the queue with the DANE reason.
    let deadline = std::time::Instant::now() + STEP;
    let id = loop {
        let q = queue(&fx)?;
        if let Some(e) = q
            .iter()
            .find(|e| !e["recipients"][0]["last_error"].is_null())
        {
            break e["id"].as_u64().expect("id").to_string();
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "no attempt: {q:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (code, out, err) = fx.certmail(&["queue", "show", &id])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("park@bad.test"), "{out}");
    assert!(
        out.contains("DANE (TLSA records of mx.bad.test)")
            && out.contains("matches none of its 1 usable TLSA records"),
        "{out}"
    );
    assert_eq!(sink.received().len(), 1, "nothing went to mx.bad.test");

    // The reports, at once: one for each domain, to tlsrpt@dane.test (over DANE too).
    let (code, out, err) = fx.certmail(&["queue", "tls-report", "--send"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 TLS reports sent"), "{out}");
    let mut reports = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let m = tokio::time::timeout(STEP, sink.next_message())
            .await?
            .expect("a report");
        assert_eq!(m.rcpts, vec!["RCPT TO:<tlsrpt@dane.test>"]);
        let (domain, json) = report_json(&m.body)?;
        reports.insert(domain, json);
    }
    let dane = &reports["dane.test"]["policies"][0];
    assert_eq!(dane["policy"]["policy-type"], "tlsa");
    assert_eq!(dane["policy"]["policy-string"][0], format!("3 1 1 {good}"));
    assert_eq!(dane["summary"]["total-successful-session-count"], 1);
    assert_eq!(dane["summary"]["total-failure-session-count"], 0);
    let bad = &reports["bad.test"]["policies"][0];
    assert_eq!(bad["summary"]["total-successful-session-count"], 0);
    assert_eq!(bad["summary"]["total-failure-session-count"], 1);
    assert_eq!(bad["failure-details"][0]["result-type"], "tlsa-invalid");
    assert_eq!(
        bad["failure-details"][0]["receiving-mx-hostname"],
        "mx.bad.test"
    );

    // Sent reports are forgotten: the next --send has nothing (the reports' own delivery
    // was counted after they were built, so dane.test has one new session).
    let (code, out, _) = fx.certmail(&["queue", "tls-report", "--json"])?;
    assert_eq!(code, 0);
    let left: Value = serde_json::from_str(&out)?;
    let days = left["data"].as_array().cloned().unwrap_or_default();
    let left_domains: Vec<String> = days
        .iter()
        .flat_map(|d| {
            d[1].as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        })
        .flatten()
        .collect();
    assert!(!left_domains.contains(&"bad.test".to_string()), "{out}");
    daemon.signal("TERM")?;
    assert_eq!(daemon.wait_exit(STEP)?, Some(0));
    Ok(())
}
