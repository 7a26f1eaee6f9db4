//! IMAP4rev2 (RFC 9051) and the extensions that came with it, against the real daemon with
//! Python's imaplib (a client nobody here wrote) presenting the GPKI-like certificate:
//! ENABLE IMAP4rev2, ESEARCH, LIST-EXTENDED / LIST-STATUS, CREATE-SPECIAL-USE and
//! STATUS=SIZE; imaplib's own IMAP4rev1 calls keep working beside them.

use std::process::Command;

use certmail_tests::fixtures;

// ASCII: Python's smtplib encodes AUTH PLAIN as ASCII.
const PASSWORD: &str = "Gpki-Pass-2026!";

#[test]
fn imaplib_enables_imap4rev2() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    let (ca, cert, key) = fx.client_pem_paths();
    let script = format!(
        r#"
import imaplib, ssl, smtplib, sys
for subject in ["first", "second", "third"]:
    with smtplib.SMTP("127.0.0.1", {smtp}, timeout=20) as s:
        s.sendmail("kim@other.example", ["hong@test.go.kr"],
                   f"Subject: {{subject}}\r\n\r\n{{subject}} body\r\n")
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})
M = imaplib.IMAP4_SSL("localhost", {imaps}, ssl_context=ctx, timeout=20)
for cap in ["IMAP4REV1", "IMAP4REV2", "ESEARCH", "LIST-EXTENDED", "LIST-STATUS",
            "CREATE-SPECIAL-USE", "STATUS=SIZE"]:
    assert cap in M.capabilities, (cap, M.capabilities)
M.login("hong", {pw:?})

# IMAP4rev1 until enabled: SEARCH answers SEARCH.
typ, data = M.select("INBOX")
assert typ == "OK" and int(data[0]) == 3, data
assert M.untagged_responses.get("RECENT"), "IMAP4rev1 SELECT tells RECENT"
typ, data = M.search(None, "ALL")
assert data == [b"1 2 3"], data
# ESEARCH on request (RFC 4731).
typ, data = M._simple_command("UID", "SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
assert typ == "OK", data
typ, data = M._untagged_response(typ, data, "ESEARCH")
assert data[0].endswith(b"UID MIN 1 MAX 3 COUNT 3"), data
M.close()

typ, data = M.enable("IMAP4rev2")
typ, data = M._untagged_response(typ, data, "ENABLED")
assert typ == "OK" and data == [b"IMAP4rev2"], data
typ, data = M.select("INBOX")
assert typ == "OK" and int(data[0]) == 3, data
assert not M.untagged_responses.get("RECENT"), "no RECENT in IMAP4rev2"
# RFC 9051 §6.3.2: SELECT tells the mailbox's LIST response.
listed = M.untagged_responses.pop("LIST", None)
assert listed == [b'() "/" INBOX'], listed
typ, data = M.fetch("1", "(FLAGS)")
assert b"Recent" not in data[0], data
typ, data = M.store("1", "+FLAGS", "(\\Seen)")
assert typ == "OK" and b"Recent" not in data[0], data
typ, data = M._simple_command("SEARCH", "UNSEEN")
typ, data = M._untagged_response(typ, data, "ESEARCH")
assert data[0].endswith(b"ALL 2:3"), data

# CREATE-SPECIAL-USE, LIST-EXTENDED with LIST-STATUS, STATUS=SIZE.
typ, data = M._simple_command("CREATE", "Drafts2", "(USE (\\Drafts))")
assert typ == "OK", data
typ, data = M._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"', "RETURN", "(STATUS (MESSAGES SIZE))")
assert typ == "OK", data
lists = b"\n".join(M.untagged_responses.pop("LIST")).decode()
statuses = b"\n".join(M.untagged_responses.pop("STATUS")).decode()
assert "\\Drafts) \"/\" Drafts2" in lists, lists
assert "INBOX" not in lists, "INBOX has no special use: " + lists
assert "Drafts2 (MESSAGES 0 SIZE 0)" in statuses, statuses
typ, data = M.status("INBOX", "(MESSAGES SIZE DELETED)")
assert typ == "OK" and b"MESSAGES 3 SIZE " in data[0] and b"DELETED 0" in data[0], data
M.logout()
print("imap4rev2 ok")
"#,
        pw = PASSWORD,
        smtp = daemon.addr("smtp").port(),
        imaps = daemon.addr("imaps").port(),
    );
    let out = Command::new("python3").arg("-c").arg(&script).output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("imap4rev2 ok"),
        "{text}"
    );
    Ok(())
}
