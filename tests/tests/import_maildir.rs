//! `certmail import-maildir` on a live daemon: a Dovecot Maildir++ tree with a Korean
//! folder name in modified UTF-7, a nested folder, flags in file names, a Dovecot keyword
//! and dovecot-uidlist order, checked over IMAP (LIST, FETCH FLAGS INTERNALDATE BODY[]).

use std::path::Path;
use std::time::{Duration, SystemTime};

use certmail_tests::fixtures;
use futures::TryStreamExt as _;

const PASSWORD: &str = "Gpki-Pass-2026!";
const STEP: Duration = Duration::from_secs(30);
/// 보낸편지함 ("sent mail box") in modified UTF-7, as Dovecot names the directory.
const KOREAN: &str = "&vPSwuNO4ycDVaA-";

/// A message as IMAP must report it: body, flags (sorted, async-imap's names), INTERNALDATE.
type Expected<'a> = (&'a [u8], &'a [&'a str], i64);

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Writes one message file with the given name and mtime (Unix seconds); returns its body.
fn put(dir: &Path, sub: &str, name: &str, subject: &str, mtime: u64) -> anyhow::Result<Vec<u8>> {
    std::fs::create_dir_all(dir.join(sub))?;
    for other in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(other))?;
    }
    let body = format!(
        "From: 김철수 <kim@test.go.kr>\r\nTo: hong@test.go.kr\r\nSubject: {subject}\r\n\r\n{subject} 본문입니다.\r\n"
    )
    .into_bytes();
    let path = dir.join(sub).join(name);
    std::fs::write(&path, &body)?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(mtime);
    std::fs::File::options()
        .write(true)
        .open(&path)?
        .set_modified(when)?;
    Ok(body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dovecot_maildir_arrives_with_folders_flags_and_dates() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;

    let md = fx.dir.path().join("Maildir");
    // INBOX: dovecot-uidlist puts the newer file first, so it must get the lower UID.
    let second = put(
        &md,
        "cur",
        "1795300000.M2P9.old:2,S",
        "두 번째",
        1_795_300_000,
    )?;
    let first = put(
        &md,
        "cur",
        "1795200000.M1P9.old:2,FR",
        "첫 번째",
        1_795_200_000,
    )?;
    let unread = put(&md, "new", "1795310000.M3P9.old", "새 편지", 1_795_310_000)?;
    std::fs::write(
        md.join("dovecot-uidlist"),
        "3 V1795000000 N4 G0123\n1 :1795300000.M2P9.old\n2 :1795200000.M1P9.old\n",
    )?;
    let korean_dir = md.join(format!(".{KOREAN}"));
    let korean = put(
        &korean_dir,
        "cur",
        "1795000000.M4P9.old:2,Sa",
        "보고",
        1_795_000_000,
    )?;
    std::fs::write(korean_dir.join("dovecot-keywords"), "0 $Forwarded\n")?;
    let nested = put(
        &md.join(".Work.Reports"),
        "cur",
        "1795000001.M5P9.old:2,ST",
        "주간 보고",
        1_795_000_001,
    )?;
    let sent = put(
        &md.join(".Sent"),
        "cur",
        "1795000002.M6P9.old:2,S",
        "보낸",
        1_795_000_002,
    )?;
    let draft = put(
        &md.join(".Drafts"),
        "cur",
        "1795000003.M7P9.old:2,DS",
        "초안",
        1_795_000_003,
    )?;

    let md_arg = md.to_str().expect("utf-8");
    let (code, out, _) = fx.certmail(&["import-maildir", "nobody", md_arg, "--json"])?;
    assert_eq!(code, 1, "{out}");
    assert_eq!(json(&out)["code"], "not_found");
    let not_maildir = fx.dir.path().to_str().expect("utf-8");
    let (code, out, _) = fx.certmail(&["import-maildir", "hong", not_maildir, "--json"])?;
    assert_eq!(code, 1, "{out}");
    assert_eq!(json(&out)["code"], "invalid");

    let (code, out, err) = fx.certmail(&["import-maildir", "hong", md_arg, "--json"])?;
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["data"]["imported"], 7);
    assert_eq!(v["data"]["failed"], 0);

    let mut session =
        certmail_tests::imap_session::login(daemon.addr("imaps"), fx.user_tls()?, "hong", PASSWORD)
            .await?;
    let listed: Vec<_> = tokio::time::timeout(STEP, async {
        let l = session.list(Some(""), Some("*")).await?;
        Ok::<_, anyhow::Error>(l.try_collect::<Vec<_>>().await?)
    })
    .await??;
    let names: Vec<&str> = listed.iter().map(|n| n.name()).collect();
    for want in [
        "INBOX",
        KOREAN,
        "Work",
        "Work/Reports",
        "Sent",
        "Drafts",
        "Trash",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with('.')),
        "no Maildir++ dots leak into names: {names:?}"
    );

    let expect: [(&str, Vec<Expected<'_>>); 5] = [
        (
            "INBOX",
            vec![
                (&second, &["Seen"], 1_795_300_000),
                (&first, &["Answered", "Flagged"], 1_795_200_000),
                (&unread, &[], 1_795_310_000),
            ],
        ),
        (
            KOREAN,
            vec![(&korean, &["Custom(\"$Forwarded\")", "Seen"], 1_795_000_000)],
        ),
        (
            "Work/Reports",
            vec![(&nested, &["Deleted", "Seen"], 1_795_000_001)],
        ),
        ("Sent", vec![(&sent, &["Seen"], 1_795_000_002)]),
        ("Drafts", vec![(&draft, &["Draft", "Seen"], 1_795_000_003)]),
    ];
    for (mailbox, messages) in expect {
        tokio::time::timeout(STEP, session.examine(mailbox)).await??;
        let fetched: Vec<_> = tokio::time::timeout(STEP, async {
            let f = session
                .uid_fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
                .await?;
            Ok::<_, anyhow::Error>(f.try_collect::<Vec<_>>().await?)
        })
        .await??;
        assert_eq!(fetched.len(), messages.len(), "{mailbox}");
        for (f, (body, flags, date)) in fetched.iter().zip(&messages) {
            assert_eq!(f.body().expect("body"), *body, "{mailbox} UID {:?}", f.uid);
            let mut got: Vec<String> = f
                .flags()
                .map(|x| format!("{x:?}"))
                .filter(|x| x != "Recent")
                .collect();
            got.sort();
            assert_eq!(got, *flags, "{mailbox} UID {:?}", f.uid);
            let internal = f.internal_date().expect("INTERNALDATE").timestamp();
            assert_eq!(
                internal, *date,
                "{mailbox}: INTERNALDATE is the file's mtime"
            );
        }
    }
    session.logout().await?;
    Ok(())
}

