//! The relay's use of SMTP extensions against loopback sinks that offer or lack them:
//! PIPELINING (RFC 2920), 8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531).

mod relay_env;

use relay_env::*;

/// The group of command lines that starts with MAIL in `batches`.
fn mail_batch(batches: &[Vec<String>]) -> Vec<String> {
    batches
        .iter()
        .find(|b| b[0].starts_with("MAIL FROM:"))
        .cloned()
        .expect("a MAIL command arrived")
}

#[tokio::test]
async fn pipelining_sends_mail_rcpt_and_data_in_one_write_with_per_recipient_results() {
    let (env, sink) = Env::with_sink_behaving(SinkBehaviour {
        pipelining: true,
        ..SinkBehaviour::default()
    })
    .await;
    let rcpts = [
        ("kim@remote.kr", 0),
        ("bad@remote.kr", 0),
        ("lee@remote.kr", 0),
    ];
    let id = env.queue(SENDER, &rcpts, MESSAGE, &[]).await;
    run(&env.mx_runner(&sink, NOW)).await;

    let batch = mail_batch(&sink.command_batches());
    assert_eq!(
        batch,
        vec![
            format!(
                "MAIL FROM:<hong@test.go.kr> SIZE={} BODY=8BITMIME",
                MESSAGE.len()
            ),
            "RCPT TO:<kim@remote.kr>".to_string(),
            "RCPT TO:<bad@remote.kr>".to_string(),
            "RCPT TO:<lee@remote.kr>".to_string(),
            "DATA".to_string(),
        ],
        "RFC 2920: the envelope arrives as one group ending in DATA"
    );
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].rcpts,
        vec!["RCPT TO:<kim@remote.kr>", "RCPT TO:<lee@remote.kr>"]
    );
    assert_eq!(got[0].body, MESSAGE);
    env.assert_gone(id).await;
    env.report_saying(
        "bad@remote.kr's refusal, read from the pipelined replies, is reported",
        &["bad@remote.kr", "5.1.1"],
    )
    .await;
}

#[tokio::test]
async fn pipelining_with_every_recipient_refused_sends_no_message() {
    let (env, sink) = Env::with_sink_behaving(SinkBehaviour {
        pipelining: true,
        ..SinkBehaviour::default()
    })
    .await;
    let id = env
        .queue(SENDER, &[("temp@remote.kr", 0)], MESSAGE, &[])
        .await;
    run(&env.mx_runner(&sink, NOW)).await;
    assert!(sink.received().is_empty(), "no message without a recipient");
    let entry = env.queued(id, "a 4xx recipient stays queued").await;
    assert_eq!(entry.recipients[0].status, RecipientStatus::Pending);
    let error = entry.recipients[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("4.3.0"), "{error}");
}

#[tokio::test]
async fn without_pipelining_each_command_waits_for_its_reply() {
    let (env, sink) = Env::with_sink().await;
    let rcpts = [("kim@remote.kr", 0), ("lee@remote.kr", 0)];
    let id = env.queue(SENDER, &rcpts, MESSAGE, &[]).await;
    run(&env.mx_runner(&sink, NOW)).await;
    let batches = sink.command_batches();
    assert!(
        batches.iter().all(|b| b.len() == 1),
        "one command per write: {batches:?}"
    );
    let lines: Vec<String> = batches.into_iter().flatten().collect();
    let from = lines
        .iter()
        .position(|l| l.starts_with("MAIL FROM:"))
        .expect("MAIL");
    assert_eq!(
        &lines[from + 1..from + 4],
        ["RCPT TO:<kim@remote.kr>", "RCPT TO:<lee@remote.kr>", "DATA"]
    );
    assert_eq!(sink.received().len(), 1);
    env.assert_gone(id).await;
}
