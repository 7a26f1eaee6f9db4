//! The CLI side of an operator's first day (issue 22), as an administrator runs it:
//! `account delete` (confirmation, `--keep-mail` read back by `import-maildir`, live
//! session ended, daemon running and stopped), the audit log's actor, arguments and outcome,
//! one vocabulary between `session list`, `device list` and `stats`, `cert inspect`'s text
//! with every field of `--json`, and the manual pages rendered by `man`. On PostgreSQL
//! `session list` shows each session's node first (the NODE column).

use std::process::{Command, Stdio};
use std::time::Duration;

use certmail_testkit::backend;
use certmail_tests::fixtures;
use unicode_width::UnicodeWidthStr as _;

const PASSWORD: &str = "Gpki-Pass-2026!";
const STEP: Duration = Duration::from_secs(30);

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// This process's uid, as the daemon reads it from the admin socket (the owner of
/// /proc/self).
fn my_uid() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").expect("procfs").uid()
}

/// The admin audit events of `account`, oldest first.
fn admin_events(fx: &fixtures::Installation, account: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = fx
        .certmail(&["audit", "search", "--account", account, "--json"])
        .expect("audit search runs");
    assert_eq!(code, 0, "{err}");
    json(&out)["data"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "admin")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn account_delete_keeps_mail_on_request_and_ends_the_session() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", PASSWORD)?;
    let daemon = fx.start()?;
    let mut session =
        certmail_tests::imap_session::login(daemon.addr("imaps"), fx.user_tls()?, "hong", PASSWORD)
            .await?;
    // 업무/결재 in IMAP's modified UTF-7, as a mail program sends it.
    const WORK: &str = "&xcW7NA-/&rLDHrA-";
    tokio::time::timeout(STEP, session.create(WORK)).await??;
    for (mailbox, flags, text) in [
        (
            "INBOX",
            Some("(\\Seen)"),
            "Subject: 회의\r\n\r\n내일 10시\r\n",
        ),
        (
            WORK,
            Some("(\\Flagged $Label1)"),
            "Subject: 결재\r\n\r\n승인 요청\r\n",
        ),
    ] {
        tokio::time::timeout(STEP, session.append(mailbox, flags, None, text.as_bytes())).await??;
    }

    // No terminal and no --yes: nothing happens, and the answer says how to go on.
    let (code, _, err) = fx.certmail(&["account", "delete", "hong"])?;
    assert_eq!(code, 1);
    assert!(err.contains("--yes"), "{err}");
    let (code, _, _) = fx.certmail(&["account", "show", "hong"])?;
    assert_eq!(code, 0, "still there");

    let kept = fx.dir.path().join("hong-mail");
    let kept_str = kept.to_str().expect("utf-8");
    let (code, out, err) = fx.certmail(&[
        "account",
        "delete",
        "hong",
        "--yes",
        "--keep-mail",
        kept_str,
        "--json",
    ])?;
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["data"]["exported_messages"], 2, "{out}");
    assert!(v["data"]["connections_ended"].as_u64() >= Some(1), "{out}");
    assert!(
        tokio::time::timeout(STEP, session.noop()).await?.is_err(),
        "the live session was ended"
    );
    let (code, _, err) = fx.certmail(&["account", "show", "hong", "--json"])?;
    assert_eq!(code, 1, "{err}");

    // The kept mail is a Maildir that import-maildir reads back, into kim.
    let (code, out, err) = fx.certmail(&["import-maildir", "kim", kept_str, "--json"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["imported"], 2, "{out}");
    // hong's mail went with hong; what is left is kim's imported copy.
    let (_, out, _) = fx.certmail(&["stats", "--json"])?;
    assert_eq!(json(&out)["data"]["stats"]["messages"], 2, "{out}");

    // Audited with who, what and the outcome.
    let events = admin_events(&fx, "hong");
    let delete = events
        .iter()
        .rev()
        .find(|e| e["fields"]["op"] == "account-delete" && e["fields"]["ok"] == "true")
        .expect("the deletion is audited");
    assert_eq!(delete["fields"]["actor"], format!("uid={}", my_uid()));
    let args = delete["fields"]["args"].as_str().expect("args");
    assert!(
        args.contains(kept_str) && args.contains("\"id\":\"hong\""),
        "{args}"
    );
    // A refusal is audited with its outcome too.
    let (code, _, _) = fx.certmail(&["account", "delete", "nobody", "--yes"])?;
    assert_eq!(code, 1);
    let refused = admin_events(&fx, "nobody");
    let refused = refused.last().expect("the refusal is audited");
    assert_eq!(refused["fields"]["ok"], "false");
    assert_eq!(refused["fields"]["code"], "not_found");
    drop(daemon);

    // The stopped-daemon path: the same request on the store, audited as direct.
    let (code, out, err) = fx.certmail(&["account", "delete", "kim", "--yes", "--json"])?;
    assert_eq!(code, 0, "{out}{err}");
    let events = admin_events(&fx, "kim");
    let last = events.last().expect("audited");
    assert_eq!(last["fields"]["op"], "account-delete");
    assert_eq!(last["fields"]["actor"], format!("uid={} direct", my_uid()));
    let (code, out, _) = fx.certmail(&["account", "delete", "kim", "--yes", "--json"])?;
    assert_eq!(code, 1);
    assert_eq!(json(&out)["code"], "not_found");
    Ok(())
}

