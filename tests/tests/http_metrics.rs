//! `/metrics` in Prometheus text format counts what happened, and Thunderbird's autoconfig
//! file is served for the local domains only. The client is curl. On PostgreSQL every
//! sample carries the node's name as its first label (`node="node-a"`), as a cluster's
//! monitoring tells nodes apart; on sled none does.
use base64::Engine as _;
use certmail_testkit::backend;
use certmail_tests::lines::{LineClient, imaps_login};
use certmail_tests::metrics::{curl, sample, start_with_metrics, without_node_label};
use certmail_tests::{DaemonProcess, fixtures, tls};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_autoconfig() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let text = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        format!(
            "{text}\n[http]\nmetrics_listen = [\"127.0.0.1:0\"]\nautoconfig_listen = [\"127.0.0.1:0\"]\n"
        ),
    )?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    let mut expect = fixtures::LISTENERS.to_vec();
    expect.extend(["metrics", "autoconfig"]);
    let daemon = DaemonProcess::start(
        &["serve", "--config", fx.config_path.to_str().expect("utf-8")],
        &[],
        &expect,
    )?;

    // One message from another server, one sign-in without a certificate.
    let mut c = LineClient::new(TcpStream::connect(daemon.addr("smtp")).await?);
    c.smtp_reply().await?;
    c.smtp("EHLO other.example").await?;
    c.smtp("MAIL FROM:<a@other.example>").await?;
    c.smtp("RCPT TO:<kim@test.go.kr>").await?;
    c.smtp("DATA").await?;
    assert!(c.smtp("Subject: x\r\n\r\ny\r\n.").await?.starts_with("250"));
    let cfg = tls::client_config(&fx.server_ca, None, &[&rustls::version::TLS13])?;
    let mut s = LineClient::new(tls::connect(daemon.addr("submissions"), cfg).await?);
    s.smtp_reply().await?;
    s.smtp("EHLO x").await?;
    let auth = base64::engine::general_purpose::STANDARD.encode("\0kim\0another-Password-1");
    assert!(
        s.smtp(&format!("AUTH PLAIN {auth}"))
            .await?
            .starts_with("530")
    );

    let (body, code) = curl(&format!("http://{}/metrics", daemon.addr("metrics")))?;
    assert_eq!(code, "200");
    assert_parses(&body);
    assert!(
        sample(&body, "certmail_connections_total{listener=\"smtp\"}").unwrap_or(0.0) >= 1.0,
        "{body}"
    );
    assert_eq!(
        sample(&body, "certmail_messages_received_total"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "certmail_signins_total{outcome=\"refused\",reason=\"no_certificate\"}"
        ),
        Some(1.0),
        "{body}"
    );
    let writes = sample(&body, "certmail_store_writes_total").expect("store writes");
    let flushes = sample(&body, "certmail_store_flushes_total").expect("store flushes");
    assert!(writes >= 1.0 && flushes <= writes, "{body}");
    let node = backend::node_name().map(|n| format!("node=\"{n}\","));
    let build = format!(
        "certmail_build_info{{{}version=\"{}\",",
        node.unwrap_or_default(),
        env!("CARGO_PKG_VERSION")
    );
    assert!(body.contains(&build), "{body}");
    assert!(
        sample(&body, "process_resident_memory_bytes").unwrap_or(0.0) > 1e6,
        "{body}"
    );
    assert!(
        sample(&body, "process_open_fds").unwrap_or(0.0) >= 3.0,
        "{body}"
    );

    let (xml, code) = curl(&format!(
        "http://{}/mail/config-v1.1.xml?emailaddress=kim%40test.go.kr",
        daemon.addr("autoconfig")
    ))?;
    assert_eq!(code, "200");
    assert!(
        xml.contains("<incomingServer type=\"imap\">")
            && xml.contains("<hostname>mail.test.go.kr</hostname>"),
        "{xml}"
    );
    assert!(
        xml.contains("<authentication>password-cleartext</authentication>"),
        "{xml}"
    );
    let (_, code) = curl(&format!(
        "http://{}/mail/config-v1.1.xml?emailaddress=a%40other.example",
        daemon.addr("autoconfig")
    ))?;
    assert_eq!(code, "404", "not one of our domains");
    let (_, code) = curl(&format!("http://{}/metrics", daemon.addr("autoconfig")))?;
    assert_eq!(code, "404", "metrics only on the metrics listener");
    Ok(())
}

