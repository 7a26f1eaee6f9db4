//! The outbound relay against a sink SMTP server on loopback: routing, TLS, per-recipient
//! results, DSNs in the sender's INBOX, smarthost with a client certificate, REQUIRETLS,
//! loops, connection reuse and crash safety.

mod relay_env;

use certmail_smtp::outbound::{MessageSigner, meta};
use certmail_store::notify;
use mail_parser::MimeHeaders as _;
use relay_env::*;

#[tokio::test]
async fn mx_delivery_over_starttls_reaches_the_sink_and_leaves_the_queue() {
    let env = Env::new().await;
    let sink = env.tls_sink(SinkBehaviour::default()).await;
    let id = env.queue_to_kim().await;
    run(&env.mx_runner(&sink, NOW)).await;
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls, "opportunistic STARTTLS was used");
    assert_eq!(
        got[0].mail,
        format!(
            "MAIL FROM:<hong@test.go.kr> SIZE={} BODY=8BITMIME",
            MESSAGE.len()
        )
    );
    assert_eq!(got[0].rcpts, vec!["RCPT TO:<kim@remote.kr>"]);
    assert_eq!(got[0].body, MESSAGE, "dot-stuffing undone by the sink");
    env.assert_gone(id).await;
    assert!(
        env.inbox().await.is_empty(),
        "no report for a plain success"
    );
}

#[tokio::test]
async fn per_recipient_results_5xx_gives_a_dsn_4xx_stays_queued() {
    let (env, sink) = Env::with_sink().await;
    let rcpts = [
        ("kim@remote.kr", 0),
        ("bad@remote.kr", 0),
        ("temp@remote.kr", 0),
    ];
    let id = env
        .queue(SENDER, &rcpts, MESSAGE, &[("envid", "env-홍-1")])
        .await;
    run(&env.mx_runner(&sink, NOW)).await;

    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpts, vec!["RCPT TO:<kim@remote.kr>"]);
    assert!(
        !got[0].tls,
        "the sink offers no STARTTLS: cleartext under `may`"
    );

    let entry = env.queued(id, "still queued").await;
    assert_eq!(entry.recipients.len(), 1);
    let temp = &entry.recipients[0];
    assert_eq!(temp.address, "temp@remote.kr");
    assert_eq!(temp.attempts, 1);
    assert_eq!(
        temp.last_error.as_deref(),
        Some("451 4.3.0 Try again later")
    );
    assert_eq!(entry.next_attempt, NOW + 60, "first step of the schedule");

    let inbox = env.inbox().await;
    assert_eq!(inbox.len(), 1, "one failure report");
    let m = mail_parser::MessageParser::default()
        .parse(&inbox[0])
        .expect("parses");
    assert_eq!(
        m.subject(),
        Some("Undelivered Mail Returned to Sender: bad@remote.kr")
    );
    let ct = m.root_part().content_type().expect("content type");
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
    let status = String::from_utf8_lossy(m.part(2).expect("status").contents());
    assert!(
        status.contains("Final-Recipient: rfc822; bad@remote.kr"),
        "{status}"
    );
    assert!(status.contains("Action: failed") && status.contains("Status: 5.1.1"));
    assert!(status.contains("Remote-MTA: dns; mx.remote.kr"));
    assert!(status.contains("Diagnostic-Code: smtp; 550 5.1.1 No such user here"));
    assert!(status.contains("Original-Envelope-Id: env-홍-1"));
    assert!(!status.contains("kim@remote.kr") && !status.contains("temp@remote.kr"));
    let returned = m
        .part(3)
        .and_then(|p| p.message())
        .expect("returned message");
    assert_eq!(returned.subject(), Some("회의 안내"));
}

#[tokio::test]
async fn expiry_fails_the_4xx_recipient_with_4_4_7() {
    let (env, sink) = Env::with_sink().await;
    let id = env
        .queue(SENDER, &[("temp@remote.kr", 0)], MESSAGE, &[])
        .await;
    run(&env.mx_runner(&sink, NOW + 3600)).await;
    env.assert_gone(id).await;
    env.report_saying(
        "one report",
        &["Status: 4.4.7", "451 4.3.0 Try again later"],
    )
    .await;
}

