//! Shared mailboxes (RFC 4314 ACL, RFC 2342 namespaces) with real clients: the rights
//! matrix over Python's imaplib for two accounts (홍길동 shares, 김철수 uses), each with
//! its own client certificate, and IDLE of the reader hearing the owner's delivery.
//! URLAUTH between the two people, on a shared mailbox too.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use certmail_tests::cert_kinds::{CertKinds, write_pem};
use certmail_tests::matrix_setup::{self, PASSWORD};
use certmail_tests::outside::{run_ok, swaks_to_hong};

/// The certificates, made once per test binary (RSA keys take a while).
fn kinds() -> &'static CertKinds {
    static K: OnceLock<CertKinds> = OnceLock::new();
    K.get_or_init(|| CertKinds::generate().expect("test PKI (needs the openssl CLI)"))
}

/// hong's, kim's and lee's certificate and key (PEM) under `dir`.
fn pems(dir: &std::path::Path) -> anyhow::Result<[(PathBuf, PathBuf); 3]> {
    let k = kinds();
    Ok([
        write_pem(dir, "hong", &k.people.epki_ecdsa)?,
        write_pem(dir, "kim", &k.people.gpki_ecdsa)?,
        write_pem(dir, "lee", &k.people.epki_rsa)?,
    ])
}

/// Runs `tests/shared/<script>` (arguments as `tests/shared/sharing.py` reads them, then
/// `extra`) against the daemon's IMAPS listener; its standard output.
fn run_script(
    fx: &certmail_tests::fixtures::Installation,
    daemon: &certmail_tests::DaemonProcess,
    script: &str,
    extra: &[&str],
) -> anyhow::Result<String> {
    let [
        (hong_cert, hong_key),
        (kim_cert, kim_key),
        (lee_cert, lee_key),
    ] = pems(fx.dir.path())?;
    let script = format!("{}/tests/shared/{script}", env!("CARGO_MANIFEST_DIR"));
    let port = daemon.addr("imaps").port().to_string();
    let printed = run_ok(
        Command::new("python3")
            .args([
                &script,
                &port,
                arg(&fx.server_ca),
                arg(&hong_cert),
                arg(&hong_key),
                arg(&kim_cert),
                arg(&kim_key),
                arg(&lee_cert),
                arg(&lee_key),
                PASSWORD,
            ])
            .args(extra),
    )?;
    Ok(printed.stdout)
}

/// `certmail mailbox share MAILBOX --to TO --rights RIGHTS` on the running daemon.
fn share(
    fx: &certmail_tests::fixtures::Installation,
    mailbox: &str,
    to: &str,
    rights: &str,
) -> anyhow::Result<(i32, String, String)> {
    fx.certmail(&["mailbox", "share", mailbox, "--to", to, "--rights", rights])
}

