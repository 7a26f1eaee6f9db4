//! The single-session rule with real clients: on device A, Python's imaplib in IDLE,
//! another imaplib connection mid-FETCH and smtplib mid-DATA; device B (127.0.0.2) signs
//! in with imaplib. Each of A's connections hears why and ends; B works; A's half-sent
//! message is not stored.

use std::process::Command;

use certmail_tests::fixtures;

const PASSWORD: &str = "Gpki-Pass-2026!";

#[test]
fn imaplib_and_smtplib_on_the_old_device_hear_why() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    fx.add_account("kim", "김철수", "another-Password-1")?;
    let daemon = fx.start()?;
    let script = format!(
        r#"
import imaplib, smtplib, ssl, socket, sys
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})

class FromB(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout, source_address=("127.0.0.2", 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)

# A large message in hong's INBOX, for the connection that is mid-FETCH.
with smtplib.SMTP("127.0.0.1", {port25}, timeout=20) as mx:
    mx.sendmail("a@other.example", ["hong@test.go.kr"], ("Subject: big\r\n\r\n" + "큰 첨부 파일 " * 200000 + "\r\n").encode())

a1 = imaplib.IMAP4_SSL("localhost", {imaps}, ssl_context=ctx, timeout=20)
a1.login("hong", {pw:?}); a1.select("INBOX")
tag = a1._new_tag().decode(); a1.send(f"{{tag}} IDLE\r\n".encode())
assert a1.readline().startswith(b"+")

a2 = imaplib.IMAP4_SSL("localhost", {imaps}, ssl_context=ctx, timeout=20)
a2.login("hong", {pw:?}); a2.select("INBOX")
a2.send(b"F1 FETCH 1 (BODY[])\r\n")
first = a2.readline()
assert first.startswith(b"* 1 FETCH"), first   # mid-FETCH: the literal is not read yet

s = smtplib.SMTP_SSL("localhost", {subs}, context=ctx, timeout=20)
s.login("hong", {pw:?})
s.mail("hong@test.go.kr"); s.rcpt("kim@test.go.kr")
code, _ = s.docmd("DATA"); assert code == 354, code
s.send(b"From: hong@test.go.kr\r\nSubject: half-sent\r\n\r\nthe first half\r\n")

b = FromB("localhost", {imaps}, ssl_context=ctx, timeout=20)
b.login("hong", {pw:?})

# IDLE may first hear a2's FETCH setting \Seen; then the BYE.
bye = a1.readline()
while bye.startswith(b"* 1 FETCH"):
    bye = a1.readline()
assert bye.startswith(b"* BYE [UNAVAILABLE]") and b"another device" in bye, bye
# a2 was mid-FETCH: whatever of the literal was sent, a BYE follows, then the end.
rest = b""
while True:
    chunk = a2.sock.recv(65536)
    if not chunk:
        break
    rest += chunk
assert b"* BYE [UNAVAILABLE]" in rest and b"127.0.0.2" in rest, rest[-300:]
code, text = s.getreply()
assert code == 421 and b"another device" in text, (code, text)

typ, data = b.select("INBOX")
assert typ == "OK", data
b.logout()
print("real clients ok")
"#,
        ca = fx.server_ca.to_str().expect("utf-8"),
        cert = fx.user_cert.to_str().expect("utf-8"),
        key = fx.user_key.to_str().expect("utf-8"),
        imaps = daemon.addr("imaps").port(),
        subs = daemon.addr("submissions").port(),
        port25 = daemon.addr("smtp").port(),
        pw = PASSWORD,
    );
    let out = Command::new("python3").arg("-c").arg(script).output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("real clients ok"),
        "{text}"
    );
    drop(daemon);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let kim = rt.block_on(fx.mailbox_bodies("kim", "INBOX"))?;
    assert!(kim.is_empty(), "the half-sent message was not stored");
    Ok(())
}