#[tokio::test]
async fn null_sender_gets_no_report_and_null_mx_fails_permanently() {
    let (env, sink) = Env::with_sink().await;
    let a = env.queue("", &[("bad@remote.kr", 0)], MESSAGE, &[]).await;
    let b = env.queue(SENDER, &[("kim@null.kr", 0)], MESSAGE, &[]).await;
    run(&env.mx_runner(&sink, NOW)).await;
    env.assert_gone(a).await;
    env.assert_gone(b).await;
    env.report_saying(
        "only the null-MX failure is reported",
        &["Status: 5.1.10", "kim@null.kr"],
    )
    .await;
    assert!(
        env.store.queue_list().await.expect("list").is_empty(),
        "no bounce queued to <>"
    );
}

#[tokio::test]
async fn smarthost_with_client_certificate_and_verified_starttls() {
    let env = Env::new().await;
    let sink = Sink::start(SinkBehaviour {
        tls: Some(env.sink_tls(true)),
        require_tls: true,
        ..Default::default()
    })
    .await;
    let route = smarthost(&sink);
    env.queue(
        SENDER,
        &[("kim@remote.kr", 0), ("lee@other.kr", 0)],
        MESSAGE,
        &[],
    )
    .await;
    run(&env.runner(route, env.client_tls(true), NOW)).await;
    let got = sink.received();
    assert_eq!(
        got.len(),
        1,
        "both domains in one transaction through the smarthost"
    );
    assert_eq!(got[0].rcpts.len(), 2);
    assert!(got[0].tls);
    let presented = got[0]
        .client_cert
        .clone()
        .expect("client certificate presented");
    let expected =
        certmail_auth::cert_der_from_file_bytes(&std::fs::read(&env.pki.user_cert).expect("cert"))
            .expect("PEM");
    assert_eq!(presented, expected);
    assert!(env.store.queue_list().await.expect("list").is_empty());
}

#[tokio::test]
async fn smarthost_with_an_untrusted_certificate_defers_instead_of_sending() {
    let env = Env::new().await;
    let sink = env.tls_sink(SinkBehaviour::default()).await;
    let route = smarthost(&sink);
    // Trusts only the public roots: the test server CA is unknown.
    let tls = ClientTls::new(true, None, None).expect("tls");
    let id = env.queue_to_kim().await;
    run(&env.runner(route, tls, NOW)).await;
    assert!(sink.received().is_empty());
    let entry = env.queued(id, "queued").await;
    let err = entry.recipients[0].last_error.clone().expect("error");
    assert!(err.starts_with("421 4.7.5 TLS handshake failed"), "{err}");
}

#[tokio::test]
async fn requiretls_is_never_sent_without_verified_tls_and_requiretls_support() {
    let env = Env::new().await;
    // Opportunistic TLS to mx.remote.kr: the certificate names localhost, so unverified.
    let sink = env
        .tls_sink(SinkBehaviour {
            requiretls: true,
            ..Default::default()
        })
        .await;
    let id = env
        .queue(
            SENDER,
            &[("kim@remote.kr", 0)],
            MESSAGE,
            &[(meta::REQUIRETLS, "1")],
        )
        .await;
    run(&env.mx_runner(&sink, NOW)).await;
    assert!(sink.received().is_empty());
    assert!(!sink.command_lines().iter().any(|l| l.starts_with("MAIL")));
    env.assert_gone(id).await;
    let text = String::from_utf8_lossy(&env.inbox().await[0]).into_owned();
    assert!(text.contains("Status: 5.7.30"), "{text}");
    assert!(
        text.contains("text/rfc822-headers"),
        "REQUIRETLS mail is not returned whole"
    );

    // Verified (smarthost localhost with the right CA) and advertised: sent, with the flag.
    let route = smarthost(&sink);
    env.queue(
        SENDER,
        &[("kim@remote.kr", 0)],
        MESSAGE,
        &[(meta::REQUIRETLS, "1")],
    )
    .await;
    run(&env.runner(route, env.client_tls(false), NOW)).await;
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].mail.ends_with(" REQUIRETLS"), "{}", got[0].mail);
}

