//! Sieve at delivery, over real SMTP (Python's smtplib to port 25): the active script files
//! with flags, discards, falls back to INBOX for a missing mailbox, creates one with
//! `:create`, redirects once and refuses a redirect loop; a script that runs past its step
//! budget is stopped, the message kept in INBOX, the script switched off and its owner told.
//! Redirects past the daily cap are kept instead, even for messages arriving at once. The relay's delivery reports to a local sender go through the sender's script too.

use std::process::Command;

use certmail_store::{ScriptQuota, Store};
use certmail_tests::fixtures;

const QUOTA: ScriptQuota = ScriptQuota {
    max_bytes: 64 * 1024,
    max_scripts: 4,
};

/// 김철수's filter: the RFC 5228 §9 example's shape, with RFC 5232 flags and RFC 5490
/// `:create`.
const KIM_SCRIPT: &str = r#"require ["fileinto", "imap4flags", "mailbox"];
if header :contains "subject" "보고서" {
    fileinto :flags "\\Flagged" "보고서";
} elsif header :contains "subject" "광고" {
    discard;
} elsif header :contains "subject" "없는함" {
    fileinto "없는 편지함";
} elsif header :contains "subject" "새함" {
    fileinto :create "프로젝트/새 편지함";
} elsif header :contains "subject" "전달" {
    redirect "lee@test.go.kr";
}
"#;

/// Sends each (extra header line, subject) to `to` through port 25 with smtplib.
fn send(port: u16, to: &str, messages: &[(&str, &str)]) -> anyhow::Result<()> {
    let list: Vec<String> = messages
        .iter()
        .map(|(extra, subject)| format!("({extra:?}, {subject:?})"))
        .collect();
    let script = format!(
        r#"
import smtplib
from email.message import EmailMessage
with smtplib.SMTP("127.0.0.1", {port}, timeout=20) as s:
    for extra, subject in [{list}]:
        m = EmailMessage()
        m["From"] = "박영수 <park@partner.example>"
        m["To"] = {to:?}
        m["Subject"] = subject
        if extra:
            name, value = extra.split(": ", 1)
            m[name] = value
        m.set_content("안녕하세요. 확인 부탁드립니다.")
        s.send_message(m, from_addr="park@partner.example", to_addrs=[{to:?}])
"#,
        list = list.join(", ")
    );
    certmail_tests::outside::run_ok(Command::new("python3").arg("-c").arg(script))?;
    Ok(())
}

