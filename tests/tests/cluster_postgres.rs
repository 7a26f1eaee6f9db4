//! The daemon on PostgreSQL (`[store] backend = "postgres"`), against a real PostgreSQL
//! server the test starts: mail delivered over SMTP (swaks) is read over IMAP (Python's
//! imaplib), survives a killed daemon, and two nodes — each its own data directory, the
//! same key file and the same database — append to one mailbox at once with unique UIDs.

use certmail_store_pg::pg_harness::PgServer;
use certmail_tests::cluster::{imaplib, imaplib_at, on_postgres, other_node, start};

const SUBJECTS: &str = r#"
typ, data = M.select("INBOX", readonly=True)
assert typ == "OK", data
typ, data = M.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])")
parts = [p for p in data if isinstance(p, tuple)]
print("|".join(sorted(p[1].decode().strip() for p in parts if p[1].startswith(b"Subject"))))
assert any("보고서".encode() in p[1] for p in parts), parts
"#;

#[tokio::test(flavor = "multi_thread")]
async fn mail_on_postgres_reaches_imap_and_survives_a_killed_daemon() -> anyhow::Result<()> {
    let (fx, _) = on_postgres("").await?;
    let mut daemon = fx.start()?;
    certmail_tests::outside::swaks_to_hong(daemon.addr("smtp"), "예산안 1차")?;
    certmail_tests::outside::swaks_to_hong(daemon.addr("smtp"), "예산안 2차")?;
    let seen = imaplib(&fx, &daemon, SUBJECTS)?;
    assert_eq!(seen.trim(), "Subject: 예산안 1차|Subject: 예산안 2차");

    // 250 was said after COMMIT: SIGKILL loses nothing, and nothing is in the data directory.
    daemon.kill9()?;
    drop(daemon);
    assert!(
        !fx.dir.path().join("data/store").exists(),
        "the sled store was opened although [store] backend = \"postgres\""
    );
    let daemon = fx.start()?;
    let seen = imaplib(&fx, &daemon, SUBJECTS)?;
    assert_eq!(seen.trim(), "Subject: 예산안 1차|Subject: 예산안 2차");
    Ok(())
}

/// Appends 15 messages through each node at once; prints the APPENDUIDs.
fn append_script(node: &str) -> String {
    format!(
        r#"
uids = []
for i in range(15):
    msg = "From: hong@test.go.kr\r\nSubject: {node} 메모 %d\r\n\r\n회의록 %d\r\n" % (i, i)
    typ, data = M.append("INBOX", None, None, msg.encode())
    assert typ == "OK", data
    uids.append(data[0].decode().split("APPENDUID ")[1].split("]")[0].split()[1])
print(" ".join(uids))
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_append_to_one_mailbox_with_unique_uids() -> anyhow::Result<()> {
    let (fx, _) = on_postgres("").await?;
    let node_b_config = other_node(&fx, "node-b")?;
    let a = fx.start()?;
    let b = start(&node_b_config, &[])?;
    // The nodes share the mail: a message delivered through B is read through A.
    certmail_tests::outside::swaks_to_hong(b.addr("smtp"), "B로 배달")?;
    assert_eq!(imaplib(&fx, &a, SUBJECTS)?.trim(), "Subject: B로 배달");

    let (script_a, script_b) = (append_script("A"), append_script("B"));
    let (port_a, port_b) = (a.addr("imaps").port(), b.addr("imaps").port());
    let (from_a, from_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| imaplib_at(&fx, port_a, &script_a));
        let tb = s.spawn(|| imaplib_at(&fx, port_b, &script_b));
        (ta.join().expect("thread"), tb.join().expect("thread"))
    });
    let mut uids: Vec<u32> = format!("{} {}", from_a?.trim(), from_b?.trim())
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    assert_eq!(uids.len(), 30);
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 30, "two appends got the same UID: {uids:?}");

    // Both nodes list the same 31 messages with the same UIDs.
    let list = r#"
M.select("INBOX", readonly=True)
typ, data = M.uid("SEARCH", None, "ALL")
print(data[0].decode())
"#;
    let on_a = imaplib(&fx, &a, list)?;
    let on_b = imaplib(&fx, &b, list)?;
    assert_eq!(on_a, on_b);
    let listed: Vec<u32> = on_a
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    assert_eq!(listed.len(), 31);
    assert!(
        uids.iter().all(|u| listed.contains(u)),
        "{uids:?} {listed:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn check_config_connects_and_backup_points_to_pg_dump() -> anyhow::Result<()> {
    let (fx, _) = on_postgres("").await?;
    let (code, out, err) = fx.certmail(&["check-config"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("PostgreSQL store: connected, schema version"),
        "{out}"
    );

    let backup_dir = fx.dir.path().join("backup");
    let (code, out, err) = fx.certmail(&["backup", backup_dir.to_str().expect("utf-8")])?;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("pg_dump") && err.contains("PITR"), "{err}");
    let (code, _, err) = fx.certmail(&["restore", backup_dir.to_str().expect("utf-8")])?;
    assert_eq!(code, 1);
    assert!(err.contains("pg_dump"), "{err}");

    // The schema is current (the CLI that added hong migrated it); `store migrate` says so.
    let (code, out, err) = fx.certmail(&["store", "migrate"])?;
    assert_eq!(code, 0, "{out}{err}");
    let known = certmail_store_pg::schema::SCHEMA_VERSION;
    assert!(
        out.contains(&format!("version {known}, already current")),
        "{out}"
    );

    // A database nobody listens on is a problem check-config names.
    let text = std::fs::read_to_string(&fx.config_path)?;
    let port = PgServer::shared().port().to_string();
    std::fs::write(&fx.config_path, text.replace(&port, "1"))?;
    let (code, _, err) = fx.certmail(&["check-config"])?;
    assert_eq!(code, 1);
    assert!(
        err.contains("[store] postgres_url") && err.contains("connecting to PostgreSQL"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn store_migrate_brings_an_empty_database_to_the_current_schema() -> anyhow::Result<()> {
    let url = PgServer::shared().create_database().await;
    let fx = certmail_tests::fixtures::Installation::new()?;
    fx.append_config(&format!(
        "[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\n"
    ))?;
    let (code, out, err) = fx.certmail(&["check-config"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("schema version 0;"), "{out}");
    let (code, out, err) = fx.certmail(&["store", "migrate"])?;
    assert_eq!(code, 0, "{out}{err}");
    let known = certmail_store_pg::schema::SCHEMA_VERSION;
    assert!(
        out.contains(&format!("migrated from version 0 to {known}")),
        "{out}"
    );
    let (code, out, err) = fx.certmail(&["check-config"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("schema version {known} (current)")),
        "{out}"
    );
    Ok(())
}