#[tokio::test]
async fn dsn_parameters_pass_on_and_success_is_reported_only_without_remote_dsn() {
    let (env, dsn_sink) = Env::with_sink_behaving(SinkBehaviour {
        dsn: true,
        ..Default::default()
    })
    .await;
    let meta = [("envid", "id+1"), (meta::RET, "hdrs")];
    env.queue(
        SENDER,
        &[("kim@remote.kr", notify::SUCCESS | notify::FAILURE)],
        MESSAGE,
        &meta,
    )
    .await;
    run(&env.mx_runner(&dsn_sink, NOW)).await;
    let got = dsn_sink.received();
    assert!(
        got[0].mail.contains(" RET=HDRS ENVID=id+2B1"),
        "{}",
        got[0].mail
    );
    assert_eq!(
        got[0].rcpts,
        vec!["RCPT TO:<kim@remote.kr> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;kim@remote.kr"]
    );
    assert!(
        env.inbox().await.is_empty(),
        "the remote reports success itself"
    );

    let plain_sink = Sink::start(SinkBehaviour::default()).await;
    env.queue(SENDER, &[("kim@remote.kr", notify::SUCCESS)], MESSAGE, &[])
        .await;
    run(&env.mx_runner(&plain_sink, NOW)).await;
    env.report_saying("one report", &["Action: relayed", "Status: 2.0.0"])
        .await;
}

#[tokio::test]
async fn a_mail_loop_fails_without_connecting() {
    let (env, sink) = Env::with_sink().await;
    let mut looped = b"Received: from a by b\r\n".repeat(51);
    looped.extend_from_slice(MESSAGE);
    env.queue(SENDER, &[("kim@remote.kr", 0)], &looped, &[])
        .await;
    run(&env.mx_runner(&sink, NOW)).await;
    assert_eq!(sink.connection_count(), 0);
    let text = String::from_utf8_lossy(&env.inbox().await[0]).into_owned();
    assert!(text.contains("Status: 5.4.6"), "{text}");
}

#[tokio::test]
async fn several_messages_to_one_destination_share_a_connection() {
    let (env, sink) = Env::with_sink().await;
    for _ in 0..3 {
        env.queue_to_kim().await;
    }
    let mut settings = env.settings();
    settings.max_connections_per_destination = 1;
    let runner = Arc::new(env.queue_runner(env.mx_transport(&sink), NOW, settings));
    run(&runner).await;
    assert_eq!(sink.received().len(), 3);
    assert_eq!(sink.connection_count(), 1);
    assert!(sink.command_lines().iter().filter(|l| *l == "RSET").count() == 0);
}

struct TestSigner;
impl MessageSigner for TestSigner {
    fn sign(&self, from_domain: &str, _message: &[u8]) -> Option<Vec<u8>> {
        Some(format!("DKIM-Signature: v=1; d={from_domain}; b=test\r\n").into_bytes())
    }
}

#[tokio::test]
async fn the_signer_header_is_prepended() {
    let (env, sink) = Env::with_sink().await;
    env.queue_to_kim().await;
    let runner = Arc::new(
        env.queue_runner(env.mx_transport(&sink), NOW, env.settings())
            .with_signer(Arc::new(TestSigner)),
    );
    run(&runner).await;
    let body = sink.received()[0].body.clone();
    assert!(body.starts_with(b"DKIM-Signature: v=1; d=test.go.kr; b=test\r\nFrom: "));
}

