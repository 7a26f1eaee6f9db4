//! `certmail store copy`: an installation filled through the real daemon (swaks, Python's
//! imaplib with the client certificate, the admin CLI) and the store API (a Sieve script,
//! a queued message) is copied from sled to PostgreSQL and back to a fresh sled data
//! directory. A daemon on each copy shows over IMAP the same UIDVALIDITY, UIDs, MODSEQs,
//! flags, ACL and bodies. A store a daemon holds and a non-empty target are refused.

use std::collections::BTreeMap;
use std::time::Duration;

use certmail_store::prelude::*;
use certmail_store::{Delivery, KeyFile, QueueEntry, QueueRecipient, RecipientStatus};
use certmail_store::{ScriptQuota, SledStore};
use certmail_store_pg::pg_harness::PgServer;
use certmail_tests::cluster::{PASSWORD, imaplib, start};
use certmail_tests::{fixtures, outside};

/// Fills hong's mailboxes over IMAP: a large message, flags and a keyword, an expunged
/// UID, a copy, a subscription.
const FILL: &str = r#"
typ, data = M.create("Projects")
assert typ == "OK", data
big = ("From: 김철수 <kim@test.go.kr>\r\nSubject: 예산 보고서\r\n\r\n"
       + "세부 예산은 첨부와 같습니다.\r\n" * 60000).encode()
typ, data = M.append("Projects", r"(\Flagged)", None, big)
assert typ == "OK", data
for n in range(3):
    msg = "From: 이영희 <lee@test.go.kr>\r\nSubject: 회의록 %d\r\n\r\n회의 내용 %d\r\n" % (n, n)
    typ, data = M.append("INBOX", r"($Work)", None, msg.encode())
    assert typ == "OK", data
M.select("INBOX")
M.uid("STORE", "1", "+FLAGS", r"(\Seen)")
M.uid("STORE", "3", "+FLAGS", r"(\Deleted)")
typ, data = M.expunge()
assert typ == "OK", data
typ, data = M.uid("COPY", "1", "Projects")
assert typ == "OK", data
typ, data = M.subscribe("Projects")
assert typ == "OK", data
print("filled")
"#;

