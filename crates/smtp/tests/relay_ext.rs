//! The relay's use of SMTP extensions against loopback sinks that offer or lack them:
//! PIPELINING (RFC 2920), 8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531).

mod relay_env;

use certmail_smtp::outbound::{MessageSigner, meta};
use mail_parser::MimeHeaders as _;
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

/// A signer that keeps what it signed, so a test can see signing came after conversion.
#[derive(Default)]
struct RecordingSigner(std::sync::Mutex<Vec<Vec<u8>>>);

impl MessageSigner for RecordingSigner {
    fn sign(&self, from_domain: &str, message: &[u8]) -> Option<Vec<u8>> {
        self.0.lock().expect("lock").push(message.to_vec());
        Some(format!("DKIM-Signature: v=1; d={from_domain}; b=test\r\n").into_bytes())
    }
}

/// A message with a Korean plain-text body and a Korean attachment name, 8-bit throughout.
const MULTIPART: &str = "From: 홍길동 <hong@test.go.kr>\r\nTo: 김철수 <kim@remote.kr>\r\n\
Subject: 회의 자료 송부\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_boundary_1\"\r\n\r\n\
--=_boundary_1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
김철수 님, 내일 회의 자료를 보냅니다.\r\n홍길동 드림\r\n\
--=_boundary_1\r\nContent-Type: text/csv; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\
Content-Disposition: attachment; filename=\"자료.csv\"\r\n\r\n\
이름,부서\r\n홍길동,총무과\r\n\
--=_boundary_1--\r\n";

#[tokio::test]
async fn eight_bit_mail_to_a_server_without_8bitmime_arrives_7bit_and_signed_after() {
    let (env, mut sink) = Env::with_sink_behaving(SinkBehaviour {
        no_8bitmime: true,
        ..SinkBehaviour::default()
    })
    .await;
    let signer = Arc::new(RecordingSigner::default());
    let runner = Arc::new(
        env.queue_runner(env.mx_transport(&sink), NOW, env.settings())
            .with_signer(Arc::clone(&signer) as Arc<dyn MessageSigner>),
    );
    let plain = env.queue_to_kim().await;
    let mixed = env
        .queue(SENDER, &[("kim@remote.kr", 0)], MULTIPART.as_bytes(), &[])
        .await;
    run(&runner).await;
    env.assert_gone(plain).await;
    env.assert_gone(mixed).await;

    let first = timeout(STEP, sink.next_message()).await.expect("in time");
    let second = timeout(STEP, sink.next_message()).await.expect("in time");
    let signed = signer.0.lock().expect("lock").clone();
    for (got, signed) in [first, second].iter().zip(&signed) {
        let got = got.as_ref().expect("received");
        assert!(!got.mail.contains("BODY=8BITMIME"), "{}", got.mail);
        assert!(
            got.body.is_ascii(),
            "{}",
            String::from_utf8_lossy(&got.body)
        );
        let header = b"DKIM-Signature: v=1; d=test.go.kr; b=test\r\n";
        assert_eq!(
            &got.body[..header.len()],
            header,
            "the signature is on the converted message"
        );
        assert_eq!(&got.body[header.len()..], &signed[..], "signed = sent");
    }
    let received = sink.received();
    let plain = mail_parser::MessageParser::default()
        .parse(&received[0].body)
        .expect("parses");
    assert_eq!(plain.subject(), Some("회의 안내"));
    assert_eq!(
        plain.body_text(0).as_deref(),
        Some(".내일 회의는 10시입니다.\r\n")
    );
    let mixed = mail_parser::MessageParser::default()
        .parse(&received[1].body)
        .expect("parses");
    assert_eq!(mixed.subject(), Some("회의 자료 송부"));
    let to = mixed.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.name(), Some("김철수"));
    assert_eq!(
        mixed.body_text(0).as_deref(),
        Some("김철수 님, 내일 회의 자료를 보냅니다.\r\n홍길동 드림")
    );
    let attachment = mixed.attachment(0).expect("attachment");
    assert_eq!(attachment.attachment_name(), Some("자료.csv"));
    assert_eq!(
        attachment.contents(),
        "이름,부서\r\n홍길동,총무과".as_bytes()
    );
}

#[tokio::test]
async fn eight_bit_mail_to_a_server_with_8bitmime_is_sent_as_it_is() {
    let (env, sink) = Env::with_sink().await;
    let id = env
        .queue(SENDER, &[("kim@remote.kr", 0)], MULTIPART.as_bytes(), &[])
        .await;
    run(&env.mx_runner(&sink, NOW)).await;
    env.assert_gone(id).await;
    let got = sink.received();
    assert!(got[0].mail.ends_with(" BODY=8BITMIME"), "{}", got[0].mail);
    assert_eq!(got[0].body, MULTIPART.as_bytes());
}

#[tokio::test]
async fn smtputf8_mail_to_a_server_without_smtputf8_bounces_with_a_clear_dsn() {
    let (env, sink) = Env::with_sink().await;
    let utf8 = [(meta::SMTPUTF8, "1")];
    let id = env
        .queue(SENDER, &[("김철수@remote.kr", 0)], MESSAGE, &utf8)
        .await;
    run(&env.mx_runner(&sink, NOW)).await;
    assert!(sink.received().is_empty(), "nothing downgraded and sent");
    assert!(
        !sink.command_lines().iter().any(|l| l.starts_with("MAIL")),
        "refused before MAIL"
    );
    env.assert_gone(id).await;
    let report = env.only_report("the sender learns why").await;
    let report = mail_parser::MessageParser::default()
        .parse(report.as_bytes())
        .expect("parses");
    let text = report.body_text(0).expect("the human-readable part");
    for needle in ["김철수@remote.kr", "5.6.7", "does not support SMTPUTF8"] {
        assert!(text.contains(needle), "{needle:?} missing in {text}");
    }

    let sink = Sink::start(SinkBehaviour {
        smtputf8: true,
        ..SinkBehaviour::default()
    })
    .await;
    let id = env
        .queue(SENDER, &[("김철수@remote.kr", 0)], MESSAGE, &utf8)
        .await;
    run(&env.mx_runner(&sink, NOW)).await;
    env.assert_gone(id).await;
    let got = sink.received();
    assert!(got[0].mail.contains(" SMTPUTF8"), "{}", got[0].mail);
    assert_eq!(got[0].rcpts, vec!["RCPT TO:<김철수@remote.kr>"]);
    assert_eq!(got[0].body, MESSAGE);
}