#[tokio::test]
async fn a_connection_dropped_mid_data_keeps_the_recipient_queued() {
    let (env, sink) = Env::with_sink_behaving(SinkBehaviour {
        drop_mid_data: true,
        ..Default::default()
    })
    .await;
    let id = env.queue_to_kim().await;
    run(&env.mx_runner(&sink, NOW)).await;
    let entry = env.queued(id, "queued").await;
    assert_eq!(entry.recipients[0].attempts, 1);
    assert!(
        entry.recipients[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .starts_with("421 4.4.2")
    );
    assert!(env.inbox().await.is_empty());
}

#[tokio::test]
async fn a_crash_mid_delivery_keeps_the_recipient_and_a_250_is_never_resent() {
    let mut env = Env::new().await;
    let mut hanging = Sink::start(SinkBehaviour {
        hang_after_data: true,
        ..Default::default()
    })
    .await;
    let id = env.queue_to_kim().await;
    // The runner lives in its own runtime: the "process" that crashes.
    let runner = env.mx_runner(&hanging, NOW);
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    doomed.spawn(async move { runner.run_once().await });
    timeout(STEP, hanging.hung.recv())
        .await
        .expect("the message reached the sink")
        .expect("signal");
    // The crash: every task of that runtime stops where it is, while the remote holds the
    // whole message unanswered.
    tokio::task::spawn_blocking(move || doomed.shutdown_timeout(STEP))
        .await
        .expect("the crashed runtime is gone");
    env = env.reopen().await;

    let entry = env.queued(id, "still queued after the crash").await;
    assert_eq!(entry.recipients[0].status, RecipientStatus::Pending);
    assert_eq!(
        entry.recipients[0].attempts, 1,
        "the attempt was recorded before sending"
    );
    assert_eq!(entry.next_attempt, NOW + 60);

    // Not due yet: nothing is sent before the retry time.
    let mut good = Sink::start(SinkBehaviour::default()).await;
    run(&env.mx_runner(&good, NOW + 59)).await;
    assert_eq!(good.connection_count(), 0);
    // At the retry time it is delivered, once.
    run(&env.mx_runner(&good, NOW + 60)).await;
    timeout(STEP, good.accepted.recv())
        .await
        .expect("in time")
        .expect("accepted");
    assert_eq!(good.received().len(), 1);
    env.assert_gone(id).await;

    // After the 250 and a restart, nothing is sent again.
    env = env.reopen().await;
    run(&env.mx_runner(&good, NOW + 100_000)).await;
    assert_eq!(good.received().len(), 1);
    assert_eq!(good.connection_count(), 1);
}

#[tokio::test]
async fn a_domain_requiring_tls_is_not_sent_in_cleartext() {
    let (env, sink) = Env::with_sink().await; // offers no STARTTLS
    let policies = [(
        "remote.kr".to_string(),
        certmail_smtp::outbound::TlsPolicy::Encrypt,
    )]
    .into_iter()
    .collect();
    let transport = env
        .mx_transport(&sink)
        .with_tls_policy(certmail_smtp::outbound::TlsPolicy::May, policies);
    let runner = Arc::new(env.queue_runner(transport, NOW, env.settings()));
    let id = env.queue_to_kim().await;
    run(&runner).await;
    assert!(sink.received().is_empty());
    assert!(!sink.command_lines().iter().any(|l| l.starts_with("MAIL")));
    let entry = env.queued(id, "deferred").await;
    let err = entry.recipients[0].last_error.clone().expect("error");
    assert!(err.starts_with("421 4.7.10"), "{err}");
}

#[tokio::test]
async fn a_failed_opportunistic_handshake_falls_back_to_cleartext() {
    let (env, sink) = Env::with_sink_behaving(SinkBehaviour {
        broken_tls: true,
        ..Default::default()
    })
    .await;
    let id = env.queue_to_kim().await;
    run(&env.mx_runner(&sink, NOW)).await;
    let got = sink.received();
    assert_eq!(
        got.len(),
        1,
        "delivered on the second, cleartext connection"
    );
    assert!(!got[0].tls);
    assert_eq!(got[0].connection, 1);
    let starttls = sink
        .command_lines()
        .iter()
        .filter(|l| *l == "STARTTLS")
        .count();
    assert_eq!(starttls, 1, "no STARTTLS on the fallback connection");
    env.assert_gone(id).await;
}