/// Every sample line is `name{labels} value` with a numeric value, under a `# TYPE` of its
/// family (histogram samples under their base name), labelled with the node's name first
/// on PostgreSQL and with no node on sled.
fn assert_parses(text: &str) {
    let node = backend::node_name().map(|n| format!("{{node=\"{n}\""));
    let mut typed = std::collections::HashSet::new();
    for l in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type of {name}: {kind}"
            );
            typed.insert(name.to_string());
            continue;
        }
        if l.starts_with('#') {
            continue;
        }
        let (series, value) = l.rsplit_once(' ').expect("name value");
        assert!(value.parse::<f64>().is_ok(), "not a number: {l}");
        let name = series.split('{').next().unwrap_or_default();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad name: {l}"
        );
        let labels = series.strip_prefix(name).unwrap_or_default();
        assert!(
            labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
            "bad labels: {l}"
        );
        match &node {
            Some(node) => assert!(labels.starts_with(node.as_str()), "no {node}: {l}"),
            None => assert!(!labels.contains("node="), "a node label on sled: {l}"),
        }
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|b| typed.contains(*b)))
            .unwrap_or(name);
        assert!(typed.contains(base), "sample before its # TYPE: {l}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_connection_states_kicks_and_store_flushes() -> anyhow::Result<()> {
    const PASSWORD: &str = "Gpki-Pass-2026!";
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = start_with_metrics(&fx)?;
    let metrics = || curl(&format!("http://{}/metrics", daemon.addr("metrics")));

    // One IMAP connection signed in and idling, one that has not signed in.
    let mut idler = imaps_login(daemon.addr("imaps"), fx.user_tls()?, "hong", PASSWORD).await?;
    idler.send_raw(b"a2 IDLE\r\n").await?;
    assert!(idler.line().await?.starts_with('+'));
    let mut waiting = LineClient::new(tls::connect(daemon.addr("imaps"), fx.user_tls()?).await?);
    assert!(waiting.line().await?.starts_with("* OK"));

    let (body, code) = metrics()?;
    assert_eq!(code, "200");
    assert_parses(&body);
    let state = |body: &str, p: &str, s: &str| {
        sample(
            body,
            &format!("certmail_connections{{protocol=\"{p}\",state=\"{s}\"}}"),
        )
    };
    assert_eq!(state(&body, "imap", "idle"), Some(1.0), "{body}");
    assert_eq!(state(&body, "imap", "pre_auth"), Some(1.0), "{body}");
    assert_eq!(state(&body, "imap", "authenticated"), Some(0.0), "{body}");
    assert_eq!(state(&body, "smtp", "pre_auth"), Some(0.0), "{body}");
    // The idler's password was checked with argon2 (m = 19456 KiB); its working memory is
    // kept for the next check, and shown.
    assert_eq!(
        sample(&body, "certmail_memory_pool_bytes{pool=\"argon2_buffers\"}"),
        Some(19456.0 * 1024.0),
        "{body}"
    );

    // An administrator ends the session: the idler hears BYE, the kick is counted.
    let (code, _, err) = fx.certmail(&["session", "kick", "hong"])?;
    assert_eq!(code, 0, "{err}");
    assert!(idler.line().await?.starts_with("* BYE"));
    let (body, _) = metrics()?;
    assert_parses(&body);
    assert_eq!(
        sample(&body, "certmail_kicks_total{cause=\"admin-kick\"}"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "certmail_kicked_connections_total{cause=\"admin-kick\"}"
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "certmail_kicks_total{cause=\"another-device\"}"),
        Some(0.0),
        "{body}"
    );

    // The sign-in and the kick were written to the store: flushes are in the histogram.
    let count = sample(&body, "certmail_store_flush_seconds_count").expect("count");
    let inf = sample(&body, "certmail_store_flush_seconds_bucket{le=\"+Inf\"}").expect("+Inf");
    let flushes = sample(&body, "certmail_store_flushes_total").expect("flushes");
    // flushes_total is read first and each flush is timed before it is counted.
    assert!(count >= 1.0 && inf == count && count >= flushes, "{body}");
    let buckets: Vec<f64> = body
        .lines()
        .filter(|l| l.starts_with("certmail_store_flush_seconds_bucket"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse().ok())
        .collect();
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "cumulative buckets: {buckets:?}"
    );
    assert!(
        sample(&body, "certmail_store_size_bytes").unwrap_or(0.0) > 0.0,
        "{body}"
    );
    // The installation's one CRL, with a nextUpdate still ahead.
    let next_updates: Vec<f64> = body
        .lines()
        .map(without_node_label)
        .filter(|l| l.starts_with("certmail_crl_next_update_timestamp_seconds{file=\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse().ok())
        .collect();
    let now = certmail_pki::now_unix() as f64;
    assert!(
        next_updates.len() == 1 && next_updates[0] > now,
        "{next_updates:?} {body}"
    );
    drop(waiting);
    Ok(())
}
