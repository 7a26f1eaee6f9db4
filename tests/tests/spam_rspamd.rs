//! Spam filtering through a real rspamd (and Redis for its Bayes learning), started once
//! for this test binary: mail on port 25 sent with swaks, read and filed with Python's
//! imaplib presenting the user's certificate.
//!
//! - rspamd's GTUBE pattern is refused with 550 5.7.1 and rspamd's words; its add-header
//!   and rewrite-subject variants land in a new `\Junk` mailbox with `X-Spam-*` fields; a
//!   clean message lands in INBOX with `X-Spam-*` fields (and without the sender's forged
//!   ones).
//! - MOVE into Junk makes the controller learn the message as spam, MOVE back out as ham:
//!   the controller refuses loopback without the password, so its `learned` count going up
//!   proves the password was sent.
//! - Submissions (465, smtplib) are scanned only with `scan_submissions`: the pattern is
//!   then refused with 550.
//! - rspamd down: with `fail_open` (the default) mail is accepted, marked unscanned; with
//!   `fail_open = false` (applied by `certmail reload`) it is deferred with 451.

use std::process::Command;
use std::time::{Duration, Instant};

use certmail_tests::fixtures;
use certmail_tests::rspamd::{CONTROLLER_PASSWORD, Rspamd};

const PASSWORD: &str = "Gpki-Pass-2026!";
/// rspamd's test patterns (`enable_test_patterns`): reject, add header, rewrite subject.
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const GTUBE_ADD_HEADER: &str =
    "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const GTUBE_REWRITE: &str = "ZJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
/// Long enough for rspamd's Bayes (it skips messages of fewer than 11 tokens).
const CLEAN_BODY: &str = "김철수 과장님, 내일 오전 10시 정부세종청사 회의실에서 예산 검토 회의가 \
있습니다. Please bring the quarterly budget report, the procurement schedule and the \
minutes of the last meeting so that we can review every open item together.";

/// Sends one message to hong@test.go.kr on port 25 with swaks; its transcript, whether it
/// was accepted or not.
fn swaks(mx: std::net::SocketAddr, subject: &str, body: &str, extra: &[&str]) -> String {
    let out = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &mx.port().to_string()])
        .args(["--helo", "mx.partner.kr", "--from", "kim@partner.kr"])
        .args(["--to", "hong@test.go.kr", "--timeout", "30"])
        .args(["--h-Subject", subject, "--body", body])
        .args(extra)
        .output()
        .expect("swaks runs (scripts/test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Runs `code` in Python after signing in over IMAPS with the user's certificate (`M` is
/// the imaplib session; `headers(mailbox)` lists each message's header block, decoded
/// Subject first); returns what it printed.
fn imap(fx: &fixtures::Installation, port: u16, code: &str) -> anyhow::Result<String> {
    let (ca, cert, key) = fx.client_pem_paths();
    let script = format!(
        r#"
import imaplib, ssl, json, email
from email.header import decode_header, make_header
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})
M = imaplib.IMAP4_SSL("localhost", {port}, ssl_context=ctx, timeout=30)
M.login("hong", {PASSWORD:?})
def headers(mailbox):
    typ, _ = M.select(mailbox)
    assert typ == "OK", mailbox
    typ, data = M.uid("FETCH", "1:*", "(BODY.PEEK[HEADER])")
    out = []
    for item in data:
        if isinstance(item, tuple):
            block = item[1].decode()
            subject = str(make_header(decode_header(email.message_from_string(block)["Subject"] or "")))
            out.append(subject + "\n" + block)
    return out
{code}
M.logout()
"#
    );
    let out = Command::new("python3").arg("-c").arg(script).output()?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(out.status.success(), "python imaplib failed:\n{all}");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits (up to 30 s) until the controller has learned `count` messages.
