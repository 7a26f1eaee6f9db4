//! Sieve's `vacation` (RFC 5230, RFC 3834) and `reject`/`ereject` (RFC 5429) at delivery,
//! over real SMTP (Python's smtplib to port 25): the vacation reply reaches the sender
//! once per period and never answers list, bulk or automatic mail, nor mail that does not
//! name the person; `ereject` refuses at the end of DATA with the script's reason; a
//! `reject` of a message with several recipients stores nothing for the refusing one and
//! sends its sender a rejection report.

use std::process::Command;

use certmail_store::ScriptQuota;
use certmail_tests::delivered::{day, inbox_subjects, messages, messages_in, subject, subjects_in};
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

/// An installation with 김철수 (kim), 박영수 (park) and 이영희 (lee).
fn three_people() -> anyhow::Result<fixtures::Installation> {
    let fx = fixtures::Installation::new()?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    fx.add_account("park", "박영수", "another-Password-2")?;
    fx.add_account("lee", "이영희", "another-Password-3")?;
    Ok(fx)
}

/// Stores each `(account, name, script)` and makes it that account's active script, before
/// the daemon starts.
async fn activate(
    fx: &fixtures::Installation,
    scripts: &[(&str, &str, &str)],
) -> anyhow::Result<()> {
    let store = fx.open_store().await?;
    for (account, name, script) in scripts {
        store.put_script(account, name, script, QUOTA).await?;
        store.set_active_script(account, Some(name)).await?;
    }
    Ok(())
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
    let fx = three_people()?;
    activate(&fx, &[("kim", "부재중", KIM_VACATION)]).await?;
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
        messages(&*store, "kim").await?.len(),
        7,
        "vacation keeps every copy"
    );
    let park = messages(&*store, "park").await?;
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
    let lee = messages(&*store, "lee").await?;
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

