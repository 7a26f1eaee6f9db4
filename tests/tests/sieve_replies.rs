//! Sieve's `vacation` (RFC 5230, RFC 3834) and `reject`/`ereject` (RFC 5429) at delivery,
//! over real SMTP (Python's smtplib to port 25): the vacation reply reaches the sender
//! once per period and never answers list, bulk or automatic mail, nor mail that does not
//! name the person; `ereject` refuses at the end of DATA with the script's reason; a
//! `reject` of a message with several recipients stores nothing for the refusing one and
//! sends its sender a rejection report.

use std::process::Command;

use certmail_store::prelude::*;
use certmail_store::{ScriptQuota, Store};
use certmail_tests::fixtures;

const QUOTA: ScriptQuota = ScriptQuota {
    max_bytes: 64 * 1024,
    max_scripts: 4,
};

/// One message to send: envelope sender and recipients, To: header, extra header lines,
/// subject.
struct Mail<'a> {
    from: &'a str,
    rcpts: &'a [&'a str],
    to_header: &'a str,
    extra: &'a [&'a str],
    subject: &'a str,
}

/// Sends each message through port 25 with smtplib, one connection each; returns one line
/// per message: `ok` or the server's refusal as `code text`.
fn send(port: u16, mails: &[Mail<'_>]) -> anyhow::Result<Vec<String>> {
    let list: Vec<String> = mails
        .iter()
        .map(|m| {
            format!(
                "({:?}, [{}], {:?}, [{}], {:?})",
                m.from,
                m.rcpts
                    .iter()
                    .map(|r| format!("{r:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                m.to_header,
                m.extra
                    .iter()
                    .map(|r| format!("{r:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                m.subject
            )
        })
        .collect();
    let script = format!(
        r#"
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
for sender, rcpts, to, extra, subject in [{list}]:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = make_msgid(domain="partner.example")
    for line in extra:
        name, value = line.split(": ", 1)
        m[name] = value
    m.set_content("안녕하세요. 확인 부탁드립니다.")
    try:
        with smtplib.SMTP("127.0.0.1", {port}, timeout=20) as s:
            s.send_message(m, from_addr=sender, to_addrs=rcpts)
        print("ok")
    except smtplib.SMTPDataError as e:
        print(e.smtp_code, e.smtp_error.decode())
"#,
        list = list.join(", ")
    );
    let out = certmail_tests::outside::run_ok(Command::new("python3").arg("-c").arg(script))?;
    Ok(out.stdout.lines().map(str::to_owned).collect())
}

/// The parsed messages of a mailbox.
async fn messages(store: &dyn Store, account: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for m in store.messages(account, "INBOX", 1..=u32::MAX).await? {
        out.push(store.message_body(account, &m.blob).await?);
    }
    Ok(out)
}

fn subject(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.subject().map(str::to_owned))
        .unwrap_or_default()
}

fn header(raw: &[u8], name: &str) -> Option<String> {
    let m = mail_parser::MessageParser::default().parse(raw)?;
    m.header_raw(name).map(|v| v.trim().to_owned())
}

/// 김철수's out-of-office, shaped like RFC 5230 §4's `:days`/`:addresses` example.
const KIM_VACATION: &str = r#"require "vacation";
vacation :days 7 :subject "부재중: 김철수" :addresses ["chulsoo@test.go.kr"]
  "12월 20일까지 휴가입니다. 급한 일은 이영희(lee@test.go.kr)에게 연락해 주세요.";
"#;

#[tokio::test(flavor = "multi_thread")]
async fn vacation_replies_once_per_sender_and_never_to_lists() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    fx.add_account("park", "박영수", "another-Password-2")?;
    fx.add_account("lee", "이영희", "another-Password-3")?;
    {
        let store = fx.open_store().await?;
        store
            .put_script("kim", "부재중", KIM_VACATION, QUOTA)
            .await?;
        store.set_active_script("kim", Some("부재중")).await?;
    }
    let daemon = fx.start()?;
    let port = daemon.addr("smtp").port();
    let kim = &["kim@test.go.kr"][..];
    let to_kim = "김철수 <kim@test.go.kr>";
    let mail = |from, to_header, extra, subject| Mail {
        from,
        rcpts: kim,
        to_header,
        extra,
        subject,
    };
    let sent = send(
        port,
        &[
            mail("park@test.go.kr", to_kim, &[], "회의 일정"),
            mail("park@test.go.kr", to_kim, &[], "회의 일정 다시"),
            mail(
                "lee@test.go.kr",
                to_kim,
                &["List-Id: <notice.test.go.kr>"],
                "목록 메일",
            ),
            mail("lee@test.go.kr", to_kim, &["Precedence: bulk"], "대량 메일"),
            mail(
                "lee@test.go.kr",
                to_kim,
                &["Auto-Submitted: auto-generated"],
                "자동 메일",
            ),
            mail("lee@test.go.kr", "everyone@test.go.kr", &[], "숨은 참조"),
            mail(
                "lee@test.go.kr",
                "김철수 <chulsoo@test.go.kr>",
                &[],
                "다른 주소로",
            ),
        ],
    )?;
    assert_eq!(sent, vec!["ok"; 7]);
    drop(daemon);

    let store = fx.open_store().await?;
    assert_eq!(
        messages(&store, "kim").await?.len(),
        7,
        "vacation keeps every copy"
    );
    let park = messages(&store, "park").await?;
    assert_eq!(park.len(), 1, "one reply for two messages within :days");
    let reply = &park[0];
    assert_eq!(subject(reply), "부재중: 김철수");
    assert_eq!(
        header(reply, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert!(header(reply, "In-Reply-To").is_some_and(|v| v.ends_with("@partner.example>")));
    assert_eq!(header(reply, "References"), header(reply, "In-Reply-To"));
    assert!(
        String::from_utf8_lossy(reply).contains("kim@test.go.kr"),
        "from the address the message came to"
    );
    let lee = messages(&store, "lee").await?;
    assert_eq!(
        lee.iter().map(|m| subject(m)).collect::<Vec<_>>(),
        ["부재중: 김철수"],
        "no reply to list, bulk, automatic or Bcc mail; one to the :addresses address"
    );
    let marks = store.reply_marks("kim").await?;
    let senders: Vec<&str> = marks.iter().map(|m| m.sender.as_str()).collect();
    assert_eq!(senders.len(), 2, "{senders:?}");
    assert!(senders.contains(&"park@test.go.kr") && senders.contains(&"lee@test.go.kr"));
    assert!(marks.iter().all(|m| m.until - m.sent_at == 7 * 86_400));
    assert!(
        store.queue_list().await?.is_empty(),
        "local senders need no queue"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ereject_refuses_in_smtp_and_reject_reports_to_the_sender() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    fx.add_account("park", "박영수", "another-Password-2")?;
    fx.add_account("lee", "이영희", "another-Password-3")?;
    {
        let store = fx.open_store().await?;
        let ereject = "require \"ereject\";\nif header :contains \"subject\" \"광고\" {\n  \
                       ereject \"Kim does not accept advertising.\r\nPlease stop.\";\n}\n";
        store.put_script("kim", "광고 거절", ereject, QUOTA).await?;
        store.set_active_script("kim", Some("광고 거절")).await?;
        let reject = "require \"reject\";\nreject \"이영희는 이 주소로 메일을 받지 않습니다.\";\n";
        store.put_script("lee", "거절", reject, QUOTA).await?;
        store.set_active_script("lee", Some("거절")).await?;
    }
    let daemon = fx.start()?;
    let port = daemon.addr("smtp").port();
    let sent = send(
        port,
        &[
            Mail {
                from: "park@test.go.kr",
                rcpts: &["kim@test.go.kr"],
                to_header: "kim@test.go.kr",
                extra: &[],
                subject: "광고 안내",
            },
            Mail {
                from: "park@test.go.kr",
                rcpts: &["kim@test.go.kr", "lee@test.go.kr"],
                to_header: "kim@test.go.kr, lee@test.go.kr",
                extra: &[],
                subject: "공동 회의",
            },
        ],
    )?;
    assert_eq!(
        sent,
        [
            "550 5.7.1 The recipient's mail filter refused this message: Kim does not accept \
             advertising. Please stop.",
            "ok"
        ]
    );
    drop(daemon);

    let store = fx.open_store().await?;
    let kim: Vec<String> = messages(&store, "kim")
        .await?
        .iter()
        .map(|m| subject(m))
        .collect();
    assert_eq!(kim, ["공동 회의"], "the refused advert is not stored");
    assert!(
        messages(&store, "lee").await?.is_empty(),
        "lee's script refused its copy"
    );
    let park = messages(&store, "park").await?;
    assert_eq!(
        park.len(),
        1,
        "one rejection report, none for the SMTP refusal"
    );
    let report = String::from_utf8_lossy(&park[0]).into_owned();
    assert!(
        subject(&park[0]).contains("lee@test.go.kr"),
        "{}",
        subject(&park[0])
    );
    assert!(report.contains("Status: 5.7.1"), "{report}");
    assert!(
        report.contains("Final-Recipient: rfc822; lee@test.go.kr"),
        "{report}"
    );
    let human = mail_parser::MessageParser::default()
        .parse(&park[0][..])
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default();
    assert!(
        human.contains("이영희는 이 주소로 메일을 받지 않습니다."),
        "the script's reason reaches the sender: {human}"
    );
    Ok(())
}