/// What a user sees: per mailbox its UIDVALIDITY and HIGHESTMODSEQ, each message's UID,
/// MODSEQ, flags (but \Recent, which is the session's), size and SHA-256, the ACL of
/// Projects and the subscriptions.
const LOOK: &str = r#"
import hashlib
out = []
for box in ["INBOX", "Projects"]:
    typ, data = M.select(box, readonly=True)
    assert typ == "OK", data
    uv = M.response("UIDVALIDITY")[1][0].decode()
    hm = M.response("HIGHESTMODSEQ")[1]
    out.append("%s UIDVALIDITY %s HIGHESTMODSEQ %s" % (box, uv, hm))
    typ, data = M.uid("FETCH", "1:*", "(UID MODSEQ FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    for part in data:
        if isinstance(part, tuple):
            # \Recent belongs to a session, not to the store.
            meta = part[0].decode().split(" BODY[]")[0].replace(" \\Recent", "").replace("\\Recent", "")
            out.append("%s %s %d %s" % (box, meta, len(part[1]), hashlib.sha256(part[1]).hexdigest()))
typ, data = M.getacl("Projects")
out.append(" ".join(d.decode() for d in data))
typ, data = M.lsub()
out.append(" ".join(sorted(d.decode() for d in data)))
print("\n".join(out))
"#;

/// Delivers one body to hong and kim at once (stored once) with swaks.
fn swaks_to_both(smtp: std::net::SocketAddr) -> anyhow::Result<()> {
    let port = smtp.port().to_string();
    let mut swaks = std::process::Command::new("swaks");
    swaks.args(["--server", "127.0.0.1", "--port", &port]);
    swaks.args(["--from", "minister@other.example"]);
    swaks.args(["--to", "hong@test.go.kr,kim@test.go.kr"]);
    swaks.args([
        "--h-Subject",
        "전 직원 공지",
        "--body",
        "내일 회의는 10시입니다.",
    ]);
    outside::run_ok(&mut swaks).map(|_| ())
}

/// What the daemon cannot be asked over IMAP or SMTP: a Sieve script, active, and a
/// message waiting in the outbound queue.
async fn fill_store(fx: &fixtures::Installation) -> anyhow::Result<()> {
    let data = fx.dir.path().join("data");
    let key = KeyFile::load(&data.join("store.key"))?;
    let store = SledStore::open_async(&data.join("store"), key).await?;
    let quota = ScriptQuota {
        max_bytes: 10_000,
        max_scripts: 5,
    };
    let script = "require \"fileinto\";\nif header :contains \"subject\" \"회의\" { fileinto \"Projects\"; }\n";
    store.put_script("hong", "회의 분류", script, quota).await?;
    store.set_active_script("hong", Some("회의 분류")).await?;
    let entry = QueueEntry {
        id: 0,
        from: "hong@test.go.kr".into(),
        recipients: vec![QueueRecipient {
            address: "park@other.example".into(),
            status: RecipientStatus::Pending,
            attempts: 1,
            last_error: Some("451 4.4.1 잠시 후 다시".into()),
            notify: 0,
        }],
        blob: Default::default(),
        created_at: 1_800_000_000,
        // Far ahead: no daemon tries it during the test.
        next_attempt: 4_000_000_000,
        envelope_meta: BTreeMap::new(),
    };
    store
        .deliver(Delivery {
            outgoing: Vec::new(),
            body: "From: 홍길동 <hong@test.go.kr>\r\nSubject: 답장\r\n\r\n확인했습니다.\r\n".into(),
            internal_date: 1_800_000_000,
            recipients: vec![],
            queue: vec![entry],
            quota: certmail_store::MailQuota::Unlimited,
            redirects: Vec::new(),
        })
        .await?;
    Ok(())
}

/// Stops a daemon with SIGTERM and waits for it to exit.
fn stop(mut daemon: certmail_tests::DaemonProcess) -> anyhow::Result<()> {
    daemon.signal("TERM")?;
    anyhow::ensure!(daemon.wait_exit(Duration::from_secs(20))?.is_some());
    Ok(())
}

/// Every row of the summary table shows the same count on both sides.
fn assert_counts_match(table: &str) {
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("  ") && !l.contains("RECORDS"))
        .collect();
    assert!(rows.len() >= 17, "{table}");
    for row in rows {
        let numbers: Vec<&str> = row.split_whitespace().rev().take(2).collect();
        assert_eq!(numbers[0], numbers[1], "{row}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_installation_moves_to_postgres_and_back() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", PASSWORD)?;
    let sled_config = std::fs::read_to_string(&fx.config_path)?;
    let data = fx.dir.path().join("data");
    let daemon = fx.start()?;
    swaks_to_both(daemon.addr("smtp"))?;
    outside::swaks_to_hong(daemon.addr("smtp"), "예산안 검토")?;
    assert_eq!(imaplib(&fx, &daemon, FILL)?.trim(), "filled");
    let (code, _, err) = fx.certmail(&[
        "mailbox",
        "share",
        "hong/Projects",
        "--to",
        "kim",
        "--rights",
        "lrs",
    ])?;
    assert_eq!(code, 0, "{err}");

    // While the daemon holds the sled store, the copy is refused with a reason.
    let url = PgServer::shared().create_database().await;
    let from = format!("sled:{}", data.display());
    let to = format!("postgres:{url}");
    let (code, _, err) = fx.certmail(&["store", "copy", "--from", &from, "--to", &to])?;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("in use by a running certmail daemon") && err.contains("stop it"),
        "{err}"
    );

    let before = imaplib(&fx, &daemon, LOOK)?;
    assert!(
        before.contains("lrs") && before.contains("$Work"),
        "{before}"
    );
    stop(daemon)?;
    fill_store(&fx).await?;

    let (code, out, err) = fx.certmail(&["store", "copy", "--from", &from, "--to", &to])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("every count matches"), "{out}");
    assert_counts_match(&out);
    // Not a terminal: progress is plain lines on stderr.
    assert!(
        err.contains("bodies:") && err.contains("accounts: 2 done"),
        "{err}"
    );

    fx.append_config(&format!(
        "[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\n\n[cluster]\nnode_name = \"node-a\"\n"
    ))?;
    let on_pg = fx.start()?;
    assert_eq!(imaplib(&fx, &on_pg, LOOK)?, before);
    let sieve = "SELECT count(*) FROM sieve_scripts WHERE active";
    let db = url.rsplit('/').next().and_then(|d| d.split('?').next());
    let db = db.unwrap_or_default();
    let active: i64 = PgServer::shared()
        .connect(db)
        .await
        .query_one(sieve, &[])
        .await?
        .get(0);
    assert_eq!(active, 1);

    // A database a node is running on is refused, as a source and as a target.
    let back = fx.dir.path().join("back");
    let back_arg = format!("sled:{}", back.display());
    for args in [[&to, &back_arg], [&from, &to]] {
        let (code, _, err) = fx.certmail(&["store", "copy", "--from", args[0], "--to", args[1]])?;
        assert_eq!(code, 3, "{err}");
        assert!(
            err.contains("nodes are running")
                && err.contains("node-a")
                && err.contains("stop certmail"),
            "{err}"
        );
    }
    stop(on_pg)?;

    // The database now holds mail: a second copy into it is refused.
    let (code, _, err) = fx.certmail(&["store", "copy", "--from", &from, "--to", &to])?;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("not empty") && err.contains("new, empty"),
        "{err}"
    );

    // Back to a fresh sled data directory; a daemon there shows the same mail.
    let (code, out, err) = fx.certmail(&["store", "copy", "--from", &to, "--to", &back_arg])?;
    assert_eq!(code, 0, "{out}{err}");
    assert_counts_match(&out);
    let data_line = format!("data_dir = {:?}", data.display().to_string());
    let back_config = sled_config.replacen(
        &data_line,
        &format!(
            "data_dir = {:?}\nkey_file = {:?}",
            back.display().to_string(),
            data.join("store.key").display().to_string()
        ),
        1,
    );
    anyhow::ensure!(
        back_config != sled_config,
        "no {data_line} in the configuration"
    );
    let back_path = fx.dir.path().join("back.toml");
    std::fs::write(&back_path, back_config)?;
    let on_back = start(&back_path, &[])?;
    assert_eq!(imaplib(&fx, &on_back, LOOK)?, before);
    let key = KeyFile::load(&data.join("store.key"))?;
    stop(on_back)?;
    let store = SledStore::open_async(&back.join("store"), key).await?;
    assert_eq!(store.queue_list().await?.len(), 1);
    let script = store.active_script("hong").await?.map(|s| s.name);
    assert_eq!(script.as_deref(), Some("회의 분류"));
    Ok(())
}
