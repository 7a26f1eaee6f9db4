# What the shared-mailbox scripts share: the command line, signing in with a client
# certificate, RFC 3501 modified UTF-7 names, and checking answers.
# Arguments of every script: port, server CA, then certificate and key of hong (홍길동,
# the owner), of kim (김철수) and of lee (이순신), then the password.
import base64, imaplib, ssl, sys

port, ca = sys.argv[1], sys.argv[2]
CERTS = {
    "hong": (sys.argv[3], sys.argv[4]),
    "kim": (sys.argv[5], sys.argv[6]),
    "lee": (sys.argv[7], sys.argv[8]),
}
password = sys.argv[9]


def connect(login):
    """Signs `login` in over implicit TLS with their own client certificate."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(*CERTS[login])
    m = imaplib.IMAP4_SSL("localhost", int(port), ssl_context=ctx, timeout=20)
    m.login(login, password)
    return m


def utf7(name):
    """RFC 3501 §5.1.3 modified UTF-7, quoted for the command line."""
    out, run = "", ""
    def flush():
        nonlocal out, run
        if run:
            b = base64.b64encode(run.encode("utf-16-be")).decode().rstrip("=")
            out += "&" + b.replace("/", ",") + "-"
            run = ""
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out += "&-" if ch == "&" else ch
        else:
            run += ch
    flush()
    return '"' + out + '"'


def ok(result, what):
    typ, data = result
    assert typ == "OK", (what, typ, data)
    return data


def answer(call):
    """(typ, text) of an imaplib call; a NO raises imaplib.IMAP4.error in some methods."""
    try:
        typ, data = call()
    except imaplib.IMAP4.error as e:
        return "NO", str(e)
    return typ, b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in data if d).decode(errors="replace")
