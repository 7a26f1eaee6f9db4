//! `certmail backup` on a live daemon with a client connected over IMAP, then `certmail
//! restore` into a new installation (a new data directory with the same PKI and key file):
//! the restored daemon serves every message byte for byte with its flags. Restore refuses
//! a running daemon, a missing or wrong key, and a store that already holds mail.
//!
//! Those commands copy sled's files. On PostgreSQL (`CERTMAIL_TEST_STORE=postgres`) the
//! same commands on the same live installation refuse with a sentence pointing to pg_dump
//! and point-in-time recovery, and write nothing: the test asserts that instead.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use async_imap::Session;
use certmail_testkit::backend::{self, StoreBackend};
use certmail_tests::lines::mx_deliver;
use certmail_tests::{DaemonProcess, fixtures, run_certmail, tls};
use futures::TryStreamExt as _;
use tokio::net::TcpStream;

const PASSWORD: &str = "Gpki-Pass-2026!";
/// 보관함 ("archive box") in IMAP modified UTF-7, as a client sends it.
const BOX: &str = "&vPStANVo-";
const STEP: Duration = Duration::from_secs(30);

type Imap = Session<tokio_rustls::client::TlsStream<TcpStream>>;

/// Mailbox → (UID → (flags, body)) as the server reports them.
type Snapshot = BTreeMap<String, BTreeMap<u32, (Vec<String>, Vec<u8>)>>;

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

async fn sign_in(daemon: &DaemonProcess, fx: &fixtures::Installation) -> anyhow::Result<Imap> {
    let stream = tls::connect(daemon.addr("imaps"), fx.user_tls()?).await?;
    let mut client = async_imap::Client::new(stream);
    anyhow::ensure!(
        tokio::time::timeout(STEP, client.read_response())
            .await??
            .is_some(),
        "no greeting"
    );
    Ok(tokio::time::timeout(STEP, client.login("hong", PASSWORD))
        .await?
        .map_err(|(e, _)| e)?)
}

/// Every message of every mailbox, with flags, fetched with BODY.PEEK[] (flags unchanged).
async fn snapshot(session: &mut Imap) -> anyhow::Result<Snapshot> {
    let names: Vec<String> = tokio::time::timeout(STEP, async {
        let list: Vec<_> = session
            .list(Some(""), Some("*"))
            .await?
            .try_collect()
            .await?;
        Ok::<_, anyhow::Error>(list.iter().map(|n| n.name().to_string()).collect())
    })
    .await??;
    let mut out = Snapshot::new();
    for name in names {
        let mailbox = tokio::time::timeout(STEP, session.examine(&name)).await??;
        let mut messages = BTreeMap::new();
        if mailbox.exists > 0 {
            let fetched: Vec<_> = tokio::time::timeout(STEP, async {
                let stream = session.uid_fetch("1:*", "(UID FLAGS BODY.PEEK[])").await?;
                Ok::<_, anyhow::Error>(stream.try_collect::<Vec<_>>().await?)
            })
            .await??;
            for f in fetched {
                // \Recent belongs to the session that first sees a message, not to it.
                let mut flags: Vec<String> = f
                    .flags()
                    .map(|x| format!("{x:?}"))
                    .filter(|x| x != "Recent")
                    .collect();
                flags.sort();
                let uid = f.uid.expect("UID requested");
                messages.insert(uid, (flags, f.body().expect("body").to_vec()));
            }
        }
        out.insert(name, messages);
    }
    Ok(out)
}

/// (mailbox, UID, flags, size) of every message: what a failure message can show.
fn summary(s: &Snapshot) -> Vec<(String, u32, Vec<String>, usize)> {
    s.iter()
        .flat_map(|(name, m)| {
            m.iter()
                .map(|(uid, (flags, body))| (name.clone(), *uid, flags.clone(), body.len()))
        })
        .collect()
}

async fn deliver(daemon: &DaemonProcess, subject: &str, text: &str) -> anyhow::Result<()> {
    let message = format!("Subject: {subject}\r\n\r\n{text}\r\n");
    let delivery = mx_deliver(daemon.addr("smtp"), "hong@test.go.kr", &message);
    tokio::time::timeout(STEP, delivery).await?
}

/// A message of about `size` bytes with a Korean body (no line starts with a dot).
fn large_message(size: usize) -> Vec<u8> {
    let mut m =
        "From: hong@test.go.kr\r\nTo: kim@test.go.kr\r\nSubject: =?UTF-8?B?7LKo67aA?=\r\n\r\n"
            .as_bytes()
            .to_vec();
    let mut n = 0u32;
    while m.len() < size {
        m.extend_from_slice(format!("{n:06} 첨부 파일 내용입니다 — 홍길동\r\n").as_bytes());
        n += 1;
    }
    m
}

