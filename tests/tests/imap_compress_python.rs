//! COMPRESS=DEFLATE (RFC 4978) with a client nobody here wrote: Python's ssl and zlib
//! (raw DEFLATE, wbits -15) against the daemon, presenting the GPKI-like certificate. Over
//! the compressed link: APPEND, FETCH, SORT, THREAD and GETQUOTAROOT.

use std::process::Command;

use certmail_tests::fixtures;

const PASSWORD: &str = "Gpki-Pass-2026!";

#[test]
fn python_zlib_speaks_deflate_with_the_daemon() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    let (ca, cert, key) = fx.client_pem_paths();
    let script = format!(
        r#"
import socket, ssl, zlib
ctx = ssl.create_default_context(cafile={ca:?})
ctx.load_cert_chain({cert:?}, {key:?})
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {port}), timeout=20), server_hostname="localhost")
plain = b""
def plain_until(tag):
    global plain
    while (b"\r\n" + tag + b" ") not in (b"\r\n" + plain):
        data = s.recv(65536)
        assert data, plain
        plain += data
    out, plain = plain, b""
    return out
plain_until(b"*")
s.sendall(b'a1 LOGIN hong "{pw}"\r\n')
assert b"a1 OK" in plain_until(b"a1")
s.sendall(b"a2 CAPABILITY\r\n")
assert b" COMPRESS=DEFLATE" in plain_until(b"a2")
s.sendall(b"a3 COMPRESS DEFLATE\r\n")
assert b"a3 OK" in plain_until(b"a3")
comp = zlib.compressobj(6, zlib.DEFLATED, -15)
dec = zlib.decompressobj(-15)
text = b""
def z(tag, line):
    global text
    s.sendall(comp.compress(tag + b" " + line + b"\r\n") + comp.flush(zlib.Z_SYNC_FLUSH))
    while (b"\r\n" + tag + b" ") not in (b"\r\n" + text):
        data = s.recv(65536)
        assert data, text
        text += dec.decompress(data)
    out, text = text, b""
    return out
for n, subject in enumerate(["회의 안내", "Re: 회의 안내"]):
    body = ("Subject: " + subject + "\r\nMessage-ID: <m" + str(n) + "@test.go.kr>\r\n"
            + ("References: <m0@test.go.kr>\r\n" if n else "")
            + "Date: Mon, 23 Nov 2026 1" + str(n) + ":00:00 +0900\r\n\r\n"
            + "보고서를 확인해 주십시오.\r\n" * 400).encode()
    out = z(b"z%d" % n, b"APPEND INBOX {{%d+}}\r\n" % len(body) + body)
    assert b"OK [APPENDUID" in out, out
out = z(b"z2", b"SELECT INBOX")
assert b"* 2 EXISTS" in out, out
out = z(b"z3", b"FETCH 2 (BODY.PEEK[TEXT])")
assert out.count("보고서를 확인해 주십시오.".encode()) == 400, out[:200]
out = z(b"z4", b"SORT (REVERSE DATE) UTF-8 ALL")
assert b"* SORT 2 1\r\n" in out, out
out = z(b"z5", b"THREAD REFERENCES UTF-8 ALL")
assert b"* THREAD (1 2)\r\n" in out, out
out = z(b"z6", b"GETQUOTAROOT INBOX")
assert b"* QUOTAROOT INBOX" in out and b"z6 OK" in out, out
out = z(b"z7", b"COMPRESS DEFLATE")
assert b"z7 NO [COMPRESSIONACTIVE]" in out, out
out = z(b"z8", b"LOGOUT")
assert b"* BYE" in out, out
print("deflate ok")
"#,
        port = daemon.addr("imaps").port(),
        pw = PASSWORD,
    );
    let out = Command::new("python3").arg("-c").arg(&script).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("deflate ok"),
        "python failed:\n{stdout}\n{stderr}"
    );
    Ok(())
}