/// `YYYY-MM-DD HH:MMZ`.
fn is_day_minute(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 => *c == b':',
            16 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn one_vocabulary_for_devices_states_and_stats() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account_with("jang", "장영실", PASSWORD, false)?;
    let daemon = fx.start()?;
    let _session =
        certmail_tests::imap_session::login(daemon.addr("imaps"), fx.user_tls()?, "hong", PASSWORD)
            .await?;

    let (code, out, err) = fx.certmail(&["session", "list", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let live = json(&out)["data"]["sessions"][0].clone();
    let (code, out, err) = fx.certmail(&["device", "list", "hong", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let known = json(&out)["data"]["devices"][0].clone();
    // One spelling, certificate@where; the session is keyed by the exact address, the
    // registry by the network, and each says so.
    let session_device = live["device"].as_str().expect("device");
    let registry_device = known["id"].as_str().expect("id");
    let (cert, ip) = session_device.split_once('@').expect("cert@address");
    assert_eq!(cert.len(), 8, "{session_device}");
    assert_eq!(ip, "127.0.0.1");
    assert_eq!(registry_device, format!("{cert}@127.0.0.0/24"));
    assert_eq!(live["device_key"], "certificate + address");
    assert_eq!(known["device_key"], "certificate + network");

    let (_, table, _) = fx.certmail(&["session", "list"])?;
    assert!(table.contains("DEVICE (CERT@ADDRESS)"), "{table}");
    // On PostgreSQL the list is the cluster's: each session's node comes first.
    let head = table
        .lines()
        .find(|l| l.contains("DEVICE (CERT@ADDRESS)"))
        .unwrap_or_default();
    let first = match backend::node_name() {
        Some(node) => {
            assert!(head.starts_with("NODE "), "{table}");
            assert_eq!(live["node"], node, "{live}");
            node
        }
        None => {
            assert!(head.starts_with("ACCOUNT "), "{table}");
            assert!(!live["node"].is_string(), "{live}");
            "hong"
        }
    };
    let row = table
        .lines()
        .find(|l| l.starts_with(first) && l.split_whitespace().any(|c| c == "hong"))
        .expect("hong's row");
    assert!(row.contains(session_device), "{row}");
    let since: String = row
        .split("  ")
        .filter(|c| !c.is_empty())
        .last()
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(
        is_day_minute(&since),
        "SINCE shows a time: {since:?} in {row}"
    );
    let (_, table, _) = fx.certmail(&["device", "list", "hong"])?;
    assert!(
        table.contains("DEVICE (CERT@NETWORK)") && table.contains(registry_device),
        "{table}"
    );

    // `pending approval` in the account's JSON, in stats' JSON and in stats' table; no
    // JSON in the table.
    let (_, out, _) = fx.certmail(&["account", "show", "jang", "--json"])?;
    assert_eq!(json(&out)["data"]["account"]["state"], "pending approval");
    let (_, out, _) = fx.certmail(&["stats", "--json"])?;
    assert_eq!(
        json(&out)["data"]["stats"]["accounts_by_state"]["pending approval"],
        1
    );
    let (code, table, _) = fx.certmail(&["stats"])?;
    assert_eq!(code, 0);
    assert!(table.contains("active 1, pending approval 1"), "{table}");
    assert!(
        !table.contains('{') && !table.contains('"'),
        "no raw JSON in the table:\n{table}"
    );
    assert!(table.contains("connections 1, live 1"), "{table}");
    Ok(())
}

#[test]
fn cert_inspect_text_shows_what_json_has() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let cert = fx.user_cert.to_str().expect("utf-8");
    let (code, out, err) =
        fx.certmail(&["cert", "inspect", cert, "--account", "hong", "--json"])?;
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let c = &v["data"]["certificate"];
    for key in ["not_before", "not_after"] {
        let t = c[key].as_str().expect("an RFC 3339 string");
        assert!(
            t.len() == 20 && t.ends_with('Z') && &t[10..11] == "T",
            "{key}: {t}"
        );
    }
    assert!(v["data"]["identity"]["not_after"].is_string(), "{out}");
    let steps: Vec<(String, String)> = v["data"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or("").into(),
                s["result"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(steps.len(), 8, "{steps:?}");
    assert!(steps.iter().all(|(_, r)| r == "ok"), "{steps:?}");

    let (code, text, _) = fx.certmail(&["cert", "inspect", cert, "--account", "hong"])?;
    assert_eq!(code, 0);
    for (label, key) in [
        ("subject", "subject"),
        ("issuer", "issuer"),
        ("serial", "serial"),
    ] {
        let value = c[key].as_str().expect("field");
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in:\n{text}"));
        assert!(line.contains(value), "{line} vs {value}");
    }
    for needle in [
        "not before",
        c["not_after"].as_str().expect("date"),
        "policies",
        "CRL DP",
        "STEP",
        "revocation",
        "account state",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    for p in c["policies"].as_array().expect("policies") {
        assert!(
            text.contains(p.as_str().unwrap_or("?")),
            "{p} missing:\n{text}"
        );
    }

    // Refused: the step that refused says so, the later ones were not checked.
    let (code, out, _) =
        fx.certmail(&["cert", "inspect", cert, "--account", "nobody", "--json"])?;
    assert_eq!(code, 1);
    let steps = json(&out)["data"]["steps"].clone();
    let binding = steps
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == "binding")
        .expect("binding");
    assert_eq!(binding["result"], "refused", "{steps}");
    assert_eq!(steps[6]["result"], "not checked", "{steps}");
    Ok(())
}

/// `certmail man [PAGE]` rendered by man(1) at 80 columns.
fn rendered(fx: &fixtures::Installation, page: &[&str]) -> anyhow::Result<String> {
    let mut args = vec!["man"];
    args.extend(page);
    let (code, roff, err) = fx.certmail(&args)?;
    anyhow::ensure!(code == 0, "{err}");
    let file = fx.dir.path().join("page.roff");
    std::fs::write(&file, roff)?;
    let out = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "man: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn manual_pages_render_with_every_section_in_80_columns() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let (_, help, _) = fx.certmail(&["--help"])?;
    assert!(
        help.lines().any(|l| l.trim_start().starts_with("man ")),
        "{help}"
    );

    let page = rendered(&fx, &[])?;
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "FILES",
        "SIGNALS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "SEE ALSO",
    ] {
        assert!(
            page.lines().any(|l| l == section),
            "{section} missing:\n{page}"
        );
    }
    for needle in [
        "certmail account delete",
        "SIGHUP",
        "CERTMAIL_CONFIG",
        "certmail.toml(5)",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    let page5 = rendered(&fx, &["certmail.toml"])?;
    for needle in ["[server]", "[pki]", "crl_grace_secs = 86400", "certmail(8)"] {
        assert!(page5.contains(needle), "{needle} missing:\n{page5}");
    }
    for (name, text) in [("certmail(8)", &page), ("certmail.toml(5)", &page5)] {
        let wide: Vec<&str> = text.lines().filter(|l| l.width() > 80).collect();
        assert!(wide.is_empty(), "{name} lines over 80 columns: {wide:#?}");
    }
    Ok(())
}