/// A vacation reply and a rejection report to a local sender are mail to them like any
/// other: 김민수's own script files them (planned before the delivery transaction that
/// stores them with the message that caused them, so each is filed once).
#[tokio::test(flavor = "multi_thread")]
async fn replies_to_a_local_sender_go_through_the_senders_script() -> anyhow::Result<()> {
    let fx = three_people()?;
    fx.add_account("minsu", "김민수", "another-Password-4")?;
    let minsu = "require [\"fileinto\", \"mailbox\"];\n\
                 if address :is \"from\" \"lee@test.go.kr\" { fileinto :create \"이영희\"; stop; }\n\
                 if header :contains \"Content-Type\" \"multipart/report\" \
                 { fileinto :create \"보고서\"; }\n";
    let lee = "require \"vacation\";\nvacation :days 3 :subject \"부재중: 이영희\" \
               \"12월 31일까지 휴가입니다.\";\n";
    let park = "require \"reject\";\nreject \"박영수는 이 주소로 메일을 받지 않습니다.\";\n";
    activate(
        &fx,
        &[
            ("minsu", "분류", minsu),
            ("lee", "부재중", lee),
            ("park", "거절", park),
        ],
    )
    .await?;
    let daemon = fx.start()?;
    let port = daemon.addr("smtp").port();
    let mail = |rcpts, to_header, subject| Mail {
        from: "minsu@test.go.kr",
        rcpts,
        to_header,
        extra: &[],
        subject,
    };
    let sent = send(
        port,
        &[
            mail(
                &["lee@test.go.kr"][..],
                "이영희 <lee@test.go.kr>",
                "회의 자료",
            ),
            mail(
                &["lee@test.go.kr"][..],
                "이영희 <lee@test.go.kr>",
                "회의 자료 다시",
            ),
            mail(
                &["park@test.go.kr", "kim@test.go.kr"][..],
                "park@test.go.kr, kim@test.go.kr",
                "공동 검토",
            ),
        ],
    )?;
    assert_eq!(sent, vec!["ok"; 3]);
    drop(daemon);

    let store = fx.open_store().await?;
    assert_eq!(
        subjects_in(&*store, "minsu", "이영희").await?,
        ["부재중: 이영희"],
        "one vacation reply, filed by 김민수's script"
    );
    let reports = messages_in(&*store, "minsu", "보고서").await?;
    assert_eq!(
        reports.len(),
        1,
        "one rejection report, filed by 김민수's script"
    );
    assert!(
        String::from_utf8_lossy(&reports[0]).contains("Status: 5.7.1"),
        "the report of park's reject"
    );
    assert!(
        inbox_subjects(&*store, "minsu").await?.is_empty(),
        "nothing left in 김민수's INBOX"
    );
    assert_eq!(inbox_subjects(&*store, "kim").await?, ["공동 검토"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ereject_refuses_in_smtp_and_reject_reports_to_the_sender() -> anyhow::Result<()> {
    let fx = three_people()?;
    let ereject = "require \"ereject\";\nif header :contains \"subject\" \"광고\" {\n  \
                   ereject \"Kim does not accept advertising.\r\nPlease stop.\";\n}\n";
    let reject = "require \"reject\";\nreject \"이영희는 이 주소로 메일을 받지 않습니다.\";\n";
    activate(
        &fx,
        &[("kim", "광고 거절", ereject), ("lee", "거절", reject)],
    )
    .await?;
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
    let kim: Vec<String> = inbox_subjects(&*store, "kim").await?;
    assert_eq!(kim, ["공동 회의"], "the refused advert is not stored");
    assert!(
        messages(&*store, "lee").await?.is_empty(),
        "lee's script refused its copy"
    );
    let park = messages(&*store, "park").await?;
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

/// 김철수's own filter, which the administrator's vacation must keep running.
const KIM_FILTER: &str = r#"require "fileinto";
if header :contains "subject" "보고서" { fileinto "보고서"; }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_sets_and_removes_a_vacation_keeping_the_persons_filter() -> anyhow::Result<()> {
    let fx = three_people()?;
    {
        let store = fx.open_store().await?;
        store.create_mailbox("kim", "보고서", None).await?;
        store.put_script("kim", "분류", KIM_FILTER, QUOTA).await?;
        store.set_active_script("kim", Some("분류")).await?;
    }
    let message = fx.dir.path().join("부재중.txt");
    std::fs::write(
        &message,
        "12월 말까지 휴가입니다.\n급한 일은 이영희에게 연락해 주세요.\n",
    )?;
    let message = message.to_str().expect("utf-8 path");
    let daemon = fx.start()?;
    let port = daemon.addr("smtp").port();
    let vacation = |from: &str, until: &str| {
        fx.certmail(&[
            "account",
            "vacation",
            "kim",
            "--from",
            from,
            "--until",
            until,
            "--message",
            message,
            "--subject",
            "부재중: 김철수",
        ])
    };
    let mail = |from, subject| Mail {
        from,
        rcpts: &["kim@test.go.kr"],
        to_header: "김철수 <kim@test.go.kr>",
        extra: &[],
        subject,
    };

    let (code, out, err) = vacation(&day(10), &day(20))?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("\"분류\" keeps running"),
        "the CLI says what became of the script: {out}"
    );
    send(port, &[mail("lee@test.go.kr", "휴가 전 메일")])?;

    let (code, out, err) = vacation(&day(-1), &day(1))?;
    assert_eq!(code, 0, "{out}{err}");
    send(port, &[mail("park@test.go.kr", "주간 보고서")])?;

    let (code, out, err) = fx.certmail(&["account", "vacation", "kim", "--off"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"분류\" is active again"), "{out}");
    send(
        port,
        &[
            mail("park@test.go.kr", "휴가 후 메일"),
            mail("lee@test.go.kr", "휴가 후"),
        ],
    )?;
    let (code, out, _) = fx.certmail(&["account", "vacation", "kim", "--off"])?;
    assert_ne!(code, 0, "nothing left to turn off: {out}");
    let (code, out, err) = vacation("2026-13-01", &day(1))?;
    assert_ne!(code, 0, "{out}");
    assert!(
        format!("{out}{err}").contains("YYYY-MM-DD"),
        "a refusal says how to fix it: {out}{err}"
    );
    drop(daemon);

    let store = fx.open_store().await?;
    assert!(
        messages(&*store, "lee").await?.is_empty(),
        "no reply before the leave, nor after --off"
    );
    let park: Vec<String> = inbox_subjects(&*store, "park").await?;
    assert_eq!(park, ["부재중: 김철수"], "one reply during the leave");
    assert_eq!(
        store.messages("kim", "보고서", 1..=u32::MAX).await?.len(),
        1,
        "kim's own filter kept filing during the leave"
    );
    assert_eq!(
        store.active_script("kim").await?.map(|s| s.name).as_deref(),
        Some("분류")
    );
    assert!(store.script("kim", "certmail-vacation").await?.is_none());
    let events = store.audit_by_account("kim", 50).await?;
    let states: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "account.vacation")
        .filter_map(|e| e.fields.get("state").map(String::as_str))
        .collect();
    assert_eq!(states, ["off", "on", "on"], "audited, newest first");
    Ok(())
}

/// RFC 5230 §4.1 and §4.4's examples at delivery, in one script: a redirect for one sender
/// (the boss gets no reply) and, for everyone else, a reason chosen by the subject.
const CHOICE_OF_REASON: &str = r#"require ["vacation"];
if header :contains "from" "boss@partner.example" {
  redirect "lee@test.go.kr";
} elsif header :contains "subject" "cyrus" {
  vacation "I'm out -- send mail to cyrus-bugs";
} else {
  vacation "I'm out -- call me at 321-1723";
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn rfc_5230_examples_choose_the_reason_and_redirect_the_boss() -> anyhow::Result<()> {
    let fx = three_people()?;
    activate(&fx, &[("kim", "RFC 5230", CHOICE_OF_REASON)]).await?;
    let daemon = fx.start()?;
    let port = daemon.addr("smtp").port();
    let mail = |from, subject| Mail {
        from,
        rcpts: &["kim@test.go.kr"],
        to_header: "김철수 <kim@test.go.kr>",
        extra: &[],
        subject,
    };
    let sent = send(
        port,
        &[
            mail("boss@partner.example", "예산 보고"),
            mail("park@test.go.kr", "cyrus question"),
            mail("lee@test.go.kr", "점심 약속"),
        ],
    )?;
    assert_eq!(sent, vec!["ok"; 3]);
    drop(daemon);

    let store = fx.open_store().await?;
    let text = |raw: &Vec<u8>| String::from_utf8_lossy(raw).into_owned();
    let park = messages(&*store, "park").await?;
    assert_eq!(park.len(), 1, "one reply to the cyrus message");
    assert!(
        text(&park[0]).contains("send mail to cyrus-bugs"),
        "{}",
        text(&park[0])
    );
    assert_eq!(subject(&park[0]), "Auto: cyrus question");
    // lee gets the boss's redirected message and the other reason for her own.
    let lee = messages(&*store, "lee").await?;
    let mut subjects: Vec<String> = lee.iter().map(|m| subject(m)).collect();
    subjects.sort();
    assert_eq!(subjects, ["Auto: 점심 약속", "예산 보고"], "{subjects:?}");
    let reply = lee.iter().find(|m| subject(m) == "Auto: 점심 약속");
    assert!(reply.is_some_and(|r| text(r).contains("call me at 321-1723")));
    // The redirected copy is not kept (redirect cancels the implicit keep, RFC 5228 §4.2);
    // the other two are.
    assert_eq!(
        inbox_subjects(&*store, "kim").await?,
        ["cyrus question", "점심 약속"]
    );
    assert!(
        store.queue_list().await?.is_empty(),
        "the boss (a remote sender) gets no reply and nothing is queued"
    );
    Ok(())
}