fn arg(p: &std::path::Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_right_is_needed_by_its_commands() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let daemon = fx.start()?;
    let printed = run_script(&fx, &daemon, "acl_matrix.py", &[])?;
    assert!(printed.contains("acl matrix ok"), "{printed}");
    for right in ["l", "r", "s", "w", "t", "e", "i", "k", "x", "a"] {
        assert!(
            printed.contains(&format!("right {right} ")),
            "right {right} untested: {printed}"
        );
    }
    drop(daemon);
    let (code, out, err) = fx.certmail(&["audit", "tail", "-n", "500", "--json"])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("acl_changed"), "granting is audited: {out}");
    assert!(
        out.contains("shared_mailbox_use"),
        "using is audited: {out}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readers_idle_hears_the_owners_delivery() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let daemon = fx.start()?;
    let [(hong_cert, hong_key), (kim_cert, kim_key), _] = pems(fx.dir.path())?;
    let smtp = daemon.addr("smtp");
    // The administrator shares 홍길동's INBOX with 김철수 on the running daemon.
    let (code, out, err) = share(&fx, "hong/INBOX", "kim", "lrz")?;
    assert_ne!(code, 0, "an unknown right is refused: {out}");
    assert!(
        format!("{out}{err}").contains("'z' is not a right"),
        "{out}{err}"
    );
    let (code, out, err) = share(&fx, "hong/INBOX", "kim", "lrs")?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Other Users/hong/INBOX"),
        "the answer says where kim finds it: {out}"
    );
    let script = format!(
        r#"
import imaplib, ssl, subprocess, sys
def connect(cert, key, login):
    ctx = ssl.create_default_context(cafile={ca:?})
    ctx.load_cert_chain(cert, key)
    m = imaplib.IMAP4_SSL("localhost", {port}, ssl_context=ctx, timeout=20)
    m.login(login, {pw:?})
    return m
hong = connect({hc:?}, {hk:?}, "hong")
typ, data = hong.getacl("INBOX")
assert typ == "OK" and b"kim lrs" in data[0], data
kim = connect({kc:?}, {kk:?}, "kim")
typ, data = kim.list('"Other Users/"', "*")
assert b'"Other Users/hong/INBOX"' in b" ".join(data), data
typ, data = kim.select('"Other Users/hong/INBOX"')
assert typ == "OK" and data == [b"0"], data
tag = kim._new_tag().decode()
kim.send((tag + " IDLE\r\n").encode())
assert kim.readline().startswith(b"+"), "IDLE continues"
print("idling", flush=True)
sys.stdin.readline()
line = kim.readline()
assert line == b"* 1 EXISTS\r\n", line
kim.send(b"DONE\r\n")
while not (line := kim.readline()).startswith(tag.encode() + b" "):
    assert line.startswith(b"* "), line
assert line.startswith(tag.encode() + b" OK"), line
typ, data = kim.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert "부서 회의".encode() in data[0][1], data
print("idle ok")
"#,
        ca = arg(&fx.server_ca),
        port = daemon.addr("imaps").port(),
        pw = PASSWORD,
        hc = arg(&hong_cert),
        hk = arg(&hong_key),
        kc = arg(&kim_cert),
        kk = arg(&kim_key),
    );
    let mut python = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut stdout = std::io::BufReader::new(python.stdout.take().expect("piped"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first)?;
    assert_eq!(first.trim(), "idling", "the reader is in IDLE first");
    swaks_to_hong(smtp, "부서 회의")?;
    {
        use std::io::Write;
        let mut stdin = python.stdin.take().expect("piped");
        stdin.write_all(b"go\n")?;
    }
    let out = python.wait_with_output()?;
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest)?;
    assert!(
        out.status.success() && rest.contains("idle ok"),
        "{rest}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Per-user `\\Seen` (RFC 4314 §4): what a reader reads stays unread for the owner and
/// the other readers, and the other way round.
#[tokio::test(flavor = "multi_thread")]
async fn each_reader_keeps_their_own_seen() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let daemon = fx.start()?;
    let printed = run_script(&fx, &daemon, "per_user_seen.py", &[])?;
    for step in [
        "implicit seen ok",
        "status and select ok",
        "store ok",
        "per-user seen ok",
    ] {
        assert!(printed.contains(step), "{step} missing: {printed}");
    }
    Ok(())
}

/// A reader's own `\\Seen` moves the message's MODSEQ (RFC 7162): the reader's other
/// device finds it with CHANGEDSINCE and QRESYNC and hears it in IDLE; the owner sees the
/// MODSEQ move with the message still unread, and a plain connection hears nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_readers_seen_reaches_their_other_devices_by_modseq() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let daemon = fx.start()?;
    let printed = run_script(&fx, &daemon, "seen_modseq.py", &[])?;
    for step in ["changedsince ok", "owner ok", "idle ok"] {
        assert!(printed.contains(step), "{step} missing: {printed}");
    }
    Ok(())
}

/// A reader subscribes to a shared mailbox (LSUB, LIST (SUBSCRIBED)); a revoked one leaves
/// LSUB and shows `\NonExistent` (RFC 5258 §3.1); the subscription follows the owner's
/// rename.
#[tokio::test(flavor = "multi_thread")]
async fn a_reader_subscribes_to_a_shared_mailbox() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let daemon = fx.start()?;
    let printed = run_script(&fx, &daemon, "subscribed.py", &[])?;
    for step in [
        "subscribe ok",
        "refusals ok",
        "subscriptions ok",
        "rename ok",
    ] {
        assert!(printed.contains(step), "{step} missing: {printed}");
    }
    Ok(())
}