/// A message larger than `[imap] append_limit` is skipped with a sentence naming the key;
/// raising the key in the configuration imports it.
#[tokio::test(flavor = "multi_thread")]
async fn import_follows_the_configured_append_limit() -> anyhow::Result<()> {
    const BIG: &str = "1795400001.M2P9.old:2,S";
    let mut fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.edit_config(|c| c.imap.append_limit = Some(200_000))?;
    // One Maildir with a short and a long letter, another with the long one alone.
    let (md, big) = (fx.dir.path().join("Maildir"), fx.dir.path().join("Big"));
    put(
        &md,
        "cur",
        "1795400000.M1P9.old:2,S",
        "짧은 편지",
        1_795_400_000,
    )?;
    let mut large = put(&big, "cur", BIG, "긴 편지", 1_795_400_001)?;
    large.extend(
        "가나다라마바사 아자차카타파하\r\n"
            .repeat(7_000)
            .into_bytes(),
    );
    assert!(large.len() > 200_000 && large.len() < 400_000);
    std::fs::write(big.join("cur").join(BIG), &large)?;
    std::fs::write(md.join("cur").join(BIG), &large)?;

    let md_arg = md.to_str().expect("utf-8");
    let (code, out, err) = fx.certmail(&["import-maildir", "hong", md_arg, "--json"])?;
    assert_eq!(code, 1, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["data"]["imported"], 1, "{out}");
    assert_eq!(v["data"]["failed"], 1, "{out}");
    let why = format!(
        "{} bytes, over [imap] append_limit (200000 bytes",
        large.len()
    );
    assert!(err.contains(&why), "the refusal names the key: {err}");

    fx.edit_config(|c| c.imap.append_limit = Some(400_000))?;
    let big_arg = big.to_str().expect("utf-8");
    let (code, out, err) = fx.certmail(&["import-maildir", "hong", big_arg, "--json"])?;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["imported"], 1, "{out}");
    Ok(())
}