fn wait_learned(rspamd: &Rspamd, count: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let learned = rspamd.learned()?;
        if learned >= count {
            assert_eq!(learned, count, "learned more than was moved");
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "rspamd learned {learned} messages, expected {count} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn rspamd_filters_port_25_mail_and_learns_from_junk_moves() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let mut rspamd = Rspamd::start(&fx.dir.path().join("rspamd"))?;
    fx.append_config(&format!(
        "[spam]\nscan_url = \"{}\"\ncontroller_url = \"{}\"\ncontroller_password = \"{CONTROLLER_PASSWORD}\"\ntimeout_secs = 10\n",
        rspamd.scan_url(),
        rspamd.controller_url(),
    ))?;
    let daemon = fx.start()?;
    let (mx, imaps) = (daemon.addr("smtp"), daemon.addr("imaps").port());

    let refused = swaks(mx, "광고", GTUBE, &[]);
    assert!(
        refused.contains("<** 550 5.7.1 The message was refused as spam: Gtube pattern"),
        "{refused}"
    );
    for (subject, body) in [
        ("광고 헤더", GTUBE_ADD_HEADER),
        ("광고 제목", GTUBE_REWRITE),
    ] {
        let t = swaks(mx, subject, body, &[]);
        assert!(t.contains("<-  250 2.0.0"), "{t}");
    }
    let forged = [
        "--add-header",
        "X-Spam-Flag: NO",
        "--add-header",
        "X-Spam-Score: -100",
    ];
    let t = swaks(mx, "예산 회의", CLEAN_BODY, &forged);
    assert!(t.contains("<-  250 2.0.0"), "{t}");

    let listed = imap(
        &fx,
        imaps,
        r#"print(json.dumps({"list": [l.decode() for l in M.list()[1]], "INBOX": headers("INBOX"), "Junk": headers("Junk")}))"#,
    )?;
    let seen: serde_json::Value = serde_json::from_str(listed.trim())?;
    let list = seen["list"].to_string();
    assert!(list.contains("\\\\Junk") && list.contains("Junk"), "{list}");
    let inbox: Vec<String> = serde_json::from_value(seen["INBOX"].clone())?;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(inbox[0].starts_with("예산 회의\n"), "{}", inbox[0]);
    for field in [
        "X-Spam-Flag: NO\r\n",
        "X-Spam-Action: no action\r\n",
        "X-Spam-Status: No, score=",
    ] {
        assert!(inbox[0].contains(field), "{field} missing:\n{}", inbox[0]);
    }
    assert!(
        !inbox[0].contains("X-Spam-Score: -100"),
        "the sender's field stays:\n{}",
        inbox[0]
    );
    assert_eq!(inbox[0].matches("X-Spam-Flag:").count(), 1, "{}", inbox[0]);

    let junk: Vec<String> = serde_json::from_value(seen["Junk"].clone())?;
    assert_eq!(junk.len(), 2, "{junk:?}");
    assert!(
        junk[0].starts_with("광고 헤더\n") && junk[0].contains("X-Spam-Action: add header\r\n"),
        "{}",
        junk[0]
    );
    assert!(
        junk[1].starts_with("*** SPAM *** 광고 제목\n")
            && junk[1].contains("X-Spam-Action: rewrite subject\r\n"),
        "{}",
        junk[1]
    );
    for j in &junk {
        assert!(
            j.contains("X-Spam-Flag: YES\r\n") && j.contains("X-Spam-Score: "),
            "{j}"
        );
    }

    // The user says the clean one is spam after all, then changes their mind.
    assert_eq!(rspamd.learned()?, 0);
    imap(
        &fx,
        imaps,
        r#"M.select("INBOX"); typ, d = M.uid("MOVE", "1:*", "Junk"); assert typ == "OK", d"#,
    )?;
    wait_learned(&rspamd, 1)?;
    imap(
        &fx,
        imaps,
        r#"M.select("Junk")
typ, d = M.uid("SEARCH", "HEADER", "X-Spam-Action", "\"no action\"")
assert typ == "OK" and len(d[0].split()) == 1, d
typ, d = M.uid("MOVE", d[0].decode(), "INBOX"); assert typ == "OK", d"#,
    )?;
    wait_learned(&rspamd, 2)?;

    // Submissions are not scanned by default; with scan_submissions (applied by `certmail
    // reload`) they are, so a compromised account cannot send the test pattern on.
    let submissions = daemon.addr("submissions").port();
    let own = |subject| ("홍길동 <hong@test.go.kr>", subject, GTUBE);
    certmail_tests::outside::smtplib_submit(&fx, submissions, PASSWORD, own("제출 검사 없음"))?;
    let config = std::fs::read_to_string(&fx.config_path)?;
    let scanned = config.replace(
        "timeout_secs = 10\n",
        "timeout_secs = 10\nscan_submissions = true\n",
    );
    anyhow::ensure!(scanned != config, "no [spam] timeout_secs line to follow");
    std::fs::write(&fx.config_path, scanned)?;
    let (code, _, err) = fx.certmail(&["reload"])?;
    assert_eq!(code, 0, "{err}");
    let refused =
        certmail_tests::outside::smtplib_submit(&fx, submissions, PASSWORD, own("제출 검사"));
    let Err(why) = refused else {
        anyhow::bail!("a scanned submission of GTUBE was accepted");
    };
    let why = format!("{why:#}");
    assert!(
        why.contains("550") && why.contains("refused as spam"),
        "{why}"
    );

    // rspamd goes down: fail_open (the default) accepts, marked unscanned.
    rspamd.stop_filter();
    let t = swaks(mx, "필터 중단", CLEAN_BODY, &[]);
    assert!(t.contains("<-  250 2.0.0"), "{t}");
    let after = imap(&fx, imaps, r#"print(json.dumps(headers("INBOX")))"#)?;
    let after: Vec<String> = serde_json::from_str(after.trim())?;
    let unscanned = after
        .iter()
        .find(|h| h.starts_with("필터 중단\n"))
        .expect("delivered");
    assert!(
        unscanned.contains("X-Spam-Status: Unknown, not scanned"),
        "{unscanned}"
    );
    let subjects: Vec<&str> = after.iter().filter_map(|h| h.lines().next()).collect();
    assert!(subjects.contains(&"제출 검사 없음"), "{subjects:?}");
    assert!(!subjects.contains(&"제출 검사"), "{subjects:?}");
    drop(daemon);
    Ok(())
}

#[test]
fn rspamd_unreachable_defers_mail_when_fail_open_is_off() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    // A port nothing listens on: the filter is down.
    let port = certmail_testkit::ports::free_port()?;
    let spam = format!("[spam]\nscan_url = \"http://127.0.0.1:{port}\"\ntimeout_secs = 5\n");
    fx.append_config(&spam)?;
    let daemon = fx.start()?;
    let mx = daemon.addr("smtp");
    let t = swaks(mx, "열린 실패", CLEAN_BODY, &[]);
    assert!(t.contains("<-  250 2.0.0"), "fail_open is the default: {t}");

    let config = std::fs::read_to_string(&fx.config_path)?;
    std::fs::write(
        &fx.config_path,
        config.replace(&spam, &format!("{spam}fail_open = false\n")),
    )?;
    let (code, _, err) = fx.certmail(&["reload"])?;
    assert_eq!(code, 0, "{err}");
    let t = swaks(mx, "닫힌 실패", CLEAN_BODY, &[]);
    assert!(
        t.contains("<** 451 4.3.0 The spam filter is not available right now; try again later"),
        "{t}"
    );
    drop(daemon);
    let inbox =
        certmail_tests::outside::subjects(&tokio_block(fx.mailbox_bodies("hong", "INBOX"))?);
    assert_eq!(inbox, ["열린 실패"]);
    Ok(())
}

fn tokio_block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}