/// `[imap] max_acl_entries`: SETACL and `certmail mailbox share` naming one entry more are
/// refused with the key to raise; `check-config` refuses a cap of 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_mailboxs_access_list_is_capped() -> anyhow::Result<()> {
    let mut fx = matrix_setup::installation(kinds()).await?;
    fx.edit_config(|c| c.imap.max_acl_entries = 2)?;
    let daemon = fx.start()?;
    let printed = run_script(&fx, &daemon, "acl_cap.py", &[])?;
    assert!(printed.contains("acl cap ok"), "{printed}");
    // The list is full (kim, park): the CLI says the same.
    let (code, out, err) = share(&fx, "hong/공유/예산", "yoon", "lr")?;
    assert_ne!(code, 0, "a third entry is refused: {out}");
    assert!(
        format!("{out}{err}").contains("max_acl_entries = 2"),
        "{out}{err}"
    );
    let (code, out, err) = share(&fx, "hong/공유/예산", "kim", "lrsw")?;
    assert_eq!(code, 0, "an existing entry may change: {out}{err}");
    drop(daemon);
    fx.edit_config(|c| c.imap.max_acl_entries = 0)?;
    let (code, out, err) = fx.certmail(&["check-config"])?;
    assert_ne!(code, 0, "{out}");
    assert!(
        format!("{out}{err}").contains("[imap] max_acl_entries"),
        "{out}{err}"
    );
    Ok(())
}

/// Thunderbird's "Other Users" view: its IMAP exchange for a shared folder replayed as a
/// raw transcript (`tests/shared/thunderbird_other_users.txt`), each response it relies
/// on checked.
#[tokio::test(flavor = "multi_thread")]
async fn thunderbirds_other_users_view() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let daemon = fx.start()?;
    let transcript = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/shared/thunderbird_other_users.txt"
    );
    let printed = run_script(&fx, &daemon, "replay.py", &[transcript])?;
    assert!(printed.contains("thunderbird transcript ok"), "{printed}");
    assert!(printed.contains("step 14 ok"), "{printed}");
    Ok(())
}

/// The same view, as a real Thunderbird (153.8.0esr) sent it: the commands of its IMAP log
/// (`tests/shared/thunderbird_other_users_real.txt`, see its header for how it was
/// captured) replayed, each response it relies on checked.
#[tokio::test(flavor = "multi_thread")]
async fn a_real_thunderbirds_other_users_view() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let daemon = fx.start()?;
    let transcript = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/shared/thunderbird_other_users_real.txt"
    );
    let printed = run_script(&fx, &daemon, "replay.py", &[transcript])?;
    assert!(printed.contains("thunderbird transcript ok"), "{printed}");
    assert!(printed.contains("step 92 ok"), "{printed}");
    Ok(())
}

/// NOTIFY (RFC 5465) on another person's shared mailboxes: `subtree` and `mailboxes` on
/// `Other Users/hong/...` tell the reader STATUS for the owner's new mail there, nothing of
/// the owner's unshared mailboxes, and nothing more once "r" is taken away.
#[tokio::test(flavor = "multi_thread")]
async fn notify_tells_the_reader_of_shared_mailboxes() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let daemon = fx.start()?;
    let printed = run_script(&fx, &daemon, "notify_shared.py", &[])?;
    assert!(printed.contains("subtree ok"), "{printed}");
    assert!(printed.contains("mailboxes ok"), "{printed}");
    assert!(
        printed.contains("notify on shared mailboxes ok"),
        "{printed}"
    );
    Ok(())
}

/// URLAUTH (RFC 4467) between two people: 김철수 fetches what 홍길동's URLs admit him to,
/// nothing after RESETKEY; a URL of a shared mailbox reads with its signer's rights and
/// stops working when the share is taken back (`tests/shared/urlauth.py`).
#[tokio::test(flavor = "multi_thread")]
async fn urlauth_urls_reach_whom_they_name_until_reset() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let daemon = fx.start()?;
    let printed = run_script(&fx, &daemon, "urlauth.py", &[])?;
    assert!(printed.contains("urlauth ok"), "{printed}");
    Ok(())
}