async fn subjects(store: &dyn Store, account: &str, mailbox: &str) -> anyhow::Result<Vec<String>> {
    certmail_tests::delivered::subjects_in(store, account, mailbox).await
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_file_discard_redirect_and_stop_runaways() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    fx.append_config("[sieve]\nmax_steps = 1000\n")?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    fx.add_account("lee", "이영희", "another-Password-2")?;
    {
        let store = fx.open_store().await?;
        store.create_mailbox("kim", "보고서", None).await?;
        store.put_script("kim", "분류", KIM_SCRIPT, QUOTA).await?;
        store.set_active_script("kim", Some("분류")).await?;
        // 1200 header tests: past a 1000-step budget, however the message looks.
        let tests = vec![r#"header :contains "subject" "절대 없는 말""#; 1200].join(",\n");
        let runaway = format!("if anyof({tests}) {{ discard; }}\n");
        store.put_script("lee", "폭주", &runaway, QUOTA).await?;
        store.set_active_script("lee", Some("폭주")).await?;
    }
    let daemon = fx.start()?;
    let port = daemon.addr("smtp").port();
    send(
        port,
        "kim@test.go.kr",
        &[
            ("", "주간 보고서"),
            ("", "광고 안내"),
            ("", "없는함 시험"),
            ("", "새함 시험"),
            ("", "전달 부탁"),
            ("X-Certmail-Redirected: kim", "전달 되돌아옴"),
        ],
    )?;
    send(port, "lee@test.go.kr", &[("", "이영희님께")])?;
    drop(daemon);

    let store = fx.open_store().await?;
    let filed = store.messages("kim", "보고서", 1..=u32::MAX).await?;
    assert_eq!(filed.len(), 1, "the report is filed");
    assert!(
        filed[0].flags.iter().any(|f| f == "\\Flagged"),
        "with :flags: {:?}",
        filed[0].flags
    );
    assert_eq!(
        subjects(&*store, "kim", "INBOX").await?,
        ["없는함 시험", "전달 되돌아옴"],
        "the advert is discarded, fileinto a missing mailbox lands in INBOX, and a \
         redirect loop is stopped with the message kept"
    );
    assert_eq!(
        subjects(&*store, "kim", "프로젝트/새 편지함").await?,
        ["새함 시험"],
        "fileinto :create makes the mailbox"
    );
    let lee = subjects(&*store, "lee", "INBOX").await?;
    assert_eq!(lee.len(), 3, "{lee:?}");
    assert_eq!(lee[0], "전달 부탁", "redirected once, to lee");
    let redirected = store
        .message_body("lee", &store.messages("lee", "INBOX", 1..=1).await?[0].blob)
        .await?;
    assert!(
        String::from_utf8_lossy(&redirected).starts_with("X-Certmail-Redirected: kim\r\n"),
        "the redirect is marked against loops"
    );
    assert_eq!(
        lee[1], "이영희님께",
        "the runaway script's message is kept in INBOX"
    );
    assert!(
        lee[2].contains("switched off"),
        "its owner is told: {lee:?}"
    );
    assert!(
        store.active_script("lee").await?.is_none(),
        "and the script is switched off, so the next message is not held up by it"
    );
    assert!(store.active_script("kim").await?.is_some());
    let events = store.audit_by_account("kim", 50).await?;
    assert_eq!(
        events.iter().filter(|e| e.kind == "sieve.redirect").count(),
        1,
        "each redirect carried out is audited"
    );
    assert!(
        store.queue_list().await?.is_empty(),
        "a local redirect needs no queue entry"
    );
    Ok(())
}

/// 홍길동's filter for the server's own mail: delivery reports go to "Reports", and an
/// out-of-office reply that must not answer them (RFC 3834: they are auto-generated and
/// come from the null sender).
const HONG_SCRIPT: &str = r#"require ["fileinto", "vacation"];
vacation :days 1 :subject "부재중" "12월 31일까지 부재중입니다.";
if header :contains "Content-Type" "multipart/report" {
    fileinto "Reports";
}
"#;

/// The relay's failure report to a local sender runs the sender's active script, as SMTP
/// delivery does: it is filed where the script says, and the script's vacation does not
/// answer it.
#[tokio::test(flavor = "multi_thread")]
async fn a_failure_report_is_filed_by_the_senders_script() -> anyhow::Result<()> {
    const PASSWORD: &str = "Gpki-Pass-2026!";
    let mut sink = certmail_testkit::sink::Sink::start(Default::default()).await;
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.append_config(&format!(
        "[relay]\nsmarthost = \"127.0.0.1:{}\"\nsmarthost_tls = \"opportunistic\"\n\
         retry_schedule_secs = [3600]\npoll_interval_secs = 1\n",
        sink.addr.port()
    ))?;
    {
        let store = fx.open_store().await?;
        store.create_mailbox("hong", "Reports", None).await?;
        store
            .put_script("hong", "보고서 분류", HONG_SCRIPT, QUOTA)
            .await?;
        store.set_active_script("hong", Some("보고서 분류")).await?;
    }
    let mut daemon = fx.start()?;
    let port = daemon.addr("submissions").port();
    let message = (
        "bad@remote.go.kr",
        "협조 요청",
        "외부 기관으로 보내는 공문입니다.",
    );
    certmail_tests::outside::smtplib_submit(&fx, port, PASSWORD, message)?;
    // The sink answers the one recipient 550; the runner then writes the report.
    let step = std::time::Duration::from_secs(30);
    tokio::time::timeout(step, sink.quits.recv())
        .await?
        .expect("the relay closed the connection");
    daemon.signal("TERM")?;
    assert_eq!(daemon.wait_exit(step)?, Some(0));

    let store = fx.open_store().await?;
    let inbox = subjects(&*store, "hong", "INBOX").await?;
    assert_eq!(
        subjects(&*store, "hong", "Reports").await?,
        ["Undelivered Mail Returned to Sender: bad@remote.go.kr"],
        "the report is filed by the script (INBOX: {inbox:?})"
    );
    assert_eq!(
        subjects(&*store, "hong", "INBOX").await?,
        [] as [&str; 0],
        "nothing is left in INBOX"
    );
    assert!(
        store.queue_list().await?.is_empty(),
        "no vacation reply to the report (nor anything else) is queued"
    );
    assert!(
        sink.received()
            .iter()
            .all(|m| m.rcpts == ["RCPT TO:<bad@remote.go.kr>"]),
        "the smarthost saw only the original message"
    );
    Ok(())
}

/// Sends one message per subject to `to` through port 25, each from its own smtplib
/// connection, all at once.
fn send_at_once(port: u16, to: &str, subjects: &[&str]) -> anyhow::Result<()> {
    let script = format!(
        r#"
import smtplib, threading
from email.message import EmailMessage
errors = []
def send(subject):
    try:
        m = EmailMessage()
        m["From"] = "박영수 <park@partner.example>"
        m["To"] = {to:?}
        m["Subject"] = subject
        m.set_content("안녕하세요. 전달 부탁드립니다.")
        with smtplib.SMTP("127.0.0.1", {port}, timeout=20) as s:
            s.send_message(m, from_addr="park@partner.example", to_addrs=[{to:?}])
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=send, args=(s,)) for s in {subjects:?}]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors
"#
    );
    certmail_tests::outside::run_ok(Command::new("python3").arg("-c").arg(script))?;
    Ok(())
}

