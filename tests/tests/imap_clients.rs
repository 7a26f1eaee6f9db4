//! Real IMAP clients nobody here wrote — Python's imaplib, curl and mbsync — each presenting
//! the GPKI-like client certificate: a desktop client's day end to end.

use std::process::Command;
use std::time::Duration;

use certmail_tests::fixtures;

// ASCII: Python's smtplib encodes AUTH PLAIN as ASCII.
const PASSWORD: &str = "Gpki-Pass-2026!";

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    Ok(certmail_tests::outside::run_ok(cmd)?.stdout)
}

#[test]
fn imaplib_day_curl_and_mbsync() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    certmail_tests::outside::swaks_to_hong(daemon.addr("smtp"), "first")?;
    certmail_tests::outside::swaks_to_hong(daemon.addr("smtp"), "second")?;
    let (ca, cert, key) = fx.client_pem_paths();
    let imaps = daemon.addr("imaps").port();

    // Python imaplib: sign in, list, CONDSTORE sync, fetch, flag, move to Trash, expunge,
    // and IDLE woken by mail delivered over SMTP meanwhile.
    let script = format!(
        r#"
import imaplib, ssl, smtplib, socket, threading, time, re, sys
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})
M = imaplib.IMAP4_SSL("localhost", {imaps}, ssl_context=ctx, timeout=20)
assert "CONDSTORE" in M.capabilities and "IDLE" in M.capabilities and "MOVE" in M.capabilities, M.capabilities
M.login("hong", {pw:?})
typ, boxes = M.list()
names = b"\n".join(boxes).decode()
for special in ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"]:
    assert special in names, names
M.enable("CONDSTORE")
typ, data = M.select("INBOX")
assert typ == "OK" and int(data[0]) == 2, data
typ, data = M.fetch("1:*", "(UID FLAGS MODSEQ BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
text = b" ".join(p if isinstance(p, bytes) else b" ".join(p) for p in data).decode()
assert "first" in text and "second" in text and "MODSEQ" in text, text
typ, data = M.uid("FETCH", "1", "(BODY[])")
assert "보고서".encode() in data[0][1], data
typ, data = M.store("1", "+FLAGS", "(\\Flagged)")
assert b"\\Flagged" in data[0] and b"\\Seen" in data[0], data
typ, data = M.uid("MOVE", "2", "Trash")
assert typ == "OK", data
typ, data = M.select("Trash")
assert int(data[0]) == 1, data
M.store("1", "+FLAGS", "(\\Deleted)")
typ, data = M.expunge()
assert data == [b"1"], data
typ, data = M.status("Trash", "(MESSAGES)")
assert b"MESSAGES 0" in data[0], data
M.select("INBOX")
tag = M._new_tag().decode()
M.send(f"{{tag}} IDLE\r\n".encode())
assert M.readline().startswith(b"+"), "IDLE accepted"
def deliver():
    time.sleep(0.5)
    with smtplib.SMTP("127.0.0.1", {smtp}, timeout=20) as s:
        s.sendmail("a@other.example", ["hong@test.go.kr"], "Subject: third\r\n\r\nwake up\r\n")
threading.Thread(target=deliver).start()
M.sock.settimeout(10)
line = M.readline()
assert re.match(rb"\* \d+ EXISTS", line), line
M.send(b"DONE\r\n")
while not M.readline().startswith(tag.encode()):
    pass
M.logout()
print("imaplib ok")
"#,
        pw = PASSWORD,
        smtp = daemon.addr("smtp").port(),
    );
    let out = run(Command::new("python3").arg("-c").arg(script))?;
    assert!(out.contains("imaplib ok"), "{out}");

    // curl: list the mailboxes and fetch a message over imaps:// with the client certificate.
    let url = format!("imaps://localhost:{imaps}/");
    let base = [
        "--silent",
        "--show-error",
        "--max-time",
        "20",
        "--cacert",
        ca,
        "--cert",
        cert,
        "--key",
        key,
        "--user",
    ];
    let user = format!("hong:{PASSWORD}");
    let list = run(Command::new("curl").args(base).arg(&user).arg(&url))?;
    assert!(list.contains("INBOX") && list.contains("Trash"), "{list}");
    let msg = run(Command::new("curl")
        .args(base)
        .arg(&user)
        .arg(format!("{url}INBOX;UID=1")))?;
    assert!(msg.contains("Subject: first"), "{msg}");

    // mbsync: sync both ways with a local Maildir.
    let home = fx.dir.path().join("mbsync");
    std::fs::create_dir_all(home.join("mail"))?;
    let rc = home.join("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount certmail\nHost localhost\nPort {imaps}\nUser hong\nPass {PASSWORD}\nSSLType IMAPS\nCertificateFile {ca}\nClientCertificate {cert}\nClientKey {key}\n\n\
             IMAPStore remote\nAccount certmail\n\nMaildirStore local\nPath {mail}/\nInbox {mail}/INBOX\nSubFolders Verbatim\n\n\
             Channel sync\nFar :remote:\nNear :local:\nPatterns INBOX Sent\nCreate Both\nSync All\nExpunge Both\nSyncState *\n",
            mail = home.join("mail").display()
        ),
    )?;
    let mbsync = || {
        run(Command::new("mbsync")
            .arg("-c")
            .arg(&rc)
            .arg("-a")
            .env("HOME", &home))
    };
    mbsync()?;
    let pulled: Vec<_> = std::fs::read_dir(home.join("mail/INBOX/cur"))?
        .chain(std::fs::read_dir(home.join("mail/INBOX/new"))?)
        .collect();
    assert_eq!(
        pulled.len(),
        2,
        "first and third are in INBOX (second was moved and expunged)"
    );
    // A message written locally is pushed to the server's Sent.
    let sent_new = home.join("mail/Sent/new");
    std::fs::create_dir_all(&sent_new)?;
    std::fs::create_dir_all(home.join("mail/Sent/cur"))?;
    std::fs::create_dir_all(home.join("mail/Sent/tmp"))?;
    std::fs::write(
        sent_new.join("1700000000.1.local"),
        "From: hong@test.go.kr\r\nSubject: pushed by mbsync\r\n\r\n보냄\r\n",
    )?;
    mbsync()?;
    let sent = run(Command::new("curl")
        .args(base)
        .arg(&user)
        .arg(format!("{url}Sent;UID=1")))?;
    assert!(sent.contains("pushed by mbsync"), "{sent}");
    drop(daemon);
    std::thread::sleep(Duration::from_millis(10));
    Ok(())
}