/// A second installation beside `fx`: same PKI and listeners, its own data directory.
fn second_config(fx: &fixtures::Installation) -> anyhow::Result<std::path::PathBuf> {
    let text = std::fs::read_to_string(&fx.config_path)?;
    let data = fx.dir.path().join("data");
    let data2 = fx.dir.path().join("data2");
    let text = text.replace(
        &format!("{:?}", data.display().to_string()),
        &format!("{:?}", data2.display().to_string()),
    );
    anyhow::ensure!(text.contains("data2"), "data_dir not found in the config");
    let path = fx.dir.path().join("certmail2.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The second installation ([`second_config`]) for restoring the backup `b`: without the
/// first one's key file, or with another key, restore refuses; then that key file is
/// copied there.
fn second_config_with_the_key(
    fx: &fixtures::Installation,
    b: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let config2 = second_config(fx)?;
    // Without the key file, or with another key, restore refuses and writes nothing.
    let (code, out, _) = certmail_with(&config2, &["restore", b, "--json"])?;
    assert_eq!(code, 1, "{out}");
    assert_eq!(json(&out)["code"], "no_key");
    let key2 = fx.dir.path().join("data2/store.key");
    std::fs::create_dir_all(fx.dir.path().join("data2"))?;
    let (code, _, err) = certmail_with(&config2, &["keygen"])?;
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = certmail_with(&config2, &["restore", b, "--json"])?;
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["code"], "wrong_key");
    assert!(v["message"].as_str().expect("text").contains("store key"));
    std::fs::copy(fx.dir.path().join("data/store.key"), &key2)?;
    Ok(config2)
}

fn certmail_with(config: &Path, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let mut all = args.to_vec();
    all.extend(["--config", config.to_str().expect("utf-8")]);
    run_certmail(&all, &[])
}

/// Mail in three mailboxes (one message of several body chunks) with flags, delivered and
/// appended through the live daemon: the signed-in session and what it sees.
async fn fill(
    daemon: &DaemonProcess,
    fx: &fixtures::Installation,
) -> anyhow::Result<(Imap, Snapshot)> {
    deliver(daemon, "결재 요청", "내일까지 결재 부탁드립니다.").await?;
    deliver(daemon, "회의 안내", "오후 3시 회의실에서 뵙겠습니다.").await?;
    let mut session = sign_in(daemon, fx).await?;
    tokio::time::timeout(STEP, session.create(BOX)).await??;
    let large = large_message(200 * 1024); // stored as several 64 KiB chunks
    tokio::time::timeout(
        STEP,
        session.append(BOX, Some("(\\Flagged \\Seen)"), None, &large),
    )
    .await??;
    tokio::time::timeout(
        STEP,
        session.append(
            "Sent",
            Some("(\\Seen)"),
            None,
            b"Subject: sent\r\n\r\nhi\r\n",
        ),
    )
    .await??;
    tokio::time::timeout(STEP, session.select("INBOX")).await??;
    let stored: Vec<_> = tokio::time::timeout(STEP, async {
        let s = session
            .uid_store("1", "+FLAGS (\\Answered $Forwarded)")
            .await?;
        Ok::<_, anyhow::Error>(s.try_collect::<Vec<_>>().await?)
    })
    .await??;
    assert_eq!(stored.len(), 1);
    let before = snapshot(&mut session).await?;
    assert_eq!(before["INBOX"].len(), 2);
    assert_eq!(before[BOX].values().next().expect("one").1, large);
    Ok((session, before))
}

/// What an operator checks on each backend: sled's backup restores every message; on
/// PostgreSQL the commands say to use PostgreSQL's tools and write nothing.
#[tokio::test(flavor = "multi_thread")]
async fn backup_of_a_live_daemon_restores_every_message_or_points_to_pg_dump() -> anyhow::Result<()>
{
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    let (session, before) = fill(&daemon, &fx).await?;
    match backend::requested() {
        StoreBackend::Sled => backup_and_restore(&fx, daemon, session, &before).await,
        StoreBackend::Postgres => refused_on_postgres(&fx, session, &before).await,
    }
}

/// `certmail backup` with the session connected, then `certmail restore` into a second
/// installation, whose daemon serves `before` again.
async fn backup_and_restore(
    fx: &fixtures::Installation,
    daemon: DaemonProcess,
    mut session: Imap,
    before: &Snapshot,
) -> anyhow::Result<()> {
    // The backup, while the IMAP session stays connected.
    let backup = fx.dir.path().join("backups/2026-11-22");
    let (code, out, err) = fx.certmail(&["backup", backup.to_str().expect("utf-8"), "--json"])?;
    assert_eq!(code, 0, "{out}{err}");
    let manifest = &json(&out)["data"]["manifest"];
    assert_eq!(manifest["counts"]["accounts"], 1);
    assert_eq!(manifest["counts"]["messages"], 4);
    assert!(backup.join("manifest.json").is_file());
    // The same directory again is refused: a backup is never overwritten.
    let (code, out, _) = fx.certmail(&["backup", backup.to_str().expect("utf-8"), "--json"])?;
    assert_eq!(code, 1);
    assert_eq!(json(&out)["code"], "backup_failed");
    // The session went on undisturbed, and mail after the backup is not in it.
    tokio::time::timeout(STEP, session.noop()).await??;
    deliver(&daemon, "백업 이후", "이 편지는 백업에 없습니다.").await?;
    drop(session);
    drop(daemon);

    let b = backup.to_str().expect("utf-8");
    let config2 = second_config_with_the_key(fx, b)?;
    let (code, out, err) = certmail_with(&config2, &["restore", b])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 messages"), "{out}");
    // A second restore would replace mail: refused without --force.
    let (code, out, _) = certmail_with(&config2, &["restore", b, "--json"])?;
    assert_eq!(code, 1);
    assert_eq!(json(&out)["code"], "not_empty");
    // --force moves the store aside (never deletes it) and restores again.
    let (code, out, err) = certmail_with(&config2, &["restore", b, "--force", "--json"])?;
    assert_eq!(code, 0, "{out}{err}");
    let aside = json(&out)["data"]["previous_store"]
        .as_str()
        .expect("where the old store went")
        .to_string();
    assert!(Path::new(&aside).join("db").is_file(), "{aside}");

    let daemon2 = DaemonProcess::start(
        &["serve", "--config", config2.to_str().expect("utf-8")],
        &[],
        &fixtures::LISTENERS,
    )?;
    // Restore into a running installation: exit code 3.
    let (code, out, _) = certmail_with(&config2, &["restore", b, "--json"])?;
    assert_eq!(code, 3, "{out}");
    assert_eq!(json(&out)["code"], "daemon_running");

    let mut session = sign_in(&daemon2, fx).await?;
    let after = snapshot(&mut session).await?;
    assert_eq!(
        summary(&after),
        summary(before),
        "folders, UIDs, flags, sizes"
    );
    assert!(after == *before, "every body comes back byte for byte");
    session.logout().await?;
    Ok(())
}

/// On PostgreSQL `certmail backup` and `restore` (with `--force` too) refuse, in text and
/// JSON, naming pg_dump, PITR and the key file; no backup directory appears, no sled store
/// is made or moved aside, and the live session reads `before` unchanged.
async fn refused_on_postgres(
    fx: &fixtures::Installation,
    mut session: Imap,
    before: &Snapshot,
) -> anyhow::Result<()> {
    let backup = fx.dir.path().join("backups/2026-11-22");
    let b = backup.to_str().expect("utf-8");
    for args in [
        &["backup", b][..],
        &["restore", b],
        &["restore", b, "--force"],
    ] {
        let (code, out, err) = fx.certmail(args)?;
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.contains("pg_dump")
                && err.contains("point-in-time recovery (PITR)")
                && err.contains("[server] key_file"),
            "{args:?}: {err}"
        );
        let (code, out, _) = fx.certmail(&[args, &["--json"]].concat())?;
        assert_eq!(code, 1, "{args:?}: {out}");
        assert_eq!(json(&out)["code"], "postgres_store", "{args:?}: {out}");
    }
    assert!(
        !fx.dir.path().join("backups").exists(),
        "a backup was written"
    );
    let data: Vec<String> = std::fs::read_dir(fx.dir.path().join("data"))?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    assert!(
        data.iter()
            .all(|name| !name.starts_with("store") || name == "store.key"),
        "a sled store was made or moved: {data:?}"
    );
    tokio::time::timeout(STEP, session.noop()).await??;
    assert!(
        snapshot(&mut session).await? == *before,
        "the mail is as it was"
    );
    session.logout().await?;
    Ok(())
}