/// `[sieve] max_redirects_per_day` holds for messages arriving at once on several SMTP
/// connections: exactly that many are redirected, the others kept in INBOX (none lost),
/// and the owner is told once.
#[tokio::test(flavor = "multi_thread")]
async fn redirects_past_the_daily_cap_are_kept_and_the_owner_told_once() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    fx.append_config("[sieve]\nmax_redirects_per_day = 2\n")?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    fx.add_account("lee", "이영희", "another-Password-2")?;
    {
        let store = fx.open_store().await?;
        let forward_all = "redirect \"lee@test.go.kr\";\n";
        store.put_script("kim", "전달", forward_all, QUOTA).await?;
        store.set_active_script("kim", Some("전달")).await?;
    }
    let daemon = fx.start()?;
    let subjects_sent = ["전달 1", "전달 2", "전달 3", "전달 4", "전달 5", "전달 6"];
    send_at_once(daemon.addr("smtp").port(), "kim@test.go.kr", &subjects_sent)?;
    drop(daemon);

    let store = fx.open_store().await?;
    let lee = subjects(&*store, "lee", "INBOX").await?;
    assert_eq!(lee.len(), 2, "the cap's worth redirected: {lee:?}");
    let kim = subjects(&*store, "kim", "INBOX").await?;
    let kept: Vec<&String> = kim.iter().filter(|s| s.starts_with("전달")).collect();
    assert_eq!(kept.len(), 4, "the rest kept: {kim:?}");
    let mut all: Vec<&String> = lee.iter().chain(kept).collect();
    all.sort();
    assert_eq!(all, subjects_sent, "every message once, none lost");
    let told: Vec<&String> = kim
        .iter()
        .filter(|s| s.contains("redirect limit"))
        .collect();
    assert_eq!(told.len(), 1, "kim is told once: {kim:?}");
    assert_eq!(kim.len(), 5, "{kim:?}");
    let events = store.audit_by_account("kim", 50).await?;
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(
        count("sieve.redirect"),
        2,
        "each redirect carried out is audited"
    );
    assert_eq!(count("sieve.redirect_cap"), 1);
    Ok(())
}
